#![cfg(not(loom))]

//! The seed chapter's exercise: a concurrent stack whose `pop` waits for
//! data, with one producer and three consumers (Consumer1..3) that must be
//! served in turn — here with threads, with async tasks, and with both on
//! one stack.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use rallypoint::{PopError, Stack};

/// What the seed's program prints when the consumers are served in turn.
fn expected_log() -> Vec<String> {
    (0..6)
        .map(|i| format!("Consumer{} popped Task{i}", i % 3 + 1))
        .collect()
}

/// The producer pushes the next task only once all three consumers wait
/// again (the deterministic form of the seed's pauses), so the log must be
/// Consumer1, Consumer2, Consumer3, Consumer1, … — which holds only if
/// waiting poppers are served in the order they began waiting.
#[test]
fn seed_exercise_threads() {
    blocking(|| {
        let stack = Arc::new(Stack::unbounded());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut consumers = Vec::new();
        for c in 1..=3 {
            let (s, log) = (stack.clone(), log.clone());
            consumers.push(std::thread::spawn(move || {
                while let Ok(task) = s.pop_blocking() {
                    log.lock()
                        .unwrap()
                        .push(format!("Consumer{c} popped {task}"));
                }
            }));
            wait_until("consumer waits", || waiting_poppers(&*stack) == c);
        }
        for i in 0..6 {
            wait_until("all consumers wait", || waiting_poppers(&*stack) == 3);
            stack.push_blocking(format!("Task{i}")).unwrap();
        }
        wait_until("all consumers wait", || waiting_poppers(&*stack) == 3);
        assert!(format!("{stack:?}").starts_with("Stack { items: [], "));
        stack.close();
        for c in consumers {
            c.join().unwrap();
        }
        assert_eq!(*log.lock().unwrap(), expected_log());
        assert_eq!(stack.pop_blocking(), Err(PopError));
    });
}

/// The same with async consumers (Consumer2 is a thread), under every
/// executor.
#[test]
fn seed_exercise_async() {
    each_runtime(|rt| async move {
        let stack = Arc::new(Stack::unbounded());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut consumers = Vec::new();
        for c in 1..=3 {
            let (s, log) = (stack.clone(), log.clone());
            consumers.push(if c == 2 {
                rt.thread(move || {
                    while let Ok(task) = s.pop_blocking() {
                        log.lock()
                            .unwrap()
                            .push(format!("Consumer{c} popped {task}"));
                    }
                })
            } else {
                rt.spawn(async move {
                    while let Ok(task) = s.pop().await {
                        log.lock()
                            .unwrap()
                            .push(format!("Consumer{c} popped {task}"));
                    }
                })
            });
            wait_until_async(&rt, "consumer waits", || waiting_poppers(&*stack) == c).await;
        }
        for i in 0..6 {
            wait_until_async(&rt, "all consumers wait", || waiting_poppers(&*stack) == 3).await;
            stack.push(format!("Task{i}")).await.unwrap();
        }
        wait_until_async(&rt, "all consumers wait", || waiting_poppers(&*stack) == 3).await;
        stack.close();
        for c in consumers {
            c.await;
        }
        assert_eq!(*log.lock().unwrap(), expected_log());
    });
}

/// With nobody waiting, the stack is plain LIFO, and a burst pushed before
/// any consumer arrives comes out newest first.
#[test]
fn burst_is_lifo() {
    let stack = Stack::unbounded();
    for i in 0..6 {
        stack.try_push(format!("Task{i}")).unwrap();
    }
    let popped: Vec<String> = std::iter::from_fn(|| stack.try_pop().ok()).collect();
    assert_eq!(
        popped,
        ["Task5", "Task4", "Task3", "Task2", "Task1", "Task0"]
    );
}
