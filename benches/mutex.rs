//! `Mutex` against its peers, under every executor of the comparison.
//!
//! rallypoint's `Mutex` is async-lock's lock wrapped (for its timeout forms
//! and for the waker rules of SPEC §0), so async-lock is also the "before"
//! column: the gap between the two is what the wrapper costs.
//!
//! Groups (ids are `group/impl/executor`):
//!
//! * `mutex_uncontended` — one task locks and unlocks, in a loop. One
//!   iteration is one lock + unlock.
//! * `mutex_contended_4` — 4 tasks share one mutex and hold it across a
//!   `yield_now()` (so that holders overlap and lockers queue, even on a
//!   single-threaded executor). One iteration is one lock + yield + unlock,
//!   summed over the tasks.
//! * `mutex_uncontended_threads`, `mutex_contended_4_threads` — the same on
//!   OS threads with the blocking forms (holders call
//!   `std::thread::yield_now()`); tokio has no blocking lock, so the peers
//!   are async-lock's `lock_blocking`, parking_lot and std.
//!
//! Implementations: `rallypoint` (`rallypoint::Mutex`), `async-lock`
//! (`async_lock::Mutex`), `tokio` (`tokio::sync::Mutex`, strictly FIFO),
//! `parking_lot` and `std` (threads only).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::future::Future;
use std::hint::black_box;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{EXECUTORS, Rt, THREADS, join_all, share};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use futures_lite::future::yield_now;

trait AsyncMutex: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    /// Locks, runs `hold` while holding the lock, unlocks.
    fn with_lock<'a, F: Future<Output = ()> + Send + 'a>(
        &'a self,
        hold: F,
    ) -> impl Future<Output = ()> + Send + 'a;
}

macro_rules! async_mutex {
    ($ty:ty, $name:literal) => {
        impl AsyncMutex for $ty {
            const NAME: &'static str = $name;
            fn create() -> Self {
                <$ty>::new(0u64)
            }
            async fn with_lock<'a, F: Future<Output = ()> + Send + 'a>(&'a self, hold: F) {
                let mut guard = self.lock().await;
                *guard += 1;
                hold.await;
                drop(guard);
            }
        }
    };
}

async_mutex!(rallypoint::Mutex<u64>, "rallypoint");
async_mutex!(async_lock::Mutex<u64>, "async-lock");
async_mutex!(tokio::sync::Mutex<u64>, "tokio");

async fn workload<M: AsyncMutex>(rt: &Rt, iters: u64, tasks: usize) -> Duration {
    let mutex = Arc::new(M::create());
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let mutex = mutex.clone();
            let rounds = share(iters, tasks, i);
            rt.spawn(async move {
                for _ in 0..rounds {
                    if tasks == 1 {
                        mutex.with_lock(async {}).await;
                    } else {
                        mutex.with_lock(yield_now()).await;
                    }
                }
            })
        })
        .collect();
    join_all(handles).await;
    start.elapsed()
}

fn bench_async(c: &mut Criterion) {
    for (group, tasks) in [("mutex_uncontended", 1), ("mutex_contended_4", 4)] {
        let mut g = c.benchmark_group(group);
        for exec in EXECUTORS {
            let rt = Rt::new(exec);
            macro_rules! one {
                ($ty:ty) => {
                    g.bench_function(
                        BenchmarkId::new(<$ty as AsyncMutex>::NAME, exec.name()),
                        |b| b.iter_custom(|iters| rt.block_on(workload::<$ty>(&rt, iters, tasks))),
                    );
                };
            }
            one!(rallypoint::Mutex<u64>);
            one!(async_lock::Mutex<u64>);
            one!(tokio::sync::Mutex<u64>);
        }
        g.finish();
    }
}

trait BlockingMutex: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn with_lock(&self, hold: impl FnOnce());
}

impl BlockingMutex for rallypoint::Mutex<u64> {
    const NAME: &'static str = "rallypoint";
    fn create() -> Self {
        rallypoint::Mutex::new(0)
    }
    fn with_lock(&self, hold: impl FnOnce()) {
        let mut guard = self.lock_blocking();
        *guard += 1;
        hold();
    }
}

impl BlockingMutex for async_lock::Mutex<u64> {
    const NAME: &'static str = "async-lock";
    fn create() -> Self {
        async_lock::Mutex::new(0)
    }
    fn with_lock(&self, hold: impl FnOnce()) {
        let mut guard = self.lock_blocking();
        *guard += 1;
        hold();
    }
}

impl BlockingMutex for parking_lot::Mutex<u64> {
    const NAME: &'static str = "parking_lot";
    fn create() -> Self {
        parking_lot::Mutex::new(0)
    }
    fn with_lock(&self, hold: impl FnOnce()) {
        let mut guard = self.lock();
        *guard += 1;
        hold();
    }
}

impl BlockingMutex for std::sync::Mutex<u64> {
    const NAME: &'static str = "std";
    fn create() -> Self {
        std::sync::Mutex::new(0)
    }
    fn with_lock(&self, hold: impl FnOnce()) {
        let mut guard = self.lock().unwrap();
        *guard += 1;
        hold();
    }
}

fn workload_threads<M: BlockingMutex>(iters: u64, threads: usize) -> Duration {
    let run = move |mutex: &M, rounds: u64| {
        for _ in 0..rounds {
            if threads == 1 {
                mutex.with_lock(|| {
                    black_box(());
                });
            } else {
                mutex.with_lock(thread::yield_now);
            }
        }
    };
    common::on_threads(M::create(), iters, threads, run)
}

fn bench_threads(c: &mut Criterion) {
    for (group, threads) in [
        ("mutex_uncontended_threads", 1),
        ("mutex_contended_4_threads", 4),
    ] {
        let mut g = c.benchmark_group(group);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(
                    BenchmarkId::new(<$ty as BlockingMutex>::NAME, THREADS),
                    |b| b.iter_custom(|iters| workload_threads::<$ty>(iters, threads)),
                );
            };
        }
        one!(rallypoint::Mutex<u64>);
        one!(async_lock::Mutex<u64>);
        one!(parking_lot::Mutex<u64>);
        one!(std::sync::Mutex<u64>);
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_async, bench_threads
}
criterion_main!(benches);
