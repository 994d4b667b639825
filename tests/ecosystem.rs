#![cfg(not(loom))]

//! Fitting next to the crates a user already has (issue 14).

// `use rallypoint::*;` next to a crate named `futures` (futures-util under
// that name here) compiled only once the module of named futures stopped
// being called `futures` (E0659, "`futures` is ambiguous").
#[allow(unused_imports)]
use rallypoint::*;

mod common;

use common::*;
use std::sync::Arc;
use std::time::Duration;

#[test]
fn glob_import_next_to_a_futures_crate() {
    use futures::StreamExt;
    let items = futures::stream::iter([1, 2, 3]);
    let sum = futures_lite::future::block_on(items.fold(0, |a, b| async move { a + b }));
    assert_eq!(sum, 6);
    // And the named futures are where the docs say.
    let event = Event::new();
    event.set();
    let wait: rallypoint::future::EventWait<'_> = event.wait();
    futures_lite::future::block_on(wait);
}

// The synchronisation primitives are `UnwindSafe` and `RefUnwindSafe`
// (usable across `catch_unwind` without wrappers). The locks that hold a
// value — `Mutex<T>`, `ReentrantMutex<T>` and `Condition<T>` (a `Mutex<T>`
// inside) — are not, as in async-lock and parking_lot: they do not poison,
// so a panic while holding one may leave the value half-changed, which is
// what `RefUnwindSafe` would deny.
#[test]
fn primitives_are_unwind_safe() {
    fn check<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    check::<Barrier>();
    check::<Event>();
    check::<Condvar>();
    check::<Semaphore>();
    check::<Queue<u32>>();
    check::<Stack<u32>>();
    check::<PriorityQueue<u32>>();
    #[cfg(target_os = "linux")]
    {
        check::<rallypoint::process::Event>();
        check::<rallypoint::process::Semaphore>();
        check::<rallypoint::process::Queue<u32>>();
        check::<rallypoint::process::Condition>();
    }
}

// The containers share their error types; the messages fit all three.
#[test]
fn error_texts_fit_every_container() {
    let stack = Stack::bounded(1);
    stack.try_push(1).unwrap();
    let full = stack.try_push(2).unwrap_err().to_string();
    let timed_out = stack
        .push_timeout_blocking(3, std::time::Duration::ZERO)
        .unwrap_err()
        .to_string();
    stack.close();
    let closed = stack.try_push(4).unwrap_err().to_string();
    stack.try_pop().unwrap();
    let drained = stack.try_pop().unwrap_err().to_string();
    for text in [full, timed_out, closed, drained] {
        assert!(!text.contains("queue"), "{text:?}");
    }
}

// Workers that panic or return early while holding a popped item in a
// `TaskGuard`: the guard marks the task done, so `join()` returns — for
// threads and tasks, on all three containers.
#[test]
fn task_guards_keep_join_from_hanging() {
    each_runtime(|rt| async move {
        let q = Arc::new(Queue::bounded(8));
        for i in 0..6 {
            q.push(i).await.unwrap();
        }
        let workers = {
            let q = q.clone();
            bunch(&rt, World::Mixed, 6, move |i, blocking| {
                let q = q.clone();
                async move {
                    let job = if blocking {
                        q.pop_task_blocking().unwrap()
                    } else {
                        q.pop_task().await.unwrap()
                    };
                    match i % 3 {
                        // Returns early: the guard is dropped unused.
                        0 => {}
                        // Takes the item out: done at once.
                        1 => drop(job.into_inner()),
                        // Panics holding it (caught here, so the harness
                        // goes on): the unwind drops the guard.
                        _ => {
                            let caught =
                                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                    let _job = job;
                                    panic!("worker {i} fails");
                                }));
                            assert!(caught.is_err());
                        }
                    }
                }
            })
        };
        join_all(workers).await;
        assert_eq!(q.unfinished_tasks(), 0);
        assert!(q.join_timeout(Duration::from_secs(5)).await);
    });
    // The other two containers, and the timeout / try forms.
    let stack = Stack::unbounded();
    stack.try_push(1).unwrap();
    stack.try_push(2).unwrap();
    assert_eq!(*stack.try_pop_task().unwrap(), 2);
    assert_eq!(*stack.pop_task_timeout_blocking(Duration::ZERO).unwrap(), 1);
    stack.join_blocking();
    let pq = Arc::new(PriorityQueue::unbounded());
    pq.try_push(3).unwrap();
    let thread = {
        let pq = pq.clone();
        std::thread::spawn(move || {
            let _job = pq.pop_task_blocking().unwrap();
            panic!("fails");
        })
    };
    assert!(thread.join().is_err());
    assert!(pq.join_timeout_blocking(Duration::from_secs(5)));
}

// The queue as a stream, and the named futures in `futures::select!`
// without `.fuse()` (they are `FusedFuture`, the streams `FusedStream`).
#[test]
fn streams_and_select_without_fuse() {
    each_runtime(|rt| async move {
        let a = Arc::new(Queue::bounded(4));
        let b = Arc::new(Stack::unbounded());
        let mut a_items = a.stream_arc();
        let mut b_items = b.stream();
        let producer = {
            let (a, b) = (a.clone(), b.clone());
            rt.thread(move || {
                for i in 0..10 {
                    a.push_blocking(i).unwrap();
                    b.push_blocking(100 + i).unwrap();
                }
                a.close();
                b.close();
            })
        };
        let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
        loop {
            futures::select! {
                item = a_items.next() => from_a.extend(item),
                item = b_items.next() => from_b.extend(item),
                complete => break,
            }
        }
        producer.await;
        assert_eq!(from_a, (0..10).collect::<Vec<_>>(), "FIFO, each once");
        from_b.sort_unstable();
        assert_eq!(from_b, (100..110).collect::<Vec<_>>());
        // Through the `Stream` trait, with futures' combinators.
        let c = PriorityQueue::unbounded();
        for i in [2, 9, 4] {
            c.try_push(i).unwrap();
        }
        c.close();
        let doubled: Vec<i32> =
            futures::StreamExt::collect(futures::StreamExt::map(c.stream(), |i| i * 2)).await;
        assert_eq!(doubled, [18, 8, 4]);
        // Named futures in select! as they are.
        let event = Event::new();
        let q = Queue::<u8>::unbounded();
        q.try_push(1).unwrap();
        let mut wait = event.wait();
        let mut pop = q.pop();
        futures::select! {
            _ = wait => panic!("the event is not set"),
            item = pop => assert_eq!(item, Ok(1)),
        }
    });
}

// Batches and the blocking iterator.
#[test]
fn batches_and_blocking_iteration() {
    each_runtime(|rt| async move {
        let q = Arc::new(Queue::unbounded());
        assert!(q.try_pop_many(4).is_empty());
        let waiter = {
            let q = q.clone();
            rt.spawn(async move { q.pop_many(3).await })
        };
        rt.sleep(Duration::from_millis(10)).await;
        q.push(1).await.unwrap();
        let first = waiter.await;
        assert!(!first.is_empty() && first.len() <= 3, "{first:?}");
        for i in 2..=6 {
            q.push(i).await.unwrap();
        }
        let mut rest = q.try_pop_many(2);
        assert_eq!(rest.len(), 2);
        rest.extend(q.drain());
        let mut all = first;
        all.extend(rest);
        assert_eq!(all, [1, 2, 3, 4, 5, 6]);
        q.push(7).await.unwrap();
        q.close();
        let q2 = q.clone();
        let iterated = rt
            .thread(move || q2.iter_blocking().collect::<Vec<_>>())
            .await;
        assert_eq!(iterated, [7]);
        assert!(q.pop_many(5).await.is_empty(), "closed and drained");
    });
}

// Every named future is a `FusedFuture`, so `futures::select!` takes it
// without `.fuse()`.
#[test]
fn every_named_future_is_fused() {
    use futures::future::FusedFuture;
    use rallypoint::future::*;
    fn fused<F: FusedFuture>() {}
    type Pred = fn(&mut u8) -> bool;
    fused::<BarrierWait<'static>>();
    fused::<ConditionLock<'static, u8>>();
    fused::<ConditionWait<'static, u8>>();
    fused::<ConditionWaitTimeout<'static, u8>>();
    fused::<ConditionWaitWhile<'static, u8, Pred>>();
    fused::<ConditionWaitWhileTimeout<'static, u8, Pred>>();
    fused::<CondvarWait<'static, u8>>();
    fused::<CondvarWaitTimeout<'static, u8>>();
    fused::<CondvarWaitWhile<'static, u8, Pred>>();
    fused::<CondvarWaitWhileTimeout<'static, u8, Pred>>();
    fused::<EventWait<'static>>();
    fused::<EventWaitTimeout<'static>>();
    fused::<Join<'static, u8>>();
    fused::<MutexLock<'static, u8>>();
    fused::<MutexLockArc<u8>>();
    fused::<MutexLockArcTimeout<u8>>();
    fused::<MutexLockTimeout<'static, u8>>();
    fused::<JoinTimeout<'static, u8>>();
    fused::<NextItem<'static, 'static, u8>>();
    fused::<Pop<'static, u8>>();
    fused::<PopTask<'static, u8>>();
    fused::<PopTaskTimeout<'static, u8>>();
    fused::<PopTimeout<'static, u8>>();
    fused::<Push<'static, u8>>();
    fused::<PushTimeout<'static, u8>>();
    fused::<SemaphoreAcquire<'static>>();
    fused::<SemaphoreAcquireArc>();
    fused::<SemaphoreAcquireArcTimeout>();
    fused::<SemaphoreAcquireTimeout<'static>>();
    #[cfg(target_os = "linux")]
    {
        use rallypoint::process;
        fused::<process::EventWait<'static>>();
        fused::<process::LockAcquire<'static>>();
        fused::<process::BarrierWait<'static>>();
        fused::<process::SemaphoreAcquire<'static>>();
        fused::<process::QueuePop<'static, u8>>();
        fused::<process::QueuePush<'static, u8>>();
        fused::<process::QueueJoin<'static, u8>>();
        fused::<process::QueuePopTask<'static, u8>>();
        fused::<process::ConditionWait<'static>>();
        fused::<process::ConditionWaitTimeout<'static>>();
    }
}

// Channel-style ownership: consumers waiting in threads and tasks are
// released (`Closed`) when the last producer is dropped — also one that
// panicked — and pushes fail with the item back once every consumer is
// gone.
#[test]
fn last_producer_drop_closes_the_channel() {
    each_runtime(|rt| async move {
        let (tx, rx) = Queue::<u32>::bounded(4).into_channel();
        let consumers = {
            let rx = rx.clone();
            bunch(&rt, World::Mixed, 4, move |_, blocking| {
                let rx = rx.clone();
                async move {
                    let mut got = Vec::new();
                    if blocking {
                        got.extend(rx.iter_blocking());
                    } else {
                        let mut items = rx.stream();
                        while let Some(i) = items.next().await {
                            got.push(i);
                        }
                    }
                    got
                }
            })
        };
        let tx2 = tx.clone();
        tx.push(1).await.unwrap();
        drop(tx);
        assert!(!rx.is_closed(), "a producer is left");
        // The last producer panics: its drop during the unwind closes.
        let panicked = rt
            .thread(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                    tx2.push_blocking(2).unwrap();
                    let _tx = tx2;
                    panic!("the producer fails");
                }))
                .is_err()
            })
            .await;
        assert!(panicked);
        let mut all: Vec<u32> = join_all(consumers).await.into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(
            all,
            [1, 2],
            "every item popped once, then every consumer saw Closed"
        );
        assert!(rx.is_closed());
        // The other direction: no consumer left, pushes hand the item back.
        let (tx, rx) = Stack::<u32>::unbounded().into_channel();
        assert_eq!((tx.producer_count(), tx.consumer_count()), (1, 1));
        drop(rx);
        assert_eq!(tx.push(7).await, Err(PushError::Closed(7)));
    });
}

// With the `tokio` feature, async timeouts follow tokio's clock: under
// paused time a 3 s timeout returns at once (auto-advance), as
// `tokio::time::timeout` does. (`cargo test --features tokio --test
// ecosystem`; CI runs it.)
#[cfg(feature = "tokio")]
#[test]
fn async_timeouts_follow_tokios_paused_clock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    rt.block_on(async {
        let event = Event::new();
        assert!(!event.wait_timeout(Duration::from_secs(3)).await);
        let q = Queue::<u8>::unbounded();
        assert!(
            q.pop_timeout(Duration::from_secs(3600))
                .await
                .unwrap_err()
                .is_timeout()
        );
        let mutex = std::sync::Arc::new(Mutex::new(0u8));
        let _held = mutex.lock().await;
        assert!(mutex.lock_timeout(Duration::from_secs(3)).await.is_none());
        assert!(
            mutex
                .lock_arc_timeout(Duration::from_secs(3))
                .await
                .is_none()
        );
        // tokio's own timeout next to it, for comparison.
        assert!(
            tokio::time::timeout(Duration::from_secs(3), event.wait())
                .await
                .is_err()
        );
    });
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?} of real time",
        start.elapsed()
    );
    // Outside tokio the runtime-agnostic timer still works.
    let event = Event::new();
    assert!(!futures_lite::future::block_on(
        event.wait_timeout(Duration::from_millis(10))
    ));
}
