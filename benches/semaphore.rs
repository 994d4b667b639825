//! `Semaphore` against its peers, under every executor of the comparison.
//!
//! Groups (ids are `group/impl/executor`):
//!
//! * `sem_uncontended` — one task acquires a permit of a 1-permit semaphore
//!   and drops it, in a loop. One iteration is one acquire + release.
//! * `sem_contended_8x2` — 8 tasks share a 2-permit semaphore; each holds
//!   its permit across a `yield_now()` (so that holders really overlap and
//!   waiters queue, even on a single-threaded executor). One iteration is
//!   one acquire + yield + release, summed over the tasks.
//! * `sem_acquire_many` — 4 tasks share a 4-permit semaphore and ask for 1,
//!   2, 3 and 4 permits at a time with `acquire_many`, holding them across
//!   a `yield_now()`. One iteration is one `acquire_many` + yield + release.
//!   async-lock has no `acquire_many`, so only tokio is compared.
//! * `sem_uncontended_threads`, `sem_contended_8x2_threads` — the first two
//!   workloads on OS threads with the blocking front-ends (holders call
//!   `std::thread::yield_now()`); tokio has no blocking acquire, so the
//!   peer is async-lock's `acquire_blocking`.
//!
//! Implementations: `rallypoint` (`rallypoint::Semaphore::new`), `tokio`
//! (`tokio::sync::Semaphore`), `async-lock` (`async_lock::Semaphore`).
//! rallypoint and tokio are strictly FIFO-fair (a released permit is handed
//! to the oldest waiter); async-lock is not (a running task may take a
//! released permit ahead of woken waiters), which favours it whenever
//! holders overlap.

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

trait AsyncSem: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(permits: usize) -> Self;
    /// Acquires `n` permits, runs `hold` while holding them, releases them.
    fn with_permits<'a, F: Future<Output = ()> + Send + 'a>(
        &'a self,
        n: usize,
        hold: F,
    ) -> impl Future<Output = ()> + Send + 'a;
}

impl AsyncSem for rallypoint::Semaphore {
    const NAME: &'static str = "rallypoint";
    fn create(permits: usize) -> Self {
        rallypoint::Semaphore::new(permits)
    }
    async fn with_permits<'a, F: Future<Output = ()> + Send + 'a>(&'a self, n: usize, hold: F) {
        let permit = if n == 1 {
            self.acquire().await.unwrap()
        } else {
            self.acquire_many(n).await.unwrap()
        };
        hold.await;
        drop(permit);
    }
}

impl AsyncSem for tokio::sync::Semaphore {
    const NAME: &'static str = "tokio";
    fn create(permits: usize) -> Self {
        tokio::sync::Semaphore::new(permits)
    }
    async fn with_permits<'a, F: Future<Output = ()> + Send + 'a>(&'a self, n: usize, hold: F) {
        let permit = if n == 1 {
            self.acquire().await.unwrap()
        } else {
            self.acquire_many(n as u32).await.unwrap()
        };
        hold.await;
        drop(permit);
    }
}

impl AsyncSem for async_lock::Semaphore {
    const NAME: &'static str = "async-lock";
    fn create(permits: usize) -> Self {
        async_lock::Semaphore::new(permits)
    }
    async fn with_permits<'a, F: Future<Output = ()> + Send + 'a>(&'a self, n: usize, hold: F) {
        assert_eq!(n, 1, "async-lock has no acquire_many");
        let guard = self.acquire().await;
        hold.await;
        drop(guard);
    }
}

/// One sample of `tasks` tasks over `permits` permits; task `i` asks for
/// `want(i)` permits and holds them across a yield if `yield_while_held`.
async fn workload<S: AsyncSem>(
    rt: &Rt,
    iters: u64,
    permits: usize,
    tasks: usize,
    want: fn(usize) -> usize,
    yield_while_held: bool,
) -> Duration {
    let sem = Arc::new(S::create(permits));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let sem = sem.clone();
            let (n, rounds) = (want(i), share(iters, tasks, i));
            rt.spawn(async move {
                for _ in 0..rounds {
                    if yield_while_held {
                        sem.with_permits(n, yield_now()).await;
                    } else {
                        sem.with_permits(n, async {}).await;
                    }
                }
            })
        })
        .collect();
    join_all(handles).await;
    start.elapsed()
}

struct Workload {
    group: &'static str,
    permits: usize,
    tasks: usize,
    want: fn(usize) -> usize,
    yield_while_held: bool,
    with_async_lock: bool,
}

const WORKLOADS: [Workload; 3] = [
    Workload {
        group: "sem_uncontended",
        permits: 1,
        tasks: 1,
        want: |_| 1,
        yield_while_held: false,
        with_async_lock: true,
    },
    Workload {
        group: "sem_contended_8x2",
        permits: 2,
        tasks: 8,
        want: |_| 1,
        yield_while_held: true,
        with_async_lock: true,
    },
    Workload {
        group: "sem_acquire_many",
        permits: 4,
        tasks: 4,
        want: |i| i + 1,
        yield_while_held: true,
        with_async_lock: false,
    },
];

fn bench_async(c: &mut Criterion) {
    for w in &WORKLOADS {
        let mut g = c.benchmark_group(w.group);
        for exec in EXECUTORS {
            let rt = Rt::new(exec);
            macro_rules! one {
                ($ty:ty) => {
                    g.bench_function(
                        BenchmarkId::new(<$ty as AsyncSem>::NAME, exec.name()),
                        |b| {
                            b.iter_custom(|iters| {
                                rt.block_on(workload::<$ty>(
                                    &rt,
                                    iters,
                                    w.permits,
                                    w.tasks,
                                    w.want,
                                    w.yield_while_held,
                                ))
                            })
                        },
                    );
                };
            }
            one!(rallypoint::Semaphore);
            one!(tokio::sync::Semaphore);
            if w.with_async_lock {
                one!(async_lock::Semaphore);
            }
        }
        g.finish();
    }
}

trait BlockingSem: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(permits: usize) -> Self;
    fn with_permit(&self, hold: impl FnOnce());
}

impl BlockingSem for rallypoint::Semaphore {
    const NAME: &'static str = "rallypoint";
    fn create(permits: usize) -> Self {
        rallypoint::Semaphore::new(permits)
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let permit = self.acquire_blocking().unwrap();
        hold();
        drop(permit);
    }
}

impl BlockingSem for async_lock::Semaphore {
    const NAME: &'static str = "async-lock";
    fn create(permits: usize) -> Self {
        async_lock::Semaphore::new(permits)
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let guard = self.acquire_blocking();
        hold();
        drop(guard);
    }
}

/// One sample of `threads` threads over `permits` permits (the bench thread
/// is one of them).
fn workload_threads<S: BlockingSem>(iters: u64, permits: usize, threads: usize) -> Duration {
    let run = move |sem: &S, rounds: u64| {
        for _ in 0..rounds {
            if threads == 1 {
                sem.with_permit(|| {
                    black_box(());
                });
            } else {
                sem.with_permit(thread::yield_now);
            }
        }
    };
    common::on_threads(S::create(permits), iters, threads, run)
}

fn bench_threads(c: &mut Criterion) {
    for (group, permits, threads) in [
        ("sem_uncontended_threads", 1, 1),
        ("sem_contended_8x2_threads", 2, 8),
    ] {
        let mut g = c.benchmark_group(group);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(BenchmarkId::new(<$ty as BlockingSem>::NAME, THREADS), |b| {
                    b.iter_custom(|iters| workload_threads::<$ty>(iters, permits, threads))
                });
            };
        }
        one!(rallypoint::Semaphore);
        one!(async_lock::Semaphore);
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_async, bench_threads
}
criterion_main!(benches);
