//! `Queue` against the channels, under every executor of the comparison.
//!
//! Groups (ids are `group/impl/executor`): one per shape × capacity,
//!
//! * shape: `spsc` (1 producer, 1 consumer), `mpsc4` (4 producers, 1
//!   consumer), `mpmc4x4` (4 producers, 4 consumers);
//! * capacity: `bounded1`, `bounded64`, `unbounded`;
//!
//! named `queue_<shape>_<capacity>` (async tasks, every executor) and
//! `queue_<shape>_<capacity>_threads` (OS threads, blocking front-ends).
//!
//! Workload: the producers push the `u64` items `0..n` between them (each
//! producer a contiguous share), each consumer pops a fixed share of the `n`
//! items; no close, no `Option` sentinel. **One iteration is one item**
//! pushed and popped (criterion picks `n` per sample, typically thousands
//! to hundreds of thousands, so task/thread start-up is amortized). Every
//! sample checks that the consumers received exactly the checksum of
//! `0..n`, so a broken implementation cannot report a fast time.
//!
//! Implementations:
//!
//! * `rallypoint` — `rallypoint::Queue` (`push`/`pop`; `push_blocking`/
//!   `pop_blocking` on threads), shared through an `Arc`.
//! * `async-channel` — `async_channel::bounded`/`unbounded` (`send`/`recv`;
//!   `send_blocking`/`recv_blocking` on threads).
//! * `flume` — `flume::bounded`/`unbounded` (`send_async`/`recv_async`;
//!   `send`/`recv` on threads). Async flume is left out of the `mpmc4x4`
//!   groups unless `BENCH_FLUME_MPMC_ASYNC=1`: with 4 async receivers it
//!   deadlocked (a lost wake-up) under `smol-mt2` in 2 of 3 trial runs.
//! * `tokio` (async, `spsc` and `mpsc4` only: tokio's mpsc has one
//!   receiver) — `tokio::sync::mpsc::channel`/`unbounded_channel`.
//! * `crossbeam` (threads only) — `crossbeam_channel::bounded`/`unbounded`.
//!
//! All of them are FIFO per producer. rallypoint also serves waiting
//! consumers in arrival order with no barging (SPEC §6), and keeps
//! `task_done`/`join` counts, which the channels do not.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::time::Duration;

use common::{AsyncChan, AsyncChannel, BlockingChan, Chan, pc_async_groups, pc_threads_groups};
use criterion::{Criterion, criterion_group, criterion_main};

common::rallypoint_chan!(Queue, "queue closed");

struct Flume;

common::crate_chan!(Flume, "flume", flume);

impl AsyncChan for Flume {
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send_async(v).await.expect("flume disconnected");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv_async().await.expect("flume disconnected")
    }
}

impl BlockingChan for Flume {
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("flume disconnected");
    }
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("flume disconnected")
    }
}

/// tokio's mpsc, bounded or unbounded (one receiver only).
struct Tokio;

enum TokioTx {
    Bounded(tokio::sync::mpsc::Sender<u64>),
    Unbounded(tokio::sync::mpsc::UnboundedSender<u64>),
}

impl Clone for TokioTx {
    fn clone(&self) -> Self {
        match self {
            TokioTx::Bounded(tx) => TokioTx::Bounded(tx.clone()),
            TokioTx::Unbounded(tx) => TokioTx::Unbounded(tx.clone()),
        }
    }
}

enum TokioRx {
    Bounded(tokio::sync::mpsc::Receiver<u64>),
    Unbounded(tokio::sync::mpsc::UnboundedReceiver<u64>),
}

impl Chan for Tokio {
    const NAME: &'static str = "tokio";
    type Tx = TokioTx;
    type Rx = TokioRx;
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        match cap {
            Some(n) => {
                let (tx, rx) = tokio::sync::mpsc::channel(n);
                (TokioTx::Bounded(tx), TokioRx::Bounded(rx))
            }
            None => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                (TokioTx::Unbounded(tx), TokioRx::Unbounded(rx))
            }
        }
    }
    fn clone_rx(_: &Self::Rx) -> Self::Rx {
        unreachable!("tokio's mpsc has a single receiver: not benched with several consumers")
    }
}

impl AsyncChan for Tokio {
    async fn send(tx: &Self::Tx, v: u64) {
        match tx {
            TokioTx::Bounded(tx) => tx.send(v).await.expect("tokio mpsc closed"),
            TokioTx::Unbounded(tx) => tx.send(v).expect("tokio mpsc closed"),
        }
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        match rx {
            TokioRx::Bounded(rx) => rx.recv().await,
            TokioRx::Unbounded(rx) => rx.recv().await,
        }
        .expect("tokio mpsc closed")
    }
}

struct Crossbeam;

common::crate_chan!(Crossbeam, "crossbeam", crossbeam_channel);

impl BlockingChan for Crossbeam {
    fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).expect("crossbeam disconnected");
    }
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().expect("crossbeam disconnected")
    }
}

/// Whether to bench flume's async API with several consumers (`mpmc4x4`):
/// off unless `BENCH_FLUME_MPMC_ASYNC=1`. In the first runs,
/// `queue_mpmc4x4_bounded1/flume/smol-mt2` deadlocked in 2 of 3 runs (every
/// thread parked, the consumers' quota not reached: a lost wake-up among
/// flume's async receivers, cf. flume issue #182 and iroh PR #2533), which
/// would stop `cargo bench`. flume's blocking API stays in the `_threads`
/// groups.
fn flume_mpmc_async() -> bool {
    std::env::var_os("BENCH_FLUME_MPMC_ASYNC").is_some_and(|v| v == "1")
}

fn bench_async(c: &mut Criterion) {
    pc_async_groups(c, "queue", |case| {
        case.bench::<Rallypoint>();
        case.bench::<AsyncChannel>();
        if case.shape.consumers == 1 || flume_mpmc_async() {
            case.bench::<Flume>();
        }
        if case.shape.consumers == 1 {
            case.bench::<Tokio>();
        }
    });
}

fn bench_threads(c: &mut Criterion) {
    pc_threads_groups(c, "queue", |case| {
        case.bench::<Rallypoint>();
        case.bench::<AsyncChannel>();
        case.bench::<Flume>();
        case.bench::<Crossbeam>();
    });
}

criterion_group! {
    name = benches;
    // 156 benchmarks: 0.2 s warm-up + 0.75 s measurement each (plus
    // criterion's analysis) keeps the whole file near 3.5 minutes. Flags
    // still override these.
    config = common::config_with(Duration::from_millis(200), Duration::from_millis(750), 20);
    targets = bench_async, bench_threads
}
criterion_main!(benches);
