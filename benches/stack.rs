//! `Stack` against the textbook blocking stack, and async-channel as a
//! reference point, under every executor of the comparison.
//!
//! Groups (ids are `group/impl/executor`): the matrix of `benches/queue.rs`,
//!
//! * shape: `spsc` (1 producer, 1 consumer), `mpsc4` (4 producers, 1
//!   consumer), `mpmc4x4` (4 producers, 4 consumers);
//! * capacity: `bounded1`, `bounded64`, `unbounded`;
//!
//! named `stack_<shape>_<capacity>` (async tasks, every executor) and
//! `stack_<shape>_<capacity>_threads` (OS threads, blocking front-ends).
//!
//! Workload (the same code as the queue benches, `common::pc_async` /
//! `common::pc_threads`): the producers push the `u64` items `0..n` between
//! them, each consumer pops a fixed share of the `n` items. **One iteration
//! is one item** pushed and popped. Every sample checks the checksum of the
//! popped items.
//!
//! Implementations:
//!
//! * `rallypoint` — `rallypoint::Stack` (`push`/`pop`; `push_blocking`/
//!   `pop_blocking` on threads), shared through an `Arc`.
//! * `textbook` (threads) — `std::sync::Mutex<Vec<u64>>` with two
//!   `std::sync::Condvar`s (`not_empty`, `not_full`): pop waits while the
//!   vector is empty, push waits while it is at capacity, and each side
//!   calls `notify_one` on the other's condvar after every operation (the
//!   textbook does not count waiters). Unbounded: `not_full` is never
//!   waited on nor notified.
//! * `async-channel` (async) — a FIFO channel, not a stack: a reference
//!   point for what a waiting container costs under each executor, since
//!   no async LIFO peer exists.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::{AsyncChannel, BlockingChan, Chan, pc_async_groups, pc_threads_groups};
use criterion::{Criterion, criterion_group, criterion_main};

common::rallypoint_chan!(Stack, "stack closed");

/// The textbook blocking stack: `Mutex<Vec<T>>` + two `Condvar`s.
struct TextbookStack {
    items: Mutex<Vec<u64>>,
    not_empty: Condvar,
    not_full: Condvar,
    cap: Option<usize>,
}

impl TextbookStack {
    fn push(&self, v: u64) {
        let mut items = self.items.lock().unwrap();
        if let Some(cap) = self.cap {
            items = self
                .not_full
                .wait_while(items, |items| items.len() >= cap)
                .unwrap();
        }
        items.push(v);
        drop(items);
        self.not_empty.notify_one();
    }

    fn pop(&self) -> u64 {
        let mut items = self
            .not_empty
            .wait_while(self.items.lock().unwrap(), |items| items.is_empty())
            .unwrap();
        let v = items.pop().expect("not empty");
        drop(items);
        if self.cap.is_some() {
            self.not_full.notify_one();
        }
        v
    }
}

struct Textbook;

impl Chan for Textbook {
    const NAME: &'static str = "textbook";
    type Tx = Arc<TextbookStack>;
    type Rx = Arc<TextbookStack>;
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        let s = Arc::new(TextbookStack {
            items: Mutex::new(Vec::with_capacity(cap.unwrap_or(0))),
            not_empty: Condvar::new(),
            not_full: Condvar::new(),
            cap,
        });
        (s.clone(), s)
    }
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

impl BlockingChan for Textbook {
    fn send(tx: &Self::Tx, v: u64) {
        tx.push(v);
    }
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop()
    }
}

fn bench_async(c: &mut Criterion) {
    pc_async_groups(c, "stack", |case| {
        case.bench::<Rallypoint>();
        case.bench::<AsyncChannel>();
    });
}

fn bench_threads(c: &mut Criterion) {
    pc_threads_groups(c, "stack", |case| {
        case.bench::<Rallypoint>();
        case.bench::<Textbook>();
    });
}

criterion_group! {
    name = benches;
    // 90 benchmarks: 0.4 s warm-up + 1.2 s measurement each keeps the whole
    // file near 3 minutes. Flags still override these.
    config = common::config_with(Duration::from_millis(400), Duration::from_millis(1200), 20);
    targets = bench_async, bench_threads
}
criterion_main!(benches);
