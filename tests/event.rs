#![cfg(not(loom))]

//! Event tests. The scenarios of CPython's `Lib/test/lock_tests.py`
//! `EventTests` are ported in both worlds (tasks, threads, and both at once
//! on one instance), under every executor of the harness; then come the
//! cases Python cannot express (cancellation, poll-level determinism).

mod common;

use common::*;
use rallypoint::Event;
use rallypoint::future::{EventWait, EventWaitTimeout};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

async fn wait(e: &Event, blocking: bool) {
    if blocking {
        e.wait_blocking()
    } else {
        e.wait().await
    }
}

async fn wait_timeout(e: &Event, blocking: bool, d: Duration) -> bool {
    if blocking {
        e.wait_timeout_blocking(d)
    } else {
        e.wait_timeout(d).await
    }
}

fn waiters(e: &Event) -> String {
    format!("{e:?}")
}

fn has_waiters(e: &Event, n: usize) -> bool {
    waiters(e).contains(&format!("waiters: {n}"))
}

// lock_tests.EventTests.test_is_set
#[test]
fn is_set() {
    let evt = Event::new();
    assert!(!evt.is_set());
    evt.set();
    assert!(evt.is_set());
    evt.set();
    assert!(evt.is_set());
    evt.clear();
    assert!(!evt.is_set());
    evt.clear();
    assert!(!evt.is_set());
    assert!(!Event::default().is_set());
}

// lock_tests.EventTests.test_notify: all waiters get released, and a second
// wait on the (still set) event returns at once. Run twice, the second time
// after set()+clear().
#[test]
fn notify_all_waiters() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            const N: usize = 5;
            let evt = Arc::new(Event::new());
            for round in 0..2 {
                if round == 1 {
                    evt.set();
                    evt.clear();
                }
                let results1 = Arc::new(AtomicUsize::new(0));
                let results2 = Arc::new(AtomicUsize::new(0));
                let tasks = {
                    let (evt, r1, r2) = (evt.clone(), results1.clone(), results2.clone());
                    bunch(&rt, world, N, move |_, blocking| {
                        let (evt, r1, r2) = (evt.clone(), r1.clone(), r2.clone());
                        async move {
                            wait(&evt, blocking).await;
                            r1.fetch_add(1, Ordering::SeqCst);
                            wait(&evt, blocking).await;
                            r2.fetch_add(1, Ordering::SeqCst);
                        }
                    })
                };
                // Deterministic: every party is registered on the event.
                wait_until_async(&rt, "all parties wait", || has_waiters(&evt, N)).await;
                assert_eq!(results1.load(Ordering::SeqCst), 0, "{world:?}");
                evt.set();
                join_all(tasks).await;
                assert_eq!(results1.load(Ordering::SeqCst), N, "{world:?}");
                assert_eq!(results2.load(Ordering::SeqCst), N, "{world:?}");
                assert!(has_waiters(&evt, 0), "{}", waiters(&evt));
                evt.clear();
            }
        }
    });
}

// lock_tests.EventTests.test_timeout: wait(0) is a non-blocking check, a
// timed wait on an unset event times out after (at least) its duration, and
// both return true once the event is set.
#[test]
fn timeouts() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            const N: usize = 5;
            const T: Duration = Duration::from_millis(100);
            for set in [false, true] {
                let evt = Arc::new(Event::new());
                if set {
                    evt.set();
                }
                let tasks = {
                    let evt = evt.clone();
                    bunch(&rt, world, N, move |_, blocking| {
                        let evt = evt.clone();
                        async move {
                            let r1 = wait_timeout(&evt, blocking, Duration::ZERO).await;
                            let t1 = Instant::now();
                            let r2 = wait_timeout(&evt, blocking, T).await;
                            (r1, r2, t1.elapsed())
                        }
                    })
                };
                for (r1, r2, dt) in join_all(tasks).await {
                    assert_eq!(r1, set, "{world:?}");
                    assert_eq!(r2, set, "{world:?}");
                    if !set {
                        assert!(dt >= T, "timed out early: {dt:?} ({world:?})");
                        assert!(dt < T + Duration::from_secs(10), "timed out late: {dt:?}");
                    }
                }
                assert!(has_waiters(&evt, 0), "{}", waiters(&evt));
            }
        }
    });
}

// lock_tests.EventTests.test_set_and_clear (CPython gh-57711): waiters that
// were waiting when set() ran return true even if clear() runs before they
// are woken.
#[test]
fn set_then_clear_still_releases_waiters() {
    each_runtime(|rt| async move {
        for world in World::ALL {
            const N: usize = 5;
            let evt = Arc::new(Event::new());
            let tasks = {
                let evt = evt.clone();
                bunch(&rt, world, N, move |_, blocking| {
                    let evt = evt.clone();
                    async move { wait_timeout(&evt, blocking, Duration::from_secs(30)).await }
                })
            };
            wait_until_async(&rt, "all parties wait", || has_waiters(&evt, N)).await;
            evt.set();
            evt.clear();
            assert_eq!(join_all(tasks).await, vec![true; N], "{world:?}");
            assert!(!evt.is_set());
        }
    });
}

// The same property at poll level, with no timing at all: futures registered
// before set(); clear() runs before they are polled again.
#[test]
fn set_then_clear_poll_level() {
    let evt = Event::new();
    let mut a = evt.wait();
    let mut b = evt.wait_timeout(Duration::from_secs(60));
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    evt.set();
    evt.clear();
    assert_eq!(poll_once(&mut a), Poll::Ready(()));
    assert_eq!(poll_once(&mut b), Poll::Ready(true));
    // A wait that starts after the clear() does block.
    let mut c = evt.wait();
    assert!(poll_once(&mut c).is_pending());
}

// A set() that happened before a waiter first polled, followed by a clear(),
// does not release it: it was not waiting when set() ran.
#[test]
fn set_before_first_poll_does_not_count() {
    let evt = Event::new();
    let mut a = evt.wait();
    evt.set();
    evt.clear();
    assert!(poll_once(&mut a).is_pending());
    evt.set();
    assert_eq!(poll_once(&mut a), Poll::Ready(()));
}

// lock_tests.EventTests.test_repr, in Rust's Debug.
#[test]
fn debug_shows_state() {
    let evt = Event::new();
    assert_eq!(format!("{evt:?}"), "Event { state: \"unset\", waiters: 0 }");
    let mut w = evt.wait();
    assert!(poll_once(&mut w).is_pending());
    assert_eq!(format!("{evt:?}"), "Event { state: \"unset\", waiters: 1 }");
    evt.set();
    assert_eq!(poll_once(&mut w), Poll::Ready(()));
    assert_eq!(format!("{evt:?}"), "Event { state: \"set\", waiters: 0 }");
    assert!(format!("{:?}", evt.wait()).starts_with("EventWait"));
}

// Cancellation: a wait polled once and dropped leaves nothing behind, and
// other waiters still get released.
#[test]
fn cancelled_waits_leave_nothing_behind() {
    let evt = Event::new();
    let mut keep = evt.wait();
    assert!(poll_once(&mut keep).is_pending());
    for _ in 0..scale(100) {
        let mut w = evt.wait();
        assert!(poll_once(&mut w).is_pending());
        let mut t = evt.wait_timeout(Duration::from_secs(60));
        assert!(poll_once(&mut t).is_pending());
        assert!(has_waiters(&evt, 3), "{}", waiters(&evt));
    }
    assert!(has_waiters(&evt, 1), "{}", waiters(&evt));
    evt.set();
    assert_eq!(poll_once(&mut keep), Poll::Ready(()));
    assert!(has_waiters(&evt, 0), "{}", waiters(&evt));
}

// Cancellation under real executors: tasks whose waits are cancelled by a
// timeout race (futures_lite's `or`) exit, while the rest are released.
#[test]
fn cancelled_by_select_under_executors() {
    each_runtime(|rt| async move {
        let evt = Arc::new(Event::new());
        let mut tasks = Vec::new();
        for i in 0..8 {
            let evt = evt.clone();
            let rt2 = rt.clone();
            tasks.push(rt.spawn(async move {
                if i % 2 == 0 {
                    // Cancelled: the sleep wins, the wait is dropped.
                    futures_lite::future::or(
                        async {
                            evt.wait().await;
                            true
                        },
                        async {
                            rt2.sleep(Duration::from_millis(10)).await;
                            false
                        },
                    )
                    .await
                } else {
                    evt.wait().await;
                    true
                }
            }));
        }
        wait_until_async(&rt, "the cancelled waits are gone", || has_waiters(&evt, 4)).await;
        evt.set();
        let results = join_all(tasks).await;
        assert_eq!(results.iter().filter(|r| **r).count(), 4);
        assert!(has_waiters(&evt, 0));
    });
}

// Zero and saturating timeouts.
#[test]
fn zero_and_max_timeouts() {
    let evt = Event::new();
    let start = Instant::now();
    assert!(!evt.wait_timeout_blocking(Duration::ZERO));
    assert!(!futures_lite::future::block_on(
        evt.wait_timeout(Duration::ZERO)
    ));
    assert!(start.elapsed() < Duration::from_secs(5));
    evt.set();
    assert!(evt.wait_timeout_blocking(Duration::ZERO));
    assert!(futures_lite::future::block_on(
        evt.wait_timeout(Duration::ZERO)
    ));
    // Duration::MAX must not overflow or panic: it waits "forever", and here
    // the event is set, so it returns at once.
    assert!(evt.wait_timeout_blocking(Duration::MAX));
    assert!(futures_lite::future::block_on(
        evt.wait_timeout(Duration::MAX)
    ));
    evt.clear();
    // A pending Duration::MAX wait, released by set() from another thread.
    let evt = Arc::new(evt);
    let t = {
        let evt = evt.clone();
        std::thread::spawn(move || evt.wait_timeout_blocking(Duration::MAX))
    };
    wait_until("the MAX waiter registered", || has_waiters(&evt, 1));
    evt.set();
    assert!(t.join().unwrap());
}

// Async timeouts work with no runtime at all (futures_lite's block_on).
#[test]
fn async_timeout_without_runtime() {
    blocking(|| {
        let evt = Event::new();
        let start = Instant::now();
        assert!(!futures_lite::future::block_on(
            evt.wait_timeout(Duration::from_millis(50))
        ));
        assert!(start.elapsed() >= Duration::from_millis(50));
    });
}

// Memory ordering: data written before set() is visible after wait().
#[test]
fn set_publishes_prior_writes() {
    for _ in 0..scale(200) {
        let evt = Arc::new(Event::new());
        let data = Arc::new(AtomicUsize::new(0));
        let t = {
            let (evt, data) = (evt.clone(), data.clone());
            std::thread::spawn(move || {
                data.store(42, Ordering::Relaxed);
                evt.set();
            })
        };
        evt.wait_blocking();
        assert_eq!(data.load(Ordering::Relaxed), 42);
        t.join().unwrap();
    }
}

// Many set/clear cycles against waiters that re-wait: no waiter is ever
// stranded while the event is set.
#[test]
fn set_clear_storm() {
    each_runtime(|rt| async move {
        let evt = Arc::new(Event::new());
        let stop = Arc::new(rallypoint::Event::new());
        // Every waiter is running before the storm starts (a thread can
        // take longer to start than the whole storm on a loaded machine,
        // and would then see `stop` at once).
        let started = Arc::new(AtomicUsize::new(0));
        let tasks = {
            let (evt, stop, started) = (evt.clone(), stop.clone(), started.clone());
            bunch(&rt, World::Mixed, 4, move |_, blocking| {
                let (evt, stop, started) = (evt.clone(), stop.clone(), started.clone());
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    let mut n = 0u64;
                    while !stop.is_set() {
                        wait(&evt, blocking).await;
                        n += 1;
                    }
                    n
                }
            })
        };
        wait_until_async(&rt, "every waiter started", || {
            started.load(Ordering::SeqCst) == 4
        })
        .await;
        for _ in 0..scale_or(2000, 30) {
            evt.set();
            evt.clear();
            rt.yield_now().await;
        }
        stop.set();
        evt.set();
        let counts = join_all(tasks).await;
        assert!(counts.iter().all(|&n| n >= 1), "{counts:?}");
    });
}

#[test]
fn send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    assert_send_sync::<Event>();
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<Event>();
    assert_send::<EventWait<'static>>();
    assert_send::<EventWaitTimeout<'static>>();
    assert_send_sync::<EventWait<'static>>();
    assert_send_sync::<EventWaitTimeout<'static>>();
    fn assert_future<F: Future>(_: &F) {}
    let e = Event::new();
    assert_future(&e.wait());
    static STATIC: Event = Event::new();
    STATIC.set();
    STATIC.wait_blocking();
}
