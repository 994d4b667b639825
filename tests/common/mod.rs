//! The shared test harness.
//!
//! [`each_runtime`] runs one async test body under every executor the crate
//! promises to work with:
//!
//! * tokio, current-thread runtime;
//! * tokio, multi-thread runtime with 2 workers;
//! * smol's `block_on` driving an `Executor` on the test thread only;
//! * a `smol::Executor` run by 3 threads (the test thread and 2 helpers).
//!
//! The body gets an [`Rt`] to spawn tasks and sleep in a runtime-neutral way.
//! Every flavour runs under a watchdog, so a lost wakeup fails the test
//! with a message instead of hanging CI.
//!
//! Under Miri (`cfg(miri)`) there is no reactor (no epoll, no timerfd), so
//! [`each_runtime`] runs the body once, on a `smol::Executor` (plain
//! async-executor, which needs no reactor) driven by
//! `futures_lite::future::block_on`, and [`Rt::sleep`] uses
//! `futures_timer::Delay` (a helper thread with `park_timeout`).
//!
//! Loop counts go through [`scale`]: shrunk under Miri, multiplied by the
//! `RALLYPOINT_STRESS` environment variable otherwise.

#![allow(dead_code, unreachable_pub)]

#[cfg(all(target_os = "linux", not(miri)))]
pub mod process;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

/// How long one flavour of a test may run before it counts as hung.
#[cfg(not(miri))]
pub const WATCHDOG: Duration = Duration::from_secs(60);
/// Under Miri the clock is virtual: it advances by a few microseconds per
/// basic block executed (roughly real time divided by 2-3 on this kind of
/// machine), and jumps to the next timeout once every thread is blocked, so
/// a deadlock still ends quickly. 10 virtual minutes is far beyond any body
/// sized for Miri.
#[cfg(miri)]
pub const WATCHDOG: Duration = Duration::from_secs(600);

/// How long [`wait_until`] and [`wait_until_async`] wait for their condition.
#[cfg(not(miri))]
pub const PATIENCE: Duration = Duration::from_secs(30);
#[cfg(miri)]
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A short eventual-fairness bound for tests that sleep past it and then
/// check that a poll or two did *not* pass it. Under Miri one poll costs
/// milliseconds of virtual time (see [`WATCHDOG`]), so the bound is longer
/// there; sleeping past it costs nothing (the clock jumps).
#[cfg(not(miri))]
pub const SHORT_BOUND: Duration = Duration::from_millis(5);
#[cfg(miri)]
pub const SHORT_BOUND: Duration = Duration::from_secs(2);

/// The `RALLYPOINT_STRESS` multiplier (default 1; must be a positive integer).
pub fn stress_factor() -> usize {
    static FACTOR: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *FACTOR.get_or_init(|| match std::env::var("RALLYPOINT_STRESS") {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => panic!("RALLYPOINT_STRESS must be a positive integer, got {v:?}"),
        },
        Err(_) => 1,
    })
}

/// Whether the tests run under Miri.
pub const MIRI: bool = cfg!(miri);

/// A loop count: `n` times [`stress_factor`] normally; under Miri `n / 16`
/// (at least 2, and never more than `n`), which keeps every loop that
/// exists for repetition still looping while fitting Miri's budget.
pub fn scale(n: usize) -> usize {
    if MIRI {
        (n / 16).max(2).min(n)
    } else {
        n * stress_factor()
    }
}

/// Like [`scale`], with an explicit count for Miri.
pub fn scale_or(n: usize, miri: usize) -> usize {
    if MIRI { miri } else { n * stress_factor() }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which executor a body runs on.
#[derive(Clone)]
pub enum Rt {
    TokioCurrentThread(tokio::runtime::Handle),
    TokioMultiThread(tokio::runtime::Handle),
    SmolBlockOn(Arc<smol::Executor<'static>>),
    SmolMultiThread(Arc<smol::Executor<'static>>),
    /// Miri: an executor driven by `futures_lite::future::block_on`, no reactor.
    Bare(Arc<smol::Executor<'static>>),
}

/// A spawned task: await it for its output (panics in the task propagate).
pub struct Task<T>(BoxFuture<T>);

impl<T> Future for Task<T> {
    type Output = T;
    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<T> {
        self.0.as_mut().poll(cx)
    }
}

impl Rt {
    pub fn name(&self) -> &'static str {
        match self {
            Rt::TokioCurrentThread(_) => "tokio current-thread",
            Rt::TokioMultiThread(_) => "tokio multi-thread",
            Rt::SmolBlockOn(_) => "smol block_on",
            Rt::SmolMultiThread(_) => "smol multi-thread executor",
            Rt::Bare(_) => "bare block_on (miri)",
        }
    }

    /// Spawns a task on this executor.
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Rt::TokioCurrentThread(h) | Rt::TokioMultiThread(h) => {
                let handle = h.spawn(future);
                Task(Box::pin(async move {
                    match handle.await {
                        Ok(v) => v,
                        Err(e) => std::panic::resume_unwind(e.into_panic()),
                    }
                }))
            }
            Rt::SmolBlockOn(ex) | Rt::SmolMultiThread(ex) | Rt::Bare(ex) => {
                Task(Box::pin(ex.spawn(future)))
            }
        }
    }

    /// Runs `f` on a new OS thread; the returned task completes with its
    /// result without blocking the executor (panics propagate).
    pub fn thread<T, F>(&self, f: F) -> Task<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        spawn_thread(f)
    }

    /// Sleeps with the executor's own timer.
    pub async fn sleep(&self, d: Duration) {
        match self {
            Rt::TokioCurrentThread(_) | Rt::TokioMultiThread(_) => tokio::time::sleep(d).await,
            Rt::SmolBlockOn(_) | Rt::SmolMultiThread(_) => {
                smol::Timer::after(d).await;
            }
            Rt::Bare(_) => futures_timer::Delay::new(d).await,
        }
    }

    /// Yields to the executor once.
    pub async fn yield_now(&self) {
        futures_lite::future::yield_now().await;
    }
}

/// Runs `body` once under each executor flavour (see the module docs).
pub fn each_runtime<F, Fut>(body: F)
where
    F: Fn(Rt) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let body = Arc::new(body);
    if MIRI {
        return with_watchdog("bare block_on (miri)", move || {
            let ex = Arc::new(smol::Executor::new());
            let fut = body(Rt::Bare(ex.clone()));
            futures_lite::future::block_on(ex.run(fut));
        });
    }
    for flavour in 0..4 {
        let body = body.clone();
        with_watchdog(flavour_name(flavour), move || {
            run_flavour(flavour, move |rt| body(rt))
        });
    }
}

fn flavour_name(flavour: usize) -> &'static str {
    [
        "tokio current-thread",
        "tokio multi-thread",
        "smol block_on",
        "smol multi-thread executor",
    ][flavour]
}

fn run_flavour<F, Fut>(flavour: usize, body: F)
where
    F: FnOnce(Rt) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match flavour {
        0 => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let fut = body(Rt::TokioCurrentThread(rt.handle().clone()));
            rt.block_on(fut);
        }
        1 => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            let fut = body(Rt::TokioMultiThread(rt.handle().clone()));
            // Run the body itself as a task so it can move between workers.
            rt.block_on(async move {
                tokio::spawn(fut)
                    .await
                    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
            });
        }
        2 => {
            let ex = Arc::new(smol::Executor::new());
            let fut = body(Rt::SmolBlockOn(ex.clone()));
            smol::block_on(ex.run(fut));
        }
        _ => {
            let ex = Arc::new(smol::Executor::new());
            let (stop_tx, stop_rx) = smol::channel::unbounded::<()>();
            let helpers: Vec<_> = (0..2)
                .map(|_| {
                    let ex = ex.clone();
                    let stop_rx = stop_rx.clone();
                    std::thread::spawn(move || {
                        smol::block_on(ex.run(async move {
                            let _ = stop_rx.recv().await;
                        }))
                    })
                })
                .collect();
            let fut = body(Rt::SmolMultiThread(ex.clone()));
            let task = ex.spawn(fut);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                smol::block_on(ex.run(task))
            }));
            drop(stop_tx);
            for h in helpers {
                h.join().unwrap();
            }
            if let Err(p) = result {
                std::panic::resume_unwind(p);
            }
        }
    }
}

/// Runs `f` on its own thread and fails the test if it takes longer than
/// [`WATCHDOG`] (a hung thread is leaked; the test still fails).
pub fn with_watchdog<F: FnOnce() + Send + 'static>(what: &str, f: F) {
    with_watchdog_for(what, WATCHDOG, "a lost wakeup or a deadlock", f);
}

/// [`with_watchdog`] with a limit of its own, and `why` naming the likely
/// cause in the failure message.
pub fn with_watchdog_for<F: FnOnce() + Send + 'static>(
    what: &str,
    limit: Duration,
    why: &str,
    f: F,
) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(what.to_string())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(());
            result
        })
        .unwrap();
    match rx.recv_timeout(limit) {
        Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(p) = handle.join().unwrap() {
                eprintln!("failed under {what}");
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hung for {limit:?} under {what}: {why}")
        }
    }
}

/// Runs a blocking test body under the watchdog.
pub fn blocking<F: FnOnce() + Send + 'static>(f: F) {
    with_watchdog("threads", f);
}

/// Spawns `n` threads running `f(i)` and joins them, propagating panics.
pub fn threads<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            std::thread::spawn(move || f(i))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
        .collect()
}

/// Polls `future` once with a no-op waker and returns whether it completed.
/// The future stays pinned in place for a later poll or drop.
pub fn poll_once<F: Future + Unpin>(future: &mut F) -> std::task::Poll<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    Pin::new(future).poll(&mut cx)
}

/// Whether a [`flag_waker`] was woken.
pub struct WakeFlag(Arc<std::sync::atomic::AtomicBool>);

impl WakeFlag {
    /// Whether it was woken since the last `take`; clears the flag.
    pub fn take(&self) -> bool {
        self.0.swap(false, std::sync::atomic::Ordering::SeqCst)
    }
}

struct FlagWake(Arc<std::sync::atomic::AtomicBool>);

impl std::task::Wake for FlagWake {
    fn wake(self: Arc<Self>) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// A waker that records being woken, for tests that check exactly who a
/// primitive wakes (with [`poll_with`]).
pub fn flag_waker() -> (std::task::Waker, WakeFlag) {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    (
        std::task::Waker::from(Arc::new(FlagWake(flag.clone()))),
        WakeFlag(flag),
    )
}

/// Polls `future` once with `waker`.
pub fn poll_with<F: Future + Unpin>(
    future: &mut F,
    waker: &std::task::Waker,
) -> std::task::Poll<F::Output> {
    Pin::new(future).poll(&mut std::task::Context::from_waker(waker))
}

/// Spins (yielding the thread) until `cond` holds, failing after 30 s.
/// For "wait until the other side has registered" in tests with threads,
/// where the condition is observable (e.g. `n_waiting() == 2`).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Async form of [`wait_until`].
pub async fn wait_until_async(rt: &Rt, what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        rt.sleep(Duration::from_micros(200)).await;
    }
}

/// Runs `f` on a new OS thread; await the task for its result.
pub fn spawn_thread<T, F>(f: F) -> Task<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send_blocking(result);
    });
    Task(Box::pin(async move {
        match rx.recv().await.expect("thread vanished") {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    }))
}

/// Which world the parties of a scenario live in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum World {
    /// Every party is an async task on the test's executor.
    Tasks,
    /// Every party is an OS thread using the `_blocking` front-ends.
    Threads,
    /// Even parties are tasks, odd parties are threads: the same instance
    /// used from both worlds at once.
    Mixed,
}

impl World {
    pub const ALL: [World; 3] = [World::Tasks, World::Threads, World::Mixed];

    /// Whether party `i` is a blocking thread in this world.
    pub fn is_thread(self, i: usize) -> bool {
        match self {
            World::Tasks => false,
            World::Threads => true,
            World::Mixed => i % 2 == 1,
        }
    }
}

/// Starts party `i` of `world`: an async task running `body(false)`, or an
/// OS thread running `body(true)` to completion with `block_on` (the body
/// then uses the `_blocking` front-ends, which really block that thread).
pub fn party<T, F, Fut>(rt: &Rt, world: World, i: usize, body: F) -> Task<T>
where
    T: Send + 'static,
    F: FnOnce(bool) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    if world.is_thread(i) {
        rt.thread(move || futures_lite::future::block_on(body(true)))
    } else {
        rt.spawn(body(false))
    }
}

/// Starts `n` parties (see [`party`]) running `body(i, blocking)`.
pub fn bunch<T, F, Fut>(rt: &Rt, world: World, n: usize, body: F) -> Vec<Task<T>>
where
    T: Send + 'static,
    F: Fn(usize, bool) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let body = Arc::new(body);
    (0..n)
        .map(|i| {
            let body = body.clone();
            party(rt, world, i, move |blocking| body(i, blocking))
        })
        .collect()
}

/// Awaits every task, in order.
pub async fn join_all<T>(tasks: Vec<Task<T>>) -> Vec<T> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await);
    }
    out
}

/// A field of a container's `Debug` output (`waiting_poppers`, …): the
/// deterministic way for a test to see that a thread is registered.
pub fn debug_field(q: &impl std::fmt::Debug, field: &str) -> usize {
    let s = format!("{q:?}");
    let start = s.find(&format!("{field}: ")).expect("field in Debug") + field.len() + 2;
    s[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Poppers waiting on a container (from its `Debug` output).
pub fn waiting_poppers(q: &impl std::fmt::Debug) -> usize {
    debug_field(q, "waiting_poppers")
}

/// Pushers waiting on a bounded container (from its `Debug` output).
pub fn waiting_pushers(q: &impl std::fmt::Debug) -> usize {
    debug_field(q, "waiting_pushers")
}
