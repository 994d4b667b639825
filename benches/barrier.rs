//! `Barrier` against its peers, under every executor of the comparison.
//!
//! Groups (ids are `group/impl/executor`), one per party count `P` in
//! 2, 4, 8:
//!
//! * `barrier_P` — `P` tasks pass the same barrier 1,000 times (1,000
//!   generations). One iteration is 1,000 generations (criterion also
//!   reports generations per second). Implementations: `rallypoint`
//!   (`Barrier::wait`), `tokio` (`tokio::sync::Barrier`), `async-lock`
//!   (`async_lock::Barrier`).
//! * `barrier_threads_P` — the same with `P` OS threads and blocking waits:
//!   `rallypoint` (`wait_blocking`), `std` (`std::sync::Barrier`),
//!   `async-lock` (`wait_blocking`).
//!
//! Threads and tasks are started once per sample (`iter_custom`), and run
//! every iteration of the sample, so their start-up is amortized.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::{EXECUTORS, Rt, THREADS, join_all};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};

/// Generations per iteration.
const GENERATIONS: u64 = 1_000;
const PARTIES: [usize; 3] = [2, 4, 8];

trait AsyncBarrier: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(parties: usize) -> Self;
    /// Waits; returns whether this party is the leader.
    fn wait(&self) -> impl Future<Output = bool> + Send + '_;
}

impl AsyncBarrier for rallypoint::Barrier {
    const NAME: &'static str = "rallypoint";
    fn create(parties: usize) -> Self {
        rallypoint::Barrier::new(parties)
    }
    async fn wait(&self) -> bool {
        rallypoint::Barrier::wait(self).await.unwrap().is_leader()
    }
}

impl AsyncBarrier for tokio::sync::Barrier {
    const NAME: &'static str = "tokio";
    fn create(parties: usize) -> Self {
        tokio::sync::Barrier::new(parties)
    }
    async fn wait(&self) -> bool {
        tokio::sync::Barrier::wait(self).await.is_leader()
    }
}

impl AsyncBarrier for async_lock::Barrier {
    const NAME: &'static str = "async-lock";
    fn create(parties: usize) -> Self {
        async_lock::Barrier::new(parties)
    }
    async fn wait(&self) -> bool {
        async_lock::Barrier::wait(self).await.is_leader()
    }
}

/// One sample: `iters` × 1,000 generations of `parties` tasks.
async fn generations<B: AsyncBarrier>(rt: &Rt, parties: usize, iters: u64) -> Duration {
    let barrier = Arc::new(B::create(parties));
    let gens = iters * GENERATIONS;
    let start = Instant::now();
    let tasks: Vec<_> = (0..parties)
        .map(|_| {
            let barrier = barrier.clone();
            rt.spawn(async move {
                let mut leaders = 0u64;
                for _ in 0..gens {
                    leaders += u64::from(barrier.wait().await);
                }
                leaders
            })
        })
        .collect();
    let leaders: u64 = join_all(tasks).await.into_iter().sum();
    let elapsed = start.elapsed();
    assert_eq!(leaders, gens, "{}: one leader per generation", B::NAME);
    elapsed
}

fn bench_async(c: &mut Criterion) {
    for parties in PARTIES {
        let mut g = c.benchmark_group(format!("barrier_{parties}"));
        g.throughput(Throughput::Elements(GENERATIONS));
        g.sample_size(20);
        for exec in EXECUTORS {
            let rt = Rt::new(exec);
            macro_rules! one {
                ($ty:ty) => {
                    g.bench_function(
                        BenchmarkId::new(<$ty as AsyncBarrier>::NAME, exec.name()),
                        |b| {
                            b.iter_custom(|iters| {
                                rt.block_on(generations::<$ty>(&rt, parties, iters))
                            })
                        },
                    );
                };
            }
            one!(rallypoint::Barrier);
            one!(tokio::sync::Barrier);
            one!(async_lock::Barrier);
        }
        g.finish();
    }
}

trait BlockingBarrier: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(parties: usize) -> Self;
    fn wait(&self) -> bool;
}

impl BlockingBarrier for rallypoint::Barrier {
    const NAME: &'static str = "rallypoint";
    fn create(parties: usize) -> Self {
        rallypoint::Barrier::new(parties)
    }
    fn wait(&self) -> bool {
        self.wait_blocking().unwrap().is_leader()
    }
}

impl BlockingBarrier for std::sync::Barrier {
    const NAME: &'static str = "std";
    fn create(parties: usize) -> Self {
        std::sync::Barrier::new(parties)
    }
    fn wait(&self) -> bool {
        std::sync::Barrier::wait(self).is_leader()
    }
}

impl BlockingBarrier for async_lock::Barrier {
    const NAME: &'static str = "async-lock";
    fn create(parties: usize) -> Self {
        async_lock::Barrier::new(parties)
    }
    fn wait(&self) -> bool {
        self.wait_blocking().is_leader()
    }
}

/// One sample: `iters` × 1,000 generations of `parties` threads (the bench
/// thread is one of them).
fn generations_threads<B: BlockingBarrier>(parties: usize, iters: u64) -> Duration {
    let barrier = Arc::new(B::create(parties));
    let gens = iters * GENERATIONS;
    let run = move |barrier: &B| (0..gens).map(|_| u64::from(barrier.wait())).sum::<u64>();
    // Start the helpers, and line everyone up once before the clock starts.
    let helpers: Vec<_> = (1..parties)
        .map(|_| {
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                run(&barrier)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut leaders = run(&barrier);
    leaders += helpers.into_iter().map(|h| h.join().unwrap()).sum::<u64>();
    let elapsed = start.elapsed();
    assert_eq!(leaders, gens, "{}: one leader per generation", B::NAME);
    elapsed
}

fn bench_threads(c: &mut Criterion) {
    for parties in PARTIES {
        let mut g = c.benchmark_group(format!("barrier_threads_{parties}"));
        g.throughput(Throughput::Elements(GENERATIONS));
        // ~1-100 ms per iteration: flat sampling keeps 10 samples within
        // the measurement time.
        g.sample_size(10).sampling_mode(SamplingMode::Flat);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(
                    BenchmarkId::new(<$ty as BlockingBarrier>::NAME, THREADS),
                    |b| b.iter_custom(|iters| generations_threads::<$ty>(parties, iters)),
                );
            };
        }
        one!(rallypoint::Barrier);
        one!(std::sync::Barrier);
        one!(async_lock::Barrier);
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_async, bench_threads
}
criterion_main!(benches);
