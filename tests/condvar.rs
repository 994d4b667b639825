#![cfg(not(loom))]

//! `Condvar` and `Condition` tests: CPython's `Lib/test/lock_tests.py`
//! `ConditionTests` ported to both worlds (threads with the `_blocking`
//! forms, tasks under every executor, and both at once), plus the
//! guarantees of SPEC §4 that Python does not test: counting (no coalescing,
//! nothing stored), hand-on of notifications by cancelled waiters, and
//! cancellation at every await point.
//!
//! Not ported: `test_unacquired_wait` / `test_unacquired_notify`. Waiting
//! without the lock cannot be written (the wait methods take the guard; a
//! `compile_fail` doctest on `Condition` checks it), and notifying without
//! the lock is allowed by design (see `Condition`'s docs).

mod common;
use common::*;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use rallypoint::future::{
    ConditionLock, ConditionWait, ConditionWaitTimeout, ConditionWaitWhile,
    ConditionWaitWhileTimeout, CondvarWait, CondvarWaitTimeout, CondvarWaitWhile,
    CondvarWaitWhileTimeout,
};
use rallypoint::{Condition, ConditionGuard, Condvar, Mutex, WaitTimeoutResult};

/// Generous bounds for "waited about `d`": at least `d`, and not absurdly more.
fn assert_waited(elapsed: Duration, d: Duration) {
    assert!(
        elapsed >= d,
        "returned after {elapsed:?}, before the timeout {d:?}"
    );
    assert!(
        elapsed < d + Duration::from_secs(10),
        "took {elapsed:?} for a {d:?} timeout"
    );
}

// ---------------------------------------------------------------------------
// Compile-time guarantees.

fn send_sync<T: Send + Sync>() {}
fn send_unpin<T: Send + Unpin>() {}
fn send_val<T: Send + Unpin>(_: &T) {}

#[test]
fn send_sync_assertions() {
    type P = fn(&mut Vec<u8>) -> bool;
    send_sync::<Condvar>();
    send_sync::<Condition<Vec<u8>>>();
    send_sync::<WaitTimeoutResult>();
    send_sync::<ConditionGuard<'static, Vec<u8>>>();
    send_unpin::<CondvarWait<'static, Vec<u8>>>();
    send_unpin::<CondvarWaitWhile<'static, Vec<u8>, P>>();
    send_unpin::<CondvarWaitTimeout<'static, Vec<u8>>>();
    send_unpin::<CondvarWaitWhileTimeout<'static, Vec<u8>, P>>();
    send_unpin::<ConditionWait<'static, Vec<u8>>>();
    send_unpin::<ConditionWaitWhile<'static, Vec<u8>, P>>();
    send_unpin::<ConditionWaitTimeout<'static, Vec<u8>>>();
    send_unpin::<ConditionWaitWhileTimeout<'static, Vec<u8>, P>>();
    send_unpin::<ConditionLock<'static, Vec<u8>>>();

    // With real closures (capturing state) too.
    let (mutex, condvar) = (Mutex::new(0u32), Condvar::new());
    let limit = 3;
    let f = condvar.wait_while(mutex.lock_blocking(), move |n| *n < limit);
    send_val(&f);
    drop(f);
    let condition = Condition::new(0u32);
    let f = condition
        .lock_blocking()
        .wait_while_timeout(move |n| *n < limit, Duration::ZERO);
    send_val(&f);
}

// ---------------------------------------------------------------------------
// Python `test_acquire` (the parts that apply: the lock is a plain Lock).

#[test]
fn condition_acquire_and_try_lock_contended() {
    blocking(|| {
        let cond = Arc::new(Condition::new(0));
        let guard = cond.lock_blocking();
        let c = cond.clone();
        let contended = std::thread::spawn(move || c.try_lock().is_none());
        assert!(contended.join().unwrap());
        drop(guard);
        assert!(cond.try_lock().is_some());
        *cond.try_lock().unwrap() += 1;
        assert_eq!(Arc::into_inner(cond).unwrap().into_inner(), 1);
    });
}

#[test]
fn condition_lock_async_contended() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(0));
        let guard = cond.lock().await;
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let cond = cond.clone();
                rt.spawn(async move { *cond.lock().await += 1 })
            })
            .collect();
        let thread = {
            let cond = cond.clone();
            rt.thread(move || *cond.lock_blocking() += 1)
        };
        rt.sleep(Duration::from_millis(10)).await;
        assert_eq!(*guard, 0, "nobody may lock while the guard is held");
        drop(guard);
        for t in tasks {
            t.await;
        }
        thread.await;
        assert_eq!(*cond.lock().await, 4);
    });
}

// ---------------------------------------------------------------------------
// Python `_check_notify`: 5 waiters, each waiting twice; notify(3), then
// notify(5), then notify_all, with exact counts and phase numbers.
//
// Determinism: a waiter bumps `ready` and registers while holding the lock,
// so "ready == n, seen under the lock" means n waiters are registered. The
// return values of notify(3)/notify(5)/notify_all() are checked exactly.

#[derive(Default)]
struct Phases {
    ready: usize,
    phase: u32,
    results1: Vec<u32>,
    results2: Vec<u32>,
}

const N: usize = 5;

fn phases_waiter_blocking(pair: &(Mutex<Phases>, Condvar)) {
    let (mutex, condvar) = pair;
    let mut g = mutex.lock_blocking();
    g.ready += 1;
    g = condvar.wait_blocking(g);
    let p = g.phase;
    g.results1.push(p);
    g.ready += 1;
    g = condvar.wait_blocking(g);
    let p = g.phase;
    g.results2.push(p);
}

async fn phases_waiter_async(pair: &(Mutex<Phases>, Condvar)) {
    let (mutex, condvar) = pair;
    let mut g = mutex.lock().await;
    g.ready += 1;
    g = condvar.wait(g).await;
    let p = g.phase;
    g.results1.push(p);
    g.ready += 1;
    g = condvar.wait(g).await;
    let p = g.phase;
    g.results2.push(p);
}

fn check(pair: &(Mutex<Phases>, Condvar), f: impl Fn(&Phases) -> bool) -> bool {
    pair.0.try_lock().is_some_and(|g| f(&g))
}

fn check_notify_blocking(pair: Arc<(Mutex<Phases>, Condvar)>) {
    let (mutex, condvar) = &*pair;
    wait_until("all waiters registered", || check(&pair, |s| s.ready >= N));
    let mut g = mutex.lock_blocking();
    g.ready = 0;
    assert!(g.results1.is_empty());
    assert_eq!(condvar.notify(3), 3);
    g.phase = 1;
    drop(g);
    wait_until("3 woken and waiting again", || {
        check(&pair, |s| s.results1.len() >= 3 && s.ready >= 3)
    });
    let mut g = mutex.lock_blocking();
    assert_eq!(g.results1, [1, 1, 1]);
    assert!(g.results2.is_empty());
    // Two in their first wait, three in their second: all five are waiting.
    assert_eq!(condvar.notify(5), 5);
    g.phase = 2;
    drop(g);
    wait_until("phase 2 done", || {
        check(&pair, |s| {
            s.results1.len() + s.results2.len() >= N + 3 && s.ready >= N
        })
    });
    let mut g = mutex.lock_blocking();
    assert_eq!(g.results1, [1, 1, 1, 2, 2]);
    assert_eq!(g.results2, [2, 2, 2]);
    assert_eq!(condvar.notify_all(), 2);
    g.phase = 3;
    drop(g);
    wait_until("phase 3 done", || check(&pair, |s| s.results2.len() >= N));
    let g = mutex.lock_blocking();
    assert_eq!(g.results1, [1, 1, 1, 2, 2]);
    assert_eq!(g.results2, [2, 2, 2, 3, 3]);
    assert_eq!(condvar.notify_all(), 0);
}

async fn check_notify_async(rt: &Rt, pair: Arc<(Mutex<Phases>, Condvar)>) {
    let (mutex, condvar) = &*pair;
    wait_until_async(rt, "all waiters registered", || {
        check(&pair, |s| s.ready >= N)
    })
    .await;
    let mut g = mutex.lock().await;
    g.ready = 0;
    assert!(g.results1.is_empty());
    assert_eq!(condvar.notify(3), 3);
    g.phase = 1;
    drop(g);
    wait_until_async(rt, "3 woken and waiting again", || {
        check(&pair, |s| s.results1.len() >= 3 && s.ready >= 3)
    })
    .await;
    let mut g = mutex.lock().await;
    assert_eq!(g.results1, [1, 1, 1]);
    assert!(g.results2.is_empty());
    assert_eq!(condvar.notify(5), 5);
    g.phase = 2;
    drop(g);
    wait_until_async(rt, "phase 2 done", || {
        check(&pair, |s| {
            s.results1.len() + s.results2.len() >= N + 3 && s.ready >= N
        })
    })
    .await;
    let mut g = mutex.lock().await;
    assert_eq!(g.results1, [1, 1, 1, 2, 2]);
    assert_eq!(g.results2, [2, 2, 2]);
    assert_eq!(condvar.notify_all(), 2);
    g.phase = 3;
    drop(g);
    wait_until_async(rt, "phase 3 done", || {
        check(&pair, |s| s.results2.len() >= N)
    })
    .await;
    let g = mutex.lock().await;
    assert_eq!(g.results1, [1, 1, 1, 2, 2]);
    assert_eq!(g.results2, [2, 2, 2, 3, 3]);
    assert_eq!(condvar.notify_all(), 0);
}

#[test]
fn notify_phases_threads() {
    blocking(|| {
        // Twice, like Python, to check the state is clean afterwards.
        let pair = Arc::new((Mutex::new(Phases::default()), Condvar::new()));
        for _ in 0..2 {
            *pair.0.lock_blocking() = Phases::default();
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    let pair = pair.clone();
                    std::thread::spawn(move || phases_waiter_blocking(&pair))
                })
                .collect();
            check_notify_blocking(pair.clone());
            for h in handles {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn notify_phases_tasks() {
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(Phases::default()), Condvar::new()));
        for _ in 0..2 {
            *pair.0.lock().await = Phases::default();
            let tasks: Vec<_> = (0..N)
                .map(|_| {
                    let pair = pair.clone();
                    rt.spawn(async move { phases_waiter_async(&pair).await })
                })
                .collect();
            check_notify_async(&rt, pair.clone()).await;
            for t in tasks {
                t.await;
            }
        }
    });
}

#[test]
fn notify_phases_threads_and_tasks_together() {
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(Phases::default()), Condvar::new()));
        let mut tasks = Vec::new();
        for i in 0..N {
            let pair = pair.clone();
            tasks.push(if i % 2 == 0 {
                rt.thread(move || phases_waiter_blocking(&pair))
            } else {
                rt.spawn(async move { phases_waiter_async(&pair).await })
            });
        }
        check_notify_async(&rt, pair.clone()).await;
        for t in tasks {
            t.await;
        }
    });
}

// The same scenario through `Condition` (guard methods), threads driving.
#[test]
fn condition_notify_phases_threads_and_tasks() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(Phases::default()));
        let mut tasks = Vec::new();
        for i in 0..N {
            let cond = cond.clone();
            tasks.push(if i % 2 == 1 {
                rt.thread(move || {
                    let mut g = cond.lock_blocking();
                    g.ready += 1;
                    g = g.wait_blocking();
                    let p = g.phase;
                    g.results1.push(p);
                })
            } else {
                rt.spawn(async move {
                    let mut g = cond.lock().await;
                    g.ready += 1;
                    g = g.wait().await;
                    let p = g.phase;
                    g.results1.push(p);
                })
            });
        }
        let ready = |n: usize| cond.try_lock().is_some_and(|g| g.ready >= n);
        wait_until_async(&rt, "all registered", || ready(N)).await;
        let mut g = cond.lock().await;
        assert_eq!(cond.notify(3), 3);
        g.phase = 1;
        drop(g);
        wait_until_async(&rt, "3 done", || {
            cond.try_lock().is_some_and(|g| g.results1.len() >= 3)
        })
        .await;
        let mut g = cond.lock().await;
        assert_eq!(g.results1, [1, 1, 1]);
        assert_eq!(cond.notify_all(), 2);
        g.phase = 2;
        drop(g);
        for t in tasks {
            t.await;
        }
        assert_eq!(cond.lock().await.results1, [1, 1, 1, 2, 2]);
    });
}

// ---------------------------------------------------------------------------
// Python `test_timeout`: 5 waiters, nobody notifies, all time out.

const TIMEOUT: Duration = Duration::from_millis(200);

#[test]
fn wait_timeout_threads() {
    blocking(|| {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let cond = Arc::new(Condition::new(()));
        let results = threads(N, move |i| {
            let t1 = Instant::now();
            let timed_out = if i % 2 == 0 {
                let (mutex, condvar) = &*pair;
                condvar
                    .wait_timeout_blocking(mutex.lock_blocking(), TIMEOUT)
                    .1
            } else {
                cond.lock_blocking().wait_timeout_blocking(TIMEOUT).1
            };
            (t1.elapsed(), timed_out.timed_out())
        });
        for (dt, timed_out) in results {
            assert_waited(dt, TIMEOUT);
            assert!(timed_out, "no spurious wakeups");
        }
    });
}

#[test]
fn wait_timeout_tasks() {
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        let cond = Arc::new(Condition::new(()));
        let tasks: Vec<_> = (0..N)
            .map(|i| {
                let (pair, cond) = (pair.clone(), cond.clone());
                rt.spawn(async move {
                    let t1 = Instant::now();
                    let timed_out = if i % 2 == 0 {
                        let (mutex, condvar) = &*pair;
                        condvar.wait_timeout(mutex.lock().await, TIMEOUT).await.1
                    } else {
                        cond.lock().await.wait_timeout(TIMEOUT).await.1
                    };
                    (t1.elapsed(), timed_out.timed_out())
                })
            })
            .collect();
        for t in tasks {
            let (dt, timed_out) = t.await;
            assert_waited(dt, TIMEOUT);
            assert!(timed_out, "no spurious wakeups");
        }
    });
}

#[test]
fn wait_timeout_notified_in_time_is_not_timed_out() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(false));
        let waiter = {
            let cond = cond.clone();
            rt.spawn(async move {
                let mut g = cond.lock().await;
                g = g.wait_while(|_| false).await; // returns at once
                let (g, r) = g.wait_timeout(Duration::from_secs(30)).await;
                (*g, r.timed_out())
            })
        };
        let thread = {
            let cond = cond.clone();
            rt.thread(move || {
                let (g, r) = cond
                    .lock_blocking()
                    .wait_timeout_blocking(Duration::from_secs(30));
                (*g, r.timed_out())
            })
        };
        wait_until_async(&rt, "two waiters", || {
            format!("{cond:?}").contains("waiters: 2")
        })
        .await;
        *cond.lock().await = true;
        assert_eq!(cond.notify_all(), 2);
        assert_eq!(waiter.await, (true, false));
        assert_eq!(thread.await, (true, false));
    });
}

#[test]
fn zero_timeout_does_not_wait() {
    blocking(|| {
        let (mutex, condvar) = (Mutex::new(1), Condvar::new());
        let t = Instant::now();
        let (g, r) = condvar.wait_timeout_blocking(mutex.lock_blocking(), Duration::ZERO);
        assert!(r.timed_out());
        assert_eq!(*g, 1);
        assert!(t.elapsed() < Duration::from_secs(5));
        drop(g);
        // And the mutex is free again.
        assert!(mutex.try_lock().is_some());
        futures_lite::future::block_on(async {
            let (_g, r) = condvar
                .wait_timeout(mutex.lock().await, Duration::ZERO)
                .await;
            assert!(r.timed_out());
        });
    });
}

// ---------------------------------------------------------------------------
// Python `test_waitfor` / `test_waitfor_timeout` (`wait_for(pred)` is our
// `wait_while(!pred)`).

#[test]
fn wait_while_threads() {
    blocking(|| {
        let cond = Arc::new(Condition::new(0));
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let waiters = {
            let (cond, pair) = (cond.clone(), pair.clone());
            std::thread::spawn(move || {
                let g = cond.lock_blocking().wait_while_blocking(|s| *s != 4);
                assert_eq!(*g, 4);
                drop(g);
                let (mutex, condvar) = &*pair;
                let g = condvar.wait_while_blocking(mutex.lock_blocking(), |s| *s != 4);
                assert_eq!(*g, 4);
            })
        };
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(10));
            *cond.lock_blocking() += 1;
            cond.notify_one();
            let (mutex, condvar) = &*pair;
            *mutex.lock_blocking() += 1;
            condvar.notify_one();
        }
        waiters.join().unwrap();
    });
}

#[test]
fn wait_while_tasks() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(0));
        let waiter = {
            let cond = cond.clone();
            rt.spawn(async move {
                let g = cond.lock().await.wait_while(|s| *s != 4).await;
                *g
            })
        };
        for _ in 0..4 {
            rt.sleep(Duration::from_millis(10)).await;
            *cond.lock().await += 1;
            cond.notify_one();
        }
        assert_eq!(waiter.await, 4);
    });
}

#[test]
fn wait_while_timeout_threads() {
    blocking(|| {
        let cond = Arc::new(Condition::new(0));
        let waiter = {
            let cond = cond.clone();
            std::thread::spawn(move || {
                let t = Instant::now();
                let (g, r) = cond
                    .lock_blocking()
                    .wait_while_timeout_blocking(|s| *s != 4, Duration::from_millis(100));
                assert!(r.timed_out());
                assert!(*g < 4);
                assert_waited(t.elapsed(), Duration::from_millis(100));
            })
        };
        // Only 3 increments: state 4 is never reached.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(10));
            *cond.lock_blocking() += 1;
            cond.notify_one();
        }
        waiter.join().unwrap();
    });
}

#[test]
fn wait_while_timeout_tasks() {
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let waiter = {
            let pair = pair.clone();
            rt.spawn(async move {
                let (mutex, condvar) = &*pair;
                let t = Instant::now();
                let (g, r) = condvar
                    .wait_while_timeout(mutex.lock().await, |s| *s != 4, Duration::from_millis(100))
                    .await;
                assert!(r.timed_out());
                assert!(*g < 4);
                assert_waited(t.elapsed(), Duration::from_millis(100));
            })
        };
        for _ in 0..3 {
            rt.sleep(Duration::from_millis(10)).await;
            *pair.0.lock().await += 1;
            pair.1.notify_one();
        }
        waiter.await;
    });
}

#[test]
fn wait_while_timeout_succeeds_before_deadline() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(0));
        let thread = {
            let cond = cond.clone();
            rt.thread(move || {
                let (g, r) = cond
                    .lock_blocking()
                    .wait_while_timeout_blocking(|s| *s < 2, Duration::from_secs(30));
                (*g, r.timed_out())
            })
        };
        let task = {
            let cond = cond.clone();
            rt.spawn(async move {
                let (g, r) = cond
                    .lock()
                    .await
                    .wait_while_timeout(|s| *s < 2, Duration::from_secs(30))
                    .await;
                (*g, r.timed_out())
            })
        };
        for _ in 0..2 {
            rt.sleep(Duration::from_millis(5)).await;
            *cond.lock().await += 1;
            cond.notify_all();
        }
        assert_eq!(thread.await, (2, false));
        assert_eq!(task.await, (2, false));
    });
}

#[test]
fn wait_while_false_returns_at_once_without_unlocking() {
    let (mutex, condvar) = (Mutex::new(1), Condvar::new());
    let mut w = condvar.wait_while(mutex.lock_blocking(), |n| *n == 0);
    let Poll::Ready(g) = poll_once(&mut w) else {
        panic!("a false predicate must not wait");
    };
    assert_eq!(*g, 1);
    assert!(
        mutex.try_lock().is_none(),
        "still locked by the returned guard"
    );
    assert_eq!(condvar.notify_all(), 0, "never registered");
}

// ---------------------------------------------------------------------------
// Counting: no coalescing, nothing stored, FIFO.

#[test]
fn notify_one_twice_wakes_two_distinct_waiters() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    let mut a = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut a).is_pending());
    let mut b = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut b).is_pending());
    let mut c = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut c).is_pending());
    // Two quick notify_one()s before anyone resumes: two different waiters.
    assert!(condvar.notify_one());
    assert!(condvar.notify_one());
    let Poll::Ready(ga) = poll_once(&mut a) else {
        panic!("first waiter (FIFO) not woken")
    };
    drop(ga);
    let Poll::Ready(gb) = poll_once(&mut b) else {
        panic!("second notify_one coalesced with the first")
    };
    drop(gb);
    assert!(poll_once(&mut c).is_pending(), "only two were notified");
    assert_eq!(condvar.notify(10), 1);
    assert!(poll_once(&mut c).is_ready());
}

#[test]
fn notify_without_waiters_is_not_stored() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    assert!(!condvar.notify_one());
    assert_eq!(condvar.notify(3), 0);
    assert_eq!(condvar.notify_all(), 0);
    let mut w = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut w).is_pending());
    assert!(
        poll_once(&mut w).is_pending(),
        "an earlier notify must not be remembered"
    );
    assert!(condvar.notify_one());
    assert!(poll_once(&mut w).is_ready());

    let cond = Condition::new(());
    assert!(!cond.notify_one());
    let mut w = cond.lock_blocking().wait();
    assert!(poll_once(&mut w).is_pending());
    assert_eq!(cond.notify_all(), 1);
    assert!(poll_once(&mut w).is_ready());
}

#[test]
fn notify_counts_only_waiters_not_yet_notified() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    let ws = &mut Vec::new();
    for _ in 0..4 {
        // Each wait unlocks on its first poll, so the next can lock.
        ws.push(condvar.wait(mutex.lock_blocking()));
        assert!(poll_once(ws.last_mut().unwrap()).is_pending());
    }
    assert_eq!(condvar.notify(3), 3);
    // Notified but not resumed: not counted again.
    assert_eq!(condvar.notify_all(), 1);
    assert_eq!(condvar.notify_all(), 0);
    for w in ws.iter_mut() {
        let Poll::Ready(g) = poll_once(w) else {
            panic!("not woken")
        };
        drop(g);
    }
}

#[test]
fn waiters_are_woken_in_fifo_order() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    let ws = &mut Vec::new();
    for _ in 0..4 {
        // Each wait unlocks on its first poll, so the next can lock.
        ws.push(condvar.wait(mutex.lock_blocking()));
        assert!(poll_once(ws.last_mut().unwrap()).is_pending());
    }
    for i in 0..4 {
        assert!(condvar.notify_one());
        for (j, w) in ws.iter_mut().enumerate().skip(i) {
            match poll_once(w) {
                Poll::Ready(g) if j == i => drop(g),
                Poll::Pending if j > i => {}
                _ => panic!("waiter {j} in the wrong state after notify {i}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cancellation.

#[test]
fn notified_waiter_dropped_before_resuming_passes_it_on() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    let mut a = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut a).is_pending());
    let mut b = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut b).is_pending());
    assert!(condvar.notify_one()); // goes to `a`
    drop(a); // …which is cancelled before it sees it
    assert!(
        !condvar.notify_one(),
        "`b` must already hold the handed-on notification"
    );
    assert!(poll_once(&mut b).is_ready());
}

#[test]
fn notified_waiter_dropped_while_relocking_passes_it_on() {
    let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    let mut a = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut a).is_pending());
    let mut b = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut b).is_pending());
    let held = mutex.lock_blocking();
    assert!(condvar.notify_one()); // goes to `a`
    // `a` consumes the notification and blocks on the held mutex.
    assert!(poll_once(&mut a).is_pending());
    assert!(format!("{a:?}").contains("stage"));
    drop(a);
    assert!(
        !condvar.notify_one(),
        "`b` must already hold the handed-on notification"
    );
    drop(held);
    let Poll::Ready(g) = poll_once(&mut b) else {
        panic!("handed-on notification lost")
    };
    drop(g);
    assert!(mutex.try_lock().is_some(), "mutex usable afterwards");
}

#[test]
fn condition_waiter_dropped_while_relocking_passes_it_on_async() {
    // The same, with a real task as the waiter that must receive the
    // handed-on notification.
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(0u32));
        let mut a = cond.lock().await.wait();
        assert!(poll_once(&mut a).is_pending()); // `a` registered first
        let b = {
            let cond = cond.clone();
            rt.spawn(async move { *cond.lock().await.wait().await })
        };
        wait_until_async(&rt, "b registered", || {
            format!("{cond:?}").contains("waiters: 2")
        })
        .await;
        let mut held = cond.lock().await;
        assert_eq!(cond.notify(1), 1); // to `a` (FIFO)
        assert!(poll_once(&mut a).is_pending()); // `a` consumed it, relocking
        drop(a);
        assert_eq!(
            cond.notify_all(),
            0,
            "`b` must already hold the handed-on notification"
        );
        *held = 7;
        drop(held);
        assert_eq!(b.await, 7);
    });
}

#[test]
fn cancel_at_every_point_leaves_mutex_usable() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    // Never polled: the guard inside unlocks.
    drop(condvar.wait(mutex.lock_blocking()));
    assert!(mutex.try_lock().is_some());
    // Waiting: withdrawn, nothing registered any more.
    let mut w = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut w).is_pending());
    assert!(mutex.try_lock().is_some(), "released while waiting");
    drop(w);
    assert_eq!(condvar.notify_all(), 0, "withdrawn");
    assert!(format!("{condvar:?}").contains("waiters: 0"));
    // Relocking (notified): abandoned.
    let mut w = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut w).is_pending());
    let held = mutex.lock_blocking();
    assert!(condvar.notify_one());
    assert!(poll_once(&mut w).is_pending());
    drop(w);
    drop(held);
    assert!(mutex.try_lock().is_some());
    // The same for every future kind.
    let cond = Condition::new(0);
    drop(cond.lock_blocking().wait_while(|n| *n == 0));
    drop(cond.lock_blocking().wait_timeout(Duration::from_secs(1)));
    drop(
        cond.lock_blocking()
            .wait_while_timeout(|_| true, Duration::from_secs(1)),
    );
    let held = cond.lock_blocking();
    let mut l = cond.lock();
    assert!(poll_once(&mut l).is_pending());
    drop(l);
    drop(held);
    assert!(cond.try_lock().is_some());
}

#[test]
fn timed_out_waiter_dropped_while_relocking_passes_nothing_on() {
    let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    let mut a = condvar.wait_timeout(mutex.lock_blocking(), Duration::from_millis(50));
    assert!(poll_once(&mut a).is_pending());
    let mut b = condvar.wait(mutex.lock_blocking());
    assert!(poll_once(&mut b).is_pending());
    let held = mutex.lock_blocking();
    std::thread::sleep(Duration::from_millis(60));
    // Deadline passed, mutex busy: `a` withdraws and waits for the lock.
    assert!(poll_once(&mut a).is_pending());
    assert!(format!("{a:?}").contains("relocking"));
    drop(a);
    drop(held);
    assert!(
        poll_once(&mut b).is_pending(),
        "a timed-out waiter has nothing to hand on"
    );
    assert!(condvar.notify_one());
    assert!(poll_once(&mut b).is_ready());
    assert!(mutex.try_lock().is_some());
}

#[test]
#[cfg_attr(
    miri,
    ignore = "timing: the 20 ms deadline may pass (Miri's virtual clock) before the main task sees the waiter registered"
)]
fn timed_out_waiter_relocks_after_the_deadline() {
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(0), Condvar::new()));
        let held = pair.0.lock().await;
        let waiter = {
            let pair = pair.clone();
            rt.spawn(async move {
                let (mutex, condvar) = &*pair;
                // Locks only after `held` is dropped below.
                let g = mutex.lock().await;
                let (g, r) = condvar.wait_timeout(g, Duration::from_millis(20)).await;
                (*g, r.timed_out())
            })
        };
        drop(held);
        wait_until_async(&rt, "waiter registered", || {
            format!("{:?}", pair.1).contains("waiters: 1")
        })
        .await;
        // Hold the lock across the deadline: the waiter must still come back
        // with the lock (and see our write).
        let mut held = pair.0.lock().await;
        rt.sleep(Duration::from_millis(60)).await;
        *held = 5;
        drop(held);
        assert_eq!(waiter.await, (5, true));
    });
}

#[test]
fn notification_racing_the_deadline_is_never_lost() {
    // A single waiter with a tiny timeout and a notifier firing around the
    // deadline: whenever notify_one() reports that it woke the waiter, the
    // waiter must report "not timed out" (and vice versa).
    blocking(|| {
        let pair = Arc::new((Mutex::new(()), Condvar::new()));
        for i in 0..scale(300) as u64 {
            let p = pair.clone();
            let waiter = std::thread::spawn(move || {
                let (mutex, condvar) = &*p;
                condvar
                    .wait_timeout_blocking(mutex.lock_blocking(), Duration::from_micros(500))
                    .1
                    .timed_out()
            });
            std::thread::sleep(Duration::from_micros(300 + (i % 7) * 60));
            let woke = pair.1.notify_one();
            let timed_out = waiter.join().unwrap();
            assert_eq!(woke, !timed_out, "iteration {i}: notify_one()={woke}");
        }
    });
}

#[test]
fn notification_racing_the_deadline_is_never_lost_async() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::new(()));
        for i in 0..scale(100) as u64 {
            let c = cond.clone();
            let waiter = rt.spawn(async move {
                let g = c.lock().await;
                g.wait_timeout(Duration::from_micros(500))
                    .await
                    .1
                    .timed_out()
            });
            let notifier = {
                let c = cond.clone();
                rt.thread(move || {
                    std::thread::sleep(Duration::from_micros(300 + (i % 7) * 60));
                    c.notify_one()
                })
            };
            let woke = notifier.await;
            let timed_out = waiter.await;
            assert_eq!(woke, !timed_out, "iteration {i}: notify_one()={woke}");
        }
    });
}

// ---------------------------------------------------------------------------
// Mixed worlds, stress, panics, Debug.

#[test]
fn producers_and_consumers_threads_and_tasks_count_exactly() {
    // Every notify_one() that reports a wakeup must correspond to one
    // consumed item: 2 thread and 2 task consumers, 200 items.
    each_runtime(|rt| async move {
        let items = scale(200);
        let cond = Arc::new(Condition::new((Vec::<usize>::new(), false)));
        let consumed = Arc::new(AtomicUsize::new(0));
        let mut workers = Vec::new();
        for i in 0..4 {
            let (cond, consumed) = (cond.clone(), consumed.clone());
            workers.push(if i % 2 == 0 {
                rt.thread(move || {
                    loop {
                        let mut g = cond
                            .lock_blocking()
                            .wait_while_blocking(|(q, done)| q.is_empty() && !*done);
                        match g.0.pop() {
                            Some(_) => consumed.fetch_add(1, Ordering::Relaxed),
                            None => return,
                        };
                    }
                })
            } else {
                rt.spawn(async move {
                    loop {
                        let mut g = cond
                            .lock()
                            .await
                            .wait_while(|(q, done)| q.is_empty() && !*done)
                            .await;
                        match g.0.pop() {
                            Some(_) => consumed.fetch_add(1, Ordering::Relaxed),
                            None => return,
                        };
                    }
                })
            });
        }
        for n in 0..items {
            cond.lock().await.0.push(n);
            cond.notify_one();
            if n % 16 == 0 {
                rt.yield_now().await;
            }
        }
        cond.lock().await.1 = true;
        cond.notify_all();
        for w in workers {
            w.await;
        }
        assert_eq!(consumed.load(Ordering::Relaxed), items);
        assert!(cond.lock().await.0.is_empty());
    });
}

#[test]
fn panic_while_holding_a_condition_guard_unlocks_without_poisoning() {
    blocking(|| {
        let cond = Arc::new(Condition::new(0));
        let c = cond.clone();
        let r = std::thread::spawn(move || {
            let mut g = c.lock_blocking();
            *g = 1;
            panic!("boom");
        })
        .join();
        assert!(r.is_err());
        // Unlocked, not poisoned, value as left.
        assert_eq!(*cond.try_lock().expect("unlocked by unwinding"), 1);
    });
}

#[test]
fn panicking_predicate_releases_the_lock() {
    let cond = Condition::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = cond
            .lock_blocking()
            .wait_while_blocking(|_| panic!("predicate"));
    }));
    assert!(r.is_err());
    assert!(cond.try_lock().is_some());
}

#[test]
fn debug_shows_state() {
    let cond = Condition::new(3);
    assert_eq!(format!("{cond:?}"), "Condition { data: 3, waiters: 0 }");
    let g = cond.lock_blocking();
    assert_eq!(format!("{g:?}"), "3");
    assert_eq!(
        format!("{cond:?}"),
        "Condition { data: <locked>, waiters: 0 }"
    );
    let mut w = g.wait();
    assert!(poll_once(&mut w).is_pending());
    assert_eq!(format!("{cond:?}"), "Condition { data: 3, waiters: 1 }");
    assert!(format!("{w:?}").starts_with("ConditionWait"));
    drop(w);
    let condvar = Condvar::default();
    assert_eq!(format!("{condvar:?}"), "Condvar { waiters: 0 }");
    let mutex = Mutex::new(());
    let (_g, r) = condvar.wait_timeout_blocking(mutex.lock_blocking(), Duration::ZERO);
    assert_eq!(format!("{r:?}"), "WaitTimeoutResult(true)");
}

#[test]
fn unsized_values_work() {
    let mutex: Arc<Mutex<[u8]>> = Arc::new(Mutex::new([1, 2, 3]));
    let condvar = Condvar::new();
    let mut w = condvar.wait_while(mutex.lock_blocking(), |s| s[0] == 0);
    let Poll::Ready(g) = poll_once(&mut w) else {
        panic!()
    };
    assert_eq!(g.len(), 3);
}

#[test]
fn blocking_and_async_notifiers_wake_async_and_blocking_waiters() {
    // The same Condvar: a thread waits, a task notifies; a task waits, a
    // thread notifies.
    each_runtime(|rt| async move {
        let pair = Arc::new((Mutex::new(0u8), Condvar::new()));
        let thread_waiter = {
            let pair = pair.clone();
            rt.thread(move || {
                let (m, c) = &*pair;
                *c.wait_while_blocking(m.lock_blocking(), |v| *v & 1 == 0)
            })
        };
        let task_waiter = {
            let pair = pair.clone();
            rt.spawn(async move {
                let (m, c) = &*pair;
                *c.wait_while(m.lock().await, |v| *v & 2 == 0).await
            })
        };
        *pair.0.lock().await |= 1;
        pair.1.notify_all();
        assert_eq!(thread_waiter.await & 1, 1);
        let notifier = {
            let pair = pair.clone();
            rt.thread(move || {
                *pair.0.lock_blocking() |= 2;
                pair.1.notify_all();
            })
        };
        notifier.await;
        assert_eq!(task_waiter.await & 2, 2);
    });
}

#[allow(dead_code)]
fn futures_are_futures() {
    // Compile-time: the output types are what the SPEC says.
    fn out<F: Future<Output = O>, O>(_: F) {}
    let (m, c) = (Mutex::new(0), Condvar::new());
    out::<_, rallypoint::MutexGuard<'_, i32>>(c.wait(m.lock_blocking()));
    out::<_, (rallypoint::MutexGuard<'_, i32>, WaitTimeoutResult)>(
        c.wait_timeout(m.lock_blocking(), Duration::ZERO),
    );
}
