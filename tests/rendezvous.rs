#![cfg(not(loom))]

//! `Queue::rendezvous()`: a push completes only when a pop takes its item
//! (crossbeam's `bounded(0)`). Every test checks the meeting itself — a push
//! still pending while nobody pops, done once a pop took the item — in the
//! world it names (threads, tasks under every executor, both at once), and
//! what cancellation, timeouts and `close` leave behind: a push that did
//! not return `Ok` never delivered its item.

mod common;

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::*;
use rallypoint::{PopError, PopTimeoutError, PushError, PushTimeoutError, Queue, TryPopError};

/// An item that counts its drops.
#[derive(Debug)]
struct Counted(u32, Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn reports_no_room() {
    let q = Queue::<u8>::rendezvous();
    assert_eq!(q.capacity(), Some(0));
    assert!(q.is_full());
    assert!(q.is_empty());
    assert_eq!(q.len(), 0);
    assert!(q.try_push(1).unwrap_err().is_full());
    assert_eq!(q.try_pop(), Err(TryPopError::Empty));
    assert_eq!(q.unfinished_tasks(), 0);
    assert!(format!("{q:?}").contains("capacity: Some(0)"));
}

#[test]
fn blocking_push_waits_for_a_pop() {
    blocking(|| {
        // Push first: the pusher's item waits in the queue until a pop.
        let q = Arc::new(Queue::rendezvous());
        let pusher = {
            let q = q.clone();
            std::thread::spawn(move || q.push_blocking(7))
        };
        wait_until("the pusher's item is in", || q.len() == 1);
        // Nobody popped: the push cannot have returned.
        assert!(!pusher.is_finished());
        assert_eq!(q.pop_blocking(), Ok(7));
        assert_eq!(pusher.join().unwrap(), Ok(()));
        assert!(q.is_empty());

        // Pop first: the push meets the waiting popper.
        let popper = {
            let q = q.clone();
            std::thread::spawn(move || q.pop_blocking())
        };
        wait_until("the popper waits", || waiting_poppers(&*q) == 1);
        q.push_blocking(8).unwrap();
        assert_eq!(popper.join().unwrap(), Ok(8));
        assert!(q.is_empty());
        assert_eq!(q.unfinished_tasks(), 2);
    });
}

#[test]
fn async_push_completes_only_when_taken() {
    each_runtime(|rt| async move {
        let q = Arc::new(Queue::rendezvous());
        {
            let mut push = q.push(1);
            assert!(poll_once(&mut push).is_pending());
            assert_eq!(q.len(), 1);
            assert!(poll_once(&mut push).is_pending(), "nobody took it yet");
            assert_eq!(q.try_pop(), Ok(1));
            assert_eq!(poll_once(&mut push), Poll::Ready(Ok(())));
        }

        // A task pops what a thread pushes, and the other way round.
        let thread_push = {
            let q = q.clone();
            rt.thread(move || q.push_blocking(2))
        };
        assert_eq!(q.pop().await, Ok(2));
        assert_eq!(thread_push.await, Ok(()));
        let thread_pop = {
            let q = q.clone();
            rt.thread(move || q.pop_blocking())
        };
        q.push(3).await.unwrap();
        assert_eq!(thread_pop.await, Ok(3));

        // Task to task, many times, in order.
        let popper = {
            let q = q.clone();
            rt.spawn(async move {
                let mut got = Vec::new();
                for _ in 0..100 {
                    got.push(q.pop().await.unwrap());
                }
                got
            })
        };
        for i in 0..100 {
            q.push(i).await.unwrap();
        }
        assert_eq!(popper.await, (0..100).collect::<Vec<_>>());
        assert!(q.is_empty());
    });
}

#[test]
fn cancelled_push_takes_its_item_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::rendezvous();
    let mut push = q.push(Counted(1, drops.clone()));
    assert!(poll_once(&mut push).is_pending());
    assert_eq!((q.len(), q.unfinished_tasks()), (1, 1));
    drop(push);
    // The item left with the future, and was dropped exactly once.
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
    assert!(q.try_pop().unwrap_err().is_empty());

    // The slot is free for the next pusher.
    let mut push = q.push(Counted(2, drops.clone()));
    assert!(poll_once(&mut push).is_pending());
    assert_eq!(q.try_pop().unwrap().0, 2);
    assert!(matches!(poll_once(&mut push), Poll::Ready(Ok(()))));
}

#[test]
fn cancelled_push_revokes_the_item_promised_to_a_popper() {
    // The item was promised to a waiting task; its pusher gives up before
    // the task runs. The task must neither see `Closed` nor get the item:
    // it queues up again and gets the next one.
    let q = Queue::rendezvous();
    let mut pop = q.pop();
    assert!(poll_once(&mut pop).is_pending());
    let mut push = q.push(1);
    assert!(poll_once(&mut push).is_pending());
    drop(push);
    assert!(poll_once(&mut pop).is_pending(), "the item was taken back");
    assert_eq!(q.len(), 0);
    // Still (again) waiting: `try_push` finds it.
    q.try_push(2).unwrap();
    assert_eq!(poll_once(&mut pop), Poll::Ready(Ok(2)));
}

#[test]
fn timed_out_push_revokes_the_item_promised_to_a_popper() {
    blocking(|| {
        let q = Queue::rendezvous();
        let mut pop = q.pop_timeout(Duration::from_secs(60));
        assert!(poll_once(&mut pop).is_pending());
        // The waiting task is promised the item but is never polled again
        // before the pusher's deadline.
        assert_eq!(
            q.push_timeout_blocking(1, Duration::from_millis(20)),
            Err(PushTimeoutError::Timeout(1))
        );
        assert!(poll_once(&mut pop).is_pending());
        q.try_push(2).unwrap();
        assert_eq!(poll_once(&mut pop), Poll::Ready(Ok(2)));
    });
}

#[test]
fn cancelled_pop_passes_the_item_on() {
    let q = Queue::rendezvous();
    let (mut first, mut second) = (q.pop(), q.pop());
    assert!(poll_once(&mut first).is_pending());
    assert!(poll_once(&mut second).is_pending());
    let mut push = q.push(5);
    assert!(poll_once(&mut push).is_pending());
    // The item was promised to `first`, which is dropped unpolled.
    drop(first);
    assert!(poll_once(&mut push).is_pending(), "not taken yet");
    assert_eq!(poll_once(&mut second), Poll::Ready(Ok(5)));
    assert_eq!(poll_once(&mut push), Poll::Ready(Ok(())));
}

#[test]
fn push_timeout_hands_the_item_back() {
    blocking(|| {
        let q = Queue::rendezvous();
        let start = Instant::now();
        assert_eq!(
            q.push_timeout_blocking("a", Duration::from_millis(30)),
            Err(PushTimeoutError::Timeout("a"))
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
        // A zero timeout does not wait either, and nobody takes it at once.
        assert_eq!(
            q.push_timeout_blocking("b", Duration::ZERO),
            Err(PushTimeoutError::Timeout("b"))
        );
        assert_eq!(
            q.pop_timeout_blocking(Duration::from_millis(5)),
            Err(PopTimeoutError::Timeout)
        );
    });
    each_runtime(|_rt| async move {
        let q = Queue::rendezvous();
        let start = Instant::now();
        assert_eq!(
            q.push_timeout(9, Duration::from_millis(30)).await,
            Err(PushTimeoutError::Timeout(9))
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
    });
}

#[test]
fn push_timeout_succeeds_when_a_popper_comes() {
    each_runtime(|rt| async move {
        let q = Arc::new(Queue::rendezvous());
        let popper = {
            let q = q.clone();
            rt.thread(move || {
                wait_until("the pusher's item is in", || q.len() == 1);
                q.pop_blocking()
            })
        };
        q.push_timeout(4, Duration::from_secs(60)).await.unwrap();
        assert_eq!(popper.await, Ok(4));
    });
}

#[test]
fn try_push_needs_a_waiting_popper() {
    blocking(|| {
        let q = Arc::new(Queue::rendezvous());
        assert_eq!(q.try_push(1).unwrap_err().into_inner(), 1);
        let popper = {
            let q = q.clone();
            std::thread::spawn(move || q.pop_blocking())
        };
        wait_until("the popper waits", || waiting_poppers(&*q) == 1);
        q.try_push(2).unwrap();
        assert_eq!(popper.join().unwrap(), Ok(2));
        // The popper is gone: nobody to hand to.
        assert!(q.try_push(3).unwrap_err().is_full());
    });
}

#[test]
fn try_pop_completes_a_waiting_push() {
    blocking(|| {
        let q = Arc::new(Queue::rendezvous());
        let pusher = {
            let q = q.clone();
            std::thread::spawn(move || q.push_blocking(6))
        };
        wait_until("the pusher's item is in", || q.len() == 1);
        assert_eq!(q.try_pop(), Ok(6));
        assert_eq!(pusher.join().unwrap(), Ok(()));
        assert_eq!(q.try_pop(), Err(TryPopError::Empty));
    });
}

#[test]
fn pushers_meet_poppers_in_arrival_order() {
    blocking(|| {
        let q = Arc::new(Queue::rendezvous());
        let mut pushers = Vec::new();
        for i in 0..4 {
            let q2 = q.clone();
            pushers.push(std::thread::spawn(move || q2.push_blocking(i)));
            // The first one's item is in the slot, the others wait for it.
            wait_until("the pusher waits", || {
                q.len() == 1 && debug_field(&*q, "waiting_pushers") == i
            });
        }
        for i in 0..4 {
            assert_eq!(q.pop_blocking(), Ok(i));
        }
        for p in pushers {
            assert_eq!(p.join().unwrap(), Ok(()));
        }
    });
}

#[test]
fn close_hands_waiting_items_back() {
    blocking(|| {
        let q = Arc::new(Queue::rendezvous());
        let pusher = {
            let q = q.clone();
            std::thread::spawn(move || q.push_blocking(1))
        };
        let queued = {
            let q2 = q.clone();
            wait_until("the first pusher's item is in", || q.len() == 1);
            std::thread::spawn(move || q2.push_blocking(2))
        };
        wait_until("the second pusher waits", || {
            debug_field(&*q, "waiting_pushers") == 1
        });
        assert!(q.close());
        assert_eq!(pusher.join().unwrap(), Err(PushError::Closed(1)));
        assert_eq!(queued.join().unwrap(), Err(PushError::Closed(2)));
        assert_eq!(q.pop_blocking(), Err(PopError));
        assert_eq!((q.len(), q.unfinished_tasks()), (0, 0));
    });
    each_runtime(|_rt| async move {
        let q = Queue::<u8>::rendezvous();
        let mut pop = q.pop();
        assert!(poll_once(&mut pop).is_pending());
        q.close();
        assert_eq!(poll_once(&mut pop), Poll::Ready(Err(PopError)));
        assert!(q.push(1).await.unwrap_err().into_inner() == 1);
    });
}

#[test]
fn join_counts_delivered_items_only() {
    blocking(|| {
        let q = Arc::new(Queue::rendezvous());
        assert!(
            q.push_timeout_blocking(0, Duration::from_millis(1))
                .is_err()
        );
        assert!(
            q.join_timeout_blocking(Duration::ZERO),
            "a taken-back item is no task"
        );
        let worker = {
            let q = q.clone();
            std::thread::spawn(move || {
                let n = q.pop_blocking().unwrap();
                q.task_done().unwrap();
                n
            })
        };
        q.push_blocking(1).unwrap();
        q.join_blocking();
        assert_eq!(worker.join().unwrap(), 1);
    });
}

/// Pushes and pops from threads and tasks at once, each with a random mix
/// of timeouts (tiny to long) and plain waits, then a close. Whatever the
/// interleaving, the items popped are exactly those whose push returned
/// `Ok`, each once: no failed or timed-out push delivered its item.
#[test]
fn exactly_the_ok_pushes_are_delivered() {
    const PRODUCERS: usize = 4;
    const CONSUMERS: usize = 4;
    let per = scale(300);
    for world in World::ALL {
        each_runtime(move |rt| async move {
            let q = Arc::new(Queue::rendezvous());
            let n = PRODUCERS * per;
            let delivered = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let popped = Arc::new((0..n).map(|_| AtomicUsize::new(0)).collect::<Vec<_>>());
            let producers = {
                let (q, delivered) = (q.clone(), delivered.clone());
                bunch(&rt, world, PRODUCERS, move |p, blocking| {
                    let (q, delivered) = (q.clone(), delivered.clone());
                    async move {
                        for k in 0..per {
                            let item = p * per + k;
                            let timeout = match k % 4 {
                                0 => None,
                                1 => Some(Duration::ZERO),
                                2 => Some(Duration::from_micros(50)),
                                _ => Some(Duration::from_millis(5)),
                            };
                            let ok = match (timeout, blocking) {
                                (None, true) => q.push_blocking(item).is_ok(),
                                (None, false) => q.push(item).await.is_ok(),
                                (Some(d), true) => q.push_timeout_blocking(item, d).is_ok(),
                                (Some(d), false) => q.push_timeout(item, d).await.is_ok(),
                            };
                            if ok {
                                delivered[item].fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            };
            let consumers = {
                let (q, popped) = (q.clone(), popped.clone());
                bunch(&rt, world, CONSUMERS, move |c, blocking| {
                    let (q, popped) = (q.clone(), popped.clone());
                    async move {
                        let mut k = c;
                        loop {
                            k += 1;
                            let got = match (k % 3 == 0, blocking) {
                                (false, true) => q.pop_blocking().map_err(|_| true),
                                (false, false) => q.pop().await.map_err(|_| true),
                                (true, true) => q
                                    .pop_timeout_blocking(Duration::from_micros(100))
                                    .map_err(|e| e.is_closed()),
                                (true, false) => q
                                    .pop_timeout(Duration::from_micros(100))
                                    .await
                                    .map_err(|e| e.is_closed()),
                            };
                            match got {
                                Ok(item) => {
                                    popped[item].fetch_add(1, Ordering::SeqCst);
                                }
                                Err(true) => break,
                                Err(false) => {}
                            }
                        }
                    }
                })
            };
            join_all(producers).await;
            q.close();
            join_all(consumers).await;
            let mut ok = 0;
            for i in 0..n {
                let (d, p) = (
                    delivered[i].load(Ordering::SeqCst),
                    popped[i].load(Ordering::SeqCst),
                );
                assert_eq!(
                    d,
                    p,
                    "{world:?}, {}: item {i} pushed Ok {d}× but popped {p}×",
                    rt.name()
                );
                ok += d;
            }
            assert!(ok > 0, "some pushes met a popper");
            assert!(q.is_empty());
        });
    }
}
