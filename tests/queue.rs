#![cfg(not(loom))]

//! Tests for `Queue`, `Stack` and `PriorityQueue`, run for each of the three
//! kinds by `kind_tests!`.
//!
//! The `cpython_*` tests port the scenarios of CPython's
//! `Lib/test/test_queue.py` (basic order with 111/333/222, blocking put and
//! get released by the other side, task_done/join with worker threads,
//! too many task_done, the nowait variants, many threads with sentinels),
//! each in both worlds: threads with the `_blocking` forms, and async tasks
//! under every executor of `common::each_runtime`. The rest cover the Rust
//! contract of SPEC §6: exactly-once under mixed threads and tasks,
//! timeouts and cancellation losing nothing, FIFO service of waiting
//! poppers, close, join generations, drops and `Debug`.

mod common;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Poll;
use std::thread;
use std::time::Duration;

use common::*;
use rallypoint::{
    Fairness, PopError, PopTimeoutError, PushError, PushTimeoutError, TaskDoneError, TryPopError,
    TryPushError,
};

/// Counts how often each value in `0..n` was seen.
struct Seen(Vec<AtomicUsize>);

impl Seen {
    fn new(n: usize) -> Arc<Seen> {
        Arc::new(Seen((0..n).map(|_| AtomicUsize::new(0)).collect()))
    }
    fn see(&self, v: usize) {
        self.0[v].fetch_add(1, Ordering::Relaxed);
    }
    fn assert_exactly_once(&self) {
        for (v, count) in self.0.iter().enumerate() {
            assert_eq!(
                count.load(Ordering::Relaxed),
                1,
                "value {v} seen {count:?} times"
            );
        }
    }
}

/// A tiny deterministic PRNG (xorshift) for tests.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

macro_rules! kind_tests {
    ($m:ident, $C:ident, $order:expr) => {
        mod $m {
            use super::*;
            use rallypoint::$C as C;

            /// The order in which the kind pops `pushed` (pushed all first).
            fn order(pushed: &[i32]) -> Vec<i32> {
                let f: fn(&[i32]) -> Vec<i32> = $order;
                f(pushed)
            }

            const QUEUE_SIZE: usize = 5;

            /// CPython's `do_blocking_test`, deterministic: the trigger runs
            /// only once `registered()` shows the blocked call waiting, and
            /// the blocked call must not return before the trigger ran.
            fn blocking_test<R>(
                block: impl FnOnce() -> R,
                registered: impl Fn() -> bool + Send + 'static,
                trigger: impl FnOnce() + Send + 'static,
            ) -> R {
                let triggered = Arc::new(AtomicBool::new(false));
                let t = {
                    let triggered = triggered.clone();
                    thread::spawn(move || {
                        wait_until("the blocked call is registered", registered);
                        triggered.store(true, Ordering::SeqCst);
                        trigger();
                    })
                };
                let r = block();
                assert!(triggered.load(Ordering::SeqCst), "blocking call returned before the trigger");
                t.join().unwrap();
                r
            }

            /// CPython `basic_queue_test`, threads.
            #[test]
            fn cpython_basic_blocking() {
                blocking(|| {
                    let q = Arc::new(C::bounded(QUEUE_SIZE));
                    assert!(q.is_empty());
                    assert_eq!(q.len(), 0);
                    for x in [111, 333, 222] {
                        q.push_blocking(x).unwrap();
                    }
                    let got: Vec<i32> = (0..3).map(|_| q.pop_blocking().unwrap()).collect();
                    assert_eq!(got, order(&[111, 333, 222]));
                    assert!(q.is_empty());
                    for i in 0..QUEUE_SIZE as i32 - 1 {
                        q.push_blocking(i).unwrap();
                        assert!(q.len() > 0);
                    }
                    assert!(!q.is_full());
                    let last = 2 * QUEUE_SIZE as i32;
                    let full = 3 * 2 * QUEUE_SIZE as i32;
                    q.push_blocking(last).unwrap();
                    assert!(q.is_full());
                    assert!(!q.is_empty());
                    assert_eq!(q.try_push(full), Err(TryPushError::Full(full)));
                    assert_eq!(
                        q.push_timeout_blocking(full, Duration::from_millis(10)),
                        Err(PushTimeoutError::Timeout(full))
                    );
                    // A blocking push is released by a pop.
                    let (q1, q2) = (q.clone(), q.clone());
                    blocking_test(
                        || q.push_blocking(full).unwrap(),
                        move || waiting_pushers(&*q1) == 1,
                        move || { q2.pop_blocking().unwrap(); },
                    );
                    let (q1, q2) = (q.clone(), q.clone());
                    blocking_test(
                        || q.push_timeout_blocking(full, Duration::from_secs(10)).unwrap(),
                        move || waiting_pushers(&*q1) == 1,
                        move || { q2.pop_blocking().unwrap(); },
                    );
                    for _ in 0..QUEUE_SIZE {
                        q.pop_blocking().unwrap();
                    }
                    assert_eq!(q.len(), 0);
                    assert_eq!(q.try_pop(), Err(TryPopError::Empty));
                    assert_eq!(
                        q.pop_timeout_blocking(Duration::from_millis(10)),
                        Err(PopTimeoutError::Timeout)
                    );
                    // A blocking pop is released by a push.
                    let (q1, q2) = (q.clone(), q.clone());
                    let got = blocking_test(
                        || q.pop_blocking().unwrap(),
                        move || waiting_poppers(&*q1) == 1,
                        move || q2.push_blocking(-1).unwrap(),
                    );
                    assert_eq!(got, -1);
                    let (q1, q2) = (q.clone(), q.clone());
                    let got = blocking_test(
                        || q.pop_timeout_blocking(Duration::from_secs(10)).unwrap(),
                        move || waiting_poppers(&*q1) == 1,
                        move || q2.push_blocking(-2).unwrap(),
                    );
                    assert_eq!(got, -2);
                });
            }

            /// CPython `basic_queue_test`, async: "blocked" is observed as
            /// `Pending` after one poll, then released by the other side.
            #[test]
            fn cpython_basic_async() {
                each_runtime(|rt| async move {
                    let q = Arc::new(C::bounded(QUEUE_SIZE));
                    for x in [111, 333, 222] {
                        q.push(x).await.unwrap();
                    }
                    let mut got = Vec::new();
                    for _ in 0..3 {
                        got.push(q.pop().await.unwrap());
                    }
                    assert_eq!(got, order(&[111, 333, 222]));
                    for i in 0..QUEUE_SIZE as i32 {
                        q.push(i).await.unwrap();
                    }
                    assert!(q.is_full());
                    assert_eq!(
                        q.push_timeout(60, Duration::from_millis(10)).await,
                        Err(PushTimeoutError::Timeout(60))
                    );
                    // Push released by a pop (from a thread).
                    let mut push = q.push(60);
                    assert!(poll_once(&mut push).is_pending());
                    let q2 = q.clone();
                    rt.thread(move || q2.pop_blocking().unwrap()).await;
                    push.await.unwrap();
                    let mut push = q.push_timeout(61, Duration::from_secs(10));
                    assert!(poll_once(&mut push).is_pending());
                    q.pop().await.unwrap();
                    push.await.unwrap();
                    for _ in 0..QUEUE_SIZE {
                        q.pop().await.unwrap();
                    }
                    assert_eq!(q.pop_timeout(Duration::from_millis(10)).await, Err(PopTimeoutError::Timeout));
                    // Pop released by a push (from a task, then a thread).
                    let mut pop = q.pop();
                    assert!(poll_once(&mut pop).is_pending());
                    let q2 = q.clone();
                    rt.spawn(async move { q2.push(-1).await.unwrap() }).await;
                    assert_eq!(pop.await, Ok(-1));
                    let mut pop = q.pop_timeout(Duration::from_secs(10));
                    assert!(poll_once(&mut pop).is_pending());
                    let q2 = q.clone();
                    rt.thread(move || q2.push_blocking(-2).unwrap()).await;
                    assert_eq!(pop.await, Ok(-2));
                });
            }

            fn join_round_blocking(q: &Arc<C<i32>>) {
                let cum = Arc::new(AtomicUsize::new(0));
                let workers: Vec<_> = (0..2)
                    .map(|_| {
                        let (q, cum) = (q.clone(), cum.clone());
                        thread::spawn(move || loop {
                            let x = q.pop_blocking().unwrap();
                            if x < 0 {
                                q.task_done().unwrap();
                                return;
                            }
                            cum.fetch_add(x as usize, Ordering::SeqCst);
                            q.task_done().unwrap();
                        })
                    })
                    .collect();
                let n = scale(100);
                for i in 0..n as i32 {
                    q.push_blocking(i).unwrap();
                }
                q.join_blocking();
                assert_eq!(cum.load(Ordering::SeqCst), (0..n).sum::<usize>());
                for _ in 0..2 {
                    q.push_blocking(-1).unwrap();
                }
                q.join_blocking();
                for w in workers {
                    w.join().unwrap();
                }
                assert_eq!(q.unfinished_tasks(), 0);
            }

            /// CPython `test_queue_join` (twice on one queue), threads.
            #[test]
            fn cpython_join_threads() {
                blocking(|| {
                    let q = Arc::new(C::unbounded());
                    join_round_blocking(&q);
                    join_round_blocking(&q);
                    let q = Arc::new(C::bounded(3));
                    join_round_blocking(&q);
                    join_round_blocking(&q);
                });
            }

            /// CPython `test_queue_join`, async: one worker is a task, the
            /// other a thread; the main task joins with `join().await` and
            /// `join_timeout`.
            #[test]
            fn cpython_join_async() {
                each_runtime(|rt| async move {
                    for q in [C::unbounded(), C::bounded(3)] {
                        let q = Arc::new(q);
                        for round in 0..2 {
                            let cum = Arc::new(AtomicUsize::new(0));
                            let task = {
                                let (q, cum) = (q.clone(), cum.clone());
                                rt.spawn(async move {
                                    loop {
                                        let x = q.pop().await.unwrap();
                                        // Count before task_done, as CPython's
                                        // worker does: join() may return as
                                        // soon as task_done() runs.
                                        if x >= 0 {
                                            cum.fetch_add(x as usize, Ordering::SeqCst);
                                        }
                                        q.task_done().unwrap();
                                        if x < 0 {
                                            return;
                                        }
                                    }
                                })
                            };
                            let thread = {
                                let (q, cum) = (q.clone(), cum.clone());
                                rt.thread(move || loop {
                                    let x = q.pop_blocking().unwrap();
                                    if x >= 0 {
                                        cum.fetch_add(x as usize, Ordering::SeqCst);
                                    }
                                    q.task_done().unwrap();
                                    if x < 0 {
                                        return;
                                    }
                                })
                            };
                            let n = scale(100);
                            for i in 0..n as i32 {
                                q.push(i).await.unwrap();
                            }
                            if round == 0 {
                                q.join().await;
                            } else {
                                assert!(q.join_timeout(Duration::from_secs(30)).await);
                            }
                            assert_eq!(cum.load(Ordering::SeqCst), (0..n).sum::<usize>());
                            q.push(-1).await.unwrap();
                            q.push(-1).await.unwrap();
                            q.join().await;
                            task.await;
                            thread.await;
                        }
                    }
                });
            }

            /// CPython `test_queue_task_done`.
            #[test]
            fn cpython_too_many_task_done() {
                let q = C::<i32>::unbounded();
                assert_eq!(q.task_done(), Err(TaskDoneError));
                q.try_push(1).unwrap();
                q.try_pop().unwrap();
                assert_eq!(q.task_done(), Ok(()));
                assert_eq!(q.task_done(), Err(TaskDoneError));
                assert_eq!(q.unfinished_tasks(), 0);
            }

            /// CPython `test_nowait`, plus the zero-timeout forms.
            #[test]
            fn cpython_nowait() {
                let q = C::bounded(1);
                q.try_push(1).unwrap();
                assert_eq!(q.try_push(2), Err(TryPushError::Full(2)));
                assert_eq!(q.push_timeout_blocking(3, Duration::ZERO), Err(PushTimeoutError::Timeout(3)));
                assert_eq!(q.try_pop(), Ok(1));
                assert_eq!(q.try_pop(), Err(TryPopError::Empty));
                assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Err(PopTimeoutError::Timeout));
            }

            /// CPython `SimpleQueue.test_basic` (sizes along the way).
            #[test]
            fn cpython_simple_basic() {
                let q = C::unbounded();
                assert!(q.is_empty());
                q.push_blocking(1).unwrap();
                assert_eq!(q.len(), 1);
                q.push_blocking(2).unwrap();
                q.try_push(3).unwrap();
                q.push_blocking(4).unwrap();
                assert_eq!(q.len(), 4);
                let mut got = vec![q.pop_blocking().unwrap()];
                assert_eq!(q.len(), 3);
                got.push(q.try_pop().unwrap());
                got.push(q.pop_timeout_blocking(Duration::ZERO).unwrap());
                got.push(q.pop_timeout_blocking(Duration::from_millis(100)).unwrap());
                assert_eq!(got, order(&[1, 2, 3, 4]));
                assert!(q.is_empty());
                assert_eq!(q.pop_timeout_blocking(Duration::from_millis(1)), Err(PopTimeoutError::Timeout));
            }

            #[derive(Clone, Copy)]
            enum Consume {
                Blocking,
                NonBlocking,
                Timeout,
            }

            /// CPython `test_many_threads{,_nonblock,_timeout}`: feeders
            /// share one input list; consumers stop at their first sentinel
            /// (`None`). CPython's feeders push the sentinels themselves, which
            /// works for FIFO only; here they are pushed once `join` shows
            /// every value processed, so the scenario holds for every order.
            fn many_threads(n_threads: usize, capacity: Option<usize>, consume: Consume) -> Vec<i32> {
                let q = Arc::new(match capacity {
                    Some(c) => C::bounded(c),
                    None => C::unbounded(),
                });
                let inputs: Vec<i32> = (0..scale_or(10_000, 150) as i32).collect();
                let seq = Arc::new(std::sync::Mutex::new(inputs.iter().rev().copied().collect::<Vec<_>>()));
                let results = Arc::new(std::sync::Mutex::new(Vec::new()));
                let mut handles = Vec::new();
                for i in 0..n_threads {
                    let (q, seq) = (q.clone(), seq.clone());
                    handles.push(thread::spawn(move || {
                        let mut rng = Rng(42 + i as u64);
                        loop {
                            let next = seq.lock().unwrap().pop();
                            let Some(v) = next else {
                                return;
                            };
                            q.push_blocking(Some(v)).unwrap();
                            if rng.next() % 2 == 0 {
                                thread::sleep(Duration::from_micros(rng.next() % 100));
                            }
                        }
                    }));
                }
                for _ in 0..n_threads {
                    let (q, results) = (q.clone(), results.clone());
                    handles.push(thread::spawn(move || loop {
                        let v = match consume {
                            Consume::Blocking => q.pop_blocking().unwrap(),
                            Consume::NonBlocking => loop {
                                match q.try_pop() {
                                    Ok(v) => break v,
                                    Err(TryPopError::Empty) => thread::sleep(Duration::from_micros(10)),
                                    Err(TryPopError::Closed) => unreachable!(),
                                }
                            },
                            Consume::Timeout => loop {
                                match q.pop_timeout_blocking(Duration::from_micros(10)) {
                                    Ok(v) => break v,
                                    Err(PopTimeoutError::Timeout) => {}
                                    Err(PopTimeoutError::Closed) => unreachable!(),
                                }
                            },
                        };
                        match v {
                            Some(v) => results.lock().unwrap().push(v),
                            None => return,
                        }
                        q.task_done().unwrap();
                    }));
                }
                // Feeders first; then, once every value is processed, one
                // sentinel per consumer (pushed after the values so that
                // every order — LIFO too — delivers all values first).
                let consumers = handles.split_off(n_threads);
                for h in handles {
                    h.join().unwrap();
                }
                q.join_blocking();
                for _ in 0..n_threads {
                    q.push_blocking(None).unwrap();
                }
                for h in consumers {
                    h.join().unwrap();
                }
                assert!(q.is_empty());
                let results = std::mem::take(&mut *results.lock().unwrap());
                results
            }

            /// CPython `test_order`: one producer, one consumer, exact order.
            /// (Only FIFO is checkable with a concurrent producer.)
            #[test]
            fn cpython_order_one_thread_each() {
                blocking(|| {
                    let results = many_threads(1, None, Consume::Blocking);
                    assert_eq!(results.len(), scale_or(10_000, 150));
                    if stringify!($C) == "Queue" {
                        assert_eq!(results, (0..scale_or(10_000, 150) as i32).collect::<Vec<_>>());
                    }
                });
            }

            #[test]
            fn cpython_many_threads() {
                blocking(|| {
                    for (capacity, consume) in [
                        (None, Consume::Blocking),
                        (Some(8), Consume::Blocking),
                        (None, Consume::NonBlocking),
                        (Some(8), Consume::Timeout),
                    ] {
                        let mut results = many_threads(if MIRI { 3 } else { 16 }, capacity, consume);
                        results.sort();
                        assert_eq!(results, (0..scale_or(10_000, 150) as i32).collect::<Vec<_>>());
                    }
                });
            }

            /// Exactly-once under threads and tasks producing and consuming
            /// the same instance, bounded and unbounded; consumers drain
            /// until `Closed` after the producers are done and `close()`.
            #[test]
            fn exactly_once_threads_and_tasks() {
                each_runtime(|rt| async move {
                    let per_producer = scale_or(1_500, 24);
                    const PRODUCERS: usize = 4;
                    for capacity in [None, Some(4)] {
                        let q = Arc::new(match capacity {
                            Some(c) => C::bounded(c),
                            None => C::unbounded(),
                        });
                        let seen = Seen::new(per_producer * PRODUCERS);
                        let mut consumers = Vec::new();
                        for _ in 0..2 {
                            let (q2, seen2) = (q.clone(), seen.clone());
                            consumers.push(rt.spawn(async move {
                                while let Ok(v) = q2.pop().await {
                                    seen2.see(v);
                                }
                            }));
                            let (q, seen) = (q.clone(), seen.clone());
                            consumers.push(rt.thread(move || {
                                while let Ok(v) = q.pop_blocking() {
                                    seen.see(v);
                                }
                            }));
                        }
                        let mut producers = Vec::new();
                        for p in 0..PRODUCERS {
                            let q = q.clone();
                            let values = p * per_producer..(p + 1) * per_producer;
                            producers.push(if p % 2 == 0 {
                                rt.spawn(async move {
                                    for v in values {
                                        q.push(v).await.unwrap();
                                    }
                                })
                            } else {
                                rt.thread(move || {
                                    for v in values {
                                        q.push_blocking(v).unwrap();
                                    }
                                })
                            });
                        }
                        for p in producers {
                            p.await;
                        }
                        q.close();
                        for c in consumers {
                            c.await;
                        }
                        seen.assert_exactly_once();
                        assert!(q.is_empty());
                        assert_eq!(q.unfinished_tasks(), per_producer * PRODUCERS);
                    }
                });
            }

            /// Pops and pushes raced against very short timeouts (and pops
            /// raced against a timer by `or`, which drops the losing pop
            /// future): nothing is lost or duplicated; a timed-out push
            /// hands its item back and is retried.
            #[test]
            #[cfg_attr(
                miri,
                ignore = "microsecond deadlines under Miri's virtual clock expire on almost every try: minutes of timeout churn (tests/stress.rs covers timeouts + cancellation under Miri)"
            )]
            fn timeouts_and_cancellation_lose_nothing() {
                each_runtime(|rt| async move {
                    let n = scale_or(3_000, 24);
                    for capacity in [None, Some(2)] {
                        let q = Arc::new(match capacity {
                            Some(c) => C::bounded(c),
                            None => C::unbounded(),
                        });
                        let seen = Seen::new(2 * n);
                        let timeouts = Arc::new(AtomicUsize::new(0));
                        let mut consumers = Vec::new();
                        for i in 0..2u64 {
                            let (q2, seen2, timeouts2) = (q.clone(), seen.clone(), timeouts.clone());
                            consumers.push(rt.thread(move || {
                                let mut rng = Rng(7 + i);
                                loop {
                                    match q2.pop_timeout_blocking(Duration::from_micros(rng.next() % 50)) {
                                        Ok(v) => seen2.see(v),
                                        Err(PopTimeoutError::Timeout) => {
                                            timeouts2.fetch_add(1, Ordering::Relaxed);
                                        }
                                        Err(PopTimeoutError::Closed) => return,
                                    }
                                }
                            }));
                            let (q, seen, timeouts) = (q.clone(), seen.clone(), timeouts.clone());
                            consumers.push(rt.spawn(async move {
                                let mut rng = Rng(11 + i);
                                loop {
                                    let d = Duration::from_micros(rng.next() % 50);
                                    let r = if rng.next() % 2 == 0 {
                                        q.pop_timeout(d).await
                                    } else {
                                        // The timer may win: the pop future is dropped.
                                        futures_lite::future::or(
                                            async { q.pop().await.map_err(PopTimeoutError::from) },
                                            async {
                                                futures_timer::Delay::new(d).await;
                                                Err(PopTimeoutError::Timeout)
                                            },
                                        )
                                        .await
                                    };
                                    match r {
                                        Ok(v) => seen.see(v),
                                        Err(PopTimeoutError::Timeout) => {
                                            timeouts.fetch_add(1, Ordering::Relaxed);
                                        }
                                        Err(PopTimeoutError::Closed) => return,
                                    }
                                }
                            }));
                        }
                        let producer_thread = {
                            let q = q.clone();
                            rt.thread(move || {
                                for v in 0..n {
                                    let mut item = v;
                                    loop {
                                        match q.push_timeout_blocking(item, Duration::from_micros(20)) {
                                            Ok(()) => break,
                                            Err(PushTimeoutError::Timeout(back)) => item = back,
                                            Err(PushTimeoutError::Closed(_)) => unreachable!(),
                                        }
                                    }
                                }
                            })
                        };
                        for v in n..2 * n {
                            let mut item = v;
                            loop {
                                match q.push_timeout(item, Duration::from_micros(20)).await {
                                    Ok(()) => break,
                                    Err(PushTimeoutError::Timeout(back)) => item = back,
                                    Err(PushTimeoutError::Closed(_)) => unreachable!(),
                                }
                            }
                        }
                        producer_thread.await;
                        q.close();
                        for c in consumers {
                            c.await;
                        }
                        seen.assert_exactly_once();
                        assert!(q.is_empty());
                    }
                });
            }

            /// Cancellation at the pop's await point (strict mode): a popper
            /// promised an item and then dropped passes the item on to the next waiter;
            /// without another waiter the item stays for the next pop.
            #[test]
            fn cancelled_pop_passes_item_on() {
                let q = C::unbounded().with_fairness(Fairness::Strict);
                let mut first = q.pop();
                let mut second = q.pop();
                assert!(poll_once(&mut first).is_pending());
                assert!(poll_once(&mut second).is_pending());
                assert_eq!(waiting_poppers(&q), 2);
                q.try_push(1).unwrap();
                // Promised to `first` (oldest): nobody else may take it.
                assert_eq!(q.try_pop(), Err(TryPopError::Empty));
                assert!(poll_once(&mut second).is_pending());
                drop(first);
                assert_eq!(poll_once(&mut second), Poll::Ready(Ok(1)));
                assert_eq!(waiting_poppers(&q), 0);

                // Dropped after being promised, with nobody else waiting.
                let mut lone = q.pop_timeout(Duration::from_secs(60));
                assert!(poll_once(&mut lone).is_pending());
                q.try_push(2).unwrap();
                drop(lone);
                assert_eq!(q.try_pop(), Ok(2));

                // Dropped before being promised: just withdraws.
                let mut pop = q.pop();
                assert!(poll_once(&mut pop).is_pending());
                drop(pop);
                assert_eq!(waiting_poppers(&q), 0);
                q.try_push(3).unwrap();
                assert_eq!(q.try_pop(), Ok(3));
            }

            /// Cancellation at the push's await point (strict mode): a dropped
            /// push never inserted its item, and passes a promised slot on.
            #[test]
            fn cancelled_push_never_inserts_and_passes_slot_on() {
                let q = C::bounded(1).with_fairness(Fairness::Strict);
                q.try_push(1).unwrap();
                let mut a = q.push(2);
                let mut b = q.push_timeout(3, Duration::from_secs(60));
                assert!(poll_once(&mut a).is_pending());
                assert!(poll_once(&mut b).is_pending());
                assert_eq!(waiting_pushers(&q), 2);
                assert_eq!(q.try_pop(), Ok(1)); // the slot is promised to `a`
                assert_eq!(q.try_push(9), Err(TryPushError::Full(9)));
                drop(a); // item 2 never went in; the slot passes to `b`
                assert_eq!(poll_once(&mut b), Poll::Ready(Ok(())));
                assert_eq!(q.try_pop(), Ok(3));
                assert!(q.is_empty());
                // Never polled: nothing inserted.
                drop(q.push(4));
                assert!(q.is_empty());
                assert_eq!(q.unfinished_tasks(), 2);
            }

            /// Strict mode: waiting poppers are served in the order they
            /// began waiting, and a fresh pop cannot barge past them.
            #[test]
            fn waiting_poppers_served_in_order() {
                let q = C::unbounded().with_fairness(Fairness::Strict);
                let mut pops: Vec<_> = (0..3).map(|_| q.pop()).collect();
                for p in &mut pops {
                    assert!(poll_once(p).is_pending());
                }
                for round in 0..3 {
                    q.try_push(round).unwrap();
                    let mut fresh = q.pop();
                    assert!(poll_once(&mut fresh).is_pending(), "a fresh pop barged");
                    for (i, p) in pops.iter_mut().enumerate().skip(round as usize + 1) {
                        assert!(poll_once(p).is_pending(), "waiter {i} served before waiter {round}");
                    }
                    assert_eq!(poll_once(&mut pops[round as usize]), Poll::Ready(Ok(round)));
                    drop(fresh);
                }
            }

            /// Eventual fairness (the default) with async poppers: a pushed
            /// item is handed to the oldest waiting task, as in strict mode
            /// (only blocking waiters are woken in place for running
            /// callers to race: see the unit tests in
            /// `src/queue/waiting/tests.rs`), and nobody barges past it. A
            /// task dropped after it was given an item gives it back.
            #[test]
            fn eventual_hands_items_to_waiting_tasks() {
                let q = C::unbounded()
                    .with_fairness(Fairness::Eventual(Duration::from_secs(3600)));
                let (first_w, first_flag) = flag_waker();
                let (second_w, second_flag) = flag_waker();
                let mut first = q.pop();
                let mut second = q.pop();
                assert!(poll_with(&mut first, &first_w).is_pending());
                assert!(poll_with(&mut second, &second_w).is_pending());
                q.try_push(1).unwrap();
                assert!(first_flag.take(), "the oldest popper is woken");
                assert!(!second_flag.take(), "only as many woken as items");
                assert_eq!(q.try_pop(), Err(TryPopError::Empty), "the item is the task's");
                assert_eq!(poll_with(&mut first, &first_w), Poll::Ready(Ok(1)));
                q.try_push(2).unwrap();
                assert!(second_flag.take());
                // Given the item, then dropped: it stays in the container.
                drop(second);
                assert_eq!(waiting_poppers(&q), 0);
                assert_eq!(q.try_pop(), Ok(2));
            }

            /// Eventual fairness with async pushers: a freed slot is handed
            /// to the oldest waiting task, and a running `try_push` cannot
            /// take it.
            #[test]
            fn eventual_hands_slots_to_waiting_tasks() {
                let q = C::bounded(1)
                    .with_fairness(Fairness::Eventual(Duration::from_secs(3600)));
                q.try_push(1).unwrap();
                let (w, flag) = flag_waker();
                let mut pusher = q.push(2);
                assert!(poll_with(&mut pusher, &w).is_pending());
                assert_eq!(q.try_pop(), Ok(1));
                assert!(flag.take(), "the oldest pusher is woken");
                assert_eq!(q.try_push(3), Err(TryPushError::Full(3)), "the slot is the task's");
                assert_eq!(poll_with(&mut pusher, &w), Poll::Ready(Ok(())));
                assert_eq!(q.try_pop(), Ok(2));
            }

            /// The blocking forms try once before they build their op (a
            /// push or pop that does not wait costs no driver); that
            /// attempt keeps the same promises as the op: in both modes, a
            /// `pop_timeout_blocking` cannot take an item handed to a
            /// waiting task, nor a `push_timeout_blocking` a slot.
            #[test]
            fn blocking_forms_do_not_take_what_a_task_was_given() {
                for fairness in [Fairness::Strict, Fairness::Eventual(Duration::from_secs(3600))] {
                    let q = C::bounded(1).with_fairness(fairness);
                    let (w, flag) = flag_waker();
                    let mut popper = q.pop();
                    assert!(poll_with(&mut popper, &w).is_pending());
                    q.try_push(1).unwrap();
                    assert!(flag.take(), "{fairness:?}: the popper is given the item");
                    assert_eq!(
                        q.pop_timeout_blocking(Duration::from_millis(20)),
                        Err(PopTimeoutError::Timeout),
                        "{fairness:?}: the item is the task's"
                    );
                    assert_eq!(poll_with(&mut popper, &w), Poll::Ready(Ok(1)));

                    q.try_push(2).unwrap();
                    let mut pusher = q.push(3);
                    assert!(poll_with(&mut pusher, &w).is_pending());
                    assert_eq!(q.try_pop(), Ok(2));
                    assert!(flag.take(), "{fairness:?}: the pusher is given the slot");
                    let err = q.push_timeout_blocking(4, Duration::from_millis(20)).unwrap_err();
                    assert!(err.is_timeout(), "{fairness:?}: the slot is the task's");
                    assert_eq!(err.into_inner(), 4);
                    assert_eq!(poll_with(&mut pusher, &w), Poll::Ready(Ok(())));
                    assert_eq!(q.try_pop(), Ok(3));
                    // With nothing promised, the blocking forms complete at once.
                    q.push_blocking(5).unwrap();
                    assert_eq!(q.pop_blocking(), Ok(5));
                }
            }

            /// `close()` wakes blocked poppers (threads and tasks) with
            /// `Closed`, and blocked pushers with their item back; buffered
            /// items are drained first, never dropped.
            #[test]
            fn close_wakes_waiters() {
                each_runtime(|rt| async move {
                    let q = Arc::new(C::<i32>::unbounded());
                    let t = {
                        let q = q.clone();
                        rt.thread(move || q.pop_blocking())
                    };
                    let task = {
                        let q = q.clone();
                        rt.spawn(async move { q.pop_timeout(Duration::MAX).await })
                    };
                    let mut mine = q.pop();
                    assert!(poll_once(&mut mine).is_pending());
                    wait_until_async(&rt, "three poppers wait", || waiting_poppers(&*q) == 3).await;
                    assert!(q.close());
                    assert!(!q.close());
                    assert_eq!(t.await, Err(PopError));
                    assert_eq!(task.await, Err(PopTimeoutError::Closed));
                    assert_eq!(mine.await, Err(PopError));

                    let q = Arc::new(C::bounded(2));
                    q.push(1).await.unwrap();
                    q.push(2).await.unwrap();
                    let t = {
                        let q = q.clone();
                        rt.thread(move || q.push_blocking(3))
                    };
                    let mut mine = q.push_timeout(4, Duration::MAX);
                    assert!(poll_once(&mut mine).is_pending());
                    wait_until_async(&rt, "two pushers wait", || waiting_pushers(&*q) == 2).await;
                    q.close();
                    assert_eq!(t.await, Err(PushError::Closed(3)));
                    assert_eq!(mine.await, Err(PushTimeoutError::Closed(4)));
                    assert_eq!(q.push(5).await, Err(PushError::Closed(5)));
                    let mut drained = vec![q.pop().await.unwrap(), q.try_pop().unwrap()];
                    drained.sort();
                    assert_eq!(drained, vec![1, 2]);
                    assert_eq!(q.pop().await, Err(PopError));
                    assert_eq!(q.try_pop(), Err(TryPopError::Closed));
                    assert_eq!(q.pop_timeout(Duration::ZERO).await, Err(PopTimeoutError::Closed));
                    // Close does not touch the task count.
                    assert_eq!(q.unfinished_tasks(), 2);
                    assert!(!q.join_timeout(Duration::ZERO).await);
                });
            }

            /// A popper promised an item when `close()` runs still gets it.
            #[test]
            fn close_keeps_promised_items() {
                let q = C::unbounded();
                let mut a = q.pop();
                let mut b = q.pop();
                assert!(poll_once(&mut a).is_pending());
                assert!(poll_once(&mut b).is_pending());
                q.try_push(7).unwrap(); // promised to `a`
                q.close(); // `b` wakes
                assert_eq!(poll_once(&mut b), Poll::Ready(Ok(7)).map(|r: Result<i32, PopError>| r));
                assert_eq!(poll_once(&mut a), Poll::Ready(Err(PopError)));
            }

            #[test]
            fn zero_and_max_timeouts() {
                each_runtime(|rt| async move {
                    let q = Arc::new(C::bounded(1));
                    assert_eq!(q.pop_timeout(Duration::ZERO).await, Err(PopTimeoutError::Timeout));
                    q.push_timeout(1, Duration::ZERO).await.unwrap();
                    assert_eq!(q.push_timeout(2, Duration::ZERO).await, Err(PushTimeoutError::Timeout(2)));
                    assert_eq!(q.pop_timeout(Duration::ZERO).await, Ok(1));
                    assert!(!q.join_timeout(Duration::ZERO).await);
                    q.task_done().unwrap();
                    assert!(q.join_timeout(Duration::ZERO).await);
                    assert!(q.join_timeout_blocking(Duration::ZERO));
                    // Duration::MAX waits (forever) instead of panicking.
                    let t = {
                        let q = q.clone();
                        rt.thread(move || q.pop_timeout_blocking(Duration::MAX))
                    };
                    let mut pop = q.pop_timeout(Duration::MAX);
                    assert!(poll_once(&mut pop).is_pending());
                    wait_until_async(&rt, "two poppers wait", || waiting_poppers(&*q) == 2).await;
                    q.push_timeout(10, Duration::MAX).await.unwrap();
                    // The first item is promised to whichever popper waited
                    // first; `zip` lets our pop run while the second push waits.
                    let (a, ()) = futures_lite::future::zip(pop, async {
                        q.push_timeout(20, Duration::MAX).await.unwrap()
                    })
                    .await;
                    let mut got = vec![a.unwrap(), t.await.unwrap()];
                    got.sort();
                    assert_eq!(got, vec![10, 20]);
                    q.push(11).await.unwrap();
                    assert_eq!(
                        q.push_timeout_blocking(12, Duration::ZERO),
                        Err(PushTimeoutError::Timeout(12))
                    );
                    let t = {
                        let q = q.clone();
                        rt.thread(move || q.push_timeout_blocking(12, Duration::MAX))
                    };
                    wait_until_async(&rt, "a pusher waits", || waiting_pushers(&*q) == 1).await;
                    assert_eq!(q.pop().await, Ok(11));
                    assert_eq!(t.await, Ok(()));
                    assert_eq!(q.pop_timeout_blocking(Duration::MAX), Ok(12));
                    let q2 = q.clone();
                    let joined = rt.thread(move || q2.join_timeout_blocking(Duration::MAX));
                    for _ in 0..4 {
                        q.task_done().unwrap();
                    }
                    assert!(joined.await);
                    assert!(q.join_timeout(Duration::MAX).await);
                });
            }

            /// A join waiter released by the last `task_done` completes even
            /// if a push raises the count again before it runs; a dropped
            /// join future changes nothing.
            #[test]
            fn join_generation_and_cancel() {
                let q = C::unbounded();
                q.try_push(1).unwrap();
                let mut join = q.join();
                let mut dropped = q.join_timeout(Duration::from_secs(60));
                assert!(poll_once(&mut join).is_pending());
                assert!(poll_once(&mut dropped).is_pending());
                drop(dropped);
                q.task_done().unwrap();
                q.try_push(2).unwrap();
                assert_eq!(poll_once(&mut join), Poll::Ready(()));
                let mut late = q.join();
                assert!(poll_once(&mut late).is_pending(), "a join begun after the push waits");
                q.task_done().unwrap();
                assert_eq!(poll_once(&mut late), Poll::Ready(()));
            }

            /// Items left inside are dropped exactly once when the container
            /// is dropped; popped and handed-back items are not dropped by it.
            #[test]
            fn drops() {
                #[derive(Debug)]
                struct Item(usize, Arc<Vec<AtomicUsize>>);
                impl Drop for Item {
                    fn drop(&mut self) {
                        self.1[self.0].fetch_add(1, Ordering::SeqCst);
                    }
                }
                impl PartialEq for Item {
                    fn eq(&self, o: &Self) -> bool {
                        self.0 == o.0
                    }
                }
                impl Eq for Item {}
                impl PartialOrd for Item {
                    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                        Some(self.cmp(o))
                    }
                }
                impl Ord for Item {
                    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                        self.0.cmp(&o.0)
                    }
                }
                for capacity in [None, Some(100)] {
                    let drops: Arc<Vec<AtomicUsize>> = Arc::new((0..101).map(|_| AtomicUsize::new(0)).collect());
                    let q = match capacity {
                        Some(c) => C::bounded(c),
                        None => C::unbounded(),
                    };
                    for i in 0..100 {
                        q.push_blocking(Item(i, drops.clone())).unwrap();
                    }
                    let extra = Item(100, drops.clone());
                    let popped: Vec<Item>;
                    if capacity.is_some() {
                        // Full: the item is handed back, not dropped…
                        let back = q.try_push(extra).unwrap_err().into_inner();
                        let back = q.push_timeout_blocking(back, Duration::ZERO).unwrap_err().into_inner();
                        popped = (0..30).map(|_| q.pop_blocking().unwrap()).collect();
                        q.push_blocking(back).unwrap(); // …and goes in later
                    } else {
                        popped = (0..30).map(|_| q.pop_blocking().unwrap()).collect();
                        drop(q.push(extra)); // never polled: dropped with the future
                        assert_eq!(drops[100].load(Ordering::SeqCst), 1);
                    }
                    assert_eq!(drops.iter().take(100).map(|d| d.load(Ordering::SeqCst)).sum::<usize>(), 0);
                    drop(q);
                    drop(popped);
                    for (i, d) in drops.iter().enumerate() {
                        assert_eq!(d.load(Ordering::SeqCst), 1, "item {i} dropped {d:?} times");
                    }
                }
            }

            #[test]
            fn debug_lists_items_in_pop_order() {
                let q = C::bounded(8);
                assert_eq!(
                    format!("{q:?}"),
                    format!(
                        "{} {{ items: [], capacity: Some(8), closed: false, unfinished_tasks: 0, waiting_poppers: 0, waiting_pushers: 0 }}",
                        stringify!($C)
                    )
                );
                for x in [111, 333, 222] {
                    q.try_push(x).unwrap();
                }
                q.close();
                let expected = order(&[111, 333, 222]);
                assert_eq!(
                    format!("{q:?}"),
                    format!(
                        "{} {{ items: {:?}, capacity: Some(8), closed: true, unfinished_tasks: 3, waiting_poppers: 0, waiting_pushers: 0 }}",
                        stringify!($C),
                        expected
                    )
                );
                let popped: Vec<i32> = std::iter::from_fn(|| q.try_pop().ok()).collect();
                assert_eq!(popped, expected);
            }

            #[test]
            #[should_panic(expected = "needs a capacity of at least 1 (got 0)")]
            fn bounded_zero_panics() {
                let _ = C::<i32>::bounded(0);
            }

            #[test]
            fn capacity_and_defaults() {
                let q: C<u8> = Default::default();
                assert_eq!(q.capacity(), None);
                assert!(!q.is_full());
                assert_eq!(C::<u8>::bounded(3).capacity(), Some(3));
                static STATIC: C<u8> = C::unbounded(); // const constructor
                STATIC.try_push(1).unwrap();
                assert_eq!(STATIC.try_pop(), Ok(1));
            }
        }
    };
}

kind_tests!(queue, Queue, |v| v.to_vec());
kind_tests!(stack, Stack, |v| v.iter().rev().copied().collect());
kind_tests!(priority_queue, PriorityQueue, |v| {
    let mut v = v.to_vec();
    v.sort_by(|a, b| b.cmp(a));
    v
});

/// Exact FIFO order between one producer thread and one consumer task.
#[test]
fn queue_spsc_order_thread_to_task() {
    each_runtime(|rt| async move {
        let q = Arc::new(rallypoint::Queue::bounded(16));
        let producer = {
            let q = q.clone();
            rt.thread(move || {
                for i in 0..scale(5_000) {
                    q.push_blocking(i).unwrap();
                }
            })
        };
        for i in 0..scale(5_000) {
            assert_eq!(q.pop().await, Ok(i));
        }
        producer.await;
    });
}

#[test]
fn priority_queue_reverse_is_lowest_first() {
    use std::cmp::Reverse;
    let pq = rallypoint::PriorityQueue::unbounded();
    for (p, name) in [(2, "b"), (1, "a"), (3, "c")] {
        pq.try_push(Reverse((p, name))).unwrap();
    }
    let order: Vec<&str> = std::iter::from_fn(|| pq.try_pop().ok())
        .map(|Reverse((_, n))| n)
        .collect();
    assert_eq!(order, ["a", "b", "c"]);
}

#[test]
fn errors_hand_items_back_and_format() {
    struct NoDebug(u8);
    let e = PushError::Closed(NoDebug(1));
    assert_eq!(format!("{e:?}"), "Closed(..)");
    assert_eq!(e.to_string(), "push on a closed container");
    assert_eq!(e.into_inner().0, 1);
    let e = TryPushError::Full(NoDebug(2));
    assert_eq!(format!("{e:?}"), "Full(..)");
    assert!(e.is_full() && !e.is_closed());
    assert_eq!(e.into_inner().0, 2);
    let e = PushTimeoutError::Timeout(NoDebug(3));
    assert_eq!(format!("{e:?}"), "Timeout(..)");
    assert!(e.is_timeout());
    assert_eq!(e.into_inner().0, 3);
    assert_eq!(
        TryPushError::from(PushError::Closed(4)),
        TryPushError::Closed(4)
    );
    assert_eq!(
        PushTimeoutError::from(PushError::Closed(4)),
        PushTimeoutError::Closed(4)
    );
    assert_eq!(TryPopError::from(PopError), TryPopError::Closed);
    assert_eq!(PopTimeoutError::from(PopError), PopTimeoutError::Closed);
    assert_eq!(
        PopError.to_string(),
        "pop from a closed and drained container"
    );
    assert_eq!(
        TaskDoneError.to_string(),
        "task_done() called more times than items were pushed"
    );
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(TryPushError::Closed(5u8));
    assert_eq!(boxed.to_string(), "push on a closed container");
    let e = PushTimeoutError::Closed(String::from("x"));
    assert_eq!(e.clone(), e);
}

/// Compile-time: every public type and future is `Send`/`Sync` when its
/// payload is, and the futures are `Unpin` whatever the payload.
#[test]
fn send_sync_unpin() {
    use rallypoint::future::{Join, JoinTimeout, Pop, PopTimeout, Push, PushTimeout};
    use rallypoint::{PriorityQueue, Queue, Stack};
    use std::marker::PhantomPinned;
    fn send_sync<T: Send + Sync>() {}
    fn send_unpin<T: Send + Unpin>() {}
    send_sync::<Queue<String>>();
    send_sync::<Stack<String>>();
    send_sync::<PriorityQueue<String>>();
    // Usable inside `catch_unwind` by reference, as with std's primitives
    // (regression: parking_lot's mutex is not RefUnwindSafe by itself).
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<Queue<String>>();
    unwind_safe::<Stack<String>>();
    unwind_safe::<PriorityQueue<String>>();
    send_sync::<Queue<std::cell::Cell<u8>>>(); // Send payload suffices, like Mutex
    send_unpin::<Push<'static, String>>();
    send_unpin::<PushTimeout<'static, String>>();
    send_unpin::<Pop<'static, String>>();
    send_unpin::<PopTimeout<'static, String>>();
    send_unpin::<Join<'static, String>>();
    send_unpin::<JoinTimeout<'static, String>>();
    send_sync::<Push<'static, String>>();
    send_sync::<Pop<'static, String>>();
    send_unpin::<Push<'static, PhantomPinned>>();
    send_unpin::<Pop<'static, PhantomPinned>>();
    send_sync::<PushError<String>>();
    send_sync::<PushTimeoutError<String>>();
    send_sync::<TryPushError<String>>();
    send_sync::<PopError>();
    send_sync::<PopTimeoutError>();
    send_sync::<TryPopError>();
    send_sync::<TaskDoneError>();
}
