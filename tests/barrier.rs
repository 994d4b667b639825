#![cfg(not(loom))]

//! Barrier tests. The scenarios of CPython's `Lib/test/lock_tests.py`
//! `BarrierTests` are ported in both worlds (tasks, threads, and both at
//! once on one instance), under every executor of the harness; then come
//! the cases Python cannot express: withdrawal by cancellation, ranks
//! after withdrawal, late polls across generations, panicking actions.

mod common;

use common::*;
use rallypoint::future::BarrierWait;
use rallypoint::{Barrier, BarrierWaitResult, BrokenBarrierError, BrokenReason};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

type WaitResult = Result<BarrierWaitResult, BrokenBarrierError>;

/// The result of a wait that failed for `reason`.
fn failed(reason: BrokenReason) -> WaitResult {
    Err(reason.into())
}

const N: usize = 5;
/// Python's `defaultTimeout` is 2 s; CI machines are slower and shared.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

async fn wait(b: &Barrier, blocking: bool) -> WaitResult {
    if blocking {
        b.wait_blocking()
    } else {
        b.wait().await
    }
}

async fn wait_timeout(b: &Barrier, blocking: bool, d: Duration) -> WaitResult {
    if blocking {
        b.wait_timeout_blocking(d)
    } else {
        b.wait_timeout(d).await
    }
}

fn barrier_with_timeout(n: usize) -> Arc<Barrier> {
    Arc::new(Barrier::builder(n).timeout(DEFAULT_TIMEOUT).build())
}

// lock_tests.BarrierTests.test_barrier and test_barrier_10: parties pass in
// lockstep, for 1 and 10 passes.
#[test]
fn lockstep_passes() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            for passes in [1, scale(10)] {
                let barrier = barrier_with_timeout(N);
                let phase0 = Arc::new(AtomicUsize::new(0));
                let phase1 = Arc::new(AtomicUsize::new(0));
                let tasks = {
                    let (barrier, phase0, phase1) =
                        (barrier.clone(), phase0.clone(), phase1.clone());
                    bunch(&rt, world, N, move |_, blocking| {
                        let (barrier, phase0, phase1) =
                            (barrier.clone(), phase0.clone(), phase1.clone());
                        async move {
                            for i in 0..passes {
                                phase0.fetch_add(1, Ordering::SeqCst);
                                assert_eq!(phase1.load(Ordering::SeqCst), i * N);
                                wait(&barrier, blocking).await.unwrap();
                                phase1.fetch_add(1, Ordering::SeqCst);
                                assert_eq!(phase0.load(Ordering::SeqCst), (i + 1) * N);
                                wait(&barrier, blocking).await.unwrap();
                            }
                        }
                    })
                };
                join_all(tasks).await;
                assert_eq!(barrier.n_waiting(), 0);
                assert!(!barrier.is_broken());
            }
        }
    });
}

// lock_tests.BarrierTests.test_wait_return: ranks are 0..N, exactly one
// leader, which has the last rank.
#[test]
fn wait_indices() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let barrier = barrier_with_timeout(N);
            let tasks = {
                let barrier = barrier.clone();
                bunch(&rt, world, N, move |_, blocking| {
                    let barrier = barrier.clone();
                    async move { wait(&barrier, blocking).await.unwrap() }
                })
            };
            let results = join_all(tasks).await;
            let mut indices: Vec<_> = results.iter().map(|r| r.index()).collect();
            indices.sort_unstable();
            assert_eq!(indices, (0..N).collect::<Vec<_>>(), "{world:?}");
            let leaders: Vec<_> = results.iter().filter(|r| r.is_leader()).collect();
            assert_eq!(leaders.len(), 1);
            assert_eq!(leaders[0].index(), N - 1);
        }
    });
}

// Ranks follow arrival order exactly (deterministic, poll level).
#[test]
fn indices_follow_arrival_order() {
    let barrier = Barrier::new(3);
    let mut a = barrier.wait();
    let mut b = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    let c = barrier.wait_blocking().unwrap();
    assert_eq!((c.index(), c.is_leader()), (2, true));
    // Polled in the reverse order: the rank is the arrival rank.
    let Poll::Ready(Ok(rb)) = poll_once(&mut b) else {
        panic!("b not released")
    };
    let Poll::Ready(Ok(ra)) = poll_once(&mut a) else {
        panic!("a not released")
    };
    assert_eq!((ra.index(), ra.is_leader()), (0, false));
    assert_eq!((rb.index(), rb.is_leader()), (1, false));
}

// lock_tests.BarrierTests.test_action: the action runs exactly once per
// generation, before any party is released.
#[test]
fn action_runs_once_before_release() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let runs = Arc::new(AtomicUsize::new(0));
            let barrier = {
                let runs = runs.clone();
                Arc::new(
                    Barrier::builder(N)
                        .action(move || {
                            runs.fetch_add(1, Ordering::SeqCst);
                        })
                        .timeout(DEFAULT_TIMEOUT)
                        .build(),
                )
            };
            let tasks = {
                let (barrier, runs) = (barrier.clone(), runs.clone());
                bunch(&rt, world, N, move |_, blocking| {
                    let (barrier, runs) = (barrier.clone(), runs.clone());
                    async move {
                        for generation in 1..=3 {
                            wait(&barrier, blocking).await.unwrap();
                            // Every party sees this generation's action done,
                            // and not the next one's.
                            let seen = runs.load(Ordering::SeqCst);
                            assert!(seen == generation || seen == generation + 1, "{seen}");
                            assert!(seen >= generation);
                        }
                    }
                })
            };
            join_all(tasks).await;
            assert_eq!(runs.load(Ordering::SeqCst), 3, "{world:?}");
        }
    });
}

// The action runs on the leader (the last arrival), and may use the barrier.
#[test]
fn action_runs_on_leader_and_may_use_barrier() {
    let seen = Arc::new(Mutex::new(None));
    let barrier = Arc::new_cyclic(|weak: &std::sync::Weak<Barrier>| {
        let (weak, seen) = (weak.clone(), seen.clone());
        Barrier::builder(2)
            .action(move || {
                let b = weak.upgrade().unwrap();
                *seen.lock().unwrap() =
                    Some((std::thread::current().id(), b.n_waiting(), b.is_broken()));
            })
            .build()
    });
    let mut first = barrier.wait();
    assert!(poll_once(&mut first).is_pending());
    let leader = barrier.wait_blocking().unwrap();
    assert!(leader.is_leader());
    let (thread, n_waiting, broken) = seen.lock().unwrap().take().unwrap();
    assert_eq!(thread, std::thread::current().id());
    assert_eq!(
        n_waiting, 2,
        "both parties count as waiting while the action runs"
    );
    assert!(!broken);
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(r)) if r.index() == 0));
}

// Newcomers arriving while the action runs wait for it, then join the next
// generation; they are not counted in the tripping one.
#[test]
fn arrivals_during_action_join_next_generation() {
    blocking(|| {
        let (enter_tx, enter_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let first = AtomicBool::new(true);
        let barrier = Arc::new(
            Barrier::builder(2)
                .action(move || {
                    if first.swap(false, Ordering::SeqCst) {
                        enter_tx.send(()).unwrap();
                        go_rx.lock().unwrap().recv().unwrap();
                    }
                })
                .build(),
        );
        let b1 = barrier.clone();
        let t1 = std::thread::spawn(move || b1.wait_blocking().unwrap());
        let b2 = barrier.clone();
        let t2 = std::thread::spawn(move || b2.wait_blocking().unwrap());
        enter_rx.recv().unwrap(); // the action of generation 0 is running
        let mut newcomer = barrier.wait();
        assert!(poll_once(&mut newcomer).is_pending());
        assert_eq!(barrier.n_waiting(), 2, "the newcomer has not arrived");
        go_tx.send(()).unwrap();
        let r1 = t1.join().unwrap();
        let r2 = t2.join().unwrap();
        assert_eq!(r1.index() + r2.index(), 1);
        // Now the newcomer arrives in generation 1 and trips it with us.
        wait_until("newcomer arrived", || {
            let _ = poll_once(&mut newcomer);
            barrier.n_waiting() == 1
        });
        let leader = barrier.wait_blocking().unwrap();
        assert!(leader.is_leader());
        assert!(matches!(poll_once(&mut newcomer), Poll::Ready(Ok(r)) if r.index() == 0));
    });
}

// lock_tests.BarrierTests.test_abort: an abort breaks the barrier for the
// parties waiting and for later waits.
#[test]
fn abort_breaks_waiters() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let barrier = barrier_with_timeout(N);
            let passed = Arc::new(AtomicUsize::new(0));
            let broken = Arc::new(AtomicUsize::new(0));
            let tasks = {
                let (barrier, passed, broken) = (barrier.clone(), passed.clone(), broken.clone());
                bunch(&rt, world, N, move |_, blocking| {
                    let (barrier, passed, broken) =
                        (barrier.clone(), passed.clone(), broken.clone());
                    async move {
                        let i = wait(&barrier, blocking).await.unwrap().index();
                        if i == N / 2 {
                            barrier.abort();
                            return;
                        }
                        // Waiting when the abort came, or arriving after it.
                        match wait(&barrier, blocking).await {
                            Ok(_) => passed.fetch_add(1, Ordering::SeqCst),
                            Err(e) => {
                                assert_eq!(e.reason(), BrokenReason::Aborted, "{world:?}");
                                broken.fetch_add(1, Ordering::SeqCst)
                            }
                        };
                    }
                })
            };
            join_all(tasks).await;
            assert_eq!(passed.load(Ordering::SeqCst), 0, "{world:?}");
            assert_eq!(broken.load(Ordering::SeqCst), N - 1, "{world:?}");
            assert!(barrier.is_broken());
            assert_eq!(barrier.wait_blocking(), failed(BrokenReason::Aborted));
            assert_eq!(barrier.wait().await, failed(BrokenReason::Aborted));
        }
    });
}

// lock_tests.BarrierTests.test_reset: a reset frees the waiting parties with
// an error, after which the barrier works normally.
#[test]
fn reset_frees_waiters() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let barrier = barrier_with_timeout(N);
            let passed = Arc::new(AtomicUsize::new(0));
            let broken = Arc::new(AtomicUsize::new(0));
            let again = Arc::new(AtomicUsize::new(0));
            let tasks = {
                let (barrier, passed, broken, again) = (
                    barrier.clone(),
                    passed.clone(),
                    broken.clone(),
                    again.clone(),
                );
                bunch(&rt, world, N, move |_, blocking| {
                    let (barrier, passed, broken, again) = (
                        barrier.clone(),
                        passed.clone(),
                        broken.clone(),
                        again.clone(),
                    );
                    async move {
                        let i = wait(&barrier, blocking).await.unwrap().index();
                        if i == N / 2 {
                            let start = Instant::now();
                            while barrier.n_waiting() < N - 1 {
                                assert!(start.elapsed() < Duration::from_secs(30));
                                std::thread::yield_now();
                                if !blocking {
                                    futures_lite::future::yield_now().await;
                                }
                            }
                            barrier.reset();
                        } else {
                            // All N - 1 were waiting when the reset came.
                            match wait(&barrier, blocking).await {
                                Ok(_) => passed.fetch_add(1, Ordering::SeqCst),
                                Err(e) => {
                                    assert_eq!(e.reason(), BrokenReason::Reset, "{world:?}");
                                    broken.fetch_add(1, Ordering::SeqCst)
                                }
                            };
                        }
                        // Pass the barrier again.
                        wait(&barrier, blocking).await.unwrap();
                        again.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            join_all(tasks).await;
            assert_eq!(passed.load(Ordering::SeqCst), 0, "{world:?}");
            assert_eq!(broken.load(Ordering::SeqCst), N - 1, "{world:?}");
            assert_eq!(again.load(Ordering::SeqCst), N, "{world:?}");
            assert!(!barrier.is_broken());
        }
    });
}

// lock_tests.BarrierTests.test_abort_and_reset: a broken barrier can be
// reset and reused.
#[test]
fn abort_and_reset() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let barrier = barrier_with_timeout(N);
            let barrier2 = barrier_with_timeout(N);
            let passed = Arc::new(AtomicUsize::new(0));
            let broken = Arc::new(AtomicUsize::new(0));
            let again = Arc::new(AtomicUsize::new(0));
            let tasks = {
                let (barrier, barrier2, passed, broken, again) = (
                    barrier.clone(),
                    barrier2.clone(),
                    passed.clone(),
                    broken.clone(),
                    again.clone(),
                );
                bunch(&rt, world, N, move |_, blocking| {
                    let (barrier, barrier2, passed, broken, again) = (
                        barrier.clone(),
                        barrier2.clone(),
                        passed.clone(),
                        broken.clone(),
                        again.clone(),
                    );
                    async move {
                        let i = wait(&barrier, blocking).await.unwrap().index();
                        if i == N / 2 {
                            barrier.abort();
                        } else {
                            match wait(&barrier, blocking).await {
                                Ok(_) => passed.fetch_add(1, Ordering::SeqCst),
                                Err(e) => {
                                    assert_eq!(e.reason(), BrokenReason::Aborted, "{world:?}");
                                    broken.fetch_add(1, Ordering::SeqCst)
                                }
                            };
                        }
                        // Synchronize so that everyone has left before the
                        // reset, and nobody enters before it.
                        if wait(&barrier2, blocking).await.unwrap().index() == N / 2 {
                            barrier.reset();
                        }
                        wait(&barrier2, blocking).await.unwrap();
                        wait(&barrier, blocking).await.unwrap();
                        again.fetch_add(1, Ordering::SeqCst);
                    }
                })
            };
            join_all(tasks).await;
            assert_eq!(passed.load(Ordering::SeqCst), 0, "{world:?}");
            assert_eq!(broken.load(Ordering::SeqCst), N - 1, "{world:?}");
            assert_eq!(again.load(Ordering::SeqCst), N, "{world:?}");
        }
    });
}

// Issue 14: the party whose own timeout broke the barrier is told so
// (`TimedOut`); the parties waiting with it, and every later wait, are told
// another party's timeout did (`PartyTimedOut`). In every world.
#[test]
fn timed_out_party_and_the_others_are_told_apart() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            // One party more than will come: party 0's arrival does not trip it.
            let barrier = barrier_with_timeout(N + 1);
            let tasks = {
                let barrier = barrier.clone();
                bunch(&rt, world, N, move |i, blocking| {
                    let barrier = barrier.clone();
                    async move {
                        if i > 0 {
                            return wait(&barrier, blocking).await;
                        }
                        // Party 0 times out once the others all wait.
                        let start = Instant::now();
                        while barrier.n_waiting() < N - 1 {
                            assert!(start.elapsed() < PATIENCE);
                            std::thread::yield_now();
                            if !blocking {
                                futures_lite::future::yield_now().await;
                            }
                        }
                        wait_timeout(&barrier, blocking, Duration::from_millis(20)).await
                    }
                })
            };
            let results = join_all(tasks).await;
            assert_eq!(results[0], failed(BrokenReason::TimedOut), "{world:?}");
            for r in &results[1..] {
                assert_eq!(*r, failed(BrokenReason::PartyTimedOut), "{world:?}");
            }
            // Still broken: later waits of every form are told the same,
            // a zero timeout too (its own timeout broke nothing).
            let later = failed(BrokenReason::PartyTimedOut);
            assert_eq!(barrier.wait().await, later);
            assert_eq!(barrier.wait_blocking(), later);
            assert_eq!(barrier.wait_timeout(Duration::ZERO).await, later);
            assert_eq!(barrier.wait_timeout_blocking(Duration::ZERO), later);
            barrier.reset();
            assert!(!barrier.is_broken());
            assert_eq!(barrier.n_waiting(), 0);
        }
    });
}

// A wait on a barrier that is already broken is told why it broke, in
// every form, whichever way it broke; breaking it again (an abort, a
// timeout) does not change the reason; a reset clears it.
#[test]
fn broken_barrier_tells_why() {
    let aborted = Arc::new(Barrier::new(2));
    aborted.abort();
    let timed_out = Arc::new(Barrier::new(2));
    assert_eq!(
        timed_out.wait_timeout_blocking(Duration::ZERO),
        failed(BrokenReason::TimedOut)
    );
    let panicked = Arc::new(
        Barrier::builder(1)
            .action(|| panic!("action failed"))
            .build(),
    );
    let p = panicked.clone();
    assert!(
        std::thread::spawn(move || p.wait_blocking())
            .join()
            .is_err()
    );
    let cases = Arc::new([
        (aborted, BrokenReason::Aborted),
        (timed_out, BrokenReason::PartyTimedOut),
        (panicked, BrokenReason::ActionPanicked),
    ]);
    let c = cases.clone();
    each_runtime(move |_rt| {
        let cases = c.clone();
        async move {
            for (barrier, reason) in cases.iter() {
                let told = failed(*reason);
                assert_eq!(barrier.wait().await, told);
                assert_eq!(barrier.wait_blocking(), told);
                assert_eq!(barrier.wait_timeout(Duration::ZERO).await, told);
                assert_eq!(barrier.wait_timeout_blocking(Duration::ZERO), told);
                barrier.abort();
                assert_eq!(barrier.wait_blocking(), told, "abort kept the first reason");
                assert!(barrier.is_broken());
                assert_eq!(barrier.n_waiting(), 0);
            }
        }
    });
    for (barrier, _) in cases.iter() {
        barrier.reset();
        assert!(!barrier.is_broken());
        assert!(
            format!("{barrier:?}").contains("reason: None"),
            "{barrier:?}"
        );
    }
    assert!(
        format!("{:?}", Barrier::new(1)).contains("reason: None"),
        "Debug shows the reason"
    );
}

// An abort from inside the action: the generation tripping is released
// normally, later waits are told `Aborted`. If the action then panics, its
// generation is told `ActionPanicked`, later waits still `Aborted` (the
// first reason stays).
#[test]
fn abort_inside_the_action() {
    for then_panic in [false, true] {
        let barrier = Arc::new_cyclic(|weak: &std::sync::Weak<Barrier>| {
            let weak = weak.clone();
            Barrier::builder(2)
                .action(move || {
                    weak.upgrade().unwrap().abort();
                    assert!(!then_panic, "the action panics after its abort");
                })
                .build()
        });
        let mut first = barrier.wait();
        assert!(poll_once(&mut first).is_pending());
        let b = barrier.clone();
        let leader = std::thread::spawn(move || b.wait_blocking()).join();
        if then_panic {
            assert!(leader.is_err());
            assert_eq!(
                poll_once(&mut first),
                Poll::Ready(failed(BrokenReason::ActionPanicked))
            );
        } else {
            assert!(leader.unwrap().unwrap().is_leader());
            assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(r)) if r.index() == 0));
        }
        assert_eq!(barrier.wait_blocking(), failed(BrokenReason::Aborted));
        let debug = format!("{barrier:?}");
        assert!(debug.contains("reason: Some(Aborted)"), "{debug}");
    }
}

// A party told of a break keeps that reason, however late it is polled:
// after a reset and more generations it is still `Aborted`, not `Reset`;
// one that was waiting at the reset itself is told `Reset`.
#[test]
fn late_poll_keeps_its_reason() {
    let barrier = Barrier::new(2);
    let mut aborted = barrier.wait();
    assert!(poll_once(&mut aborted).is_pending());
    barrier.abort();
    barrier.reset();
    let mut reset = barrier.wait();
    assert!(poll_once(&mut reset).is_pending());
    barrier.reset();
    for _ in 0..3 {
        let mut first = barrier.wait();
        assert!(poll_once(&mut first).is_pending());
        assert!(barrier.wait_blocking().unwrap().is_leader());
        assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(_))));
    }
    assert_eq!(
        poll_once(&mut aborted),
        Poll::Ready(failed(BrokenReason::Aborted))
    );
    assert_eq!(
        poll_once(&mut reset),
        Poll::Ready(failed(BrokenReason::Reset))
    );
}

// lock_tests.BarrierTests.test_timeout: one party is late; the others' short
// explicit timeouts expire, which breaks the barrier for everyone.
#[test]
fn timeout_breaks_barrier() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            let barrier = barrier_with_timeout(N);
            let tasks = {
                let barrier = barrier.clone();
                bunch(&rt, world, N, move |_, blocking| {
                    let barrier = barrier.clone();
                    async move {
                        let i = wait(&barrier, blocking).await.unwrap().index();
                        if i == N / 2 {
                            // One party is late.
                            let start = Instant::now();
                            while !barrier.is_broken() {
                                assert!(start.elapsed() < Duration::from_secs(30));
                                std::thread::sleep(Duration::from_millis(1));
                                if !blocking {
                                    futures_lite::future::yield_now().await;
                                }
                            }
                        }
                        let start = Instant::now();
                        let r = wait_timeout(&barrier, blocking, Duration::from_millis(100)).await;
                        (i == N / 2, r, start.elapsed())
                    }
                })
            };
            let results = join_all(tasks).await;
            // The first timeout broke the barrier, and only that party is
            // told its own timeout did; the others (their deadlines came
            // later, or never: the late party found it broken) are told
            // another party's did.
            let reasons: Vec<_> = results
                .iter()
                .map(|(_, r, _)| r.expect_err("a timeout breaks the barrier").reason())
                .collect();
            let mine = reasons.iter().filter(|&&r| r == BrokenReason::TimedOut);
            assert_eq!(mine.count(), 1, "{world:?}: {reasons:?}");
            let others = reasons
                .iter()
                .filter(|&&r| r == BrokenReason::PartyTimedOut);
            assert_eq!(others.count(), N - 1, "{world:?}: {reasons:?}");
            for (late, r, _) in &results {
                if *late {
                    assert_eq!(*r, failed(BrokenReason::PartyTimedOut), "{world:?}");
                }
            }
            // At least one party waited out its whole timeout.
            assert!(
                results
                    .iter()
                    .any(|(_, _, dt)| *dt >= Duration::from_millis(100))
            );
            assert!(barrier.is_broken());
            assert_eq!(barrier.n_waiting(), 0);
        }
    });
}

// lock_tests.BarrierTests.test_default_timeout: the builder's timeout applies
// to wait() and wait_blocking(), and breaks the barrier.
#[test]
fn default_timeout() {
    each_runtime(|_rt| async move {
        const T: Duration = Duration::from_millis(100);
        let barrier = Barrier::builder(2).timeout(T).build();
        let start = Instant::now();
        assert_eq!(barrier.wait().await, failed(BrokenReason::TimedOut));
        assert!(start.elapsed() >= T);
        assert!(barrier.is_broken());
        barrier.reset();
        let start = Instant::now();
        assert_eq!(barrier.wait_blocking(), failed(BrokenReason::TimedOut));
        assert!(start.elapsed() >= T);
        assert!(barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

// An explicit timeout overrides the default one.
#[test]
fn explicit_timeout_overrides_default() {
    let barrier = Barrier::builder(2)
        .timeout(Duration::from_secs(3600))
        .build();
    let start = Instant::now();
    assert_eq!(
        barrier.wait_timeout_blocking(Duration::from_millis(50)),
        failed(BrokenReason::TimedOut)
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}

// lock_tests.BarrierTests.test_single_thread: one party never waits.
#[test]
fn single_party() {
    each_runtime(|_rt| async move {
        let b = Barrier::new(1);
        for _ in 0..3 {
            let r = b.wait().await.unwrap();
            assert_eq!((r.index(), r.is_leader()), (0, true));
            let r = b.wait_blocking().unwrap();
            assert_eq!((r.index(), r.is_leader()), (0, true));
            assert!(b.wait_timeout(Duration::ZERO).await.unwrap().is_leader());
            assert!(b.wait_timeout_blocking(Duration::ZERO).unwrap().is_leader());
        }
        assert!(!b.is_broken());
    });
}

// lock_tests.BarrierTests.test_repr, in Rust's Debug.
#[test]
fn debug_shows_waiters() {
    let barrier = Barrier::new(3);
    assert!(
        format!("{barrier:?}").contains("waiters: 0/3"),
        "{barrier:?}"
    );
    let mut a = barrier.wait();
    let mut b = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    assert!(
        format!("{barrier:?}").contains("waiters: 2/3"),
        "{barrier:?}"
    );
    assert!(
        format!("{barrier:?}").contains("broken: false"),
        "{barrier:?}"
    );
    barrier.wait_blocking().unwrap();
    assert!(
        format!("{barrier:?}").contains("waiters: 0/3"),
        "{barrier:?}"
    );
    barrier.abort();
    assert!(
        format!("{barrier:?}").contains("broken: true"),
        "{barrier:?}"
    );
}

// Cancel safety: a pending wait that is dropped withdraws its party; the
// barrier neither breaks nor trips early.
#[test]
fn cancelled_party_withdraws() {
    let barrier = Barrier::new(2);
    let mut a = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    drop(a);
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
    // One live party is not enough to trip.
    let mut b = barrier.wait();
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    let mut timed = barrier.wait_timeout(Duration::from_secs(60));
    assert!(poll_once(&mut timed).is_ready(), "second live party trips");
    assert!(matches!(poll_once(&mut b), Poll::Ready(Ok(r)) if r.index() == 0));
}

// Withdrawn parties take no rank: A and B arrive, A withdraws, C and D arrive
// (3 parties): B, C, D are released with ranks 0, 1, 2.
#[test]
fn withdrawn_party_takes_no_rank() {
    let barrier = Barrier::new(3);
    let mut a = barrier.wait();
    let mut b = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    drop(a);
    let mut c = barrier.wait();
    assert!(poll_once(&mut c).is_pending());
    assert_eq!(barrier.n_waiting(), 2);
    let d = barrier.wait_blocking().unwrap();
    assert_eq!((d.index(), d.is_leader()), (2, true));
    assert!(matches!(poll_once(&mut b), Poll::Ready(Ok(r)) if r.index() == 0));
    assert!(matches!(poll_once(&mut c), Poll::Ready(Ok(r)) if r.index() == 1));
}

// Dropping a future whose generation already tripped changes nothing.
#[test]
fn drop_after_trip_changes_nothing() {
    let barrier = Barrier::new(2);
    let mut a = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert!(barrier.wait_blocking().unwrap().is_leader());
    drop(a); // released but never observed
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());
    // Next generation works, with fresh ranks.
    let mut b = barrier.wait();
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    assert!(barrier.wait_blocking().unwrap().is_leader());
    assert!(matches!(poll_once(&mut b), Poll::Ready(Ok(r)) if r.index() == 0));
}

// A party released from generation g returns Ok even if generation g+1 has
// begun (and even broken) before it is polled.
#[test]
fn late_poll_across_generations() {
    let barrier = Barrier::new(2);
    let mut g0 = barrier.wait();
    assert!(poll_once(&mut g0).is_pending());
    barrier.wait_blocking().unwrap(); // trips generation 0
    let mut g1 = barrier.wait();
    assert!(poll_once(&mut g1).is_pending()); // generation 1 filling
    barrier.abort(); // and broken
    assert!(matches!(poll_once(&mut g0), Poll::Ready(Ok(r)) if r.index() == 0));
    assert_eq!(
        poll_once(&mut g1),
        Poll::Ready(failed(BrokenReason::Aborted))
    );
}

// Cancellation at the other await point: a newcomer waiting for a running
// action to finish can be dropped without effect.
#[test]
fn cancel_while_entering() {
    blocking(|| {
        let (enter_tx, enter_rx) = std::sync::mpsc::channel::<()>();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let barrier = Arc::new(
            Barrier::builder(1)
                .action(move || {
                    if enter_tx.send(()).is_ok() {
                        let _ = go_rx.lock().unwrap().recv();
                    }
                })
                .build(),
        );
        let b = barrier.clone();
        let t = std::thread::spawn(move || b.wait_blocking().unwrap());
        enter_rx.recv().unwrap();
        let mut newcomer = barrier.wait();
        assert!(poll_once(&mut newcomer).is_pending());
        drop(newcomer);
        go_tx.send(()).unwrap();
        assert!(t.join().unwrap().is_leader());
        assert!(!barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

// Withdrawal under real executors: tasks cancelled by a select race
// withdraw, and the barrier trips only with live parties.
#[test]
fn cancellation_under_executors() {
    each_runtime(|rt| async move {
        let barrier = Arc::new(Barrier::new(3));
        // Two parties that give up after 10 ms (dropping their wait).
        for _ in 0..2 {
            let (barrier, rt2) = (barrier.clone(), rt.clone());
            let gave_up = rt
                .spawn(async move {
                    futures_lite::future::or(async { barrier.wait().await.is_ok() }, async {
                        rt2.sleep(Duration::from_millis(10)).await;
                        false
                    })
                    .await
                })
                .await;
            assert!(!gave_up);
        }
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
        let tasks = {
            let barrier = barrier.clone();
            bunch(&rt, World::Mixed, 3, move |_, blocking| {
                let barrier = barrier.clone();
                async move { wait(&barrier, blocking).await.unwrap().index() }
            })
        };
        let mut ranks = join_all(tasks).await;
        ranks.sort_unstable();
        assert_eq!(ranks, vec![0, 1, 2]);
    });
}

// Thousands of rapid generations with mixed threads and tasks: no release is
// lost, exactly one leader per generation.
#[test]
fn generation_race() {
    each_runtime(|rt| async move {
        const PARTIES: usize = 4;
        let generations = scale(2000);
        let barrier = Arc::new(Barrier::new(PARTIES));
        let leaders = Arc::new(AtomicUsize::new(0));
        let tasks = {
            let (barrier, leaders) = (barrier.clone(), leaders.clone());
            bunch(&rt, World::Mixed, PARTIES, move |_, blocking| {
                let (barrier, leaders) = (barrier.clone(), leaders.clone());
                async move {
                    let mut rank_sum = 0;
                    for _ in 0..generations {
                        let r = wait(&barrier, blocking).await.unwrap();
                        if r.is_leader() {
                            leaders.fetch_add(1, Ordering::Relaxed);
                        }
                        rank_sum += r.index();
                    }
                    rank_sum
                }
            })
        };
        let sums: usize = join_all(tasks).await.into_iter().sum();
        assert_eq!(leaders.load(Ordering::Relaxed), generations);
        assert_eq!(sums, generations * (0..PARTIES).sum::<usize>());
        assert_eq!(barrier.n_waiting(), 0);
    });
}

// A panicking action breaks the barrier, the other parties get Err, and the
// panic propagates to the party that ran it.
#[test]
fn action_panic_breaks_and_propagates() {
    // Blocking world: the leader is the thread that arrives last.
    let barrier = Arc::new(
        Barrier::builder(2)
            .action(|| panic!("action failed"))
            .build(),
    );
    let mut other = barrier.wait();
    assert!(poll_once(&mut other).is_pending());
    let b = barrier.clone();
    let panic = std::thread::spawn(move || b.wait_blocking())
        .join()
        .unwrap_err();
    assert_eq!(panic.downcast_ref::<&str>(), Some(&"action failed"));
    assert_eq!(
        poll_once(&mut other),
        Poll::Ready(failed(BrokenReason::ActionPanicked))
    );
    assert!(barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
    // Later waits are told why it is broken.
    assert_eq!(
        barrier.wait_blocking(),
        failed(BrokenReason::ActionPanicked)
    );
    assert_eq!(
        barrier.wait_timeout_blocking(Duration::ZERO),
        failed(BrokenReason::ActionPanicked)
    );

    // Async world: the leader's task panics, its peers get Err.
    each_runtime(|rt| async move {
        let barrier = Arc::new(Barrier::builder(3).action(|| panic!("boom")).build());
        let mut peers = Vec::new();
        for _ in 0..2 {
            let b = barrier.clone();
            peers.push(rt.spawn(async move { b.wait().await }));
        }
        wait_until_async(&rt, "two peers wait", || barrier.n_waiting() == 2).await;
        let b = barrier.clone();
        let leader = rt.spawn(async move {
            std::panic::AssertUnwindSafe(b.wait())
                .catch_unwind_result()
                .await
        });
        let err = leader.await.unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"boom"));
        for p in join_all(peers).await {
            assert_eq!(p, failed(BrokenReason::ActionPanicked));
        }
        assert_eq!(barrier.wait().await, failed(BrokenReason::ActionPanicked));
        // reset() repairs it; the action is kept (and still panics).
        barrier.reset();
        assert!(!barrier.is_broken());
    });
}

/// `catch_unwind` for a future, without pulling in the `futures` crate.
trait CatchUnwindExt: Future + Sized {
    fn catch_unwind_result(self) -> CatchUnwind<Self> {
        CatchUnwind(Box::pin(self))
    }
}
impl<F: Future + std::panic::UnwindSafe> CatchUnwindExt for F {}
struct CatchUnwind<F>(std::pin::Pin<Box<F>>);
impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Self::Output> {
        let f = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(p) => Poll::Ready(Err(p)),
        }
    }
}

// Programmer error: zero parties panics with a clear message at the caller.
#[test]
#[should_panic(expected = "a Barrier needs at least one party (got 0)")]
fn zero_parties_panics() {
    let _ = Barrier::new(0);
}

#[test]
#[should_panic(expected = "a Barrier needs at least one party (got 0)")]
fn zero_parties_builder_panics() {
    let _ = Barrier::builder(0);
}

// Zero timeouts break unless this party completes the barrier; MAX never
// overflows.
#[test]
fn zero_and_max_timeouts() {
    let barrier = Barrier::new(2);
    assert_eq!(
        barrier.wait_timeout_blocking(Duration::ZERO),
        failed(BrokenReason::TimedOut)
    );
    assert!(barrier.is_broken());
    barrier.reset();
    assert_eq!(
        futures_lite::future::block_on(barrier.wait_timeout(Duration::ZERO)),
        failed(BrokenReason::TimedOut)
    );
    barrier.reset();
    let mut a = barrier.wait_timeout(Duration::MAX);
    assert!(poll_once(&mut a).is_pending());
    assert!(
        barrier
            .wait_timeout_blocking(Duration::ZERO)
            .unwrap()
            .is_leader()
    );
    assert!(matches!(poll_once(&mut a), Poll::Ready(Ok(_))));
    let b = Barrier::builder(1).timeout(Duration::MAX).build();
    assert!(b.wait_blocking().is_ok());
}

// abort() and reset() with nobody waiting, and reset of a healthy barrier.
#[test]
fn abort_reset_idle() {
    let barrier = Barrier::new(2);
    barrier.reset();
    assert!(!barrier.is_broken());
    barrier.abort();
    barrier.abort();
    assert!(barrier.is_broken());
    barrier.reset();
    let mut a = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    barrier.reset();
    assert_eq!(poll_once(&mut a), Poll::Ready(failed(BrokenReason::Reset)));
    assert!(!barrier.is_broken());
    assert_eq!(barrier.n_waiting(), 0);
}

#[test]
fn error_traits() {
    let texts = [
        (BrokenReason::Aborted, "barrier broken: aborted"),
        (BrokenReason::Reset, "barrier broken: reset while waiting"),
        (
            BrokenReason::TimedOut,
            "barrier broken: this wait timed out",
        ),
        (
            BrokenReason::PartyTimedOut,
            "barrier broken: another party timed out",
        ),
        (
            BrokenReason::ActionPanicked,
            "barrier broken: the barrier action panicked",
        ),
        (
            BrokenReason::PartyDied,
            "barrier broken: a party's process died",
        ),
    ];
    for (reason, text) in texts {
        let e = BrokenBarrierError::from(reason);
        assert_eq!(e.reason(), reason);
        assert_eq!(e.to_string(), text);
        assert_eq!(format!("barrier broken: {reason}"), text);
        assert_eq!(e, reason);
        assert_eq!(reason, e);
        let _: &dyn std::error::Error = &e;
        let copy = e;
        assert_eq!(copy.clone(), e);
        assert!(format!("{e:?}").contains(&format!("{reason:?}")), "{e:?}");
    }
    assert_ne!(
        BrokenBarrierError::from(BrokenReason::TimedOut),
        BrokenBarrierError::from(BrokenReason::PartyTimedOut)
    );
    // Eq + Hash: usable as a key.
    let set: std::collections::HashSet<_> = texts.iter().map(|(r, _)| *r).collect();
    assert_eq!(set.len(), texts.len());
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Barrier>();
    assert_send_sync::<BarrierWaitResult>();
    assert_send_sync::<BrokenBarrierError>();
    assert_send_sync::<BrokenReason>();
    fn assert_error<T: std::error::Error + Send + Sync + Copy + Eq + 'static>() {}
    assert_error::<BrokenBarrierError>();
    assert_send_sync::<BarrierWait<'static>>();
    // The builder owns a `FnMut + Send` action: Send, not Sync.
    fn assert_send<T: Send>() {}
    assert_send::<rallypoint::BarrierBuilder>();
}
