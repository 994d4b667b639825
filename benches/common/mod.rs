//! Shared helpers for the primitive benches (`event`, `barrier`,
//! `semaphore`, `condvar`, `queue`, `stack`): the executors of the
//! **executor comparison** and a uniform way to spawn and join tasks on
//! them; for `queue` and `stack`, also their producer/consumer workloads,
//! group matrix and shared implementations (async-channel, rallypoint's
//! adapter).
//!
//! Every async workload runs under each [`Exec`]:
//!
//! | id         | runtime                                                            |
//! |------------|--------------------------------------------------------------------|
//! | `tokio-mt` | tokio multi-thread runtime, 2 worker threads                       |
//! | `tokio-ct` | tokio current-thread runtime                                       |
//! | `smol`     | one `smol::Executor` driven by `smol::block_on` on the bench thread |
//! | `smol-mt2` | the same executor also run by one helper thread (2 threads)        |
//!
//! A runtime is built once per executor and reused for every sample, so its
//! setup is never measured. Each sample (`iter_custom`) runs inside a single
//! `block_on`: it spawns the workload's tasks, joins them, and returns the
//! elapsed time. Workloads spawn all their tasks (even single-task ones), so
//! under `tokio-mt` the work runs on the worker threads, not on the thread
//! blocked in `block_on`.

#![allow(
    dead_code,
    unreachable_pub,
    unused_macros,
    reason = "each bench uses a subset"
)]

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;
use std::time::Instant;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, BenchmarkId, Criterion};

/// One executor of the executor comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exec {
    TokioMt,
    TokioCt,
    Smol,
    Smol2,
}

/// Every executor, in report order.
pub const EXECUTORS: [Exec; 4] = [Exec::TokioMt, Exec::TokioCt, Exec::Smol, Exec::Smol2];

impl Exec {
    /// The last component of the benchmark id.
    pub fn name(self) -> &'static str {
        match self {
            Exec::TokioMt => "tokio-mt",
            Exec::TokioCt => "tokio-ct",
            Exec::Smol => "smol",
            Exec::Smol2 => "smol-mt2",
        }
    }
}

/// The executor id of thread-based (blocking) benches.
pub const THREADS: &str = "threads";

/// A running executor.
pub struct Rt {
    exec: Exec,
    inner: Inner,
}

enum Inner {
    Tokio(tokio::runtime::Runtime),
    Smol {
        ex: Arc<smol::Executor<'static>>,
        stop: Option<async_channel::Sender<()>>,
        helpers: Vec<thread::JoinHandle<()>>,
    },
}

impl Rt {
    pub fn new(exec: Exec) -> Rt {
        let inner = match exec {
            Exec::TokioMt => Inner::Tokio(
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .build()
                    .expect("tokio multi-thread runtime"),
            ),
            Exec::TokioCt => Inner::Tokio(
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("tokio current-thread runtime"),
            ),
            Exec::Smol | Exec::Smol2 => {
                let ex = Arc::new(smol::Executor::new());
                let (stop, stopped) = async_channel::bounded::<()>(1);
                let extra = if exec == Exec::Smol2 { 1 } else { 0 };
                let helpers = (0..extra)
                    .map(|i| {
                        let (ex, stopped) = (ex.clone(), stopped.clone());
                        thread::Builder::new()
                            .name(format!("smol-helper-{i}"))
                            .spawn(move || {
                                let _ = smol::block_on(ex.run(stopped.recv()));
                            })
                            .expect("spawn smol helper thread")
                    })
                    .collect();
                Inner::Smol {
                    ex,
                    stop: Some(stop),
                    helpers,
                }
            }
        };
        Rt { exec, inner }
    }

    pub fn exec(&self) -> Exec {
        self.exec
    }

    /// Runs `fut` to completion on this executor, from the calling thread.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        match &self.inner {
            Inner::Tokio(rt) => rt.block_on(fut),
            Inner::Smol { ex, .. } => smol::block_on(ex.run(fut)),
        }
    }

    /// Spawns a task; await the returned handle to join it.
    pub fn spawn<F>(&self, fut: F) -> Join<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.inner {
            Inner::Tokio(rt) => Join::Tokio(rt.spawn(fut)),
            Inner::Smol { ex, .. } => Join::Smol(ex.spawn(fut)),
        }
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        if let Inner::Smol { stop, helpers, .. } = &mut self.inner {
            drop(stop.take()); // closes the channel: helpers' `recv` returns
            for h in helpers.drain(..) {
                let _ = h.join();
            }
        }
    }
}

/// A spawned task's handle.
pub enum Join<T> {
    Tokio(tokio::task::JoinHandle<T>),
    Smol(smol::Task<T>),
}

impl<T> Future for Join<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match self.get_mut() {
            Join::Tokio(h) => Pin::new(h)
                .poll(cx)
                .map(|r| r.expect("bench task panicked")),
            Join::Smol(t) => Pin::new(t).poll(cx),
        }
    }
}

/// Joins every handle, in order.
pub async fn join_all<T>(handles: Vec<Join<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

/// Splits `iters` operations over `tasks` workers: worker `i`'s share.
pub fn share(iters: u64, tasks: usize, i: usize) -> u64 {
    let tasks = tasks as u64;
    let i = i as u64;
    iters / tasks + u64::from(i < iters % tasks)
}

/// One sample of a thread workload: `threads` OS threads (the bench thread
/// is one of them) each run `run(shared, their share of iters)`; the time
/// from the first start to the last join.
pub fn on_threads<S, F>(shared: S, iters: u64, threads: usize, run: F) -> std::time::Duration
where
    S: Send + Sync + 'static,
    F: Fn(&S, u64) + Send + Sync + 'static,
{
    let work = std::sync::Arc::new((shared, run));
    let start = std::time::Instant::now();
    let helpers: Vec<_> = (1..threads)
        .map(|i| {
            let work = work.clone();
            let rounds = share(iters, threads, i);
            std::thread::spawn(move || (work.1)(&work.0, rounds))
        })
        .collect();
    (work.1)(&work.0, share(iters, threads, 0));
    for h in helpers {
        h.join().unwrap();
    }
    start.elapsed()
}

/// The criterion configuration of these benches: a short warm-up and
/// measurement, so that each bench file runs in about two to three minutes.
/// Command-line flags (`--warm-up-time`, `--measurement-time`,
/// `--sample-size`) still override it.
pub fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(1000))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

// ---------------------------------------------------------------------------
// Producer/consumer workloads shared by the `queue` and `stack` benches.
// ---------------------------------------------------------------------------

/// A criterion configuration with the given warm-up, measurement time and
/// sample count. It is the file-level configuration (`criterion_group!`'s
/// `config`), so command-line flags still override it (group-level settings
/// would not).
pub fn config_with(warm_up: Duration, measurement: Duration, samples: usize) -> Criterion {
    Criterion::default()
        .warm_up_time(warm_up)
        .measurement_time(measurement)
        .sample_size(samples)
}

/// How many producers and consumers share one container.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Part of the group name: `spsc`, `mpsc4`, `mpmc4x4`.
    pub name: &'static str,
    pub producers: usize,
    pub consumers: usize,
}

/// The shapes of the queue and stack benches, in report order.
pub const SHAPES: [Shape; 3] = [
    Shape {
        name: "spsc",
        producers: 1,
        consumers: 1,
    },
    Shape {
        name: "mpsc4",
        producers: 4,
        consumers: 1,
    },
    Shape {
        name: "mpmc4x4",
        producers: 4,
        consumers: 4,
    },
];

/// The capacities of the queue and stack benches: `Some(n)` is bounded.
pub const CAPACITIES: [Option<usize>; 3] = [Some(1), Some(64), None];

/// Part of the group name for a capacity: `bounded1`, `bounded64`,
/// `unbounded`.
pub fn cap_name(cap: Option<usize>) -> String {
    match cap {
        Some(n) => format!("bounded{n}"),
        None => "unbounded".to_owned(),
    }
}

/// The group id of a producer/consumer workload, e.g.
/// `queue_mpsc4_bounded64` or `stack_spsc_unbounded_threads`.
pub fn pc_group(prefix: &str, shape: Shape, cap: Option<usize>, threads: bool) -> String {
    let suffix = if threads { "_threads" } else { "" };
    format!("{prefix}_{}_{}{suffix}", shape.name, cap_name(cap))
}

/// The checksum of the items `0..n`: what the consumers must receive.
pub fn expected_sum(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

/// The first item of producer `i` (producer `i` sends
/// `first_item(..)..first_item(..) + share(..)`, so that the producers
/// together send `0..iters`, each item once).
pub fn first_item(iters: u64, producers: usize, i: usize) -> u64 {
    (0..i).map(|k| share(iters, producers, k)).sum()
}

/// A container of the queue and stack benches, seen as a channel: its
/// producer and consumer handles. [`AsyncChan`] and [`BlockingChan`] add
/// the push and pop.
pub trait Chan: 'static {
    /// The implementation part of the benchmark id.
    const NAME: &'static str;
    type Tx: Clone + Send + 'static;
    type Rx: Send + 'static;
    /// A new container; `cap` is `Some(n)` for a bounded one.
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx);
    /// Another consumer handle (only called for multi-consumer shapes).
    fn clone_rx(rx: &Self::Rx) -> Self::Rx;
}

/// A container with async push and pop.
pub trait AsyncChan: Chan {
    fn send(tx: &Self::Tx, v: u64) -> impl Future<Output = ()> + Send + '_;
    fn recv(rx: &mut Self::Rx) -> impl Future<Output = u64> + Send + '_;
}

/// A container with blocking push and pop.
pub trait BlockingChan: Chan {
    fn send(tx: &Self::Tx, v: u64);
    fn recv(rx: &mut Self::Rx) -> u64;
}

/// Implements [`Chan`] for `$ty`, named `$name`: the `u64` channel of the
/// crate `$krate` (`$krate::bounded(n)` or `$krate::unbounded()`; the
/// receiver is cloned for more consumers).
macro_rules! crate_chan {
    ($ty:ty, $name:literal, $krate:ident) => {
        impl $crate::common::Chan for $ty {
            const NAME: &'static str = $name;
            type Tx = $krate::Sender<u64>;
            type Rx = $krate::Receiver<u64>;
            fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
                match cap {
                    Some(n) => $krate::bounded(n),
                    None => $krate::unbounded(),
                }
            }
            fn clone_rx(rx: &Self::Rx) -> Self::Rx {
                rx.clone()
            }
        }
    };
}
#[allow(unused_imports, reason = "only the queue bench uses it")]
pub(crate) use crate_chan;

/// Defines `struct Rallypoint`, the `rallypoint` implementation of the
/// queue and stack benches: a `rallypoint::$container<u64>` shared through
/// an `Arc` (`push`/`pop`, `push_blocking`/`pop_blocking` on threads),
/// panicking with `$closed` if it is closed.
macro_rules! rallypoint_chan {
    ($container:ident, $closed:literal) => {
        struct Rallypoint;

        impl $crate::common::Chan for Rallypoint {
            const NAME: &'static str = "rallypoint";
            type Tx = ::std::sync::Arc<::rallypoint::$container<u64>>;
            type Rx = ::std::sync::Arc<::rallypoint::$container<u64>>;
            fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
                let c = ::std::sync::Arc::new(match cap {
                    Some(n) => ::rallypoint::$container::bounded(n),
                    None => ::rallypoint::$container::unbounded(),
                });
                (c.clone(), c)
            }
            fn clone_rx(rx: &Self::Rx) -> Self::Rx {
                rx.clone()
            }
        }

        impl $crate::common::AsyncChan for Rallypoint {
            async fn send(tx: &Self::Tx, v: u64) {
                tx.push(v).await.expect($closed);
            }
            async fn recv(rx: &mut Self::Rx) -> u64 {
                rx.pop().await.expect($closed)
            }
        }

        impl $crate::common::BlockingChan for Rallypoint {
            fn send(tx: &Self::Tx, v: u64) {
                tx.push_blocking(v).expect($closed);
            }
            fn recv(rx: &mut Self::Rx) -> u64 {
                rx.pop_blocking().expect($closed)
            }
        }
    };
}
#[allow(unused_imports, reason = "only the queue and stack benches use it")]
pub(crate) use rallypoint_chan;

/// A new container and its consumer handles, one per consumer.
fn endpoints<C: Chan>(shape: Shape, cap: Option<usize>) -> (C::Tx, Vec<C::Rx>) {
    let (tx, rx) = C::channel(cap);
    let mut rxs: Vec<C::Rx> = (1..shape.consumers).map(|_| C::clone_rx(&rx)).collect();
    rxs.insert(0, rx);
    (tx, rxs)
}

/// Starts the consumers: `spawn(rx, n)` for each handle, `n` being its
/// share of the `iters` items.
fn start_consumers<R, H>(
    rxs: Vec<R>,
    shape: Shape,
    iters: u64,
    mut spawn: impl FnMut(R, u64) -> H,
) -> Vec<H> {
    rxs.into_iter()
        .enumerate()
        .map(|(j, rx)| spawn(rx, share(iters, shape.consumers, j)))
        .collect()
}

/// Starts the producers: `spawn(tx, items)` for each, with its own clone of
/// `tx` and its contiguous share of the items `0..iters`; then drops `tx`.
fn start_producers<T: Clone, H>(
    tx: T,
    shape: Shape,
    iters: u64,
    mut spawn: impl FnMut(T, Range<u64>) -> H,
) -> Vec<H> {
    let producers = (0..shape.producers)
        .map(|i| {
            let tx = tx.clone();
            let first = first_item(iters, shape.producers, i);
            let n = share(iters, shape.producers, i);
            spawn(tx, first..first + n)
        })
        .collect();
    drop(tx);
    producers
}

/// Panics unless the consumers of `C` received exactly the checksum of the
/// items `0..iters`.
fn check_sum<C: Chan>(sum: u64, iters: u64) {
    assert_eq!(
        sum,
        expected_sum(iters),
        "{}: checksum of the popped items",
        C::NAME
    );
}

/// One sample of a producer/consumer workload on tasks: `shape.producers`
/// tasks push the items `0..iters` between them, `shape.consumers` tasks
/// pop `share(iters, consumers, j)` items each. One iteration is one item
/// through the container. Panics unless the consumers received exactly the
/// items' checksum.
pub async fn pc_async<C: AsyncChan>(
    rt: &Rt,
    shape: Shape,
    cap: Option<usize>,
    iters: u64,
) -> Duration {
    let (tx, rxs) = endpoints::<C>(shape, cap);
    let start = Instant::now();
    let consumers = start_consumers(rxs, shape, iters, |mut rx, n| {
        rt.spawn(async move {
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(C::recv(&mut rx).await);
            }
            sum
        })
    });
    let producers = start_producers(tx, shape, iters, |tx, items| {
        rt.spawn(async move {
            for v in items {
                C::send(&tx, v).await;
            }
        })
    });
    join_all(producers).await;
    let sum = join_all(consumers)
        .await
        .into_iter()
        .fold(0u64, u64::wrapping_add);
    let elapsed = start.elapsed();
    check_sum::<C>(sum, iters);
    elapsed
}

/// [`pc_async`] on OS threads with blocking push and pop.
pub fn pc_threads<C: BlockingChan>(shape: Shape, cap: Option<usize>, iters: u64) -> Duration {
    let (tx, rxs) = endpoints::<C>(shape, cap);
    let start = Instant::now();
    let consumers = start_consumers(rxs, shape, iters, |mut rx, n| {
        thread::spawn(move || {
            let mut sum = 0u64;
            for _ in 0..n {
                sum = sum.wrapping_add(C::recv(&mut rx));
            }
            sum
        })
    });
    let producers = start_producers(tx, shape, iters, |tx, items| {
        thread::spawn(move || {
            for v in items {
                C::send(&tx, v);
            }
        })
    });
    for p in producers {
        p.join().expect("producer thread panicked");
    }
    let sum = consumers
        .into_iter()
        .map(|c| c.join().expect("consumer thread panicked"))
        .fold(0u64, u64::wrapping_add);
    let elapsed = start.elapsed();
    check_sum::<C>(sum, iters);
    elapsed
}

/// One async group of a producer/consumer bench, under one executor:
/// [`bench`](Self::bench) adds an implementation's benchmark to it.
pub struct AsyncCase<'a, 'c> {
    group: &'a mut BenchmarkGroup<'c, WallTime>,
    rt: &'a Rt,
    pub shape: Shape,
    cap: Option<usize>,
}

impl AsyncCase<'_, '_> {
    /// Benchmarks [`pc_async`] of `C`, id `<group>/<C::NAME>/<executor>`.
    pub fn bench<C: AsyncChan>(&mut self) {
        let (rt, shape, cap) = (self.rt, self.shape, self.cap);
        self.group
            .bench_function(BenchmarkId::new(C::NAME, rt.exec().name()), |b| {
                b.iter_custom(|iters| rt.block_on(pc_async::<C>(rt, shape, cap, iters)))
            });
    }
}

/// One `_threads` group of a producer/consumer bench:
/// [`bench`](Self::bench) adds an implementation's benchmark to it.
pub struct ThreadsCase<'a, 'c> {
    group: &'a mut BenchmarkGroup<'c, WallTime>,
    pub shape: Shape,
    cap: Option<usize>,
}

impl ThreadsCase<'_, '_> {
    /// Benchmarks [`pc_threads`] of `C`, id `<group>/<C::NAME>/threads`.
    pub fn bench<C: BlockingChan>(&mut self) {
        let (shape, cap) = (self.shape, self.cap);
        self.group
            .bench_function(BenchmarkId::new(C::NAME, THREADS), |b| {
                b.iter_custom(|iters| pc_threads::<C>(shape, cap, iters))
            });
    }
}

/// The async groups `<prefix>_<shape>_<capacity>` of a producer/consumer
/// bench, for every shape and capacity in report order: in each group,
/// `add` adds the implementations' benchmarks under every executor in turn
/// (the runtimes are built once, before the first group).
pub fn pc_async_groups(
    c: &mut Criterion,
    prefix: &str,
    mut add: impl FnMut(&mut AsyncCase<'_, '_>),
) {
    let rts: Vec<Rt> = EXECUTORS.into_iter().map(Rt::new).collect();
    for shape in SHAPES {
        for cap in CAPACITIES {
            let mut g = c.benchmark_group(pc_group(prefix, shape, cap, false));
            for rt in &rts {
                add(&mut AsyncCase {
                    group: &mut g,
                    rt,
                    shape,
                    cap,
                });
            }
            g.finish();
        }
    }
}

/// The groups `<prefix>_<shape>_<capacity>_threads` of a producer/consumer
/// bench, for every shape and capacity in report order: in each group,
/// `add` adds the implementations' benchmarks.
pub fn pc_threads_groups(
    c: &mut Criterion,
    prefix: &str,
    mut add: impl FnMut(&mut ThreadsCase<'_, '_>),
) {
    for shape in SHAPES {
        for cap in CAPACITIES {
            let mut g = c.benchmark_group(pc_group(prefix, shape, cap, true));
            add(&mut ThreadsCase {
                group: &mut g,
                shape,
                cap,
            });
            g.finish();
        }
    }
}

/// async-channel, the reference peer of both the queue and the stack.
pub struct AsyncChannel;

crate_chan!(AsyncChannel, "async-channel", async_channel);

impl AsyncChan for AsyncChannel {
    async fn send(tx: &Self::Tx, v: u64) {
        tx.send(v).await.expect("async-channel closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv().await.expect("async-channel closed")
    }
}

impl BlockingChan for AsyncChannel {
    fn send(tx: &Self::Tx, v: u64) {
        tx.send_blocking(v).expect("async-channel closed");
    }
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.recv_blocking().expect("async-channel closed")
    }
}
