//! The seed's queue example: a worker puts "Hello World" on a queue and the
//! main program gets it — first with threads, then with async tasks, then
//! a thread and a task on the same queue.
//!
//! Run with `cargo run --example queue`.

use std::sync::Arc;

use rallypoint::Queue;

fn main() {
    // Threads: Python's `threading.Thread(target=worker, args=(q,))`.
    let q = Arc::new(Queue::unbounded());
    let worker = {
        let q = q.clone();
        std::thread::spawn(move || q.push_blocking("Hello World").unwrap())
    };
    println!("thread got: {}", q.pop_blocking().unwrap());
    worker.join().unwrap();

    // Async tasks, on any executor (smol here).
    smol::block_on(async {
        let q = Arc::new(Queue::unbounded());
        let worker = {
            let q = q.clone();
            smol::spawn(async move { q.push("Hello World").await.unwrap() })
        };
        println!("task got: {}", q.pop().await.unwrap());
        worker.await;
    });

    // Both at once: a thread puts, a tokio task gets.
    let q = Arc::new(Queue::unbounded());
    let worker = {
        let q = q.clone();
        std::thread::spawn(move || q.push_blocking("Hello World").unwrap())
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async { println!("tokio task got from a thread: {}", q.pop().await.unwrap()) });
    worker.join().unwrap();
}
