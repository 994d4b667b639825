//! Shared helpers for the primitive benches (`event`, `barrier`, `semaphore`):
//! the executors of the **executor comparison** and a uniform way to spawn
//! and join tasks on them.
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

#![allow(dead_code, unreachable_pub, reason = "each bench uses a subset")]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use criterion::Criterion;

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
