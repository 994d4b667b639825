//! The blocking front-ends against their thread peers, and the mixed worlds
//! (OS threads on one side of a queue, async tasks on the other). Run with
//! `benches/blocking.py`, which measures every row idle and again with a
//! CPU spinner competing for a core, and prints the ratio tables.
//!
//! Groups (ids are `group/impl/executor`; the executor is `threads` for
//! thread-only rows, `tokio-mt` for the mixed rows):
//!
//! * `blk_sem_4t_1permit` — 4 threads (the bench thread is one of them)
//!   share a 1-permit semaphore and acquire + release it in a loop, the
//!   iterations split over the threads (`common::share`). One iteration is
//!   one acquire + release. Inside the critical section each holder bumps a
//!   shared counter with a plain load + store (no read-modify-write), so a
//!   broken mutual exclusion loses updates: every sample checks that the
//!   counter reached `iters`. Implementations:
//!   * `rallypoint` — `rallypoint::Semaphore::new(1)` (default fairness:
//!     `Fairness::Eventual(1 ms)`), `acquire_blocking`;
//!   * `rallypoint-strict` — the same `.with_fairness(Fairness::Strict)`
//!     (every released permit handed to the oldest waiter, no barging);
//!   * `async-lock` — `async_lock::Semaphore::new(1)`, `acquire_blocking`;
//!   * `std-mutex` — a `std::sync::Mutex<()>` used as the 1-permit
//!     semaphore (lock + drop the guard);
//!   * `parking_lot-mutex` — the same with `parking_lot::Mutex<()>`.
//! * `blk_queue_mpmc2x2_bounded64`, `blk_queue_mpmc4x4_bounded64`,
//!   `blk_queue_spsc_bounded1` — `common::pc_threads`: 2×2, 4×4 and 1×1
//!   producer/consumer OS threads over a queue of capacity 64, 64 and 1.
//!   The producers push the `u64` items `0..n` between them (each a
//!   contiguous share), each consumer pops a fixed share; **one iteration
//!   is one item** pushed and popped, and every sample checks the checksum
//!   of the popped items. Implementations:
//!   * `rallypoint` — `rallypoint::Queue::bounded` (`push_blocking` /
//!     `pop_blocking`), shared through an `Arc`;
//!   * `rallypoint-strict` — the same built by [`strict_queue`]:
//!     `Queue::bounded(cap).with_fairness(Fairness::Strict)`;
//!   * `crossbeam` — `crossbeam_channel::bounded` (`send` / `recv`);
//!   * `flume` — `flume::bounded`, sync API (`send` / `recv`);
//!   * `textbook` — CPython's `queue.Queue` design in Rust: one
//!     `std::sync::Mutex` around a `VecDeque<u64>` and two
//!     `std::sync::Condvar`s (`not_empty`, `not_full`) on that mutex. A
//!     push waits on `not_full` while full, appends and notifies one
//!     `not_empty` waiter; a pop mirrors it. As in CPython (whose
//!     `Condition.notify` returns at once when its waiter list is empty),
//!     waiters are counted under the lock and a side is notified only if
//!     someone waits on it; the notify is made after unlocking.
//! * `blk_condition_pingpong` — two threads (the bench thread is party 0)
//!   take turns on a counter protected by a mutex: party `p` waits while
//!   `counter % 2 != p`, increments it, unlocks and calls `notify_one`. One
//!   iteration is one round trip (two turns); each sample checks that the
//!   counter reached `2 × iters`. Implementations:
//!   * `rallypoint-condition` — `rallypoint::Condition<u64>`:
//!     `lock_blocking().wait_while_blocking(..)`;
//!   * `rallypoint-condvar` — `rallypoint::Mutex<u64>` (async-lock's) +
//!     `rallypoint::Condvar`: `Condvar::wait_while_blocking`;
//!   * `std` — `std::sync::Mutex<u64>` + `std::sync::Condvar`;
//!   * `parking_lot` — `parking_lot::Mutex<u64>` + `parking_lot::Condvar`.
//! * `blk_barrier_2` — 2 threads pass the same barrier; one iteration is
//!   one generation. The threads line up once before the clock starts;
//!   each sample checks that there was one leader per generation.
//!   Implementations: `rallypoint` (`Barrier::wait_blocking`), `std`
//!   (`std::sync::Barrier`).
//! * `blk_event_pingpong` — two threads bounce a token through two
//!   manual-reset events (`ping`, `pong`), as `event_pingpong_threads` in
//!   `benches/event.rs`: A sets `ping` and waits for `pong`, B waits for
//!   `ping`, clears it and sets `pong`, A clears `pong`. One iteration is
//!   one round trip; each sample checks that both events end cleared.
//!   Implementations: `rallypoint` (`Event::wait_blocking`), `std-condvar`
//!   (`std::sync::Mutex<bool>` + `std::sync::Condvar`, `notify_all` on set).
//! * `mix_threads_to_tasks_bounded64` — 2 producer OS threads push with the
//!   blocking front-end into a bounded(64) queue; 2 consumer tasks on a
//!   tokio multi-thread runtime (2 workers, `common::Rt` with
//!   `Exec::TokioMt`, built once) pop with `.await`.
//! * `mix_tasks_to_threads_bounded64` — the other way round: 2 producer
//!   tasks push with `.await`, 2 consumer OS threads pop with the blocking
//!   front-end.
//!
//!   In both mixed groups items and checksums are as in the queue groups
//!   (one iteration is one item). Implementations: `rallypoint`
//!   (`push_blocking` / `pop().await`, and `push().await` / `pop_blocking`),
//!   `rallypoint-strict` (the same on [`strict_queue`]), `async-channel`
//!   (`send_blocking` / `recv().await`, and `send().await` /
//!   `recv_blocking`), `flume` (`send` / `recv_async`, and `send_async` /
//!   `recv`). `mix_threads_to_tasks_bounded64/flume` has two async flume
//!   receivers, the configuration that lost a wake-up in `benches/queue.rs`
//!   (see `flume_mpmc_async` there): like there, it only runs with
//!   `BENCH_FLUME_MPMC_ASYNC=1`.
//!
//! Threads (and tasks) are started once per sample (`iter_custom`) and run
//! every iteration of the sample, so their start-up is amortized.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

mod common;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use common::{
    AsyncChan, AsyncChannel, BlockingChan, Chan, Exec, Rt, SHAPES, Shape, THREADS, expected_sum,
    first_item, join_all, pc_group, pc_threads, share,
};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rallypoint::{Fairness, Queue};

// ---------------------------------------------------------------------------
// blk_sem_4t_1permit
// ---------------------------------------------------------------------------

/// A 1-permit semaphore (or a mutex used as one), from blocking threads.
trait BlockingPermit: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    /// Acquires the permit, runs `hold` while holding it, releases it.
    fn with_permit(&self, hold: impl FnOnce());
}

/// `rallypoint::Semaphore::new(1)`, default fairness.
struct RpSem(rallypoint::Semaphore);

impl BlockingPermit for RpSem {
    const NAME: &'static str = "rallypoint";
    fn create() -> Self {
        RpSem(rallypoint::Semaphore::new(1))
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let permit = self.0.acquire_blocking().expect("semaphore closed");
        hold();
        drop(permit);
    }
}

/// `rallypoint::Semaphore::new(1).with_fairness(Fairness::Strict)`.
struct RpSemStrict(rallypoint::Semaphore);

impl BlockingPermit for RpSemStrict {
    const NAME: &'static str = "rallypoint-strict";
    fn create() -> Self {
        RpSemStrict(rallypoint::Semaphore::new(1).with_fairness(Fairness::Strict))
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let permit = self.0.acquire_blocking().expect("semaphore closed");
        hold();
        drop(permit);
    }
}

impl BlockingPermit for async_lock::Semaphore {
    const NAME: &'static str = "async-lock";
    fn create() -> Self {
        async_lock::Semaphore::new(1)
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let guard = self.acquire_blocking();
        hold();
        drop(guard);
    }
}

impl BlockingPermit for std::sync::Mutex<()> {
    const NAME: &'static str = "std-mutex";
    fn create() -> Self {
        std::sync::Mutex::new(())
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let guard = self.lock().expect("std mutex poisoned");
        hold();
        drop(guard);
    }
}

impl BlockingPermit for parking_lot::Mutex<()> {
    const NAME: &'static str = "parking_lot-mutex";
    fn create() -> Self {
        parking_lot::Mutex::new(())
    }
    fn with_permit(&self, hold: impl FnOnce()) {
        let guard = self.lock();
        hold();
        drop(guard);
    }
}

const SEM_THREADS: usize = 4;

/// One sample of `blk_sem_4t_1permit`: `iters` acquire + release split over
/// [`SEM_THREADS`] threads (the bench thread is one of them).
fn sem_4t_1permit<S: BlockingPermit>(iters: u64) -> Duration {
    let shared = Arc::new((S::create(), AtomicU64::new(0)));
    let run = |shared: &(S, AtomicU64), rounds: u64| {
        let (sem, count) = shared;
        for _ in 0..rounds {
            // A plain load + store, not a `fetch_add`: only the permit's
            // mutual exclusion keeps updates from being lost.
            sem.with_permit(|| count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed));
        }
    };
    let elapsed = common::on_threads(shared.clone(), iters, SEM_THREADS, move |shared, rounds| {
        run(shared, rounds)
    });
    assert_eq!(
        shared.1.load(Ordering::Relaxed),
        iters,
        "{}: every critical section counted once",
        S::NAME
    );
    elapsed
}

fn bench_sem(c: &mut Criterion) {
    let mut g = c.benchmark_group("blk_sem_4t_1permit");
    macro_rules! one {
        ($ty:ty) => {
            g.bench_function(
                BenchmarkId::new(<$ty as BlockingPermit>::NAME, THREADS),
                |b| b.iter_custom(sem_4t_1permit::<$ty>),
            );
        };
    }
    one!(RpSem);
    one!(RpSemStrict);
    one!(async_lock::Semaphore);
    one!(std::sync::Mutex<()>);
    one!(parking_lot::Mutex<()>);
    g.finish();
}

// ---------------------------------------------------------------------------
// blk_queue_*: the containers
// ---------------------------------------------------------------------------

common::rallypoint_chan!(Queue, "queue closed");

/// A strictly fair bounded `Queue` (`Fairness::Strict`: an item pushed
/// while poppers wait goes to the oldest of them, likewise for free slots
/// and waiting pushers; no barging).
fn strict_queue(cap: usize) -> Queue<u64> {
    Queue::bounded(cap).with_fairness(Fairness::Strict)
}

/// `rallypoint::Queue` built by [`strict_queue`].
struct RallypointStrict;

impl Chan for RallypointStrict {
    const NAME: &'static str = "rallypoint-strict";
    type Tx = Arc<Queue<u64>>;
    type Rx = Arc<Queue<u64>>;
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        let cap = cap.expect("rallypoint-strict: only bounded queues are benched");
        let q = Arc::new(strict_queue(cap));
        (q.clone(), q)
    }
    fn clone_rx(rx: &Self::Rx) -> Self::Rx {
        rx.clone()
    }
}

impl AsyncChan for RallypointStrict {
    async fn send(tx: &Self::Tx, v: u64) {
        tx.push(v).await.expect("queue closed");
    }
    async fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop().await.expect("queue closed")
    }
}

impl BlockingChan for RallypointStrict {
    fn send(tx: &Self::Tx, v: u64) {
        tx.push_blocking(v).expect("queue closed");
    }
    fn recv(rx: &mut Self::Rx) -> u64 {
        rx.pop_blocking().expect("queue closed")
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

/// CPython's `queue.Queue` in Rust: one mutex, two condition variables on
/// it, waiters counted so that a side is only notified when someone waits
/// (CPython's `Condition.notify` is a no-op on an empty waiter list).
struct TextbookQueue {
    state: std::sync::Mutex<TextbookState>,
    not_empty: std::sync::Condvar,
    not_full: std::sync::Condvar,
    cap: usize,
}

struct TextbookState {
    items: VecDeque<u64>,
    /// Threads waiting on `not_empty` (in `pop`).
    popping: usize,
    /// Threads waiting on `not_full` (in `push`).
    pushing: usize,
}

impl TextbookQueue {
    fn new(cap: usize) -> Self {
        TextbookQueue {
            state: std::sync::Mutex::new(TextbookState {
                items: VecDeque::with_capacity(cap),
                popping: 0,
                pushing: 0,
            }),
            not_empty: std::sync::Condvar::new(),
            not_full: std::sync::Condvar::new(),
            cap,
        }
    }

    fn push(&self, v: u64) {
        let mut s = self.state.lock().expect("textbook mutex poisoned");
        while s.items.len() >= self.cap {
            s.pushing += 1;
            s = self.not_full.wait(s).expect("textbook mutex poisoned");
            s.pushing -= 1;
        }
        s.items.push_back(v);
        let wake = s.popping > 0;
        drop(s);
        if wake {
            self.not_empty.notify_one();
        }
    }

    fn pop(&self) -> u64 {
        let mut s = self.state.lock().expect("textbook mutex poisoned");
        while s.items.is_empty() {
            s.popping += 1;
            s = self.not_empty.wait(s).expect("textbook mutex poisoned");
            s.popping -= 1;
        }
        let v = s.items.pop_front().expect("checked non-empty");
        let wake = s.pushing > 0;
        drop(s);
        if wake {
            self.not_full.notify_one();
        }
        v
    }
}

struct Textbook;

impl Chan for Textbook {
    const NAME: &'static str = "textbook";
    type Tx = Arc<TextbookQueue>;
    type Rx = Arc<TextbookQueue>;
    fn channel(cap: Option<usize>) -> (Self::Tx, Self::Rx) {
        let cap = cap.expect("textbook: only bounded queues are benched");
        let q = Arc::new(TextbookQueue::new(cap));
        (q.clone(), q)
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

// ---------------------------------------------------------------------------
// blk_queue_*: the groups
// ---------------------------------------------------------------------------

const MPMC2X2: Shape = Shape {
    name: "mpmc2x2",
    producers: 2,
    consumers: 2,
};
const SPSC: Shape = SHAPES[0];
const MPMC4X4: Shape = SHAPES[2];

/// The queue groups, in report order: shape and capacity.
const QUEUE_CASES: [(Shape, usize); 3] = [(MPMC2X2, 64), (MPMC4X4, 64), (SPSC, 1)];

fn bench_queue(c: &mut Criterion) {
    assert_eq!((SPSC.producers, SPSC.consumers), (1, 1));
    assert_eq!((MPMC4X4.producers, MPMC4X4.consumers), (4, 4));
    for (shape, cap) in QUEUE_CASES {
        let mut g = c.benchmark_group(pc_group("blk_queue", shape, Some(cap), false));
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(BenchmarkId::new(<$ty as Chan>::NAME, THREADS), |b| {
                    b.iter_custom(|iters| pc_threads::<$ty>(shape, Some(cap), iters))
                });
            };
        }
        one!(Rallypoint);
        one!(RallypointStrict);
        one!(Crossbeam);
        one!(Flume);
        one!(Textbook);
        g.finish();
    }
}

// ---------------------------------------------------------------------------
// blk_condition_pingpong
// ---------------------------------------------------------------------------

/// A counter two threads take turns on.
trait Turns: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    /// Waits for party `me`'s turn (`counter % 2 == me`), takes it
    /// (increments the counter) and wakes the other party.
    fn turn(&self, me: u64);
    /// The counter, once both parties are done.
    fn count(&self) -> u64;
}

/// `rallypoint::Condition`.
struct RpCondition(rallypoint::Condition<u64>);

impl Turns for RpCondition {
    const NAME: &'static str = "rallypoint-condition";
    fn create() -> Self {
        RpCondition(rallypoint::Condition::new(0))
    }
    fn turn(&self, me: u64) {
        let mut guard = self.0.lock_blocking().wait_while_blocking(|n| *n % 2 != me);
        *guard += 1;
        drop(guard);
        self.0.notify_one();
    }
    fn count(&self) -> u64 {
        *self.0.try_lock().expect("unlocked once done")
    }
}

/// `rallypoint::Mutex` + `rallypoint::Condvar`.
struct RpCondvar {
    counter: rallypoint::Mutex<u64>,
    cv: rallypoint::Condvar,
}

impl Turns for RpCondvar {
    const NAME: &'static str = "rallypoint-condvar";
    fn create() -> Self {
        RpCondvar {
            counter: rallypoint::Mutex::new(0),
            cv: rallypoint::Condvar::new(),
        }
    }
    fn turn(&self, me: u64) {
        let guard = self.counter.lock_blocking();
        let mut guard = self.cv.wait_while_blocking(guard, |n| *n % 2 != me);
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.try_lock().expect("unlocked once done")
    }
}

/// `std::sync::Mutex` + `std::sync::Condvar`.
struct StdCondvar {
    counter: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl Turns for StdCondvar {
    const NAME: &'static str = "std";
    fn create() -> Self {
        StdCondvar {
            counter: std::sync::Mutex::new(0),
            cv: std::sync::Condvar::new(),
        }
    }
    fn turn(&self, me: u64) {
        let guard = self.counter.lock().expect("std mutex poisoned");
        let mut guard = self
            .cv
            .wait_while(guard, |n| *n % 2 != me)
            .expect("std mutex poisoned");
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.lock().expect("std mutex poisoned")
    }
}

/// `parking_lot::Mutex` + `parking_lot::Condvar`.
struct PlCondvar {
    counter: parking_lot::Mutex<u64>,
    cv: parking_lot::Condvar,
}

impl Turns for PlCondvar {
    const NAME: &'static str = "parking_lot";
    fn create() -> Self {
        PlCondvar {
            counter: parking_lot::Mutex::new(0),
            cv: parking_lot::Condvar::new(),
        }
    }
    fn turn(&self, me: u64) {
        let mut guard = self.counter.lock();
        self.cv.wait_while(&mut guard, |n| *n % 2 != me);
        *guard += 1;
        drop(guard);
        self.cv.notify_one();
    }
    fn count(&self) -> u64 {
        *self.counter.lock()
    }
}

/// One sample of the ping-pong: `iters` round trips (the bench thread is
/// party 0).
fn condition_pingpong<T: Turns>(iters: u64) -> Duration {
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
    other.join().expect("ping-pong thread panicked");
    let elapsed = start.elapsed();
    assert_eq!(turns.count(), 2 * iters, "{}: every turn taken", T::NAME);
    elapsed
}

fn bench_condition(c: &mut Criterion) {
    let mut g = c.benchmark_group("blk_condition_pingpong");
    macro_rules! one {
        ($ty:ty) => {
            g.bench_function(BenchmarkId::new(<$ty as Turns>::NAME, THREADS), |b| {
                b.iter_custom(condition_pingpong::<$ty>)
            });
        };
    }
    one!(RpCondition);
    one!(RpCondvar);
    one!(StdCondvar);
    one!(PlCondvar);
    g.finish();
}

// ---------------------------------------------------------------------------
// blk_barrier_2
// ---------------------------------------------------------------------------

trait BlockingBarrier: Send + Sync + 'static {
    const NAME: &'static str;
    fn create(parties: usize) -> Self;
    /// Waits for the generation; whether this party is its leader.
    fn wait(&self) -> bool;
}

impl BlockingBarrier for rallypoint::Barrier {
    const NAME: &'static str = "rallypoint";
    fn create(parties: usize) -> Self {
        rallypoint::Barrier::new(parties)
    }
    fn wait(&self) -> bool {
        self.wait_blocking().expect("barrier broken").is_leader()
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

const BARRIER_PARTIES: usize = 2;

/// One sample: `iters` generations of [`BARRIER_PARTIES`] threads (the
/// bench thread is one of them), lined up once before the clock starts.
fn barrier_generations<B: BlockingBarrier>(iters: u64) -> Duration {
    let barrier = Arc::new(B::create(BARRIER_PARTIES));
    let run = move |barrier: &B| (0..iters).map(|_| u64::from(barrier.wait())).sum::<u64>();
    let helpers: Vec<_> = (1..BARRIER_PARTIES)
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
    leaders += helpers
        .into_iter()
        .map(|h| h.join().expect("barrier thread panicked"))
        .sum::<u64>();
    let elapsed = start.elapsed();
    assert_eq!(leaders, iters, "{}: one leader per generation", B::NAME);
    elapsed
}

fn bench_barrier(c: &mut Criterion) {
    let mut g = c.benchmark_group("blk_barrier_2");
    macro_rules! one {
        ($ty:ty) => {
            g.bench_function(
                BenchmarkId::new(<$ty as BlockingBarrier>::NAME, THREADS),
                |b| b.iter_custom(barrier_generations::<$ty>),
            );
        };
    }
    one!(rallypoint::Barrier);
    one!(std::sync::Barrier);
    g.finish();
}

// ---------------------------------------------------------------------------
// blk_event_pingpong
// ---------------------------------------------------------------------------

/// A manual-reset event with blocking waits.
trait BlockingEvent: Send + Sync + 'static {
    const NAME: &'static str;
    fn create() -> Self;
    fn set(&self);
    fn clear(&self);
    fn is_set(&self) -> bool;
    fn wait(&self);
}

impl BlockingEvent for rallypoint::Event {
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
    fn is_set(&self) -> bool {
        rallypoint::Event::is_set(self)
    }
    fn wait(&self) {
        self.wait_blocking();
    }
}

/// `Mutex<bool>` + `Condvar`.
struct CondvarEvent {
    flag: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl BlockingEvent for CondvarEvent {
    const NAME: &'static str = "std-condvar";
    fn create() -> Self {
        CondvarEvent {
            flag: std::sync::Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }
    fn set(&self) {
        *self.flag.lock().expect("std mutex poisoned") = true;
        self.cv.notify_all();
    }
    fn clear(&self) {
        *self.flag.lock().expect("std mutex poisoned") = false;
    }
    fn is_set(&self) -> bool {
        *self.flag.lock().expect("std mutex poisoned")
    }
    fn wait(&self) {
        let guard = self.flag.lock().expect("std mutex poisoned");
        let _set = self
            .cv
            .wait_while(guard, |set| !*set)
            .expect("std mutex poisoned");
    }
}

/// One sample of the event ping-pong: `iters` round trips (the bench thread
/// is A).
fn event_pingpong<E: BlockingEvent>(iters: u64) -> Duration {
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
    b.join().expect("ping-pong thread panicked");
    let elapsed = start.elapsed();
    assert!(
        !ping.is_set() && !pong.is_set(),
        "{}: both events cleared after the last round trip",
        E::NAME
    );
    elapsed
}

fn bench_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("blk_event_pingpong");
    macro_rules! one {
        ($ty:ty) => {
            g.bench_function(
                BenchmarkId::new(<$ty as BlockingEvent>::NAME, THREADS),
                |b| b.iter_custom(event_pingpong::<$ty>),
            );
        };
    }
    one!(rallypoint::Event);
    one!(CondvarEvent);
    g.finish();
}

// ---------------------------------------------------------------------------
// mix_*: threads on one side, tokio-mt tasks on the other
// ---------------------------------------------------------------------------

/// Producers and consumers of the mixed groups.
const MIX_SHAPE: Shape = Shape {
    name: "mix2x2",
    producers: 2,
    consumers: 2,
};
const MIX_CAP: usize = 64;

/// Which side of the queue runs on OS threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mix {
    /// Producer threads (blocking push), consumer tasks (`.await` pop).
    ThreadsToTasks,
    /// Producer tasks (`.await` push), consumer threads (blocking pop).
    TasksToThreads,
}

impl Mix {
    fn group(self) -> String {
        let dir = match self {
            Mix::ThreadsToTasks => "threads_to_tasks",
            Mix::TasksToThreads => "tasks_to_threads",
        };
        format!("mix_{dir}_bounded{MIX_CAP}")
    }
}

/// One sample of a mixed group: [`MIX_SHAPE`] over a bounded
/// [`MIX_CAP`] container, the producers pushing the items `0..iters`
/// between them (each a contiguous share), each consumer popping its share.
/// Tasks run on `rt`; threads are plain OS threads, joined from the bench
/// thread outside the runtime. Panics unless the consumers received exactly
/// the items' checksum.
fn pc_mixed<C: AsyncChan + BlockingChan>(rt: &Rt, mix: Mix, iters: u64) -> Duration {
    let shape = MIX_SHAPE;
    let (tx, rx) = C::channel(Some(MIX_CAP));
    let mut rxs: Vec<C::Rx> = (1..shape.consumers).map(|_| C::clone_rx(&rx)).collect();
    rxs.insert(0, rx);
    let ranges: Vec<_> = (0..shape.producers)
        .map(|i| {
            let first = first_item(iters, shape.producers, i);
            first..first + share(iters, shape.producers, i)
        })
        .collect();
    let quotas: Vec<u64> = (0..shape.consumers)
        .map(|j| share(iters, shape.consumers, j))
        .collect();

    let start = Instant::now();
    let sum = match mix {
        Mix::ThreadsToTasks => {
            let consumers: Vec<_> = rxs
                .into_iter()
                .zip(quotas)
                .map(|(mut rx, n)| {
                    rt.spawn(async move {
                        let mut sum = 0u64;
                        for _ in 0..n {
                            sum = sum.wrapping_add(<C as AsyncChan>::recv(&mut rx).await);
                        }
                        sum
                    })
                })
                .collect();
            let producers: Vec<_> = ranges
                .into_iter()
                .map(|items| {
                    let tx = tx.clone();
                    thread::spawn(move || {
                        for v in items {
                            <C as BlockingChan>::send(&tx, v);
                        }
                    })
                })
                .collect();
            drop(tx);
            for p in producers {
                p.join().expect("producer thread panicked");
            }
            rt.block_on(join_all(consumers))
        }
        Mix::TasksToThreads => {
            let consumers: Vec<_> = rxs
                .into_iter()
                .zip(quotas)
                .map(|(mut rx, n)| {
                    thread::spawn(move || {
                        let mut sum = 0u64;
                        for _ in 0..n {
                            sum = sum.wrapping_add(<C as BlockingChan>::recv(&mut rx));
                        }
                        sum
                    })
                })
                .collect();
            let producers: Vec<_> = ranges
                .into_iter()
                .map(|items| {
                    let tx = tx.clone();
                    rt.spawn(async move {
                        for v in items {
                            <C as AsyncChan>::send(&tx, v).await;
                        }
                    })
                })
                .collect();
            drop(tx);
            rt.block_on(join_all(producers));
            consumers
                .into_iter()
                .map(|c| c.join().expect("consumer thread panicked"))
                .collect()
        }
    }
    .into_iter()
    .fold(0u64, u64::wrapping_add);
    let elapsed = start.elapsed();
    assert_eq!(
        sum,
        expected_sum(iters),
        "{} ({:?}): checksum of the popped items",
        C::NAME,
        mix
    );
    elapsed
}

/// Whether to bench flume with two async receivers
/// (`mix_threads_to_tasks_bounded64/flume`): off unless
/// `BENCH_FLUME_MPMC_ASYNC=1`, as in `benches/queue.rs`, where several
/// async flume receivers lost a wake-up (deadlocking `cargo bench`).
fn flume_mpmc_async() -> bool {
    std::env::var_os("BENCH_FLUME_MPMC_ASYNC").is_some_and(|v| v == "1")
}

fn bench_mixed(c: &mut Criterion) {
    let rt = Rt::new(Exec::TokioMt);
    for mix in [Mix::ThreadsToTasks, Mix::TasksToThreads] {
        let mut g = c.benchmark_group(mix.group());
        macro_rules! one {
            ($ty:ty) => {
                g.bench_function(
                    BenchmarkId::new(<$ty as Chan>::NAME, rt.exec().name()),
                    |b| b.iter_custom(|iters| pc_mixed::<$ty>(&rt, mix, iters)),
                );
            };
        }
        one!(Rallypoint);
        one!(RallypointStrict);
        one!(AsyncChannel);
        if mix == Mix::TasksToThreads || flume_mpmc_async() {
            one!(Flume);
        }
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_sem, bench_queue, bench_condition, bench_barrier, bench_event, bench_mixed
}
criterion_main!(benches);
