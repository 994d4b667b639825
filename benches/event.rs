//! `Event` against its peers, under every executor of the comparison.
//!
//! Groups (ids are `group/impl/executor`):
//!
//! * `event_pingpong` — two tasks bounce a token through two events (`ping`,
//!   `pong`): A sets `ping` and waits for `pong`, B waits for `ping`, clears
//!   it and sets `pong`, A clears `pong`. One iteration is one round trip.
//! * `event_broadcast8` — one setter releases 8 waiting tasks; the last of
//!   them to wake sets a `done` event (same implementation) that the setter
//!   waits for. One iteration is one broadcast to 8 waiters plus the
//!   acknowledgement. Two `go` events alternate so that a waiter can never
//!   see a stale `set`.
//! * `event_pingpong_threads` — the ping-pong between two OS threads with
//!   the blocking front-ends.
//!
//! Implementations (all give the same "manual-reset event" semantics):
//!
//! * `rallypoint` — `rallypoint::Event`.
//! * `event-listener` — an `AtomicBool` plus an `event_listener::Event`,
//!   used directly (the textbook check / listen / re-check / await loop).
//! * `tokio-notify` — an `AtomicBool` plus `tokio::sync::Notify`
//!   (`notify_waiters`, with the `Notified` future created before the
//!   check, as tokio's docs prescribe).
//! * `tokio-watch` — `tokio::sync::watch::Sender<bool>`; a wait subscribes
//!   and `wait_for(|v| *v)`.
//! * `tokio-notify-permit` (ping-pong only) — the idiomatic tokio ping-pong
//!   with `notify_one` permits and no flag (an auto-reset event: not the
//!   same semantics, shown as the floor a tokio user would compare with).
//! * `std-condvar` (threads only) — `Mutex<bool>` plus `Condvar`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::{EXECUTORS, Rt, THREADS, join_all};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// A manual-reset event with async waits.
trait AsyncEvent: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self) -> impl Future<Output = ()> + Send + '_;
}

impl AsyncEvent for rallypoint::Event {
    const NAME: &'static str = "rallypoint";
    fn create() -> Self {
        rallypoint::Event::new()
    }
    fn set(&self) {
        rallypoint::Event::set(self);
    }
    fn clear(&self) {
        rallypoint::Event::clear(self);
    }
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        rallypoint::Event::wait(self)
    }
}

/// `AtomicBool` + `event_listener::Event`, used directly.
struct ElEvent {
    flag: AtomicBool,
    ev: event_listener::Event,
}

impl AsyncEvent for ElEvent {
    const NAME: &'static str = "event-listener";
    fn create() -> Self {
        ElEvent {
            flag: AtomicBool::new(false),
            ev: event_listener::Event::new(),
        }
    }
    fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.ev.notify(usize::MAX);
    }
    fn clear(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }
    async fn wait(&self) {
        loop {
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            let listener = self.ev.listen();
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }
}

impl ElEvent {
    fn wait_blocking(&self) {
        use event_listener::Listener;
        loop {
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            let listener = self.ev.listen();
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            listener.wait();
        }
    }
}

/// `AtomicBool` + `tokio::sync::Notify`.
struct NotifyEvent {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl AsyncEvent for NotifyEvent {
    const NAME: &'static str = "tokio-notify";
    fn create() -> Self {
        NotifyEvent {
            flag: AtomicBool::new(false),
            notify: tokio::sync::Notify::new(),
        }
    }
    fn set(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }
    fn clear(&self) {
        self.flag.store(false, Ordering::SeqCst);
    }
    async fn wait(&self) {
        loop {
            // Created before the check: `notify_waiters` wakes every
            // `Notified` created before it, polled or not.
            let notified = self.notify.notified();
            if self.flag.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}

/// `tokio::sync::watch` over a `bool`.
struct WatchEvent {
    tx: tokio::sync::watch::Sender<bool>,
}

impl AsyncEvent for WatchEvent {
    const NAME: &'static str = "tokio-watch";
    fn create() -> Self {
        WatchEvent {
            tx: tokio::sync::watch::Sender::new(false),
        }
    }
    fn set(&self) {
        self.tx.send_if_modified(|v| !std::mem::replace(v, true));
    }
    fn clear(&self) {
        // No one waits for "unset": no need to notify.
        self.tx.send_if_modified(|v| {
            *v = false;
            false
        });
    }
    async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|v| *v).await;
    }
}

/// One sample of the ping-pong: `iters` round trips.
async fn pingpong<E: AsyncEvent>(rt: &Rt, iters: u64) -> Duration {
    let ping = Arc::new(E::create());
    let pong = Arc::new(E::create());
    let start = Instant::now();
    let a = {
        let (ping, pong) = (ping.clone(), pong.clone());
        rt.spawn(async move {
            for _ in 0..iters {
                ping.set();
                pong.wait().await;
                pong.clear();
            }
        })
    };
    let b = rt.spawn(async move {
        for _ in 0..iters {
            ping.wait().await;
            ping.clear();
            pong.set();
        }
    });
    a.await;
    b.await;
    start.elapsed()
}

/// The idiomatic tokio ping-pong: `notify_one` stores a permit.
async fn pingpong_notify_permit(rt: &Rt, iters: u64) -> Duration {
    let ping = Arc::new(tokio::sync::Notify::new());
    let pong = Arc::new(tokio::sync::Notify::new());
    let start = Instant::now();
    let a = {
        let (ping, pong) = (ping.clone(), pong.clone());
        rt.spawn(async move {
            for _ in 0..iters {
                ping.notify_one();
                pong.notified().await;
            }
        })
    };
    let b = rt.spawn(async move {
        for _ in 0..iters {
            ping.notified().await;
            pong.notify_one();
        }
    });
    a.await;
    b.await;
    start.elapsed()
}

const WAITERS: usize = 8;

/// One sample of the broadcast: `iters` rounds of "set, 8 waiters wake,
/// the last one acknowledges".
async fn broadcast<E: AsyncEvent>(rt: &Rt, iters: u64) -> Duration {
    let go = Arc::new([E::create(), E::create()]);
    let done = Arc::new(E::create());
    let woken = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (go, done, woken) = (go.clone(), done.clone(), woken.clone());
            rt.spawn(async move {
                for round in 0..iters {
                    go[(round % 2) as usize].wait().await;
                    if woken.fetch_add(1, Ordering::AcqRel) == WAITERS - 1 {
                        woken.store(0, Ordering::Relaxed);
                        done.set();
                    }
                }
            })
        })
        .collect();
    let setter = rt.spawn(async move {
        for round in 0..iters {
            let ev = &go[(round % 2) as usize];
            ev.set();
            done.wait().await;
            done.clear();
            ev.clear();
        }
    });
    setter.await;
    join_all(waiters).await;
    start.elapsed()
}

fn bench_pingpong(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_pingpong");
    for exec in EXECUTORS {
        let rt = Rt::new(exec);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(BenchmarkId::new(<$ty>::NAME, exec.name()), |b| {
                    b.iter_custom(|iters| rt.block_on(pingpong::<$ty>(&rt, iters)))
                });
            };
        }
        one!(rallypoint::Event);
        one!(ElEvent);
        one!(NotifyEvent);
        one!(WatchEvent);
        g.bench_function(BenchmarkId::new("tokio-notify-permit", exec.name()), |b| {
            b.iter_custom(|iters| rt.block_on(pingpong_notify_permit(&rt, iters)))
        });
    }
    g.finish();
}

fn bench_broadcast(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_broadcast8");
    for exec in EXECUTORS {
        let rt = Rt::new(exec);
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(BenchmarkId::new(<$ty>::NAME, exec.name()), |b| {
                    b.iter_custom(|iters| rt.block_on(broadcast::<$ty>(&rt, iters)))
                });
            };
        }
        one!(rallypoint::Event);
        one!(ElEvent);
        one!(NotifyEvent);
        one!(WatchEvent);
    }
    g.finish();
}

/// A manual-reset event with blocking waits.
trait BlockingEvent: Send + Sync + 'static {
    fn create() -> Self;
    fn set(&self);
    fn clear(&self);
    fn wait(&self);
}

impl BlockingEvent for rallypoint::Event {
    fn create() -> Self {
        rallypoint::Event::new()
    }
    fn set(&self) {
        rallypoint::Event::set(self);
    }
    fn clear(&self) {
        rallypoint::Event::clear(self);
    }
    fn wait(&self) {
        self.wait_blocking();
    }
}

impl BlockingEvent for ElEvent {
    fn create() -> Self {
        <ElEvent as AsyncEvent>::create()
    }
    fn set(&self) {
        AsyncEvent::set(self);
    }
    fn clear(&self) {
        AsyncEvent::clear(self);
    }
    fn wait(&self) {
        self.wait_blocking();
    }
}

/// `Mutex<bool>` + `Condvar`.
struct CondvarEvent {
    flag: Mutex<bool>,
    cv: Condvar,
}

impl BlockingEvent for CondvarEvent {
    fn create() -> Self {
        CondvarEvent {
            flag: Mutex::new(false),
            cv: Condvar::new(),
        }
    }
    fn set(&self) {
        *self.flag.lock().unwrap() = true;
        self.cv.notify_all();
    }
    fn clear(&self) {
        *self.flag.lock().unwrap() = false;
    }
    fn wait(&self) {
        let _g = self
            .cv
            .wait_while(self.flag.lock().unwrap(), |set| !*set)
            .unwrap();
    }
}

fn pingpong_threads<E: BlockingEvent>(iters: u64) -> Duration {
    let ping = Arc::new(E::create());
    let pong = Arc::new(E::create());
    let start = Instant::now();
    let b = {
        let (ping, pong) = (ping.clone(), pong.clone());
        thread::spawn(move || {
            for _ in 0..iters {
                ping.wait();
                ping.clear();
                pong.set();
            }
        })
    };
    for _ in 0..iters {
        ping.set();
        pong.wait();
        pong.clear();
    }
    b.join().unwrap();
    start.elapsed()
}

fn bench_pingpong_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_pingpong_threads");
    g.bench_function(BenchmarkId::new("rallypoint", THREADS), |b| {
        b.iter_custom(pingpong_threads::<rallypoint::Event>)
    });
    g.bench_function(BenchmarkId::new("event-listener", THREADS), |b| {
        b.iter_custom(pingpong_threads::<ElEvent>)
    });
    g.bench_function(BenchmarkId::new("std-condvar", THREADS), |b| {
        b.iter_custom(pingpong_threads::<CondvarEvent>)
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_pingpong, bench_broadcast, bench_pingpong_threads
}
criterion_main!(benches);
