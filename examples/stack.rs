//! The seed chapter's exercise: a concurrent stack whose `pop` waits for
//! data. A producer pushes Task0..Task5 with short pauses; Consumer1,
//! Consumer2 and Consumer3 pop — served in turn, because waiting poppers
//! are served in the order they began waiting. First with threads, then
//! with async tasks (smol), on the same kind of `Stack`.
//!
//! Run with `cargo run --example stack`.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use rallypoint::Stack;

const PAUSE: Duration = Duration::from_millis(50);

fn main() {
    println!("== threads ==");
    threads();
    println!("== async tasks ==");
    smol::block_on(tasks());
}

fn threads() {
    let stack = Arc::new(Stack::unbounded());
    let consumers: Vec<_> = (1..=3)
        .map(|c| {
            let stack = stack.clone();
            let consumer = std::thread::spawn(move || {
                while let Ok(task) = stack.pop_blocking() {
                    println!("Consumer{c} popped {task}");
                }
            });
            // Start waiting in order. The pause is generous on purpose: on a
            // loaded machine a new thread can take many milliseconds to run.
            std::thread::sleep(PAUSE);
            consumer
        })
        .collect();
    for i in 0..6 {
        std::thread::sleep(PAUSE);
        // Print while holding stdout, so the consumer's line comes after.
        let mut out = std::io::stdout().lock();
        stack.push_blocking(format!("Task{i}")).unwrap();
        writeln!(out, "Producer pushed Task{i}").unwrap();
    }
    std::thread::sleep(PAUSE);
    println!("Stack: {stack:?}");
    stack.close(); // consumers drain, then their pop fails and they stop
    for c in consumers {
        c.join().unwrap();
    }
}

async fn tasks() {
    let stack = Arc::new(Stack::unbounded());
    let mut consumers = Vec::new();
    for c in 1..=3 {
        let stack = stack.clone();
        consumers.push(smol::spawn(async move {
            while let Ok(task) = stack.pop().await {
                println!("Consumer{c} popped {task}");
            }
        }));
        smol::Timer::after(PAUSE).await; // start waiting in order
    }
    for i in 0..6 {
        smol::Timer::after(PAUSE).await;
        let mut out = std::io::stdout().lock();
        // An unbounded stack is never full: `try_push` does not wait.
        stack.try_push(format!("Task{i}")).unwrap();
        writeln!(out, "Producer pushed Task{i}").unwrap();
    }
    smol::Timer::after(PAUSE).await;
    println!("Stack: {stack:?}");
    stack.close();
    for c in consumers {
        c.await;
    }
}
