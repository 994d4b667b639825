//! `Condvar` and `Condition` against their peers, under every executor of
//! the comparison.
//!
//! Groups (ids are `group/impl/executor`):
//!
//! * `condvar_pingpong` — two tasks take turns on a counter protected by a
//!   mutex: party `p` (0 or 1) waits while `counter % 2 != p`, increments
//!   the counter, unlocks and calls `notify_one`. One iteration is one
//!   round trip (two turns, two `notify_one`s, and in the steady state two
//!   waits). Each sample checks that the counter reached `2 × iters`.
//! * `condvar_pingpong_threads` — the same between two OS threads with the
//!   blocking front-ends (the bench thread is party 0).
//!
//! Implementations:
//!
//! * `rallypoint` — `rallypoint::Mutex<u64>` (async-lock's) +
//!   `rallypoint::Condvar`: `wait_while` / `wait_while_blocking`.
//! * `rallypoint-condition` — `rallypoint::Condition<u64>` (the same pair in
//!   one value): `lock().await.wait_while(..)` / `lock_blocking()
//!   .wait_while_blocking(..)`. (`benches/report.py` lists it as a peer of
//!   `rallypoint`, so its column is Condvar ÷ Condition.)
//! * `tokio-mutex-notify` (async) — the tokio equivalent of a mutex +
//!   condvar: `tokio::sync::Mutex<u64>` plus one `tokio::sync::Notify` per
//!   party. A party creates and `enable()`s its `Notified` *before* checking
//!   the counter under the lock (so no wake-up is lost), awaits it if it is
//!   not its turn, and wakes the other party with `notify_one`.
//! * `tokio-atomic-notify` (async) — the lock-free floor: an `AtomicU64`
//!   counter plus one `Notify` per party, same protocol without the mutex.
//! * `std-condvar` (threads) — `std::sync::Mutex<u64>` +
//!   `std::sync::Condvar` (`wait_while`, `notify_one` after unlocking).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{EXECUTORS, Rt, THREADS};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tokio::sync::Notify;

/// A counter two async parties take turns on.
trait AsyncTurns: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    /// Waits for party `me`'s turn (`counter % 2 == me`), takes it
    /// (increments the counter) and wakes the other party.
    fn turn(&self, me: u64) -> impl Future<Output = ()> + Send + '_;
    /// The counter, once both parties are done.
    fn count(&self) -> u64;
}

/// `rallypoint::Mutex` + `rallypoint::Condvar`.
struct RpCondvar {
    counter: rallypoint::Mutex<u64>,
    cv: rallypoint::Condvar,
}

impl AsyncTurns for RpCondvar {
    const NAME: &'static str = "rallypoint";
    fn create() -> Self {
        RpCondvar {
            counter: rallypoint::Mutex::new(0),
            cv: rallypoint::Condvar::new(),
        }
    }
    async fn turn(&self, me: u64) {
        let guard = self.counter.lock().await;
        let mut guard = self.cv.wait_while(guard, |n| *n % 2 != me).await;
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.try_lock().expect("unlocked once done")
    }
}

/// `rallypoint::Condition`.
struct RpCondition {
    cond: rallypoint::Condition<u64>,
}

impl AsyncTurns for RpCondition {
    const NAME: &'static str = "rallypoint-condition";
    fn create() -> Self {
        RpCondition {
            cond: rallypoint::Condition::new(0),
        }
    }
    async fn turn(&self, me: u64) {
        let mut guard = self.cond.lock().await.wait_while(|n| *n % 2 != me).await;
        *guard += 1;
        drop(guard);
        self.cond.notify_one();
    }
    fn count(&self) -> u64 {
        *self.cond.try_lock().expect("unlocked once done")
    }
}

/// `tokio::sync::Mutex` + one `Notify` per party.
struct TokioMutexNotify {
    counter: tokio::sync::Mutex<u64>,
    wake: [Notify; 2],
}

impl AsyncTurns for TokioMutexNotify {
    const NAME: &'static str = "tokio-mutex-notify";
    fn create() -> Self {
        TokioMutexNotify {
            counter: tokio::sync::Mutex::new(0),
            wake: [Notify::new(), Notify::new()],
        }
    }
    async fn turn(&self, me: u64) {
        loop {
            let mut notified = pin!(self.wake[me as usize].notified());
            notified.as_mut().enable();
            {
                let mut n = self.counter.lock().await;
                if *n % 2 == me {
                    *n += 1;
                    break;
                }
            }
            notified.await;
        }
        self.wake[1 - me as usize].notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.try_lock().expect("unlocked once done")
    }
}

/// `AtomicU64` + one `Notify` per party.
struct TokioAtomicNotify {
    counter: AtomicU64,
    wake: [Notify; 2],
}

impl AsyncTurns for TokioAtomicNotify {
    const NAME: &'static str = "tokio-atomic-notify";
    fn create() -> Self {
        TokioAtomicNotify {
            counter: AtomicU64::new(0),
            wake: [Notify::new(), Notify::new()],
        }
    }
    async fn turn(&self, me: u64) {
        loop {
            let mut notified = pin!(self.wake[me as usize].notified());
            notified.as_mut().enable();
            let n = self.counter.load(Ordering::Acquire);
            if n % 2 == me {
                // Only the party whose turn it is writes.
                self.counter.store(n + 1, Ordering::Release);
                break;
            }
            notified.await;
        }
        self.wake[1 - me as usize].notify_one();
    }
    fn count(&self) -> u64 {
        self.counter.load(Ordering::Acquire)
    }
}

/// One sample of the ping-pong: `iters` round trips.
async fn pingpong<T: AsyncTurns>(rt: &Rt, iters: u64) -> Duration {
    let turns = Arc::new(T::create());
    let start = Instant::now();
    let parties: Vec<_> = (0..2)
        .map(|me| {
            let turns = turns.clone();
            rt.spawn(async move {
                for _ in 0..iters {
                    turns.turn(me).await;
                }
            })
        })
        .collect();
    common::join_all(parties).await;
    let elapsed = start.elapsed();
    assert_eq!(turns.count(), 2 * iters, "{}: every turn taken", T::NAME);
    elapsed
}

fn bench_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("condvar_pingpong");
    for exec in EXECUTORS {
        let rt = Rt::new(exec);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(
                    BenchmarkId::new(<$ty as AsyncTurns>::NAME, exec.name()),
                    |b| b.iter_custom(|iters| rt.block_on(pingpong::<$ty>(&rt, iters))),
                );
            };
        }
        one!(RpCondvar);
        one!(RpCondition);
        one!(TokioMutexNotify);
        one!(TokioAtomicNotify);
    }
    g.finish();
}

/// A counter two threads take turns on.
trait BlockingTurns: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn turn(&self, me: u64);
    fn count(&self) -> u64;
}

impl BlockingTurns for RpCondvar {
    const NAME: &'static str = "rallypoint";
    fn create() -> Self {
        <RpCondvar as AsyncTurns>::create()
    }
    fn turn(&self, me: u64) {
        let guard = self.counter.lock_blocking();
        let mut guard = self.cv.wait_while_blocking(guard, |n| *n % 2 != me);
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        <RpCondvar as AsyncTurns>::count(self)
    }
}

impl BlockingTurns for RpCondition {
    const NAME: &'static str = "rallypoint-condition";
    fn create() -> Self {
        <RpCondition as AsyncTurns>::create()
    }
    fn turn(&self, me: u64) {
        let mut guard = self
            .cond
            .lock_blocking()
            .wait_while_blocking(|n| *n % 2 != me);
        *guard += 1;
        drop(guard);
        self.cond.notify_one();
    }
    fn count(&self) -> u64 {
        <RpCondition as AsyncTurns>::count(self)
    }
}

/// `std::sync::Mutex` + `std::sync::Condvar`.
struct StdCondvar {
    counter: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl BlockingTurns for StdCondvar {
    const NAME: &'static str = "std-condvar";
    fn create() -> Self {
        StdCondvar {
            counter: std::sync::Mutex::new(0),
            cv: std::sync::Condvar::new(),
        }
    }
    fn turn(&self, me: u64) {
        let guard = self.counter.lock().unwrap();
        let mut guard = self.cv.wait_while(guard, |n| *n % 2 != me).unwrap();
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.lock().unwrap()
    }
}

fn pingpong_threads<T: BlockingTurns>(iters: u64) -> Duration {
    let turns = Arc::new(T::create());
    let start = Instant::now();
    let other = {
        let turns = turns.clone();
        thread::spawn(move || {
            for _ in 0..iters {
                turns.turn(1);
            }
        })
    };
    for _ in 0..iters {
        turns.turn(0);
    }
    other.join().unwrap();
    let elapsed = start.elapsed();
    assert_eq!(turns.count(), 2 * iters, "{}: every turn taken", T::NAME);
    elapsed
}

fn bench_pingpong_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("condvar_pingpong_threads");
    macro_rules! one {
        ($ty:ty) => {
            g.bench_function(
                BenchmarkId::new(<$ty as BlockingTurns>::NAME, THREADS),
                |b| b.iter_custom(pingpong_threads::<$ty>),
            );
        };
    }
    one!(RpCondvar);
    one!(RpCondition);
    one!(StdCondvar);
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_pingpong, bench_pingpong_threads
}
criterion_main!(benches);
