#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::Queue` across processes: the four forms of push, pop and
//! join, `try_`, `close`, items that cannot cross (too large, another
//! type), cancellation losing nothing; exactly-once between threads, tasks
//! (every executor of the harness) and child processes at once; a popper
//! waiting behind a writer that is then killed; producers and consumers
//! killed with SIGKILL at random points of their loops, twenty times each
//! (every item popped at most once, whole, in order, or still inside; the
//! others never hang).

mod common;

use common::process::{ChildGuard, role, spawn_role, unique_name};
use common::*;
use rallypoint::TaskDoneError;
use rallypoint::process::{
    Event, ItemErrorKind, PopError, PopTimeoutError, PushError, PushTimeoutError, Queue,
    TryPopError, TryPushError,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::HashSet;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(20);

/// An item that proves it is whole: its bytes are a function of its id.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    producer: u32,
    id: u64,
    body: Vec<u8>,
}

// By hand, as a tuple (what a derive would encode too with postcard), so
// that the dev-dependencies need no serde derive.
impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.producer, self.id, &self.body).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let (producer, id, body) = <(u32, u64, Vec<u8>)>::deserialize(d)?;
        Ok(Item { producer, id, body })
    }
}

impl Item {
    fn new(producer: u32, id: u64) -> Item {
        let len = (id * 37 % 200) as usize;
        Item {
            producer,
            id,
            body: (0..len).map(|i| (id as usize * 31 + i) as u8).collect(),
        }
    }

    fn is_whole(&self) -> bool {
        *self == Item::new(self.producer, self.id)
    }
}

const PER_CHILD: u64 = 2_000;

fn run_role(role: &str, arg: &str) {
    match role {
        // Push PER_CHILD items (producer number from the argument), in
        // every form.
        "produce" => {
            let (name, who) = arg.split_once(' ').unwrap();
            let q = Queue::<Item>::open(name).unwrap();
            let who: u32 = who.parse().unwrap();
            for id in 0..PER_CHILD {
                push_any(&q, Item::new(who, id), id);
            }
        }
        // Pop items and hand them on to the results queue until closed.
        "relay" => {
            let q = Queue::<Item>::open(arg).unwrap();
            let out = Queue::<Item>::open(&format!("{arg}-out")).unwrap();
            for i in 0u64.. {
                let item = match i % 3 {
                    0 => q.pop_timeout_blocking(LONG).map_err(|e| e.to_string()),
                    1 => smol::block_on(q.pop_timeout(LONG)).map_err(|e| e.to_string()),
                    _ => q.pop_blocking().map_err(|e| e.to_string()),
                };
                match item {
                    Ok(item) => out.push_timeout_blocking(item, LONG).unwrap(),
                    Err(_) => return,
                }
            }
        }
        // Push numbered items as fast as possible until killed.
        "churn-push" => {
            let q = Queue::<Item>::open(arg).unwrap();
            Event::open(&format!("{arg}-ready")).unwrap().set();
            for id in 0u64.. {
                push_any(&q, Item::new(7, id), id);
            }
        }
        // Pop items as fast as possible, recording each in a log queue,
        // until killed.
        "churn-pop" => {
            let q = Queue::<Item>::open(arg).unwrap();
            let log = Queue::<u64>::open(&format!("{arg}-log")).unwrap();
            Event::open(&format!("{arg}-ready")).unwrap().set();
            for i in 0u64.. {
                let item = match i % 3 {
                    0 => q.pop_timeout_blocking(LONG).ok(),
                    1 => smol::block_on(q.pop_timeout(LONG)).ok(),
                    _ => q.try_pop().ok(),
                };
                if let Some(item) = item {
                    assert!(item.is_whole());
                    log.push_blocking(item.id).unwrap();
                }
            }
        }
        // Pop one item as a task guard and panic holding it.
        "panic-worker" => {
            let q = Queue::<Item>::open(arg).unwrap();
            let _job = q.pop_task_timeout_blocking(LONG).unwrap();
            panic!("the worker fails holding its task");
        }
        // Hold a handle (a roster slot) until killed.
        "hold" => {
            let _q = Queue::<Item>::open(arg).unwrap();
            Event::open(&format!("{arg}-ready")).unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => panic!("unknown role {other}"),
    }
}

fn push_any(q: &Queue<Item>, item: Item, i: u64) {
    let pushed = match i % 3 {
        0 => q
            .push_timeout_blocking(item, LONG)
            .map_err(|e| e.to_string()),
        1 => smol::block_on(q.push(item)).map_err(|e| e.to_string()),
        _ => {
            let mut item = item;
            loop {
                match q.try_push(item) {
                    Ok(()) => break Ok(()),
                    Err(TryPushError::Full(back)) => {
                        item = back;
                        std::thread::yield_now();
                    }
                    Err(e) => break Err(e.to_string()),
                }
            }
        }
    };
    pushed.expect("push");
}

#[test]
fn four_forms_try_close_and_join() {
    each_runtime(|_rt| async move {
        let q = Queue::<String>::anonymous(2).unwrap();
        assert_eq!(q.capacity(), Some(2));
        q.push("a".to_string()).await.unwrap();
        q.push_blocking("b".to_string()).unwrap();
        assert!(q.is_full());
        assert_eq!(q.try_push("c".into()), Err(TryPushError::Full("c".into())));
        assert_eq!(
            q.push_timeout("c".into(), SHORT).await,
            Err(PushTimeoutError::Timeout("c".into()))
        );
        assert_eq!(
            q.push_timeout_blocking("c".into(), SHORT),
            Err(PushTimeoutError::Timeout("c".into()))
        );
        assert_eq!(format!("{q:?}").matches('"').count(), 4, "{q:?}");
        assert_eq!(q.pop().await.unwrap(), "a");
        assert_eq!(q.pop_blocking().unwrap(), "b");
        assert_eq!(q.try_pop(), Err(TryPopError::Empty));
        assert_eq!(q.pop_timeout(SHORT).await, Err(PopTimeoutError::Timeout));
        assert_eq!(q.pop_timeout_blocking(SHORT), Err(PopTimeoutError::Timeout));
        // join: two tasks pushed, two done.
        assert_eq!(q.unfinished_tasks(), 2);
        assert!(!q.join_timeout(SHORT).await);
        assert!(!q.join_timeout_blocking(SHORT));
        q.task_done().unwrap();
        q.task_done().unwrap();
        assert_eq!(q.task_done(), Err(TaskDoneError));
        q.join().await;
        q.join_blocking();
        // close: drain, then Closed; pushes hand the item back.
        q.try_push("d".into()).unwrap();
        assert!(q.close());
        assert!(!q.close() && q.is_closed());
        assert_eq!(q.push("e".into()).await, Err(PushError::Closed("e".into())));
        assert_eq!(
            q.try_push("e".into()),
            Err(TryPushError::Closed("e".into()))
        );
        assert_eq!(q.pop_timeout(LONG).await.unwrap(), "d");
        assert_eq!(q.pop().await, Err(PopError::Closed));
        assert_eq!(q.pop_blocking(), Err(PopError::Closed));
        assert_eq!(q.try_pop(), Err(TryPopError::Closed));
        assert_eq!(q.unfinished_tasks(), 1, "closing does not change the count");
    });
}

#[test]
fn waiters_wake_across_handles_and_on_close() {
    each_runtime(|rt| async move {
        let name = unique_name("queue-wake");
        let q = Arc::new(Queue::<u64>::create(&name, 1).unwrap());
        let peer = Arc::new(Queue::<u64>::open(&name).unwrap());
        // Poppers of both worlds wait on one handle; pushes on the other.
        let poppers = {
            let q = q.clone();
            bunch(&rt, World::Mixed, 4, move |_, blocking| {
                let q = q.clone();
                async move {
                    if blocking {
                        q.pop_timeout_blocking(LONG).unwrap()
                    } else {
                        q.pop_timeout(LONG).await.unwrap()
                    }
                }
            })
        };
        for i in 0..4 {
            peer.push_timeout(i, LONG).await.unwrap();
        }
        let mut got = join_all(poppers).await;
        got.sort_unstable();
        assert_eq!(got, [0, 1, 2, 3]);
        // Pushers wait on a full queue, then close fails them.
        peer.try_push(9).unwrap();
        let pushers = {
            let q = q.clone();
            bunch(&rt, World::Mixed, 2, move |i, blocking| {
                let q = q.clone();
                async move {
                    if blocking {
                        q.push_timeout_blocking(i as u64, LONG).unwrap_err()
                    } else {
                        q.push_timeout(i as u64, LONG).await.unwrap_err()
                    }
                }
            })
        };
        rt.sleep(SHORT).await;
        peer.close();
        for e in join_all(pushers).await {
            assert!(matches!(e, PushTimeoutError::Closed(_)), "{e:?}");
        }
        assert_eq!(q.try_pop(), Ok(9));
    });
}

#[test]
fn items_that_cannot_cross() {
    let name = unique_name("queue-items");
    let q = Queue::<String>::builder(4)
        .item_size_limit(16)
        .create(&name)
        .unwrap();
    assert_eq!(q.item_size_limit(), 16);
    // Over the limit: handed back, nothing pushed.
    let big = "x".repeat(40);
    match q.push_blocking(big.clone()) {
        Err(PushError::Invalid(back, why)) => {
            assert_eq!(back, big);
            assert_eq!(why.kind(), ItemErrorKind::TooLarge);
            assert!(why.to_string().contains("16"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        q.try_push(big.clone()),
        Err(TryPushError::Invalid(..))
    ));
    assert!(q.is_empty());
    // The same segment opened as another type: a decode error, and the
    // queue goes on.
    let wrong = Queue::<u8>::open(&name).unwrap();
    q.try_push("hello".into()).unwrap();
    q.try_push("ok".into()).unwrap();
    match wrong.try_pop() {
        Err(TryPopError::Invalid(why)) => assert_eq!(why.kind(), ItemErrorKind::Decode),
        other => panic!("{other:?}"),
    }
    assert_eq!(q.try_pop().unwrap(), "ok");
    // The undecodable item counts as done: one task left, for "ok".
    assert_eq!(q.unfinished_tasks(), 1);
    // A length corrupted in the segment: an error, then the queue goes on.
    q.try_push("bad".into()).unwrap();
    q.try_push("good".into()).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    // The ring starts at 1408, 24 bytes a slot; "bad" is at position 2:
    // its state word says FULL with a length over the limit.
    let bad_len: u64 = (2 << 24) | (0x3F_FFFF << 2) | 2;
    file.write_all_at(&bad_len.to_ne_bytes(), 1408 + 2 * 24)
        .unwrap();
    match q.pop_blocking() {
        Err(PopError::Invalid(why)) => assert_eq!(why.kind(), ItemErrorKind::Corrupt),
        other => panic!("{other:?}"),
    }
    assert_eq!(q.pop_blocking().unwrap(), "good");
    // Refusals at open and create.
    let event_name = unique_name("queue-not-a-queue");
    let _event = Event::create(&event_name).unwrap();
    let err = Queue::<u8>::open(&event_name).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert_eq!(
        Queue::<u8>::open(&unique_name("queue-none"))
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::NotFound
    );
    assert_eq!(
        Queue::<u8>::create("a/b", 1).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(
        Queue::<u8>::anonymous(0).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    assert_eq!(
        Queue::<u8>::builder(1 << 20)
            .item_size_limit(1 << 20)
            .anonymous()
            .unwrap_err()
            .kind(),
        std::io::ErrorKind::InvalidInput
    );
}

#[test]
fn cancellation_loses_nothing() {
    each_runtime(|_rt| async move {
        let q = Queue::<u64>::anonymous(1).unwrap();
        // A pending pop dropped: the item pushed next is still there.
        let mut pop = Box::pin(q.pop());
        assert!(poll_once(&mut pop).is_pending());
        drop(pop);
        q.try_push(1).unwrap();
        // A pending push dropped: its item never went in.
        let mut push = Box::pin(q.push(2));
        assert!(poll_once(&mut push).is_pending());
        drop(push);
        assert_eq!(q.try_pop(), Ok(1));
        assert_eq!(q.try_pop(), Err(TryPopError::Empty));
        // A pending pop that is woken and then dropped leaves the item.
        let mut pop = Box::pin(q.pop());
        assert!(poll_once(&mut pop).is_pending());
        q.try_push(3).unwrap();
        drop(pop);
        assert_eq!(q.try_pop(), Ok(3));
    });
}

// Two child producers, a child relay (pop, then push into a results
// queue) and, in this process, producers and consumers as threads and
// tasks: every item arrives exactly once, and whole.
#[test]
fn exactly_once_everywhere() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        let name = unique_name("queue-once");
        let q = Arc::new(Queue::<Item>::create(&name, 16).unwrap());
        let out = Arc::new(Queue::<Item>::create(&format!("{name}-out"), 64).unwrap());
        let children: Vec<ChildGuard> = (0..2)
            .map(|who| {
                spawn_role(
                    "exactly_once_everywhere",
                    "produce",
                    &format!("{name} {who}"),
                )
            })
            .chain([spawn_role("exactly_once_everywhere", "relay", &name)])
            .collect();
        const LOCAL: u64 = 500;
        let producers = {
            let q = q.clone();
            bunch(&rt, World::Mixed, 2, move |i, blocking| {
                let q = q.clone();
                async move {
                    for id in 0..LOCAL {
                        let item = Item::new(10 + i as u32, id);
                        if blocking {
                            q.push_timeout_blocking(item, LONG).unwrap();
                        } else {
                            q.push_timeout(item, LONG).await.unwrap();
                        }
                    }
                }
            })
        };
        let consumers = {
            let q = q.clone();
            let out = out.clone();
            bunch(&rt, World::Mixed, 2, move |_, blocking| {
                let (q, out) = (q.clone(), out.clone());
                async move {
                    loop {
                        let item = if blocking {
                            q.pop_timeout_blocking(LONG)
                        } else {
                            q.pop_timeout(LONG).await
                        };
                        match item {
                            Ok(item) => out.push_timeout(item, LONG).await.unwrap(),
                            Err(PopTimeoutError::Closed) => return,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            })
        };
        let total = (2 * PER_CHILD + 2 * LOCAL) as usize;
        let mut seen = HashSet::new();
        while seen.len() < total {
            let item = out.pop_timeout(LONG).await.expect("an item");
            assert!(item.is_whole(), "torn: {item:?}");
            assert!(seen.insert((item.producer, item.id)), "twice: {item:?}");
        }
        join_all(producers).await;
        q.close();
        join_all(consumers).await;
        for child in children {
            child.expect_success();
        }
        assert_eq!(out.try_pop(), Err(TryPopError::Empty));
        assert_eq!(q.try_pop(), Err(TryPopError::Closed));
    });
}

/// The offset in the segment of roster slot `i`'s word (header 128, then
/// head, tail, tasks and waits lines).
fn roster_word(file: &std::fs::File, i: u64) -> u64 {
    let mut b = [0u8; 8];
    file.read_exact_at(&mut b, 128 + 256 + 16 * i).unwrap();
    u64::from_ne_bytes(b)
}

// A popper (of each world) asleep behind a slot claimed by another process
// — as a producer killed between taking a slot and filling it leaves it —
// is woken when that process dies, skips the slot, and pops the next item.
#[test]
fn popper_behind_a_killed_writer() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        let name = unique_name("queue-writer");
        let q = Arc::new(
            Queue::<Item>::builder(4)
                .item_size_limit(300)
                .create(&name)
                .unwrap(),
        );
        let ready = Event::create(&format!("{name}-ready")).unwrap();
        let child = spawn_role("popper_behind_a_killed_writer", "hold", &name);
        assert!(ready.wait_timeout_blocking(LONG));
        // Find the child's roster slot and write its claim into slot 0.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/dev/shm/{name}"))
            .unwrap();
        let (index, epoch) = (0..64)
            .map(|i| (i, roster_word(&file, i)))
            .find(|(_, w)| (w >> 32) as u32 == child.pid())
            .map(|(i, w)| (i, (w >> 8) & 0x7FFF))
            .expect("the child's roster slot");
        let short = (index + 1) | epoch << 7;
        let writing = (short << 2) | 1; // WRITING at position 0
        file.write_all_at(&writing.to_ne_bytes(), 128 + 1280)
            .unwrap();
        q.try_push(Item::new(1, 1)).unwrap(); // at position 1, behind it
        assert_eq!(q.len(), 2);
        // The writer is alive: pops wait.
        assert_eq!(q.try_pop(), Err(TryPopError::Empty));
        assert_eq!(q.pop_timeout_blocking(SHORT), Err(PopTimeoutError::Timeout));
        let woken = Arc::new(AtomicUsize::new(0));
        let poppers = {
            let (q, woken) = (q.clone(), woken.clone());
            bunch(&rt, World::Mixed, 2, move |_, blocking| {
                let (q, woken) = (q.clone(), woken.clone());
                async move {
                    let got = if blocking {
                        q.pop_timeout_blocking(LONG)
                    } else {
                        q.pop_timeout(LONG).await
                    };
                    woken.fetch_add(1, Ordering::SeqCst);
                    got
                }
            })
        };
        rt.sleep(SHORT).await;
        assert_eq!(woken.load(Ordering::SeqCst), 0);
        child.kill();
        // One popper gets the item behind the dead writer's slot; the
        // other, with nothing left, gets the one pushed now.
        rt.sleep(SHORT).await;
        q.push_timeout(Item::new(1, 2), LONG).await.unwrap();
        let mut ids: Vec<u64> = join_all(poppers)
            .await
            .into_iter()
            .map(|r| r.expect("woken with an item").id)
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 2]);
        assert_eq!(q.unfinished_tasks(), 2, "the skipped slot is no task");
    });
}

// A producer pushing in every form is killed at a random point, twenty
// times. What is in the queue afterwards is whole, in order, without gaps
// or duplicates (one producer, FIFO); the queue works for the next pushes
// and pops.
#[test]
fn killed_producer_at_a_random_point() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let mut from_child = 0;
        for round in 0..20u64 {
            let name = unique_name("queue-kill-push");
            let q = Queue::<Item>::builder(8)
                .item_size_limit(300)
                .create(&name)
                .unwrap();
            let ready = Event::create(&format!("{name}-ready")).unwrap();
            let child = spawn_role("killed_producer_at_a_random_point", "churn-push", &name);
            assert!(ready.wait_timeout_blocking(LONG));
            let mut next = 0;
            let pause = Duration::from_micros((round * 7919) % 3000);
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until {
                if let Ok(item) = q.pop_timeout_blocking(Duration::from_micros(200)) {
                    assert!(
                        item.is_whole() && item.id == next,
                        "round {round}: {item:?}"
                    );
                    next += 1;
                }
            }
            child.kill();
            // Drain: in order, whole; a slot the child died in is skipped.
            loop {
                match q.pop_timeout_blocking(SHORT) {
                    Ok(item) => {
                        assert!(
                            item.is_whole() && item.id == next,
                            "round {round}: {item:?}"
                        );
                        next += 1;
                    }
                    Err(PopTimeoutError::Timeout) => break,
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            assert_eq!(q.len(), 0, "round {round}: {q:?}");
            from_child += next;
            for id in 0..20 {
                q.push_timeout_blocking(Item::new(0, id), LONG).unwrap();
                assert_eq!(q.pop_timeout_blocking(LONG).unwrap().id, id);
            }
        }
        assert!(from_child > 0, "the children never pushed");
    });
}

// A consumer popping in every form (and logging each item it got into a
// second queue) is killed at a random point, twenty times. Every item is
// popped at most once; all but at most the one the child had removed and
// not yet logged are accounted for (logged, popped here, or still in the
// queue); nothing is torn; the producer here never hangs.
#[test]
fn killed_consumer_at_a_random_point() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let mut by_child = 0;
        for round in 0..20u64 {
            let name = unique_name("queue-kill-pop");
            let q = Queue::<Item>::builder(8)
                .item_size_limit(300)
                .create(&name)
                .unwrap();
            let log = Queue::<u64>::builder(1 << 16)
                .item_size_limit(16)
                .create(&format!("{name}-log"))
                .unwrap();
            let ready = Event::create(&format!("{name}-ready")).unwrap();
            let child = spawn_role("killed_consumer_at_a_random_point", "churn-pop", &name);
            assert!(ready.wait_timeout_blocking(LONG));
            let mut pushed = 0u64;
            let mut mine = Vec::new();
            let pause = Duration::from_micros((round * 7919) % 3000);
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until {
                match q.push_timeout_blocking(Item::new(0, pushed), Duration::from_micros(200)) {
                    Ok(()) => pushed += 1,
                    Err(PushTimeoutError::Timeout(_)) => {}
                    Err(e) => panic!("round {round}: {e}"),
                }
                if pushed % 5 == 0 {
                    if let Ok(item) = q.try_pop() {
                        mine.push(item.id);
                    }
                }
            }
            child.kill();
            let mut seen: Vec<u64> = mine;
            while let Ok(id) = log.try_pop() {
                seen.push(id);
                by_child += 1;
            }
            while let Ok(item) = q.try_pop() {
                assert!(item.is_whole(), "round {round}: {item:?}");
                seen.push(item.id);
            }
            let unique: HashSet<u64> = seen.iter().copied().collect();
            assert_eq!(unique.len(), seen.len(), "round {round}: popped twice");
            assert!(unique.iter().all(|&id| id < pushed));
            assert!(
                pushed - unique.len() as u64 <= 1,
                "round {round}: {} of {pushed} items unaccounted for",
                pushed - unique.len() as u64
            );
            // The queue works: fill it and drain it.
            for id in 0..8 {
                q.try_push(Item::new(1, id)).unwrap();
            }
            for id in 0..8 {
                assert_eq!(q.try_pop().unwrap().id, id);
            }
        }
        assert!(by_child > 0, "the children never popped");
    });
}

// A worker process that panics holding a popped item in a `TaskGuard`:
// the unwind marks the task done, so `join()` here returns.
#[test]
fn a_panicking_worker_process_does_not_hang_join() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    let name = unique_name("queue-task");
    let q = Queue::<Item>::create(&name, 4).unwrap();
    q.try_push(Item::new(0, 1)).unwrap();
    let child = spawn_role(
        "a_panicking_worker_process_does_not_hang_join",
        "panic-worker",
        &name,
    );
    let status = child.wait(LONG);
    assert!(!status.success(), "the worker was meant to panic");
    assert!(q.join_timeout_blocking(LONG), "join hung: {q:?}");
    assert_eq!(q.unfinished_tasks(), 0);
}

#[test]
fn send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Queue<Item>>();
    check::<Queue<std::rc::Rc<u8>>>(); // items cross as bytes
}
