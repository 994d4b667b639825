//! Tour stop: the waiting containers — `Queue` (FIFO), `Stack` (LIFO) and
//! `PriorityQueue` (greatest first) — shared by threads, tokio tasks and
//! smol tasks.

use std::cmp::Reverse;
use std::sync::Arc;
use std::time::Duration;

use rallypoint::{PriorityQueue, Queue, Stack};

/// Runs this stop of the tour (well under two seconds).
pub(crate) fn run() {
    println!("-- Queue, Stack, PriorityQueue --");

    // One engine, three orders.
    let (q, s, pq) = (
        Queue::unbounded(),
        Stack::unbounded(),
        PriorityQueue::unbounded(),
    );
    for n in [111, 333, 222] {
        q.try_push(n).unwrap();
        s.try_push(n).unwrap();
        pq.try_push(n).unwrap();
    }
    println!("pushed 111, 333, 222:");
    println!("  {q:?}");
    println!("  {s:?}");
    println!("  {pq:?}");

    // A bounded queue between a producer thread and a tokio consumer task:
    // the producer waits while the queue is full.
    let queue = Arc::new(Queue::bounded(2));
    let producer = {
        let queue = queue.clone();
        std::thread::spawn(move || {
            for n in 1..=5 {
                queue.push_blocking(n).unwrap();
            }
            queue.close(); // the consumer drains, then sees `Closed`
        })
    };
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sum = tokio.block_on(async {
        let mut sum = 0;
        while let Ok(n) = queue.pop().await {
            sum += n;
        }
        sum
    });
    producer.join().unwrap();
    println!("thread -> bounded(2) Queue -> tokio task: sum of 1..=5 = {sum}");

    // Python's lowest-first PriorityQueue, with smol workers and join():
    // each job is marked with task_done(), and join() waits for all of them.
    let jobs = Arc::new(PriorityQueue::unbounded());
    for (priority, job) in [(3, "tidy up"), (1, "answer the pager"), (2, "review")] {
        jobs.try_push(Reverse((priority, job))).unwrap();
    }
    smol::block_on(async {
        let worker = {
            let jobs = jobs.clone();
            smol::spawn(async move {
                while let Ok(Reverse((priority, job))) = jobs.pop().await {
                    println!("  smol worker: priority {priority}: {job}");
                    jobs.task_done().unwrap();
                }
            })
        };
        jobs.join().await;
        println!("PriorityQueue joined: every job done");
        jobs.close();
        worker.await;
    });

    // A rendezvous queue has no buffer: each push waits until a pop takes
    // its item (here a smol task hands three items to a thread).
    let meet = Arc::new(Queue::rendezvous());
    let taker = {
        let meet = meet.clone();
        std::thread::spawn(move || meet.iter_blocking().collect::<Vec<_>>())
    };
    smol::block_on(async {
        for item in ["a", "b", "c"] {
            meet.push(item).await.unwrap(); // returns once the thread has it
        }
    });
    meet.close();
    println!(
        "rendezvous Queue (no buffer): smol task -> thread, taken one by one: {:?}",
        taker.join().unwrap()
    );

    // Timeouts hand the item back instead of losing it.
    let full = Stack::bounded(1);
    full.try_push("kept").unwrap();
    let err = full
        .push_timeout_blocking("handed back", Duration::from_millis(20))
        .unwrap_err();
    println!(
        "push_timeout on a full Stack: {err} -> got {:?} back",
        err.into_inner()
    );
}
