#![cfg(not(loom))]

//! Tests for `Semaphore`.
//!
//! The first part ports the scenarios of CPython's `Lib/test/lock_tests.py`
//! (`BaseSemaphoreTests`, `SemaphoreTests`, `BoundedSemaphoreTests`), each
//! run in every world (tasks, threads with the `_blocking` front-ends, and
//! both at once) under every executor. Python's `sem.acquire()` without a
//! matching object maps to `acquire().forget()`, and `sem.release()` to
//! `release(1)`.
//!
//! The second part covers what Python does not promise: strict FIFO
//! fairness without barging, cancellation, `close`, timeouts, every
//! front-end, and an exactly-once stress with threads and tasks together.

mod common;
use common::*;

use rallypoint::future::{
    SemaphoreAcquire, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout, SemaphoreAcquireTimeout,
};
use rallypoint::{
    AcquireError, AcquireTimeoutError, Fairness, ReleaseError, Semaphore, SemaphorePermit,
    SemaphorePermitArc, TryAcquireError,
};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// The number of queued waiters, read from the `Debug` output (which is
/// part of the contract: it shows the live state like Python's repr).
fn waiters(sem: &Semaphore) -> usize {
    let debug = format!("{sem:?}");
    let rest = &debug[debug.find("waiters: ").expect("waiters in Debug") + 9..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Python's `sem.acquire()` for a party of a world.
async fn acquire(sem: &Semaphore, blocking: bool) -> SemaphorePermit<'_> {
    if blocking {
        sem.acquire_blocking().unwrap()
    } else {
        sem.acquire().await.unwrap()
    }
}

fn is_pending<T>(p: &Poll<T>) -> bool {
    p.is_pending()
}

fn ready<T>(p: Poll<T>) -> T {
    match p {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("expected the future to be ready"),
    }
}

// ------------------------------------------------- CPython: construction

#[test]
fn constructor_limits_and_const() {
    static STATIC: Semaphore = Semaphore::new(3);
    static BOUNDED: Semaphore = Semaphore::bounded(2);
    assert_eq!(STATIC.available_permits(), 3);
    assert_eq!(BOUNDED.available_permits(), 2);
    let max = Semaphore::new(Semaphore::MAX_PERMITS);
    assert_eq!(max.available_permits(), Semaphore::MAX_PERMITS);
    // An unbounded semaphore is capped at MAX_PERMITS: release fails there.
    assert_eq!(max.release(1), Err(ReleaseError));
    assert_eq!(max.available_permits(), Semaphore::MAX_PERMITS);
    assert_eq!(Semaphore::new(0).available_permits(), 0);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn constructor_panics_above_max_permits() {
    let _ = Semaphore::new(Semaphore::MAX_PERMITS + 1);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn bounded_constructor_panics_above_max_permits() {
    let _ = Semaphore::bounded(usize::MAX);
}

#[test]
fn default_has_one_unbounded_permit() {
    let sem = Semaphore::default();
    assert_eq!(sem.available_permits(), 1);
    sem.release(1).unwrap(); // unbounded
    assert_eq!(sem.available_permits(), 2);
}

// ------------------------------------------------------ CPython: scenarios

/// `test_acquire` and `test_acquire_destroy`.
#[test]
fn acquire_release() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            for bounded in [false, true] {
                let make = |n| {
                    if bounded {
                        Semaphore::bounded(n)
                    } else {
                        Semaphore::new(n)
                    }
                };
                let sem = Arc::new(make(1));
                let s = sem.clone();
                join_all(bunch(&rt, world, 1, move |_, blocking| {
                    let sem = s.clone();
                    async move {
                        acquire(&sem, blocking).await.forget();
                        assert_eq!(sem.available_permits(), 0);
                        sem.release(1).unwrap();
                    }
                }))
                .await;
                assert_eq!(sem.available_permits(), 1);

                let sem = Arc::new(make(2));
                let s = sem.clone();
                join_all(bunch(&rt, world, 1, move |_, blocking| {
                    let sem = s.clone();
                    async move {
                        acquire(&sem, blocking).await.forget();
                        acquire(&sem, blocking).await.forget();
                        assert_eq!(sem.available_permits(), 0);
                        sem.release(1).unwrap();
                        sem.release(1).unwrap();
                    }
                }))
                .await;
                assert_eq!(sem.available_permits(), 2);

                // test_acquire_destroy: a held permit's semaphore can go away.
                let sem = Arc::new(make(1));
                let permit = sem.acquire_arc().await.unwrap();
                drop(sem);
                drop(permit);
            }
        }
    });
}

/// `test_acquire_contended` (one release at a time) and `test_multirelease`
/// (`release(n)`): value 7, ten parties acquiring twice, in three phases.
#[test]
fn acquire_contended_and_multirelease() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            for multirelease in [false, true] {
                contended(&rt, world, multirelease).await;
            }
        }
    });
}

async fn contended(rt: &Rt, world: World, multirelease: bool) {
    const VALUE: usize = 7;
    const N: usize = 10;
    let sem = Arc::new(Semaphore::new(VALUE));
    sem.acquire().await.unwrap().forget();
    let phase = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::new()));
    let done = Arc::new(AtomicUsize::new(0));

    let tasks = {
        let (sem, phase, results, done) =
            (sem.clone(), phase.clone(), results.clone(), done.clone());
        bunch(rt, world, N, move |_, blocking| {
            let (sem, phase, results, done) =
                (sem.clone(), phase.clone(), results.clone(), done.clone());
            async move {
                for _ in 0..2 {
                    acquire(&sem, blocking).await.forget();
                    results.lock().unwrap().push(phase.load(SeqCst));
                }
                done.fetch_add(1, SeqCst);
            }
        })
    };
    let release = |n: usize| {
        if multirelease {
            sem.release(n).unwrap();
        } else {
            for _ in 0..n {
                sem.release(1).unwrap();
            }
        }
    };
    // Settled: `count` acquisitions happened and every party is blocked
    // or finished (so no further acquisition is in flight).
    let settled = |count: usize| {
        let sem = sem.clone();
        let results = results.clone();
        let done = done.clone();
        move || {
            results.lock().unwrap().len() == count
                && waiters(&sem) + done.load(SeqCst) == N
                && sem.available_permits() == 0
        }
    };
    let sorted = || {
        let mut r = results.lock().unwrap().clone();
        r.sort();
        r
    };

    // Phase 0
    wait_until_async(rt, "phase 0 settled", settled(VALUE - 1)).await;
    assert_eq!(sorted(), vec![0; VALUE - 1]);

    // Phase 1
    phase.store(1, SeqCst);
    release(VALUE);
    wait_until_async(rt, "phase 1 settled", settled(2 * VALUE - 1)).await;
    let mut expected = vec![0; VALUE - 1];
    expected.extend([1; VALUE]);
    assert_eq!(sorted(), expected);

    // Phase 2
    phase.store(2, SeqCst);
    release(VALUE - 1);
    wait_until_async(rt, "phase 2 settled", settled(3 * VALUE - 2)).await;
    expected.extend([2; VALUE - 1]);
    assert_eq!(sorted(), expected);
    // The semaphore is still locked.
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);

    // Final release, to let the last party finish.
    sem.release(1).unwrap();
    join_all(tasks).await;
    assert_eq!(results.lock().unwrap().len(), 2 * N);
    assert_eq!(waiters(&sem), 0);
}

/// `test_try_acquire`.
#[test]
fn try_acquire() {
    let sem = Semaphore::new(2);
    let a = sem.try_acquire().unwrap();
    let b = sem.try_acquire().unwrap();
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    drop(a);
    let c = sem.try_acquire().unwrap();
    assert_eq!(c.num_permits(), 1);
    drop((b, c));
    assert_eq!(
        sem.try_acquire_many(3).unwrap_err(),
        TryAcquireError::NoPermits
    );
    assert_eq!(sem.try_acquire_many(2).unwrap().num_permits(), 2);
    assert_eq!(sem.available_permits(), 2);
}

/// `test_try_acquire_contended`: value 4 with one taken, five parties try
/// twice: exactly three succeed.
#[test]
fn try_acquire_contended() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let sem = Arc::new(Semaphore::new(4));
            sem.try_acquire().unwrap().forget();
            let s = sem.clone();
            let results = join_all(bunch(&rt, world, 5, move |_, _| {
                let sem = s.clone();
                async move {
                    let a = sem.try_acquire().map(SemaphorePermit::forget).is_ok();
                    let b = sem.try_acquire().map(SemaphorePermit::forget).is_ok();
                    [a, b]
                }
            }))
            .await;
            let successes = results.iter().flatten().filter(|ok| **ok).count();
            assert_eq!(successes, 3, "{world:?}");
            assert_eq!(sem.available_permits(), 0);
        }
    });
}

/// `test_acquire_timeout`, with a shorter long wait (100 ms) and generous
/// upper bounds.
#[test]
fn acquire_timeout() {
    const LONG: Duration = Duration::from_millis(100);
    let check = |sem: &Semaphore, timed: &dyn Fn(&Semaphore, Duration) -> bool| {
        assert!(timed(sem, Duration::from_millis(5)));
        assert!(timed(sem, Duration::from_millis(5)));
        assert!(!timed(sem, Duration::from_millis(5)));
        sem.release(1).unwrap();
        assert!(timed(sem, Duration::from_millis(5)));
        let start = Instant::now();
        assert!(!timed(sem, LONG));
        let elapsed = start.elapsed();
        assert!(elapsed >= LONG, "returned early: {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "returned late: {elapsed:?}"
        );
    };
    blocking(move || {
        check(
            &Semaphore::new(2),
            &|sem, d| match sem.acquire_timeout_blocking(d) {
                Ok(p) => {
                    p.forget();
                    true
                }
                Err(e) => {
                    assert_eq!(e, AcquireTimeoutError::Timeout);
                    false
                }
            },
        );
    });
    each_runtime(move |_rt| async move {
        let sem = Semaphore::new(2);
        let mut outcomes = Vec::new();
        for d in [5, 5, 5] {
            outcomes.push(
                sem.acquire_timeout(Duration::from_millis(d))
                    .await
                    .map(SemaphorePermit::forget),
            );
        }
        assert_eq!(
            outcomes,
            vec![Ok(()), Ok(()), Err(AcquireTimeoutError::Timeout)]
        );
        sem.release(1).unwrap();
        sem.acquire_timeout(Duration::from_millis(5))
            .await
            .unwrap()
            .forget();
        let start = Instant::now();
        assert_eq!(
            sem.acquire_timeout(LONG).await.unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        let elapsed = start.elapsed();
        assert!(elapsed >= LONG, "returned early: {elapsed:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "returned late: {elapsed:?}"
        );
        assert_eq!(waiters(&sem), 0);
    });
}

/// `test_default_value`: the default semaphore has one permit; a second
/// acquirer blocks until it is released.
#[test]
fn default_value_blocks_second_acquirer() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let sem = Arc::new(Semaphore::default());
            sem.acquire().await.unwrap().forget();
            let finished = Arc::new(AtomicBool::new(false));
            let (s, f) = (sem.clone(), finished.clone());
            let tasks = bunch(&rt, world, 1, move |_, blocking| {
                let (sem, finished) = (s.clone(), f.clone());
                async move {
                    drop(acquire(&sem, blocking).await);
                    finished.store(true, SeqCst);
                }
            });
            wait_until_async(&rt, "the party is blocked", || waiters(&sem) == 1).await;
            assert!(!finished.load(SeqCst));
            sem.release(1).unwrap();
            join_all(tasks).await;
            assert!(finished.load(SeqCst));
            assert_eq!(sem.available_permits(), 1);
        }
    });
}

/// `test_with`: the permit is Python's `with sem:` — released at the end of
/// the scope, also when the scope unwinds.
#[test]
fn permit_scope_is_with_statement() {
    fn with(sem: &Semaphore, panic: bool) {
        let _outer = sem.acquire_blocking().unwrap();
        drop(sem.try_acquire().unwrap());
        let _inner = sem.acquire_blocking().unwrap();
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        if panic {
            panic!("error inside with");
        }
    }
    blocking(|| {
        let sem = Semaphore::new(2);
        with(&sem, false);
        drop(sem.try_acquire().unwrap());
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| with(&sem, true)));
        assert!(result.is_err());
        drop(sem.try_acquire().unwrap());
        assert_eq!(sem.available_permits(), 2);
    });
}

/// `SemaphoreTests.test_release_unacquired`: unbounded releases raise the
/// count.
#[test]
fn unbounded_release_unacquired() {
    let sem = Semaphore::new(1);
    sem.release(1).unwrap();
    sem.acquire_blocking().unwrap().forget();
    sem.acquire_blocking().unwrap().forget();
    sem.release(1).unwrap();
    assert_eq!(sem.available_permits(), 1);
}

/// `SemaphoreTests.test_repr` and the bounded repr.
#[test]
fn debug_shows_live_state() {
    let sem = Semaphore::new(3);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { value: 3, waiters: 0, closed: false }"
    );
    sem.try_acquire().unwrap().forget();
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { value: 2, waiters: 0, closed: false }"
    );
    sem.release(2).unwrap();
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { value: 4, waiters: 0, closed: false }"
    );

    let bounded = Semaphore::bounded(3);
    assert_eq!(
        format!("{bounded:?}"),
        "Semaphore { value: 3/3, waiters: 0, closed: false }"
    );
    let permit = bounded.try_acquire_many(3).unwrap();
    let mut waiting = bounded.acquire_many(2);
    assert!(is_pending(&poll_once(&mut waiting)));
    bounded.close();
    assert_eq!(
        format!("{bounded:?}"),
        "Semaphore { value: 0/3, waiters: 0, closed: true }"
    );
    assert_eq!(format!("{permit:?}"), "SemaphorePermit { permits: 3 }");
    assert!(format!("{waiting:?}").starts_with("SemaphoreAcquire"));
}

/// `BoundedSemaphoreTests.test_release_unacquired`: a bounded semaphore
/// cannot go past its initial value; the failed release changes nothing.
#[test]
fn bounded_release_unacquired_fails() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let sem = Arc::new(Semaphore::bounded(1));
            let s = sem.clone();
            join_all(bunch(&rt, world, 1, move |_, blocking| {
                let sem = s.clone();
                async move {
                    assert_eq!(sem.release(1), Err(ReleaseError));
                    assert_eq!(sem.available_permits(), 1);
                    acquire(&sem, blocking).await.forget();
                    sem.release(1).unwrap();
                    assert_eq!(sem.release(1), Err(ReleaseError));
                    assert_eq!(sem.release(5), Err(ReleaseError));
                    assert_eq!(sem.available_permits(), 1);
                }
            }))
            .await;
        }
    });
    // A partial release that would overshoot fails as a whole.
    let sem = Semaphore::bounded(3);
    sem.try_acquire_many(2).unwrap().forget();
    assert_eq!(sem.release(3), Err(ReleaseError));
    assert_eq!(sem.available_permits(), 1);
    sem.release(2).unwrap();
    assert_eq!(sem.available_permits(), 3);
    // With a waiter queued, the bound is checked before serving it.
    let sem = Semaphore::bounded(2);
    sem.try_acquire_many(2).unwrap().forget();
    let mut waiter = sem.acquire_many(2);
    assert!(is_pending(&poll_once(&mut waiter)));
    assert_eq!(sem.release(3), Err(ReleaseError));
    assert!(is_pending(&poll_once(&mut waiter)));
    sem.release(2).unwrap();
    assert_eq!(ready(poll_once(&mut waiter)).unwrap().num_permits(), 2);
}

/// Dropping a permit of a bounded semaphore that extra releases already
/// refilled never raises the count above the bound.
#[test]
fn bounded_permit_drop_is_clamped() {
    let sem = Semaphore::bounded(2).with_fairness(Fairness::Strict);
    let permit = sem.try_acquire().unwrap();
    sem.release(1).unwrap();
    drop(permit);
    assert_eq!(sem.available_permits(), 2);
    // Same for a granted waiter that is dropped.
    let held = sem.try_acquire_many(2).unwrap();
    let mut waiter = sem.acquire_many(2);
    assert!(is_pending(&poll_once(&mut waiter)));
    drop(held); // grants the waiter
    assert_eq!(sem.available_permits(), 0);
    sem.release(1).unwrap();
    drop(waiter); // gives back 2, clamped to the bound
    assert_eq!(sem.available_permits(), 2);
}

// ------------------------------------------------------ acquire_many / bound

#[test]
fn acquire_many_zero_succeeds_at_once() {
    let sem = Semaphore::new(0);
    let mut queued = sem.acquire();
    assert!(is_pending(&poll_once(&mut queued)));
    // Even with nothing available and a waiter queued.
    let mut zero = sem.acquire_many(0);
    assert_eq!(ready(poll_once(&mut zero)).unwrap().num_permits(), 0);
    assert_eq!(sem.acquire_many_blocking(0).unwrap().num_permits(), 0);
    assert_eq!(
        sem.acquire_many_timeout_blocking(0, Duration::ZERO)
            .unwrap()
            .num_permits(),
        0
    );
    assert_eq!(sem.try_acquire_many(0).unwrap().num_permits(), 0);
    drop(queued);
    sem.close();
    assert_eq!(
        sem.acquire_many_blocking(0).unwrap_err(),
        AcquireError::Closed
    );
    assert_eq!(
        sem.try_acquire_many(0).unwrap_err(),
        TryAcquireError::Closed
    );
}

#[test]
fn acquire_many_above_bound_fails_at_once_in_every_front_end() {
    each_runtime(|_rt| async move {
        let sem = Arc::new(Semaphore::bounded(2));
        let held = sem.try_acquire_many(2).unwrap(); // would wait if allowed to
        let never = Duration::MAX;
        assert_eq!(
            sem.acquire_many(3).await.unwrap_err(),
            AcquireError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_blocking(3).unwrap_err(),
            AcquireError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_timeout(3, never).await.unwrap_err(),
            AcquireTimeoutError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_timeout_blocking(3, never).unwrap_err(),
            AcquireTimeoutError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_arc(3).await.unwrap_err(),
            AcquireError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_arc_blocking(3).unwrap_err(),
            AcquireError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_arc_timeout(3, never).await.unwrap_err(),
            AcquireTimeoutError::ExceedsBound
        );
        assert_eq!(
            sem.acquire_many_arc_timeout_blocking(3, Duration::ZERO)
                .unwrap_err(),
            AcquireTimeoutError::ExceedsBound
        );
        assert_eq!(
            sem.try_acquire_many(3).unwrap_err(),
            TryAcquireError::NoPermits
        );
        assert_eq!(waiters(&sem), 0);
        drop(held);
        // The bound itself is fine.
        assert_eq!(sem.acquire_many(2).await.unwrap().num_permits(), 2);
        // Unbounded: capped at MAX_PERMITS.
        let unbounded = Semaphore::new(0);
        assert_eq!(
            unbounded
                .acquire_many(Semaphore::MAX_PERMITS + 1)
                .await
                .unwrap_err(),
            AcquireError::ExceedsBound
        );
    });
}

// ------------------------------------------- fairness: strict, no barging

/// The no-barging proof (strict mode): once `acquire_many(3)` is queued, neither a later
/// `acquire()`, a `try_acquire()`, nor a zero timeout can take the permits
/// that are free, and each release goes to the oldest waiter first.
#[test]
fn no_barging_queued_acquire_many_is_not_overtaken() {
    let sem = Semaphore::new(2).with_fairness(Fairness::Strict);
    let mut big = sem.acquire_many(3);
    assert!(is_pending(&poll_once(&mut big)));
    assert_eq!(sem.available_permits(), 2);

    // A later acquire queues behind, although two permits are free.
    let mut small = sem.acquire();
    assert!(is_pending(&poll_once(&mut small)));
    // try_acquire (and its zero-timeout cousins) may not jump the queue.
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    assert_eq!(
        sem.acquire_timeout_blocking(Duration::ZERO).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    let mut zero = sem.acquire_timeout(Duration::ZERO);
    assert_eq!(
        ready(poll_once(&mut zero)).unwrap_err(),
        AcquireTimeoutError::Timeout
    );
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(waiters(&sem), 2);

    // One more permit: the oldest waiter gets all three, the later one nothing.
    sem.release(1).unwrap();
    let big = ready(poll_once(&mut big)).unwrap();
    assert_eq!(big.num_permits(), 3);
    assert!(is_pending(&poll_once(&mut small)));
    assert_eq!(sem.available_permits(), 0);

    drop(big);
    let small = ready(poll_once(&mut small)).unwrap();
    assert_eq!(small.num_permits(), 1);
    assert_eq!(sem.available_permits(), 2);
    assert_eq!(waiters(&sem), 0);
    // The fast path is open again.
    assert!(sem.try_acquire().is_ok());
}

/// The same guarantee across worlds (strict mode): a thread blocked in
/// `acquire_many_blocking(3)` is not overtaken by tasks or threads.
#[test]
fn no_barging_with_a_blocked_thread() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(2).with_fairness(Fairness::Strict));
        let s = sem.clone();
        let big = rt.thread(move || s.acquire_many_blocking(3).map(SemaphorePermit::forget));
        wait_until_async(&rt, "the thread is queued", || waiters(&sem) == 1).await;
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        assert_eq!(
            sem.acquire_timeout(Duration::from_millis(20))
                .await
                .unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        let s = sem.clone();
        let late = rt.thread(move || {
            s.acquire_timeout_blocking(Duration::from_millis(20))
                .map(drop)
        });
        assert_eq!(late.await, Err(AcquireTimeoutError::Timeout));
        assert_eq!(sem.available_permits(), 2);
        sem.release(1).unwrap();
        assert_eq!(big.await, Ok(()));
        assert_eq!(sem.available_permits(), 0);
    });
}

// ---------------------------------------- fairness: eventual (the default)

/// Below the bound, a running caller may take a released permit ahead of
/// the woken front waiter (barging); the front, passed over, keeps its
/// place ahead of the later waiter and gets the next permit.
#[test]
fn eventual_running_caller_barges_below_the_bound() {
    let sem = Semaphore::new(0).with_fairness(Fairness::Eventual(Duration::from_secs(3600)));
    let mut front = sem.acquire();
    let mut second = sem.acquire();
    assert!(is_pending(&poll_once(&mut front)));
    assert!(is_pending(&poll_once(&mut second)));
    for _ in 0..3 {
        sem.release(1).unwrap();
        // The permit went back to the semaphore, not to the front waiter.
        assert_eq!(sem.available_permits(), 1);
        let barged = sem
            .try_acquire()
            .expect("a running caller barges below the bound");
        // Woken, the front finds the permit taken and waits on; the later
        // waiter was not woken and does not jump it.
        assert!(is_pending(&poll_once(&mut front)));
        assert!(is_pending(&poll_once(&mut second)));
        barged.forget();
    }
    sem.release(1).unwrap();
    let permit = ready(poll_once(&mut front)).unwrap();
    assert_eq!(permit.num_permits(), 1);
    assert!(is_pending(&poll_once(&mut second)));
    assert_eq!(waiters(&sem), 1);
    // Its drop wakes the new front, which takes the permit.
    drop(permit);
    assert!(ready(poll_once(&mut second)).is_ok());
    assert_eq!(waiters(&sem), 0);
}

/// Once the front waiter has been passed over for longer than the bound,
/// the next permit is handed to it directly and nobody barges; once nobody
/// is past the bound, barging is allowed again.
#[test]
fn eventual_waiter_past_the_bound_is_served_next() {
    for bound in [Duration::ZERO, SHORT_BOUND] {
        let sem = Semaphore::new(0).with_fairness(Fairness::Eventual(bound));
        let mut front = sem.acquire();
        let mut second = sem.acquire();
        assert!(is_pending(&poll_once(&mut front)));
        assert!(is_pending(&poll_once(&mut second)));
        // Passed over once: the clock starts (with a zero bound, the bound
        // is passed at once).
        sem.release(1).unwrap();
        let barged = sem.try_acquire().expect("barging before any pass-over");
        assert!(is_pending(&poll_once(&mut front)));
        if !bound.is_zero() {
            std::thread::sleep(bound * 2);
            // Passed over again, now past the bound.
            drop(barged);
            let barged = sem
                .try_acquire()
                .expect("still barging until the front retries");
            assert!(is_pending(&poll_once(&mut front)));
            barged.forget();
        } else {
            barged.forget();
        }
        // Handoff: the released permit belongs to the front at once.
        sem.release(1).unwrap();
        assert_eq!(
            sem.try_acquire().unwrap_err(),
            TryAcquireError::NoPermits,
            "{bound:?}"
        );
        assert_eq!(sem.available_permits(), 0);
        let permit = ready(poll_once(&mut front)).unwrap();
        assert_eq!(permit.num_permits(), 1);
        permit.forget();
        // The next front has not been passed over: barging again.
        sem.release(1).unwrap();
        let barged = sem.try_acquire();
        assert!(barged.is_ok(), "{bound:?}");
        assert!(is_pending(&poll_once(&mut second)));
    }
}

/// Waiters are served in the order they began waiting, one permit each.
#[test]
fn fifo_order_of_waiters() {
    let sem = Semaphore::new(0);
    let mut futures: Vec<_> = (0..4).map(|_| sem.acquire()).collect();
    for f in &mut futures {
        assert!(is_pending(&poll_once(f)));
    }
    for i in 0..4 {
        sem.release(1).unwrap();
        for (j, f) in futures.iter_mut().enumerate().skip(i) {
            let poll = poll_once(f);
            assert_eq!(
                poll.is_ready(),
                j == i,
                "waiter {j} after {} releases",
                i + 1
            );
            if let Poll::Ready(permit) = poll {
                permit.unwrap().forget();
            }
        }
    }
}

/// FIFO across threads and tasks: parties queue in a known order (each
/// waits until the previous one is queued) and acquire in that order.
#[test]
fn fifo_order_across_worlds() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let sem = Arc::new(Semaphore::new(0));
            let order = Arc::new(Mutex::new(Vec::new()));
            let mut tasks = Vec::new();
            for i in 0..6 {
                let (s, o) = (sem.clone(), order.clone());
                tasks.push(party(&rt, world, i, move |blocking| async move {
                    acquire(&s, blocking).await.forget();
                    o.lock().unwrap().push(i);
                }));
                wait_until_async(&rt, "queued", || waiters(&sem) == i + 1).await;
            }
            for i in 0..6 {
                sem.release(1).unwrap();
                wait_until_async(&rt, "served", || order.lock().unwrap().len() == i + 1).await;
            }
            join_all(tasks).await;
            assert_eq!(
                *order.lock().unwrap(),
                (0..6).collect::<Vec<_>>(),
                "{world:?}"
            );
        }
    });
}

/// `acquire_many(5)` completes while other tasks and threads churn
/// `acquire()` on the same semaphore (it would starve without fairness).
#[test]
fn acquire_many_is_not_starved_by_churn() {
    for fairness in [Fairness::default(), Fairness::Strict] {
        acquire_many_is_not_starved_by_churn_in(fairness);
    }
}

fn acquire_many_is_not_starved_by_churn_in(fairness: Fairness) {
    each_runtime(move |rt| async move {
        let sem = Arc::new(Semaphore::new(5).with_fairness(fairness));
        let stop = Arc::new(AtomicBool::new(false));
        let churned = Arc::new(AtomicUsize::new(0));
        let churners = bunch(&rt, World::Mixed, 6, {
            let (sem, stop, churned) = (sem.clone(), stop.clone(), churned.clone());
            move |_, blocking| {
                let (sem, stop, churned) = (sem.clone(), stop.clone(), churned.clone());
                async move {
                    while !stop.load(SeqCst) {
                        let permit = acquire(&sem, blocking).await;
                        churned.fetch_add(1, SeqCst);
                        if blocking {
                            std::thread::yield_now();
                        } else {
                            futures_lite::future::yield_now().await;
                        }
                        drop(permit);
                    }
                }
            }
        });
        wait_until_async(&rt, "churn started", || churned.load(SeqCst) > 200).await;
        let big = sem.acquire_many_timeout(5, Duration::from_secs(20)).await;
        let big = big.expect("acquire_many(5) starved by churn");
        assert_eq!(sem.available_permits(), 0);
        stop.store(true, SeqCst);
        drop(big);
        join_all(churners).await;
        assert_eq!(sem.available_permits(), 5);
        assert_eq!(waiters(&sem), 0);
    });
}

// ------------------------------------------------------------ cancellation

/// Dropping at every await point: never polled, queued, and granted but
/// not yet polled. Permits are conserved at each step.
#[test]
fn cancel_at_every_point() {
    let sem = Semaphore::new(1).with_fairness(Fairness::Strict);
    // Never polled: nothing happened, nothing to undo.
    drop(sem.acquire_many(2));
    assert_eq!((sem.available_permits(), waiters(&sem)), (1, 0));

    // Queued: leaves the queue, keeps no place in line.
    let mut queued = sem.acquire_many(2);
    assert!(is_pending(&poll_once(&mut queued)));
    assert_eq!(waiters(&sem), 1);
    drop(queued);
    assert_eq!((sem.available_permits(), waiters(&sem)), (1, 0));
    assert!(sem.try_acquire().is_ok(), "fast path reopened");

    // Granted but not polled: the permits go back.
    let held = sem.try_acquire().unwrap();
    let mut granted = sem.acquire();
    assert!(is_pending(&poll_once(&mut granted)));
    drop(held);
    assert_eq!(sem.available_permits(), 0, "assigned to the waiter");
    drop(granted);
    assert_eq!((sem.available_permits(), waiters(&sem)), (1, 0));
}

/// A dropped waiter that had been granted permits gives them to the next
/// waiter.
#[test]
fn dropped_granted_waiter_passes_permits_on() {
    let sem = Semaphore::new(0).with_fairness(Fairness::Strict);
    let mut first = sem.acquire_many(2);
    let mut second = sem.acquire();
    let mut third = sem.acquire();
    assert!(is_pending(&poll_once(&mut first)));
    assert!(is_pending(&poll_once(&mut second)));
    assert!(is_pending(&poll_once(&mut third)));
    sem.release(2).unwrap();
    assert_eq!(sem.available_permits(), 0);
    drop(first); // granted, never saw it
    let second = ready(poll_once(&mut second)).unwrap();
    let third = ready(poll_once(&mut third)).unwrap();
    assert_eq!((second.num_permits(), third.num_permits()), (1, 1));
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(waiters(&sem), 0);
}

/// Dropping the front waiter (which waited for more than is free) lets the
/// next one, which fits, proceed at once.
#[test]
fn dropped_front_waiter_unblocks_next() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(1).with_fairness(Fairness::Strict));
        let mut front = sem.acquire_many(2);
        assert!(is_pending(&poll_once(&mut front)));
        let s = sem.clone();
        let next = rt.spawn(async move { s.acquire_arc().await.map(|p| p.num_permits()) });
        let s = sem.clone();
        let thread = rt.thread(move || s.acquire_blocking().map(drop));
        wait_until_async(&rt, "both queued", || waiters(&sem) == 3).await;
        drop(front);
        assert_eq!(next.await, Ok(1));
        assert_eq!(thread.await, Ok(()));
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(waiters(&sem), 0);
    });
}

/// A granted waiter whose task is cancelled by a timeout (`or` with a
/// sleep) — random cancellations at every point, under every executor,
/// conserve the permits.
#[test]
fn cancellation_stress_conserves_permits() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(3));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (sem, rt2) = (sem.clone(), rt.clone());
                rt.spawn(async move {
                    for round in 0..scale(100) {
                        let n = 1 + (i + round) % 3;
                        let acquire = async { sem.acquire_many(n).await.map(Some) };
                        let cancel = async {
                            for _ in 0..(round % 4) {
                                futures_lite::future::yield_now().await;
                            }
                            Ok(None)
                        };
                        if let Some(permit) =
                            futures_lite::future::or(acquire, cancel).await.unwrap()
                        {
                            assert_eq!(permit.num_permits(), n);
                            if round % 5 == 0 {
                                rt2.yield_now().await;
                            }
                        }
                    }
                })
            })
            .collect();
        join_all(tasks).await;
        assert_eq!(sem.available_permits(), 3);
        assert_eq!(waiters(&sem), 0);
    });
}

// ------------------------------------------------------------------ close

#[test]
fn close_wakes_waiters_with_err() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(0));
        let s = sem.clone();
        let task = rt.spawn(async move { s.acquire().await.map(drop) });
        let s = sem.clone();
        let task_arc =
            rt.spawn(async move { s.acquire_many_arc_timeout(2, Duration::MAX).await.map(drop) });
        let s = sem.clone();
        let thread = rt.thread(move || s.acquire_blocking().map(drop));
        let s = sem.clone();
        let thread_timed = rt.thread(move || {
            s.acquire_timeout_blocking(Duration::from_secs(60))
                .map(drop)
        });
        wait_until_async(&rt, "four waiters", || waiters(&sem) == 4).await;
        assert!(!sem.is_closed());
        sem.close();
        assert!(sem.is_closed());
        assert_eq!(task.await, Err(AcquireError::Closed));
        assert_eq!(task_arc.await, Err(AcquireTimeoutError::Closed));
        assert_eq!(thread.await, Err(AcquireError::Closed));
        assert_eq!(thread_timed.await, Err(AcquireTimeoutError::Closed));
        assert_eq!(waiters(&sem), 0);

        // Later acquires fail at once, in every form, even with permits.
        sem.release(2).unwrap();
        assert_eq!(sem.available_permits(), 2);
        assert_eq!(sem.acquire().await.unwrap_err(), AcquireError::Closed);
        assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError::Closed);
        assert_eq!(
            sem.acquire_timeout(Duration::ZERO).await.unwrap_err(),
            AcquireTimeoutError::Closed
        );
        assert_eq!(
            sem.acquire_timeout_blocking(Duration::from_secs(1))
                .unwrap_err(),
            AcquireTimeoutError::Closed
        );
        assert_eq!(sem.acquire_arc().await.unwrap_err(), AcquireError::Closed);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
        assert_eq!(sem.try_acquire_arc().unwrap_err(), TryAcquireError::Closed);
        assert_eq!(sem.available_permits(), 2);
    });
}

/// Permits granted before the close are kept; held permits still return.
#[test]
fn close_keeps_granted_and_held_permits() {
    let sem = Semaphore::new(1).with_fairness(Fairness::Strict);
    let held = sem.try_acquire().unwrap();
    let mut granted = sem.acquire();
    let mut failed = sem.acquire();
    assert!(is_pending(&poll_once(&mut granted)));
    assert!(is_pending(&poll_once(&mut failed)));
    sem.release(1).unwrap(); // grants `granted`
    sem.close();
    let permit = ready(poll_once(&mut granted)).unwrap();
    assert_eq!(
        ready(poll_once(&mut failed)).unwrap_err(),
        AcquireError::Closed
    );
    drop(permit);
    drop(held);
    assert_eq!(sem.available_permits(), 2);
    // A granted waiter dropped after the close still gives its permits back.
    let sem = Semaphore::new(0);
    let mut granted = sem.acquire();
    assert!(is_pending(&poll_once(&mut granted)));
    sem.release(1).unwrap();
    sem.close();
    drop(granted);
    assert_eq!(sem.available_permits(), 1);
}

// ---------------------------------------------------------------- timeouts

#[test]
fn timeout_zero_tries_without_waiting() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(1));
        // Available: succeeds, on the first poll.
        let mut f = sem.acquire_timeout(Duration::ZERO);
        let permit = ready(poll_once(&mut f)).unwrap();
        // Not available: fails on the first poll, without queueing.
        let mut f = sem.acquire_timeout(Duration::ZERO);
        assert_eq!(
            ready(poll_once(&mut f)).unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        let mut f = sem.acquire_arc_timeout(Duration::ZERO);
        assert_eq!(
            ready(poll_once(&mut f)).unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        assert_eq!(waiters(&sem), 0);
        let s = sem.clone();
        let blocked = rt.thread(move || {
            let start = Instant::now();
            let r = s.acquire_timeout_blocking(Duration::ZERO).map(drop);
            (r, start.elapsed())
        });
        let (r, elapsed) = blocked.await;
        assert_eq!(r, Err(AcquireTimeoutError::Timeout));
        assert!(elapsed < Duration::from_secs(5));
        drop(permit);
        assert!(sem.acquire_timeout_blocking(Duration::ZERO).is_ok());
    });
}

#[test]
fn timeout_max_waits_forever() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(0));
        let s = sem.clone();
        let task = rt.spawn(async move {
            s.acquire_timeout(Duration::MAX)
                .await
                .map(SemaphorePermit::forget)
        });
        let s = sem.clone();
        let thread = rt.thread(move || {
            s.acquire_arc_timeout_blocking(Duration::MAX)
                .map(SemaphorePermitArc::forget)
        });
        wait_until_async(&rt, "both queued", || waiters(&sem) == 2).await;
        sem.release(2).unwrap();
        assert_eq!(task.await, Ok(()));
        assert_eq!(thread.await, Ok(()));
    });
}

/// A timed-out waiter leaves the queue, and if it was at the front the next
/// waiter proceeds; a waiter whose deadline races a grant either keeps the
/// permits or gives them back — never loses them.
#[test]
#[cfg_attr(
    miri,
    ignore = "timing: the 50 ms deadline may pass (Miri's virtual clock) before the main task sees the front waiter queued"
)]
fn timed_out_front_waiter_unblocks_next_and_races_conserve_permits() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(1));
        let s = sem.clone();
        let front = rt.thread(move || {
            s.acquire_many_timeout_blocking(2, Duration::from_millis(50))
                .map(drop)
        });
        wait_until_async(&rt, "front queued", || waiters(&sem) == 1).await;
        let s = sem.clone();
        let next = rt.spawn(async move { s.acquire().await.map(SemaphorePermit::forget) });
        assert_eq!(front.await, Err(AcquireTimeoutError::Timeout));
        assert_eq!(next.await, Ok(()));
        assert_eq!(sem.available_permits(), 0);

        // Deadlines racing releases.
        let sem = Arc::new(Semaphore::new(0));
        let got = Arc::new(AtomicUsize::new(0));
        let finished = Arc::new(AtomicUsize::new(0));
        let racers = bunch(&rt, World::Mixed, 4, {
            let (sem, got, finished) = (sem.clone(), got.clone(), finished.clone());
            move |i, blocking| {
                let (sem, got, finished) = (sem.clone(), got.clone(), finished.clone());
                async move {
                    for round in 0..scale(50) {
                        let d = Duration::from_micros(((i * 37 + round * 13) % 300) as u64);
                        let r = if blocking {
                            sem.acquire_timeout_blocking(d)
                        } else {
                            sem.acquire_timeout(d).await
                        };
                        if let Ok(permit) = r {
                            got.fetch_add(1, SeqCst);
                            permit.forget();
                        }
                    }
                    finished.fetch_add(1, SeqCst);
                }
            }
        });
        let mut released = 0;
        while finished.load(SeqCst) < 4 {
            sem.release(1).unwrap();
            released += 1;
            rt.sleep(Duration::from_micros(100)).await;
        }
        join_all(racers).await;
        assert_eq!(waiters(&sem), 0);
        assert!(got.load(SeqCst) > 0);
        assert_eq!(sem.available_permits() + got.load(SeqCst), released);
    });
}

// ------------------------------------------------------- every front-end

#[test]
fn arc_front_ends_and_permits() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(3));
        let a = sem.acquire_arc().await.unwrap();
        let b = sem.acquire_many_arc(2).await.unwrap();
        assert_eq!((a.num_permits(), b.num_permits()), (1, 2));
        assert_eq!(sem.available_permits(), 0);
        // Permits move into other tasks and threads.
        let t = rt.spawn(async move { drop(a) });
        t.await;
        rt.thread(move || drop(b)).await;
        assert_eq!(sem.available_permits(), 3);
        let s = sem.clone();
        let p = rt.thread(move || s.acquire_arc_blocking().unwrap()).await;
        let s = sem.clone();
        let q = rt
            .thread(move || s.acquire_many_arc_blocking(2).unwrap())
            .await;
        assert_eq!(sem.available_permits(), 0);
        p.forget();
        assert_eq!(format!("{q:?}"), "SemaphorePermitArc { permits: 2 }");
        drop(q);
        assert_eq!(sem.available_permits(), 2);
        let r = sem
            .acquire_arc_timeout(Duration::from_secs(1))
            .await
            .unwrap();
        let s = sem.clone();
        assert!(
            rt.thread(move || s
                .acquire_arc_timeout_blocking(Duration::from_millis(5))
                .map(drop))
                .await
                .is_ok()
        );
        assert_eq!(
            sem.acquire_many_arc_timeout(2, Duration::from_millis(5))
                .await
                .unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        drop(r);
        let s = sem.clone();
        assert_eq!(
            rt.thread(move || s
                .acquire_many_arc_timeout_blocking(2, Duration::from_secs(1))
                .map(|p| p.num_permits()))
                .await,
            Ok(2)
        );
        let t = sem.try_acquire_many_arc(2).unwrap();
        assert_eq!(
            sem.try_acquire_arc().unwrap_err(),
            TryAcquireError::NoPermits
        );
        drop(t);
        // The Arc future owns its semaphore: it may be spawned.
        let f = sem.acquire_many_arc(2);
        assert_eq!(
            rt.spawn(async move { f.await.map(|p| p.num_permits()) })
                .await,
            Ok(2)
        );
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn borrowed_front_ends() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(2));
        assert_eq!(sem.acquire().await.unwrap().num_permits(), 1);
        assert_eq!(sem.acquire_many(2).await.unwrap().num_permits(), 2);
        assert_eq!(
            sem.acquire_timeout(Duration::from_secs(1))
                .await
                .unwrap()
                .num_permits(),
            1
        );
        assert_eq!(
            sem.acquire_many_timeout(2, Duration::from_secs(1))
                .await
                .unwrap()
                .num_permits(),
            2
        );
        let s = sem.clone();
        let counts = rt
            .thread(move || {
                // One at a time: each permit is dropped before the next acquire.
                let a = s.acquire_blocking().unwrap().num_permits();
                let b = s.acquire_many_blocking(2).unwrap().num_permits();
                let c = s
                    .acquire_timeout_blocking(Duration::from_secs(1))
                    .unwrap()
                    .num_permits();
                let d = s
                    .acquire_many_timeout_blocking(2, Duration::from_secs(1))
                    .unwrap()
                    .num_permits();
                [a, b, c, d]
            })
            .await;
        assert_eq!(counts, [1, 2, 1, 2]);
        // Waiting forms really wait for a release from the other world.
        let held = sem.try_acquire_many(2).unwrap();
        let s = sem.clone();
        let thread = rt.thread(move || s.acquire_many_blocking(2).map(SemaphorePermit::forget));
        wait_until_async(&rt, "thread queued", || waiters(&sem) == 1).await;
        drop(held);
        assert_eq!(thread.await, Ok(()));
        sem.release(2).unwrap();
        let held = sem.try_acquire_many_arc(2).unwrap();
        let s = sem.clone();
        let task = rt.spawn(async move { s.acquire_many(2).await.map(SemaphorePermit::forget) });
        wait_until_async(&rt, "task queued", || waiters(&sem) == 1).await;
        let releaser = rt.thread(move || drop(held));
        releaser.await;
        assert_eq!(task.await, Ok(()));
        assert_eq!(sem.available_permits(), 0);
    });
}

#[test]
fn forget_and_num_permits() {
    let sem = Semaphore::new(5);
    let p = sem.try_acquire_many(3).unwrap();
    assert_eq!(p.num_permits(), 3);
    p.forget();
    assert_eq!(sem.available_permits(), 2);
    let p = sem.acquire_many_blocking(2).unwrap();
    drop(p);
    assert_eq!(sem.available_permits(), 2);
    let arc = Arc::new(Semaphore::new(1));
    arc.try_acquire_arc().unwrap().forget();
    assert_eq!(arc.available_permits(), 0);
    assert_eq!(Arc::strong_count(&arc), 1, "forget releases the Arc");
}

// -------------------------------------------- exactly-once style stress

/// Tasks and threads hammer one semaphore with every front-end; a holder
/// counter never exceeds the permits, and all permits come back.
#[test]
fn stress_holders_never_exceed_permits() {
    const PERMITS: usize = 3;
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::new(PERMITS));
        let holders = Arc::new(AtomicUsize::new(0));
        let acquired = Arc::new(AtomicUsize::new(0));
        let parties = bunch(&rt, World::Mixed, 8, {
            let (sem, holders, acquired) = (sem.clone(), holders.clone(), acquired.clone());
            move |i, blocking| {
                let (sem, holders, acquired) = (sem.clone(), holders.clone(), acquired.clone());
                async move {
                    for round in 0..scale(150) {
                        let n = 1 + (i + round) % 2;
                        let permit: Option<SemaphorePermit<'_>> = match (round % 4, blocking) {
                            (0, false) => Some(sem.acquire_many(n).await.unwrap()),
                            (0, true) => Some(sem.acquire_many_blocking(n).unwrap()),
                            (1, _) => sem.try_acquire_many(n).ok(),
                            (2, false) => sem
                                .acquire_many_timeout(n, Duration::from_micros(200))
                                .await
                                .ok(),
                            (2, true) => sem
                                .acquire_many_timeout_blocking(n, Duration::from_micros(200))
                                .ok(),
                            (_, false) => {
                                let mut f = sem.acquire_many(n);
                                match poll_once(&mut f) {
                                    Poll::Ready(p) => Some(p.unwrap()),
                                    Poll::Pending => None, // cancelled
                                }
                            }
                            (_, true) => {
                                let p = sem.acquire_many_arc_blocking(n).unwrap();
                                let now = holders.fetch_add(n, SeqCst) + n;
                                assert!(now <= PERMITS, "{now} holders");
                                acquired.fetch_add(1, SeqCst);
                                holders.fetch_sub(n, SeqCst);
                                drop(p);
                                None
                            }
                        };
                        if let Some(permit) = permit {
                            let now = holders.fetch_add(n, SeqCst) + n;
                            assert!(now <= PERMITS, "{now} holders");
                            acquired.fetch_add(1, SeqCst);
                            if blocking {
                                std::thread::yield_now();
                            } else {
                                futures_lite::future::yield_now().await;
                            }
                            holders.fetch_sub(n, SeqCst);
                            drop(permit);
                        }
                    }
                }
            }
        });
        join_all(parties).await;
        assert!(acquired.load(SeqCst) > 0);
        assert_eq!(sem.available_permits(), PERMITS);
        assert_eq!(waiters(&sem), 0);
        assert_eq!(holders.load(SeqCst), 0);
    });
}

// ---------------------------------------------------------- errors, traits

#[test]
fn errors_are_small_named_types() {
    fn check<E: std::error::Error + Clone + PartialEq + Eq + Send + Sync + 'static>(
        e: E,
        text: &str,
    ) {
        assert_eq!(e.to_string(), text);
        assert_eq!(e.clone(), e);
        let _boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    }
    check(AcquireError::Closed, "semaphore is closed");
    check(
        AcquireError::ExceedsBound,
        "more permits requested than the semaphore can hold",
    );
    check(
        AcquireTimeoutError::Timeout,
        "timed out waiting for semaphore permits",
    );
    check(AcquireTimeoutError::Closed, "semaphore is closed");
    check(TryAcquireError::NoPermits, "no semaphore permits available");
    check(TryAcquireError::Closed, "semaphore is closed");
    check(ReleaseError, "semaphore released too many times");
    assert_eq!(
        AcquireTimeoutError::from(AcquireError::Closed),
        AcquireTimeoutError::Closed
    );
    assert_eq!(
        AcquireTimeoutError::from(AcquireError::ExceedsBound),
        AcquireTimeoutError::ExceedsBound
    );
    assert!(AcquireTimeoutError::Timeout.is_timeout());
    assert!(!AcquireTimeoutError::Closed.is_timeout());
}

#[test]
fn send_sync_unpin_assertions() {
    fn send_sync<T: Send + Sync>() {}
    fn send_unpin_future<T: Future + Send + Unpin>() {}
    send_sync::<Semaphore>();
    // Usable inside `catch_unwind` by reference, as with std's primitives
    // (regression: parking_lot's mutex is not RefUnwindSafe by itself).
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<Semaphore>();
    send_sync::<SemaphorePermit<'static>>();
    send_sync::<SemaphorePermitArc>();
    send_unpin_future::<SemaphoreAcquire<'static>>();
    send_unpin_future::<SemaphoreAcquireTimeout<'static>>();
    send_unpin_future::<SemaphoreAcquireArc>();
    send_unpin_future::<SemaphoreAcquireArcTimeout>();
    send_sync::<SemaphoreAcquire<'static>>();
    send_sync::<SemaphoreAcquireTimeout<'static>>();
    send_sync::<SemaphoreAcquireArc>();
    send_sync::<SemaphoreAcquireArcTimeout>();
    send_sync::<AcquireError>();
    send_sync::<AcquireTimeoutError>();
    send_sync::<TryAcquireError>();
    send_sync::<ReleaseError>();
}
