//! loom models: every interleaving (up to the preemption bound) of small
//! scenarios, one or more per primitive, checking the crate's promises —
//! no lost wakeup, no lost item, no leaked or duplicated permit, and
//! cancellation that never wedges the others.
//!
//! Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 \
//!     cargo test --release --features loom --test loom
//! ```
//!
//! The `loom` feature switches the crate's atomics and mutexes (src/sync.rs)
//! and those of event-listener, parking and async-lock to loom's, so loom
//! sees every synchronisation step of the primitives. A lost wakeup shows up
//! as loom's "deadlock" failure (a thread parked forever); broken counts as
//! failed assertions.
//!
//! Async futures are driven by a small `block_on` over a loom mutex and
//! condvar, or polled by hand once (`poll_with`) to model a task that
//! is cancelled at an `.await`. Blocking front-ends go through the crate's
//! engine, which parks with `parking`, loom-aware under the feature.
//!
//! The Condvar/Condition models run with the preemption bound capped at 2
//! (see `model_async_mutex`: async-lock's mutex reads the wall clock).
//!
//! Not modelled: timeouts (loom has no clock: parking has no
//! `park_deadline` under loom, and futures-timer starts a real thread), and
//! `ReentrantMutex` (parking_lot, which loom cannot see).
#![cfg(loom)]

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Wake, Waker};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use loom::thread;

use rallypoint::{
    Barrier, BrokenReason, Condition, Condvar, Event, Fairness, Mutex, PriorityQueue, Queue,
    Semaphore, Stack,
};

// ---------------------------------------------------------------- helpers

/// Drives `fut` to completion on the current loom thread, sleeping on a
/// loom mutex and condvar while it is pending; the waker signals them.
///
/// (`loom::future::block_on` needs loom's `futures` feature, which the
/// crate does not enable; loom's `thread::park`/`unpark` cannot be used
/// either: loom's `unpark` also wakes a thread blocked on a loom *mutex*,
/// which then fails loom's "expected to be able to acquire lock" check.)
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Signal {
        woken: loom::sync::Mutex<bool>,
        condvar: loom::sync::Condvar,
    }
    impl Wake for Signal {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            *self.woken.lock().unwrap() = true;
            self.condvar.notify_one();
        }
    }
    let signal = std::sync::Arc::new(Signal {
        woken: loom::sync::Mutex::new(false),
        condvar: loom::sync::Condvar::new(),
    });
    let waker = Waker::from(signal.clone());
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = poll_with(fut.as_mut(), &waker) {
            return out;
        }
        let mut woken = signal.woken.lock().unwrap();
        while !*woken {
            woken = signal.condvar.wait(woken).unwrap();
        }
        *woken = false;
    }
}

/// Polls `fut` once with `waker`.
fn poll_with<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// A waker that records whether it was woken (a loom atomic, so loom orders
/// it). Lets a model tell whether a cancelled waiter had been notified.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
    fn wake_by_ref(self: &std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

fn flag_waker() -> (std::sync::Arc<Flag>, Waker) {
    let flag = std::sync::Arc::new(Flag(AtomicBool::new(false)));
    (flag.clone(), Waker::from(flag))
}

/// Runs a model whose threads contend on async-lock's `Mutex` (the
/// Condvar/Condition models), with the preemption bound capped at 2.
///
/// async-lock's `Lock` future falls back to a "starved" mode once it has
/// waited 500 µs of *wall-clock* time (`Instant::elapsed`, which loom does
/// not model), so on a loaded machine a replayed execution can take another
/// branch and loom aborts with "Reached unexpected exploration state. Is the
/// model fully deterministic?". Measured: with bound 3 these models fail
/// that way most runs under CPU load (never with that timer patched out);
/// with bound 2 they passed 40 of 40 runs, loaded or not.
fn model_async_mutex<F: Fn() + Sync + Send + 'static>(f: F) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(builder.preemption_bound.map_or(2, |bound| bound.min(2)));
    builder.check(f);
}

/// An item that counts its drops: lets a model check that a container drops
/// nothing it was handed (every item is delivered, not discarded).
struct Item {
    value: u32,
    drops: Arc<AtomicUsize>,
}

impl Drop for Item {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

// ------------------------------------------------------------------ Event

/// `set()` races with an async waiter and a blocking waiter: both return
/// (no lost wakeup), and only once the flag was set.
#[test]
fn event_set_wakes_async_and_blocking_waiters() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let async_waiter = {
            let event = event.clone();
            thread::spawn(move || {
                block_on(event.wait());
                assert!(event.is_set());
            })
        };
        let blocking_waiter = {
            let event = event.clone();
            thread::spawn(move || {
                event.wait_blocking();
                assert!(event.is_set());
            })
        };
        event.set();
        async_waiter.join().unwrap();
        blocking_waiter.join().unwrap();
        assert!(event.is_set());
    });
}

/// A waiter that had registered when `set()` ran completes even though
/// `clear()` runs right after (CPython gh-57711), while the flag ends unset.
#[test]
fn event_set_then_clear_still_releases_registered_waiter() {
    loom::model(|| {
        let event = Arc::new(Event::new());
        let registered = Arc::new((AtomicBool::new(false), loom::sync::Notify::new()));
        let waiter = {
            let (event, registered) = (event.clone(), registered.clone());
            thread::spawn(move || {
                block_on(async {
                    let mut wait = pin!(event.wait());
                    // First poll: the event is unset, so this registers.
                    assert!(
                        futures_lite::future::poll_once(wait.as_mut())
                            .await
                            .is_none()
                    );
                    registered.0.store(true, SeqCst);
                    registered.1.notify();
                    wait.await;
                });
            })
        };
        // (loom's `Notify::wait` may wake spuriously.)
        while !registered.0.load(SeqCst) {
            registered.1.wait();
        }
        event.set();
        event.clear();
        waiter.join().unwrap();
        assert!(!event.is_set());
    });
}

// ---------------------------------------------------------------- Barrier

/// A party that arrives and is dropped after one poll (A) races with a
/// real party (B); a third party (C) arrives once A is gone. The barrier
/// trips exactly when two *live* parties have arrived:
///
/// * if B began waiting after A's drop had returned, A had withdrawn, so B
///   must trip with C, not alone;
/// * if A completed, or its waker fired before its drop (it was released by
///   a trip), A took part, so B tripped with A and C finds nobody.
///
/// A party dropped while its generation is tripping counts as arrived (the
/// generation is committed), which the model cannot see from outside: then
/// either outcome is allowed, but results must be one consistent trip.
/// Finally `abort()` releases a stranded C; the barrier ends empty.
#[test]
fn barrier_withdrawn_party_does_not_count() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let a_gone = Arc::new(AtomicBool::new(false));
        let a = {
            let (barrier, a_gone) = (barrier.clone(), a_gone.clone());
            thread::spawn(move || {
                let (woken, waker) = flag_waker();
                let mut wait = Box::pin(barrier.wait());
                let took_part = match poll_with(wait.as_mut(), &waker) {
                    // Tripped by itself, or by B during this very poll.
                    Poll::Ready(result) => {
                        let result = result.unwrap();
                        assert_eq!(result.is_leader(), result.index() == 1);
                        true
                    }
                    Poll::Pending => {
                        drop(wait);
                        // A trip notifies (wakes) the parties' listeners
                        // under the lock that the drop takes.
                        woken.0.load(SeqCst)
                    }
                };
                a_gone.store(true, SeqCst);
                took_part
            })
        };
        let b = {
            let (barrier, a_gone) = (barrier.clone(), a_gone.clone());
            thread::spawn(move || {
                let after_a = a_gone.load(SeqCst);
                (after_a, barrier.wait_blocking().unwrap())
            })
        };
        let a_took_part = a.join().unwrap();
        let c = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_blocking())
        };
        let (b_after_a, b) = b.join().unwrap();
        barrier.abort(); // releases C if nobody was left to trip with it
        let c = c.join().unwrap();
        match c {
            Ok(c) => {
                assert!(!a_took_part, "A took part, yet B and C tripped together");
                assert_one_trip(&b, &c);
            }
            Err(e) => {
                assert_eq!(e.reason(), BrokenReason::Aborted);
                assert!(!b_after_a, "B tripped with A, which had already withdrawn");
                // B tripped with A: one of them ranked last.
                assert_eq!(b.is_leader(), b.index() == 1);
            }
        }
        assert_eq!(barrier.n_waiting(), 0);
    });
}

/// Sorts two barrier results' ranks and checks one trip: ranks {0, 1} and
/// exactly one leader, the last arrival.
fn assert_one_trip(a: &rallypoint::BarrierWaitResult, b: &rallypoint::BarrierWaitResult) {
    let mut ranks = [a.index(), b.index()];
    ranks.sort_unstable();
    assert_eq!(ranks, [0, 1]);
    assert_ne!(a.is_leader(), b.is_leader());
    assert_eq!(a.is_leader(), a.index() == 1);
}

/// `reset()` races with two parties (one async, one blocking) that retry
/// until they pass. Reset fails only the party waiting at that moment (at
/// most one: two would have tripped), then the barrier works normally: both
/// eventually trip together, and it ends empty and unbroken.
#[test]
fn barrier_trip_vs_reset() {
    loom::model(|| {
        let barrier = Arc::new(Barrier::new(2));
        let blocking = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut errors = 0;
                loop {
                    match barrier.wait_blocking() {
                        Ok(result) => return (result, errors),
                        Err(e) => {
                            assert_eq!(e.reason(), BrokenReason::Reset);
                            errors += 1;
                        }
                    }
                }
            })
        };
        let task = {
            let barrier = barrier.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut errors = 0;
                    loop {
                        match barrier.wait().await {
                            Ok(result) => return (result, errors),
                            Err(e) => {
                                assert_eq!(e.reason(), BrokenReason::Reset);
                                errors += 1;
                            }
                        }
                    }
                })
            })
        };
        barrier.reset();
        let (a, a_errors) = blocking.join().unwrap();
        let (b, b_errors) = task.join().unwrap();
        assert!(
            a_errors + b_errors <= 1,
            "reset failed more than the waiting party"
        );
        assert_one_trip(&a, &b);
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
    });
}

/// `abort()` races with two parties and an action. Either the generation
/// tripped first (both `Ok`, action ran once) or it did not (both `Err`,
/// action never ran): never a mix. The barrier ends broken and empty.
#[test]
fn barrier_trip_vs_abort() {
    loom::model(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let barrier = {
            let runs = runs.clone();
            Arc::new(
                Barrier::builder(2)
                    .action(move || {
                        runs.fetch_add(1, SeqCst);
                    })
                    .build(),
            )
        };
        let blocking = {
            let barrier = barrier.clone();
            thread::spawn(move || barrier.wait_blocking())
        };
        let task = {
            let barrier = barrier.clone();
            thread::spawn(move || block_on(barrier.wait()))
        };
        barrier.abort();
        let a = blocking.join().unwrap();
        let b = task.join().unwrap();
        match (a, b) {
            (Ok(a), Ok(b)) => {
                assert_one_trip(&a, &b);
                assert_eq!(runs.load(SeqCst), 1);
            }
            (Err(a), Err(b)) => {
                assert_eq!(runs.load(SeqCst), 0);
                assert_eq!(
                    (a.reason(), b.reason()),
                    (BrokenReason::Aborted, BrokenReason::Aborted)
                );
            }
            (a, b) => panic!("one party passed, the other failed: {a:?} {b:?}"),
        }
        assert!(barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

// -------------------------------------------------------------- Semaphore

/// `release(1)` races with a waiter that is polled once and dropped, and a
/// blocking waiter. A permit granted to the dropped waiter goes to the
/// blocking one, which always gets it; the one permit is conserved.
#[test]
fn semaphore_release_vs_cancelled_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let cancelled = {
            let sem = sem.clone();
            thread::spawn(move || {
                let mut acquire = Box::pin(sem.acquire());
                if let Poll::Ready(permit) = poll_with(acquire.as_mut(), Waker::noop()) {
                    // Served at once: hand the permit back.
                    drop(permit.unwrap());
                }
                // Otherwise dropped while queued (possibly already granted).
                drop(acquire);
            })
        };
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || {
                let permit = sem.acquire_blocking().unwrap();
                assert_eq!(permit.num_permits(), 1);
                permit.forget();
            })
        };
        sem.release(1).unwrap();
        cancelled.join().unwrap();
        waiter.join().unwrap();
        // The only permit was taken for good by the waiter: none left, none
        // duplicated.
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.try_acquire().is_err());
    });
}

/// Strict mode: a queued `acquire_many(2)` is not overtaken: a
/// `try_acquire` that starts after it is queued fails even though one
/// permit is free, and the big acquire completes once `release(1)` makes
/// two (a permit taken by the `try_acquire` before that is given back).
/// Permits are conserved.
#[test]
fn semaphore_acquire_many_not_overtaken_by_try_acquire() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1).with_fairness(Fairness::Strict));
        let queued = Arc::new(AtomicBool::new(false));
        let big = {
            let (sem, queued) = (sem.clone(), queued.clone());
            thread::spawn(move || {
                block_on(async {
                    let mut acquire = pin!(sem.acquire_many(2));
                    let permit = match futures_lite::future::poll_once(acquire.as_mut()).await {
                        Some(permit) => permit,
                        None => {
                            queued.store(true, SeqCst);
                            acquire.await
                        }
                    };
                    let permit = permit.unwrap();
                    assert_eq!(permit.num_permits(), 2);
                    // Kept for good, so `small` can only have taken a permit
                    // before this one was served.
                    permit.forget();
                });
            })
        };
        let small = {
            let (sem, queued) = (sem.clone(), queued.clone());
            thread::spawn(move || {
                let was_queued = queued.load(SeqCst);
                let taken = sem.try_acquire().is_ok();
                assert!(
                    !(was_queued && taken),
                    "try_acquire overtook a queued acquire_many"
                );
            })
        };
        sem.release(1).unwrap();
        big.join().unwrap();
        small.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

/// Eventual fairness, barging (under loom the bound is never reached): a
/// blocked waiter races with a `try_acquire` that gives its permit back and
/// with two releases. The woken waiter may find a permit taken and wait on,
/// but it is never left asleep while a permit is free (no lost wakeup), and
/// permits are conserved.
#[test]
fn semaphore_eventual_woken_waiter_vs_barger() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        let barger = {
            let sem = sem.clone();
            thread::spawn(move || {
                if let Ok(permit) = sem.try_acquire() {
                    drop(permit);
                }
            })
        };
        sem.release(1).unwrap();
        barger.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

/// Eventual fairness with a zero bound: the first pass-over switches to
/// handoff, racing with a release and a cancelled second waiter. Both
/// permits end up with the blocked waiter or back in the count, never lost.
#[test]
fn semaphore_eventual_handoff_switch() {
    loom::model(|| {
        let sem = Arc::new(
            Semaphore::new(0).with_fairness(Fairness::Eventual(std::time::Duration::ZERO)),
        );
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || sem.acquire_blocking().unwrap().forget())
        };
        let other = {
            let sem = sem.clone();
            thread::spawn(move || {
                let mut acquire = Box::pin(sem.acquire());
                if let Poll::Ready(permit) = poll_with(acquire.as_mut(), Waker::noop()) {
                    drop(permit.unwrap());
                }
                drop(acquire);
                if let Ok(permit) = sem.try_acquire() {
                    drop(permit);
                }
            })
        };
        sem.release(1).unwrap();
        other.join().unwrap();
        waiter.join().unwrap();
        assert_eq!(sem.available_permits(), 0);
    });
}

/// One permit shared by an async task and a thread: never two holders at
/// once, and the permit comes back.
#[test]
fn semaphore_mutual_exclusion_async_and_blocking() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(1));
        let inside = Arc::new(AtomicUsize::new(0));
        let critical = |inside: &AtomicUsize| {
            assert_eq!(inside.fetch_add(1, SeqCst), 0, "two permit holders");
            inside.fetch_sub(1, SeqCst);
        };
        let task = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                block_on(async {
                    let _permit = sem.acquire().await.unwrap();
                    critical(&inside);
                })
            })
        };
        {
            let _permit = sem.acquire_blocking().unwrap();
            critical(&inside);
        }
        task.join().unwrap();
        assert_eq!(sem.available_permits(), 1);
    });
}

/// `close()` races with a queued waiter and a `release(1)`: the waiter
/// either got the released permit (granted before the close) or is failed
/// by the close; either way the permit is accounted for exactly once.
#[test]
fn semaphore_close_vs_release_and_waiter() {
    loom::model(|| {
        let sem = Arc::new(Semaphore::new(0));
        let waiter = {
            let sem = sem.clone();
            thread::spawn(move || match sem.acquire_blocking() {
                Ok(permit) => {
                    permit.forget();
                    true
                }
                Err(_) => false,
            })
        };
        let releaser = {
            let sem = sem.clone();
            thread::spawn(move || sem.release(1).unwrap())
        };
        sem.close();
        let got = waiter.join().unwrap();
        releaser.join().unwrap();
        assert_eq!(usize::from(got) + sem.available_permits(), 1);
        assert!(sem.is_closed());
    });
}

// ------------------------------------------------------------------ Mutex

/// An unlock races with a lock waiter that is polled once and dropped
/// (cancelled at its `.await`, possibly just after the unlock handed it the
/// wake-up), while a blocking waiter also wants the lock: the wake-up is
/// passed on, so the blocking waiter always gets the lock, and the mutex
/// ends free (nothing held by the cancelled future).
#[test]
fn mutex_unlock_vs_cancelled_lock_waiter() {
    model_async_mutex(|| {
        let mutex = Arc::new(Mutex::new(0u32));
        let guard = mutex.lock_blocking();
        let cancelled = {
            let mutex = mutex.clone();
            thread::spawn(move || {
                let mut lock = Box::pin(mutex.lock());
                if let Poll::Ready(mut guard) = poll_with(lock.as_mut(), Waker::noop()) {
                    // Locked at once (after the unlock): counts, unlocks.
                    *guard += 10;
                }
                // Otherwise dropped while queued (possibly already woken).
                drop(lock);
            })
        };
        let waiter = {
            let mutex = mutex.clone();
            thread::spawn(move || *mutex.lock_blocking() += 1)
        };
        drop(guard);
        cancelled.join().unwrap();
        waiter.join().unwrap();
        let value = *mutex.try_lock().expect("the mutex was left locked");
        assert!(value == 1 || value == 11, "value {value}");
    });
}

/// A task (`lock().await`) and a thread (`lock_blocking()`) increment one
/// counter with a read and a write in separate steps: each sees the
/// other's write, whichever order they run in (mutual exclusion across the
/// two worlds).
#[test]
fn mutex_async_and_blocking_exclusive() {
    model_async_mutex(|| {
        let mutex = Arc::new(Mutex::new(0u32));
        let task = {
            let mutex = mutex.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut guard = mutex.lock().await;
                    let value = *guard;
                    thread::yield_now();
                    *guard = value + 1;
                })
            })
        };
        {
            let mut guard = mutex.lock_blocking();
            let value = *guard;
            thread::yield_now();
            *guard = value + 1;
        }
        task.join().unwrap();
        assert_eq!(*mutex.try_lock().unwrap(), 2);
    });
}

// ---------------------------------------------------------------- Condvar

/// notify_all after a state change races with an async and a blocking
/// waiter: both return (no lost wakeup), and a waiter returns from `wait`
/// only after the notify (no spurious wakeup: it sees the change).
#[test]
fn condvar_notify_vs_wait() {
    model_async_mutex(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let blocking = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (mutex, condvar) = &*pair;
                let guard = mutex.lock_blocking();
                if !*guard {
                    let guard = condvar.wait_blocking(guard);
                    assert!(*guard, "woken without a notification");
                }
            })
        };
        let task = {
            let pair = pair.clone();
            thread::spawn(move || {
                block_on(async {
                    let (mutex, condvar) = &*pair;
                    let guard = mutex.lock().await;
                    if !*guard {
                        let guard = condvar.wait(guard).await;
                        assert!(*guard, "woken without a notification");
                    }
                })
            })
        };
        let (mutex, condvar) = &*pair;
        *mutex.lock_blocking() = true;
        condvar.notify_all();
        blocking.join().unwrap();
        task.join().unwrap();
    });
}

/// A waiter that is notified and then dropped (before or while relocking)
/// passes the notification on: the other waiter, which waits for the flag,
/// always finishes. The cancelled waiter registers first (so a
/// `notify_one` picks it), and the notifier notifies while holding the
/// lock, so the cancelled waiter may be caught mid-relock.
#[test]
fn condvar_notified_waiter_cancelled_passes_notification_on() {
    model_async_mutex(|| {
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let (mutex, condvar) = &*pair;
        let mut cancelled = Box::pin(condvar.wait(mutex.lock_blocking()));
        assert!(poll_with(cancelled.as_mut(), Waker::noop()).is_pending());
        let waiter = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (mutex, condvar) = &*pair;
                let mut guard = mutex.lock_blocking();
                while !*guard {
                    guard = condvar.wait_blocking(guard);
                }
            })
        };
        let notifier = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (mutex, condvar) = &*pair;
                let mut guard = mutex.lock_blocking();
                *guard = true;
                condvar.notify_one();
                drop(guard);
            })
        };
        match poll_with(cancelled.as_mut(), Waker::noop()) {
            Poll::Ready(guard) => {
                // It consumed the notification and relocked: no spurious
                // wakeup, and (as its user would) it hands the news on,
                // since this model's other waiter wants it too.
                assert!(*guard);
                drop(guard);
                condvar.notify_one();
            }
            // Dropped while waiting (notified or not) or while relocking.
            Poll::Pending => drop(cancelled),
        }
        waiter.join().unwrap();
        notifier.join().unwrap();
    });
}

/// A notified waiter must relock before returning: the notifier notifies
/// under the lock and writes again before unlocking, so a waiter (async
/// `wait_while`, or blocking `wait` in a loop) only ever sees the final
/// value.
#[test]
fn condvar_notify_vs_relock() {
    model_async_mutex(|| {
        let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
        let task = {
            let pair = pair.clone();
            thread::spawn(move || {
                block_on(async {
                    let (mutex, condvar) = &*pair;
                    let guard = mutex.lock().await;
                    let guard = condvar.wait_while(guard, |v| *v == 0).await;
                    assert_eq!(*guard, 2, "returned without holding the lock");
                })
            })
        };
        let blocking = {
            let pair = pair.clone();
            thread::spawn(move || {
                let (mutex, condvar) = &*pair;
                let mut guard = mutex.lock_blocking();
                while *guard == 0 {
                    guard = condvar.wait_blocking(guard);
                }
                assert_eq!(*guard, 2, "returned without holding the lock");
            })
        };
        let (mutex, condvar) = &*pair;
        let mut guard = mutex.lock_blocking();
        *guard = 1;
        condvar.notify_all();
        *guard = 2;
        drop(guard);
        task.join().unwrap();
        blocking.join().unwrap();
    });
}

/// `Condition` (mutex and condvar in one): two successive `notify_one()`
/// wake two distinct waiters (they never coalesce), each consuming one unit.
#[test]
fn condition_notify_one_twice_wakes_two() {
    model_async_mutex(|| {
        let cond = Arc::new(Condition::new(0u32));
        let consumer = |cond: &Condition<u32>| {
            let mut guard = cond.lock_blocking();
            guard = guard.wait_while_blocking(|units| *units == 0);
            *guard -= 1;
        };
        let a = {
            let cond = cond.clone();
            thread::spawn(move || consumer(&cond))
        };
        let b = {
            let cond = cond.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut guard = cond.lock().await;
                    while *guard == 0 {
                        guard = guard.wait().await;
                    }
                    *guard -= 1;
                })
            })
        };
        for _ in 0..2 {
            *cond.lock_blocking() += 1;
            cond.notify_one();
        }
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(*cond.lock_blocking(), 0);
    });
}

// ------------------------------------------------------------------ Queue

/// A popper polled once and dropped races with a push and a blocking
/// popper. An item reserved for the dropped popper stays in the queue and
/// goes to the blocking one; if the dropped popper did get it, it pushes it
/// back. The item is never lost nor duplicated.
#[test]
fn queue_push_vs_cancelled_popper() {
    loom::model(|| {
        let queue = Arc::new(Queue::unbounded());
        let cancelled = {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut pop = Box::pin(queue.pop());
                match poll_with(pop.as_mut(), Waker::noop()) {
                    // Got it: put it back for the other popper.
                    Poll::Ready(item) => queue.try_push(item.unwrap()).unwrap(),
                    Poll::Pending => drop(pop),
                }
            })
        };
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop_blocking().unwrap())
        };
        queue.try_push(7u32).unwrap();
        cancelled.join().unwrap();
        assert_eq!(popper.join().unwrap(), 7);
        assert!(queue.is_empty());
    });
}

/// Eventual fairness: a push wakes a blocked popper in place while a
/// running `try_pop` may take the item first (and pushes it back). The
/// popper always gets the item in the end: a woken popper that finds it
/// taken waits on and is woken again by the push-back.
#[test]
fn queue_eventual_woken_popper_vs_barger() {
    loom::model(|| {
        let queue = Arc::new(Queue::unbounded());
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop_blocking().unwrap())
        };
        let barger = {
            let queue = queue.clone();
            thread::spawn(move || {
                if let Ok(item) = queue.try_pop() {
                    queue.try_push(item).unwrap();
                }
            })
        };
        queue.try_push(7u32).unwrap();
        barger.join().unwrap();
        assert_eq!(popper.join().unwrap(), 7);
        assert!(queue.is_empty());
    });
}

/// A bounded queue (capacity 1) is full; a pusher polled once and dropped
/// races with a blocking pusher and a pop. A slot reserved for the dropped
/// pusher passes on, so the blocking push always completes; every item is
/// either in the queue, popped, or (only the cancelled pusher's, if it
/// never got in) dropped with its future.
#[test]
fn queue_pop_vs_cancelled_pusher() {
    loom::model(|| {
        let queue = Arc::new(Queue::bounded(1));
        queue.try_push(1u32).unwrap();
        let cancelled = {
            let queue = queue.clone();
            thread::spawn(move || {
                let mut push = Box::pin(queue.push(2));
                let pushed = poll_with(push.as_mut(), Waker::noop()).is_ready();
                drop(push);
                pushed
            })
        };
        let pusher = {
            let queue = queue.clone();
            thread::spawn(move || queue.push_blocking(3).unwrap())
        };
        assert_eq!(queue.pop_blocking().unwrap(), 1);
        if cancelled.join().unwrap() {
            // The cancelled pusher got in before being dropped: its item is
            // next (FIFO), and popping it lets the blocking pusher in.
            assert_eq!(queue.pop_blocking().unwrap(), 2);
        }
        pusher.join().unwrap();
        assert_eq!(queue.try_pop().unwrap(), 3);
        assert!(queue.is_empty());
    });
}

/// `close()` races with a pusher blocked on a full queue (capacity 1) and a
/// popper. Close drains: the popper gets the queued item. The pusher's item
/// is never lost: either it got in before the close (and is still there),
/// or the push fails and hands it back (a woken pusher that finds the queue
/// closed returns the item rather than dropping it).
#[test]
fn queue_close_vs_blocked_pusher() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let item = |value| Item {
            value,
            drops: drops.clone(),
        };
        let queue = Arc::new(Queue::bounded(1));
        assert!(queue.try_push(item(1)).is_ok());
        let pusher = {
            let (queue, second) = (queue.clone(), item(2));
            thread::spawn(move || match queue.push_blocking(second) {
                Ok(()) => None,
                Err(err) => Some(err.into_inner().value),
            })
        };
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop_blocking().map(|item| item.value))
        };
        assert!(queue.close());
        let handed_back = pusher.join().unwrap();
        assert_eq!(popper.join().unwrap().ok(), Some(1), "close did not drain");
        let left: Vec<u32> =
            std::iter::from_fn(|| queue.try_pop().ok().map(|item| item.value)).collect();
        match handed_back {
            Some(value) => assert_eq!((value, left.as_slice()), (2, &[][..])),
            None => assert_eq!(left, [2]),
        }
        // Every item was delivered or handed back, then dropped by us.
        assert_eq!(drops.load(SeqCst), 2);
    });
}

/// A `PriorityQueue` fed by a pusher (1 then 3) while a blocking popper
/// waits: the popper gets exactly one item, and what is left pops greatest
/// first. Nothing is lost or duplicated.
#[test]
fn priority_queue_pop_vs_pushes() {
    loom::model(|| {
        let queue = Arc::new(PriorityQueue::unbounded());
        let pusher = {
            let queue = queue.clone();
            thread::spawn(move || {
                queue.try_push(1u32).unwrap();
                queue.try_push(3u32).unwrap();
            })
        };
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.pop_blocking().unwrap())
        };
        let popped = popper.join().unwrap();
        pusher.join().unwrap();
        let left: Vec<u32> = std::iter::from_fn(|| queue.try_pop().ok()).collect();
        let mut all = left.clone();
        all.push(popped);
        all.sort_unstable();
        assert_eq!(all, [1, 3], "an item was lost or duplicated");
        assert!(left.windows(2).all(|w| w[0] >= w[1]), "not greatest first");
    });
}

/// A bounded stack (capacity 1) fed by a producer that pushes two items and
/// closes, drained by an async and a blocking popper. Close drains: both
/// items are delivered exactly once (none dropped inside the stack), both
/// poppers then see `Closed`, and nothing is left.
#[test]
fn stack_push_pop_close_drains() {
    loom::model(|| {
        let drops = Arc::new(AtomicUsize::new(0));
        let stack = Arc::new(Stack::bounded(1));
        let producer = {
            let (stack, drops) = (stack.clone(), drops.clone());
            thread::spawn(move || {
                for value in [1, 2] {
                    let item = Item {
                        value,
                        drops: drops.clone(),
                    };
                    assert!(stack.push_blocking(item).is_ok());
                }
                assert!(stack.close());
            })
        };
        let task = {
            let stack = stack.clone();
            thread::spawn(move || {
                block_on(async {
                    let mut got = Vec::new();
                    while let Ok(item) = stack.pop().await {
                        got.push(item.value);
                    }
                    got
                })
            })
        };
        let mut got = Vec::new();
        while let Ok(item) = stack.pop_blocking() {
            got.push(item.value);
        }
        producer.join().unwrap();
        got.extend(task.join().unwrap());
        got.sort_unstable();
        assert_eq!(got, [1, 2], "an item was lost or duplicated");
        // Both items were delivered and dropped by their poppers.
        assert_eq!(drops.load(SeqCst), 2);
        assert!(stack.is_empty() && stack.is_closed());
    });
}

/// `join()` (async) and `join_blocking()` race with a worker's pops and
/// `task_done()`s: both joins return, and only after every item was
/// processed.
#[test]
fn queue_join_vs_task_done() {
    loom::model(|| {
        let queue = Arc::new(Queue::unbounded());
        queue.try_push(1u32).unwrap();
        queue.try_push(2u32).unwrap();
        let processed = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (queue, processed) = (queue.clone(), processed.clone());
            thread::spawn(move || {
                for _ in 0..2 {
                    queue.try_pop().unwrap();
                    processed.fetch_add(1, SeqCst);
                    queue.task_done().unwrap();
                }
            })
        };
        let task = {
            let (queue, processed) = (queue.clone(), processed.clone());
            thread::spawn(move || {
                block_on(queue.join());
                assert_eq!(processed.load(SeqCst), 2, "join returned early");
            })
        };
        queue.join_blocking();
        assert_eq!(processed.load(SeqCst), 2, "join returned early");
        assert_eq!(queue.unfinished_tasks(), 0);
        worker.join().unwrap();
        task.join().unwrap();
        assert!(queue.task_done().is_err());
    });
}

/// A rendezvous push (blocking) meets an async pop: the push returns only
/// once the pop has the item, and nothing stays inside.
#[test]
fn rendezvous_push_meets_pop() {
    loom::model(|| {
        let queue = Arc::new(Queue::rendezvous());
        let got = Arc::new(AtomicUsize::new(0));
        let popper = {
            let (queue, got) = (queue.clone(), got.clone());
            thread::spawn(move || {
                let item = block_on(queue.pop()).unwrap();
                got.store(item, SeqCst);
            })
        };
        queue.push_blocking(7usize).unwrap();
        popper.join().unwrap();
        assert_eq!(got.load(SeqCst), 7);
        assert!(queue.is_empty());
        assert_eq!(queue.unfinished_tasks(), 1);
    });
}

/// A rendezvous push polled once and then cancelled races with a
/// `try_pop`: the item is delivered (popped) or taken back, never both and
/// never lost; a push that returned `Ok` was popped; the task count
/// matches what was delivered.
#[test]
fn rendezvous_cancelled_push_vs_try_pop() {
    loom::model(|| {
        let queue = Arc::new(Queue::rendezvous());
        let popper = {
            let queue = queue.clone();
            thread::spawn(move || queue.try_pop().is_ok())
        };
        let returned_ok = {
            let mut push = Box::pin(queue.push(7u32));
            let polled = poll_with(push.as_mut(), Waker::noop());
            drop(push);
            matches!(polled, Poll::Ready(Ok(())))
        };
        let popped = popper.join().unwrap();
        if returned_ok {
            assert!(popped, "a push returned Ok without a pop");
        }
        assert!(queue.is_empty(), "the item stayed inside");
        assert_eq!(queue.unfinished_tasks(), usize::from(popped));
    });
}
