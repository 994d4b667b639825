#![cfg(not(loom))]

//! Lock tests: CPython's `Lib/test/lock_tests.py` `BaseLockTests` and
//! `RLockTests` ported to `ReentrantMutex` (threads only: it has no async
//! front-end), and the same Python scenarios on the re-exported async-lock
//! `Mutex` in both worlds.
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
use std::time::{Duration, Instant};

use rallypoint::{Mutex, MutexGuard, MutexGuardArc, ReentrantMutex, ReentrantMutexGuard};

fn send_sync<T: Send + Sync>() {}
fn sync<T: Sync>() {}

#[test]
fn send_sync_assertions() {
    send_sync::<Mutex<Vec<u8>>>();
    send_sync::<MutexGuard<'static, Vec<u8>>>();
    send_sync::<MutexGuardArc<Vec<u8>>>();
    send_sync::<ReentrantMutex<Vec<u8>>>();
    // Sync but deliberately not Send (thread-owned).
    sync::<ReentrantMutexGuard<'static, Vec<u8>>>();
    fn send<T: Send>() {}
    send::<async_lock::futures::Lock<'static, Vec<u8>>>();
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
// The re-exported async-lock Mutex: BaseLockTests scenarios, both worlds.

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
