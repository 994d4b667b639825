#![cfg(not(loom))]

//! Lock tests: CPython's `Lib/test/lock_tests.py` `BaseLockTests` and
//! `RLockTests` ported to `ReentrantMutex` (threads only: it has no async
//! front-end), and the same Python scenarios on `Mutex` (async-lock's lock,
//! wrapped) in both worlds, with `Lock.acquire(timeout=)`'s semantics for
//! the timeout forms.
//!
//! Not ported, by design: `test_release_unacquired`,
//! `test_release_save_unacquired` and `test_different_thread` (releasing is
//! dropping a guard, so an unacquired or foreign release cannot be written;
//! the guard is `!Send`, checked by a `compile_fail` doctest on
//! `ReentrantMutexGuard`), weakref and fork tests.

mod common;
use common::*;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use rallypoint::future::{MutexLock, MutexLockArc, MutexLockArcTimeout, MutexLockTimeout};
use rallypoint::{Mutex, MutexGuard, MutexGuardArc, ReentrantMutex, ReentrantMutexGuard};

fn send_sync<T: Send + Sync>() {}
fn sync<T: Sync>() {}
fn send_sync_unpin<T: Send + Sync + Unpin>() {}

#[test]
fn send_sync_assertions() {
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<MutexGuard<'static, Vec<u8>>>();
    send_sync::<MutexGuardArc<Vec<u8>>>();
    send_sync::<ReentrantMutex<Vec<u8>>>();
    // Sync but deliberately not Send (thread-owned).
    sync::<ReentrantMutexGuard<'static, Vec<u8>>>();
    // The lock futures: Send and Sync with their payload, and Unpin (no
    // `pin!` needed to poll them by hand), unsized payloads included.
    send_sync_unpin::<MutexLock<'static, Vec<u8>>>();
    send_sync_unpin::<MutexLockTimeout<'static, Vec<u8>>>();
    send_sync_unpin::<MutexLockArc<Vec<u8>>>();
    send_sync_unpin::<MutexLockArcTimeout<Vec<u8>>>();
    send_sync_unpin::<MutexLock<'static, [u8]>>();
    send_sync_unpin::<MutexLockArc<[u8]>>();
    // The owned forms are 'static: they can be spawned.
    fn spawnable<F: std::future::Future + Send + 'static>(_: F) {}
    let mutex = Arc::new(Mutex::new(0u8));
    spawnable(mutex.lock_arc());
    spawnable(mutex.lock_arc_timeout(Duration::ZERO));
}

// ---------------------------------------------------------------------------
// ReentrantMutex: RLockTests.

#[test]
fn rlock_reacquire() {
    let lock = ReentrantMutex::new(());
    let a = lock.lock_blocking();
    let b = lock.lock_blocking();
    drop(b);
    let c = lock.lock_blocking();
    drop(c);
    drop(a);
    assert!(!lock.is_locked());
}

#[test]
fn rlock_released_only_when_every_guard_is_dropped() {
    // Python `test_recursion_count`, observed from another thread.
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(5));
        let other_can_lock = |lock: &Arc<ReentrantMutex<i32>>| {
            let lock = lock.clone();
            std::thread::spawn(move || lock.try_lock().is_some())
                .join()
                .unwrap()
        };
        let a = lock.lock_blocking();
        let b = lock.lock_blocking();
        let c = lock.try_lock().expect("re-entrant try_lock");
        assert_eq!(*a + *b + *c, 15);
        assert!(lock.is_owned_by_current_thread());
        drop(b);
        drop(a);
        assert!(!other_can_lock(&lock), "one guard still alive");
        drop(c);
        assert!(other_can_lock(&lock));
        assert!(!lock.is_owned_by_current_thread());
    });
}

#[test]
fn rlock_blocked_thread_is_not_owner() {
    // Python `test_recursion_count` second half: a thread blocked on the
    // lock does not own it; once it gets it, it does.
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(()));
        let held = lock.lock_blocking();
        let acquired = Arc::new(AtomicUsize::new(0));
        let t = {
            let (lock, acquired) = (lock.clone(), acquired.clone());
            std::thread::spawn(move || {
                let _g = lock.lock_blocking();
                assert!(lock.is_owned_by_current_thread());
                acquired.store(1, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            acquired.load(Ordering::SeqCst),
            0,
            "blocked while we hold it"
        );
        assert!(lock.is_owned_by_current_thread());
        drop(held);
        t.join().unwrap();
        assert_eq!(acquired.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn rlock_try_lock_contended() {
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(()));
        let g = lock.lock_blocking();
        let l = lock.clone();
        assert!(
            std::thread::spawn(move || l.try_lock().is_none())
                .join()
                .unwrap()
        );
        drop(g);
        let l = lock.clone();
        assert!(
            std::thread::spawn(move || l.try_lock().is_some())
                .join()
                .unwrap()
        );
    });
}

#[test]
fn rlock_acquire_contended() {
    // Python `test_acquire_contended`: 5 threads block until release.
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(()));
        let finished = Arc::new(AtomicUsize::new(0));
        let g = lock.lock_blocking();
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let (lock, finished) = (lock.clone(), finished.clone());
                std::thread::spawn(move || {
                    drop(lock.lock_blocking());
                    finished.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(finished.load(Ordering::SeqCst), 0);
        drop(g);
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(finished.load(Ordering::SeqCst), 5);
    });
}

#[test]
fn rlock_lock_timeout() {
    // Python `test_timeout`.
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(()));
        // Huge timeouts are fine (Python's TIMEOUT_MAX).
        drop(lock.lock_timeout_blocking(Duration::MAX).expect("free"));
        let t1 = Instant::now();
        assert!(lock.lock_timeout_blocking(Duration::from_secs(5)).is_some());
        assert!(
            t1.elapsed() < Duration::from_secs(5),
            "did not wait on a free lock"
        );
        let g = lock.lock_blocking();
        // Re-entrant with a timeout and with zero.
        assert!(lock.lock_timeout_blocking(Duration::ZERO).is_some());
        let l = lock.clone();
        let (got, dt) = std::thread::spawn(move || {
            let t1 = Instant::now();
            let got = l
                .lock_timeout_blocking(Duration::from_millis(200))
                .is_some();
            (got, t1.elapsed())
        })
        .join()
        .unwrap();
        assert!(!got);
        assert!(dt >= Duration::from_millis(200), "returned after {dt:?}");
        assert!(dt < Duration::from_secs(10));
        let l = lock.clone();
        assert!(
            std::thread::spawn(move || l.lock_timeout_blocking(Duration::ZERO).is_none())
                .join()
                .unwrap()
        );
        // Released while another thread waits with a timeout: it gets it.
        let l = lock.clone();
        let waiter =
            std::thread::spawn(move || l.lock_timeout_blocking(Duration::from_secs(30)).is_some());
        std::thread::sleep(Duration::from_millis(20));
        drop(g);
        assert!(waiter.join().unwrap());
    });
}

#[test]
fn rlock_with_panic_releases() {
    // Python `test_with`: an exception inside `with lock:` releases it.
    let lock = Arc::new(ReentrantMutex::new(1));
    let l = lock.clone();
    let r = std::thread::spawn(move || {
        let _a = l.lock_blocking();
        let _b = l.lock_blocking();
        panic!("boom");
    })
    .join();
    assert!(r.is_err());
    assert!(!lock.is_locked());
    assert_eq!(*lock.try_lock().expect("released by unwinding"), 1);
}

#[test]
fn rlock_many_threads_exclusive() {
    blocking(|| {
        let lock = Arc::new(ReentrantMutex::new(std::cell::Cell::new(0u32)));
        let l = lock.clone();
        threads(8, move |_| {
            for _ in 0..scale(500) {
                let a = l.lock_blocking();
                let b = l.lock_blocking();
                let v = a.get();
                b.set(v + 1);
            }
        });
        assert_eq!(lock.lock_blocking().get(), 8 * scale(500) as u32);
    });
}

#[test]
fn rlock_debug_and_misc() {
    // Python `test_repr` / `test_locked_repr`.
    let mut lock = ReentrantMutex::new(3);
    assert_eq!(
        format!("{lock:?}"),
        "ReentrantMutex { locked: false, owned: false, data: 3 }"
    );
    {
        let g = lock.lock_blocking();
        assert_eq!(format!("{g:?} {g}"), "3 3");
        assert_eq!(
            format!("{lock:?}"),
            "ReentrantMutex { locked: true, owned: true, data: 3 }"
        );
    }
    *lock.get_mut() = 4;
    assert_eq!(lock.into_inner(), 4);
    let lock = Arc::new(ReentrantMutex::new(1));
    let g = lock.lock_blocking();
    let l = lock.clone();
    let s = std::thread::spawn(move || format!("{l:?}")).join().unwrap();
    assert_eq!(
        s,
        "ReentrantMutex { locked: true, owned: false, data: <locked> }"
    );
    drop(g);
    assert_eq!(*ReentrantMutex::<u8>::default().lock_blocking(), 0);
    assert_eq!(*ReentrantMutex::from(2).lock_blocking(), 2);
}

// ---------------------------------------------------------------------------
// Mutex: BaseLockTests scenarios, both worlds.

#[test]
fn mutex_acquire_release_and_try_lock_contended() {
    blocking(|| {
        let lock = Arc::new(Mutex::new(()));
        drop(lock.lock_blocking());
        let g = lock.try_lock().expect("free");
        let l = lock.clone();
        assert!(
            std::thread::spawn(move || l.try_lock().is_none())
                .join()
                .unwrap()
        );
        drop(g);
        assert!(lock.try_lock().is_some());
    });
}

#[test]
fn mutex_acquire_contended_threads_and_tasks() {
    each_runtime(|rt| async move {
        let lock = Arc::new(Mutex::new(0usize));
        let g = lock.lock().await;
        let mut done = Vec::new();
        for i in 0..6 {
            let lock = lock.clone();
            done.push(if i % 2 == 0 {
                rt.thread(move || *lock.lock_blocking() += 1)
            } else {
                rt.spawn(async move { *lock.lock().await += 1 })
            });
        }
        rt.sleep(Duration::from_millis(20)).await;
        assert_eq!(*g, 0, "all blocked while the guard is held");
        drop(g);
        for d in done {
            d.await;
        }
        assert_eq!(*lock.lock().await, 6);
        // lock_arc: an owned guard can move into a thread.
        let guard = lock.lock_arc().await;
        let t = rt.thread(move || *guard);
        assert_eq!(t.await, 6);
    });
}

#[test]
fn mutex_is_not_poisoned_by_a_panic() {
    blocking(|| {
        let lock = Arc::new(Mutex::new(0));
        let l = lock.clone();
        let r = std::thread::spawn(move || {
            let mut g = l.lock_blocking();
            *g = 9;
            panic!("boom");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(*lock.try_lock().expect("unlocked by unwinding"), 9);
    });
}

#[test]
fn mutex_lock_future_cancel_safe() {
    let lock = Mutex::new(());
    let g = lock.lock_blocking();
    let mut f = Box::pin(lock.lock());
    assert!(poll_once(&mut f).is_pending());
    drop(f);
    drop(g);
    assert!(lock.try_lock().is_some());
}

// ---------------------------------------------------------------------------
// Mutex timeouts: Python's `Lock.acquire(timeout=)` (BaseLockTests
// `test_timeout`, and the cases it implies), in both worlds.

/// How long a timed lock waits where it must time out.
const TIMEOUT: Duration = Duration::from_millis(100);
/// A generous upper bound for a wait that should end around `TIMEOUT`
/// (or at once): loaded CI machines are slow, but not this slow. (Under
/// Miri the clock advances with the work interpreted: longer.)
const SLACK: Duration = if MIRI {
    Duration::from_secs(300)
} else {
    Duration::from_secs(10)
};
/// A timeout that is never meant to pass.
const LONG: Duration = Duration::from_secs(60);

/// Who holds the lock in a scenario.
#[derive(Clone, Copy, Debug)]
enum Holder {
    /// A thread in `lock_blocking`.
    Thread,
    /// A task holding the guard across `.await`s.
    Task,
}

/// A holder that keeps the lock until [`Held::release`].
struct Held {
    release: Arc<rallypoint::Event>,
    done: Task<()>,
}

impl Held {
    /// Takes `mutex` in a thread or a task, and returns once it holds it.
    async fn start(rt: &Rt, mutex: &Arc<Mutex<u32>>, holder: Holder) -> Held {
        let (held, release) = (
            Arc::new(rallypoint::Event::new()),
            Arc::new(rallypoint::Event::new()),
        );
        let (m, h, r) = (mutex.clone(), held.clone(), release.clone());
        let done = match holder {
            Holder::Thread => rt.thread(move || {
                let guard = m.lock_blocking();
                h.set();
                r.wait_blocking();
                drop(guard);
            }),
            Holder::Task => rt.spawn(async move {
                let guard = m.lock().await;
                h.set();
                r.wait().await;
                drop(guard);
            }),
        };
        held.wait().await;
        Held { release, done }
    }

    async fn release(self) {
        self.release.set();
        self.done.await;
    }
}

/// Checks a wait that had to time out: `None`, after at least the timeout
/// and well before `SLACK`.
fn assert_timed_out(what: &str, got_lock: bool, elapsed: Duration) {
    assert!(!got_lock, "{what}: got a lock that another party holds");
    assert!(elapsed >= TIMEOUT, "{what}: gave up after {elapsed:?}");
    assert!(elapsed < SLACK, "{what}: returned only after {elapsed:?}");
}

#[test]
fn mutex_lock_timeout_expires_while_another_holds_it() {
    each_runtime(|rt| async move {
        for holder in [Holder::Thread, Holder::Task] {
            let mutex = Arc::new(Mutex::new(0u32));
            let held = Held::start(&rt, &mutex, holder).await;
            // The four timed forms at once, two in tasks, two in threads.
            let waiters = vec![
                {
                    let m = mutex.clone();
                    rt.spawn(async move {
                        let start = Instant::now();
                        let got = m.lock_timeout(TIMEOUT).await.is_some();
                        assert_timed_out("lock_timeout", got, start.elapsed());
                    })
                },
                {
                    let m = mutex.clone();
                    rt.spawn(async move {
                        let start = Instant::now();
                        let got = m.lock_arc_timeout(TIMEOUT).await.is_some();
                        assert_timed_out("lock_arc_timeout", got, start.elapsed());
                    })
                },
                {
                    let m = mutex.clone();
                    rt.thread(move || {
                        let start = Instant::now();
                        let got = m.lock_timeout_blocking(TIMEOUT).is_some();
                        assert_timed_out("lock_timeout_blocking", got, start.elapsed());
                    })
                },
                {
                    let m = mutex.clone();
                    rt.thread(move || {
                        let start = Instant::now();
                        let got = m.lock_arc_timeout_blocking(TIMEOUT).is_some();
                        assert_timed_out("lock_arc_timeout_blocking", got, start.elapsed());
                    })
                },
            ];
            join_all(waiters).await;
            held.release().await;
            // The timed-out waiters left nothing behind.
            assert_eq!(*mutex.try_lock().expect("free again"), 0, "{holder:?}");
            assert_eq!(Arc::strong_count(&mutex), 1, "an Arc leaked");
        }
    });
}

#[test]
fn mutex_lock_timeout_gets_a_lock_released_before_the_deadline() {
    each_runtime(|rt| async move {
        for holder in [Holder::Thread, Holder::Task] {
            let mutex = Arc::new(Mutex::new(0u32));
            let held = Held::start(&rt, &mutex, holder).await;
            let start = Instant::now();
            let waiters = bunch(&rt, World::Mixed, 4, {
                let mutex = mutex.clone();
                move |i, blocking| {
                    let mutex = mutex.clone();
                    async move {
                        match (blocking, i < 2) {
                            (true, true) => {
                                *mutex.lock_timeout_blocking(LONG).expect("released") += 1
                            }
                            (true, false) => {
                                *mutex.lock_arc_timeout_blocking(LONG).expect("released") += 1
                            }
                            (false, true) => {
                                *mutex.lock_timeout(LONG).await.expect("released") += 1
                            }
                            (false, false) => {
                                *mutex.lock_arc_timeout(LONG).await.expect("released") += 1
                            }
                        }
                    }
                }
            });
            // Let them queue (not needed for the outcome: a waiter that
            // starts after the release gets the lock at once).
            rt.sleep(Duration::from_millis(20)).await;
            held.release().await;
            join_all(waiters).await;
            assert!(start.elapsed() < SLACK, "waited for the deadline");
            assert_eq!(
                *mutex.lock().await,
                4,
                "{holder:?}: every waiter locked once"
            );
        }
    });
}

#[test]
fn mutex_zero_timeout_tries_once() {
    blocking(|| {
        let mutex = Arc::new(Mutex::new(0u32));
        let guard = mutex.try_lock().unwrap();
        // Held: `None` from the very first poll, without waiting.
        let mut future = mutex.lock_timeout(Duration::ZERO);
        assert!(matches!(poll_once(&mut future), Poll::Ready(None)));
        let mut future = mutex.lock_arc_timeout(Duration::ZERO);
        assert!(matches!(poll_once(&mut future), Poll::Ready(None)));
        drop(future); // (shadowing would keep it, and its Arc, alive)
        let start = Instant::now();
        assert!(mutex.lock_timeout_blocking(Duration::ZERO).is_none());
        assert!(mutex.lock_arc_timeout_blocking(Duration::ZERO).is_none());
        let m = mutex.clone();
        let from_another_thread = std::thread::spawn(move || {
            m.lock_timeout_blocking(Duration::ZERO).is_none()
                && m.lock_arc_timeout_blocking(Duration::ZERO).is_none()
        });
        assert!(from_another_thread.join().unwrap());
        assert!(start.elapsed() < SLACK);
        drop(guard);
        // Free: `Some`, also from the first poll.
        let mut future = mutex.lock_timeout(Duration::ZERO);
        let Poll::Ready(Some(guard)) = poll_once(&mut future) else {
            panic!("a free lock was not taken")
        };
        drop(guard);
        let mut future = mutex.lock_arc_timeout(Duration::ZERO);
        assert!(matches!(poll_once(&mut future), Poll::Ready(Some(_))));
        drop(future);
        assert!(mutex.lock_timeout_blocking(Duration::ZERO).is_some());
        assert!(mutex.lock_arc_timeout_blocking(Duration::ZERO).is_some());
        // Huge timeouts are fine (Python's TIMEOUT_MAX): no overflow.
        assert!(mutex.lock_timeout_blocking(Duration::MAX).is_some());
        assert!(futures_lite::future::block_on(mutex.lock_timeout(Duration::MAX)).is_some());
        assert_eq!(Arc::strong_count(&mutex), 1);
    });
}

#[test]
fn mutex_cancelled_lock_timeout_passes_its_wake_up_on() {
    // Deterministic, polled by hand: `first` is queued ahead of `second`;
    // the unlock wakes `first`, which is dropped without taking the lock:
    // the wake-up must go to `second`, which then finds the lock free.
    blocking(|| {
        let mutex = Mutex::new(0u32);
        let guard = mutex.lock_blocking();
        let mut first = mutex.lock_timeout(LONG);
        assert!(poll_once(&mut first).is_pending());
        let (waker, woken) = flag_waker();
        let mut second = mutex.lock();
        assert!(poll_with(&mut second, &waker).is_pending());
        drop(guard);
        drop(first);
        assert!(
            woken.take(),
            "the dropped waiter's wake-up was not passed on"
        );
        let Poll::Ready(mut guard) = poll_with(&mut second, &waker) else {
            panic!("the queued waiter was not served")
        };
        *guard += 1;
        drop(guard);
        // And dropped before any unlock: nothing changes for the others.
        let guard = mutex.lock_blocking();
        let mut cancelled = mutex.lock_timeout(LONG);
        assert!(poll_once(&mut cancelled).is_pending());
        let mut queued = mutex.lock_timeout(LONG);
        assert!(poll_once(&mut queued).is_pending());
        drop(cancelled);
        drop(guard);
        assert!(matches!(poll_once(&mut queued), Poll::Ready(Some(_))));
        drop(queued);
        assert_eq!(*mutex.try_lock().expect("not lost"), 1);
    });
}

#[test]
fn mutex_lock_timeout_dropped_while_pending_loses_nothing() {
    // A task gives up on a pending `lock_timeout` (a shorter race wins);
    // a thread and a task queued behind it are still served, and the lock
    // is free at the end.
    each_runtime(|rt| async move {
        let mutex = Arc::new(Mutex::new(0u32));
        let held = Held::start(&rt, &mutex, Holder::Thread).await;
        let gave_up = {
            let (m, rt2) = (mutex.clone(), rt.clone());
            rt.spawn(async move {
                futures_lite::future::or(async { m.lock_timeout(LONG).await.is_some() }, async {
                    rt2.sleep(Duration::from_millis(20)).await;
                    false
                })
                .await
            })
        };
        let queued = vec![
            {
                let m = mutex.clone();
                rt.thread(move || *m.lock_timeout_blocking(LONG).expect("served") += 1)
            },
            {
                let m = mutex.clone();
                rt.spawn(async move { *m.lock().await += 1 })
            },
        ];
        assert!(!gave_up.await, "got a lock that a thread holds");
        held.release().await;
        join_all(queued).await;
        assert_eq!(*mutex.try_lock().expect("free"), 2);
    });
}

/// Either guard, for parties that lock by reference or by `Arc`.
enum AnyGuard<'a> {
    Ref(MutexGuard<'a, usize>),
    Arc(MutexGuardArc<usize>),
}

impl std::ops::Deref for AnyGuard<'_> {
    type Target = usize;
    fn deref(&self) -> &usize {
        match self {
            AnyGuard::Ref(g) => g,
            AnyGuard::Arc(g) => g,
        }
    }
}

impl std::ops::DerefMut for AnyGuard<'_> {
    fn deref_mut(&mut self) -> &mut usize {
        match self {
            AnyGuard::Ref(g) => g,
            AnyGuard::Arc(g) => g,
        }
    }
}

#[test]
fn mutex_timed_locks_from_threads_and_tasks_at_once() {
    // Both worlds on one instance, every form, timeouts from zero (one
    // attempt) to long: each party makes `rounds` read-pause-write
    // increments, retrying after a timeout. Exactly-once: the final count
    // is every increment, and no two parties were ever inside at once.
    const PARTIES: usize = 6;
    each_runtime(|rt| async move {
        let rounds = scale(200);
        let mutex = Arc::new(Mutex::new(0usize));
        let inside = Arc::new(AtomicUsize::new(0));
        let timeouts = Arc::new(AtomicUsize::new(0));
        let parties = bunch(&rt, World::Mixed, PARTIES, {
            let (mutex, inside, timeouts) = (mutex.clone(), inside.clone(), timeouts.clone());
            move |i, blocking| {
                let (mutex, inside, timeouts) = (mutex.clone(), inside.clone(), timeouts.clone());
                async move {
                    let timeouts_to_try = [
                        Duration::ZERO,
                        Duration::from_micros(50),
                        Duration::from_millis(2),
                        LONG,
                    ];
                    for round in 0..rounds {
                        let timeout = timeouts_to_try[(i + round) % timeouts_to_try.len()];
                        let by_arc = (i + round / 2) % 2 == 0;
                        let mut guard = loop {
                            let guard = match (blocking, by_arc) {
                                (true, false) => {
                                    mutex.lock_timeout_blocking(timeout).map(AnyGuard::Ref)
                                }
                                (true, true) => {
                                    mutex.lock_arc_timeout_blocking(timeout).map(AnyGuard::Arc)
                                }
                                (false, false) => {
                                    mutex.lock_timeout(timeout).await.map(AnyGuard::Ref)
                                }
                                (false, true) => {
                                    mutex.lock_arc_timeout(timeout).await.map(AnyGuard::Arc)
                                }
                            };
                            if let Some(guard) = guard {
                                break guard;
                            }
                            timeouts.fetch_add(1, Ordering::Relaxed);
                            // A zero timeout must not spin the executor.
                            if blocking {
                                std::thread::yield_now();
                            } else {
                                futures_lite::future::yield_now().await;
                            }
                        };
                        assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                        let value = *guard;
                        if blocking {
                            std::thread::yield_now();
                        } else {
                            // Held across an await: others run meanwhile.
                            futures_lite::future::yield_now().await;
                        }
                        *guard = value + 1;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
        });
        join_all(parties).await;
        assert_eq!(
            *mutex.lock().await,
            PARTIES * rounds,
            "an increment was lost"
        );
        assert_eq!(Arc::strong_count(&mutex), 1, "an Arc leaked");
        let _ = timeouts.load(Ordering::Relaxed); // how many: load-dependent
    });
}

#[test]
fn mutex_lock_arc_forms() {
    each_runtime(|rt| async move {
        let mutex = Arc::new(Mutex::new(1u32));
        let guard = mutex.lock_arc().await;
        // The owned guard holds this very mutex.
        assert!(std::ptr::eq(MutexGuardArc::source(&guard), &*mutex));
        assert!(mutex.try_lock_arc().is_none());
        assert!(mutex.try_lock().is_none());
        assert!(
            mutex
                .lock_arc_timeout(Duration::from_millis(10))
                .await
                .is_none()
        );
        let waiter = {
            let m = mutex.clone();
            rt.thread(move || {
                let mut guard = m.lock_arc_blocking();
                *guard += 1;
                *guard
            })
        };
        // The guard moves to another thread and unlocks there.
        let releaser = rt.thread(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(guard);
        });
        assert_eq!(waiter.await, 2);
        releaser.await;
        let task = {
            let future = mutex.lock_arc(); // 'static: spawned as it is
            rt.spawn(async move { *future.await })
        };
        assert_eq!(task.await, 2);
        *mutex.lock_arc_timeout(LONG).await.expect("free") += 1;
        let m = mutex.clone();
        let in_thread = rt.thread(move || *m.lock_arc_timeout_blocking(LONG).expect("free"));
        assert_eq!(in_thread.await, 3);
        drop(mutex.try_lock_arc().expect("free"));
        assert_eq!(
            Arc::strong_count(&mutex),
            1,
            "every converted Arc was given back"
        );
    });
}

#[test]
fn mutex_lock_arc_drops_the_value_once() {
    // The last `Arc` may be one of async-lock's type (inside a guard or a
    // future): the value is still dropped exactly once.
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let mutex = Arc::new(Mutex::new(Counted(drops.clone())));
    let guard = mutex.lock_arc_blocking();
    let mut future = mutex.lock_arc_timeout(LONG);
    assert!(poll_once(&mut future).is_pending());
    drop(mutex);
    drop(future);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(guard);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn mutex_unsized_values_in_every_form() {
    let mutex: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1, 2, 3]));
    mutex.lock_blocking()[0] = 4;
    assert_eq!(&*mutex.lock_arc_blocking(), &[4, 2, 3]);
    assert_eq!(
        mutex.lock_timeout_blocking(Duration::ZERO).unwrap().len(),
        3
    );
    assert_eq!(mutex.try_lock_arc().unwrap().len(), 3);
    // A trait object: the cast keeps the vtable.
    let mutex: Arc<Mutex<dyn std::fmt::Debug + Send>> = Arc::new(Mutex::new(7u8));
    assert_eq!(format!("{:?}", &*mutex.lock_arc_blocking()), "7");
    let mut future = mutex.lock_arc_timeout(Duration::ZERO);
    let Poll::Ready(Some(guard)) = poll_once(&mut future) else {
        panic!("a free lock was not taken")
    };
    assert_eq!(format!("{:?}", &*guard), "7");
}

#[test]
fn mutex_debug_default_from_get_mut() {
    let mut mutex = Mutex::new(3);
    assert_eq!(format!("{mutex:?}"), "Mutex { data: 3 }");
    {
        let guard = mutex.lock_blocking();
        assert_eq!(format!("{mutex:?}"), "Mutex { data: <locked> }");
        assert_eq!(format!("{guard:?} {guard}"), "3 3");
    }
    *mutex.get_mut() = 4;
    assert_eq!(mutex.into_inner(), 4);
    assert_eq!(*Mutex::<u8>::default().lock_blocking(), 0);
    assert_eq!(*Mutex::from(2).lock_blocking(), 2);
    assert!(format!("{:?}", Mutex::new(0).lock()).starts_with("MutexLock"));
}

#[test]
fn mutex_named_futures_are_fused() {
    use futures::future::FusedFuture;
    let mutex = Arc::new(Mutex::new(0u8));
    let mut future = mutex.lock_timeout(Duration::ZERO);
    assert!(!future.is_terminated());
    assert!(poll_once(&mut future).is_ready());
    assert!(future.is_terminated());
    let mut future = mutex.lock_arc();
    assert!(poll_once(&mut future).is_ready());
    assert!(future.is_terminated());
}
