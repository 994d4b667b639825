#![cfg(not(loom))]

//! Stress tests: every primitive hammered by async tasks and blocking
//! threads at once (`World::Mixed`), under every executor of the harness,
//! with cancellations and timeouts mixed in, checking exact invariants
//! (counts, conservation, exactly-once) rather than "did not crash".
//!
//! Sizes: a few seconds for the whole file in a debug build. Scale up with
//! `RALLYPOINT_STRESS=<factor>` (e.g. `RALLYPOINT_STRESS=10 cargo test
//! --release --test stress`); under Miri the counts shrink to a handful of
//! rounds (run them with several `-Zmiri-many-seeds` instead).
//!
//! Also the target of the ThreadSanitizer CI job.

mod common;

use common::*;
use rallypoint::{
    Barrier, Condition, Condvar, Event, Mutex, PopTimeoutError, PriorityQueue, PushTimeoutError,
    Queue, Semaphore, SemaphorePermit, Stack, TryPopError, TryPushError,
};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::task::Poll;
use std::time::Duration;

/// `normal` scaled by `RALLYPOINT_STRESS`, or `miri` under Miri.
fn count(normal: usize, miri: usize) -> usize {
    scale_or(normal, miri)
}

/// A tiny deterministic PRNG (xorshift).
struct Rng(u64);
impl Rng {
    fn new(seed: usize) -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15 ^ (seed as u64).wrapping_mul(0x2545_F491_4F6C_DD1D) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Counts how often each value of `0..n` was received.
struct Seen(Vec<AtomicUsize>);
impl Seen {
    fn new(n: usize) -> Arc<Seen> {
        Arc::new(Seen((0..n).map(|_| AtomicUsize::new(0)).collect()))
    }
    fn see(&self, v: usize) {
        let before = self.0[v].fetch_add(1, SeqCst);
        assert_eq!(before, 0, "value {v} received twice");
    }
    fn total(&self) -> usize {
        self.0.iter().map(|c| c.load(SeqCst)).sum()
    }
    fn assert_exactly_once(&self) {
        for (v, c) in self.0.iter().enumerate() {
            assert_eq!(c.load(SeqCst), 1, "value {v} received {c:?} times");
        }
    }
}

/// Races `fut` against `k + 1` yields to the executor: `None` if the
/// yields won (and `fut` was dropped, i.e. cancelled at whatever point it
/// had reached after at least two polls). Always yields at least once, so
/// a retry loop around it cannot starve a single-threaded executor.
async fn or_cancel<T>(fut: impl Future<Output = T>, k: u64) -> Option<T> {
    futures_lite::future::or(async { Some(fut.await) }, async {
        for _ in 0..=k {
            futures_lite::future::yield_now().await;
        }
        None
    })
    .await
}

/// Lets other parties run: a task yields to its executor, a thread yields
/// its time slice.
async fn pause(blocking: bool) {
    if blocking {
        std::thread::yield_now();
    } else {
        futures_lite::future::yield_now().await;
    }
}

/// Spins (yielding) until `cond` holds; the watchdog catches a hang.
async fn spin_until(rt: &Rt, mut cond: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !cond() {
        spins += 1;
        // Under Miri every sleep lets the virtual clock jump ahead instead
        // of interpreting a spin loop.
        if MIRI || spins % 64 == 0 {
            // Give blocking threads (and a current-thread runtime's timers)
            // a chance on a busy machine.
            rt.sleep(Duration::from_micros(50)).await;
        } else {
            rt.yield_now().await;
        }
    }
}

// ---------------------------------------------------------------------------
// Event

/// A turnstile of two events, flipped by a controller round after round
/// while tasks and threads pass it with every front-end (plain, timeout
/// loops, cancelled and retried waits). Each round lets every party through
/// exactly once: a lost wakeup hangs (watchdog), passing a cleared event
/// overshoots the count.
#[test]
fn event_turnstile_storm() {
    each_runtime(|rt| async move {
        const PARTIES: usize = 6;
        let rounds = count(150, 6);
        let gates = Arc::new([Event::new(), Event::new()]);
        let passed = Arc::new(AtomicUsize::new(0));
        let parties = bunch(&rt, World::Mixed, PARTIES, {
            let (gates, passed) = (gates.clone(), passed.clone());
            move |i, blocking| {
                let (gates, passed) = (gates.clone(), passed.clone());
                async move {
                    let mut rng = Rng::new(i);
                    for round in 0..rounds {
                        let gate = &gates[round % 2];
                        match rng.below(4) {
                            0 if blocking => gate.wait_blocking(),
                            0 => gate.wait().await,
                            1 => loop {
                                let d = Duration::from_micros(rng.below(200));
                                let ok = if blocking {
                                    gate.wait_timeout_blocking(d)
                                } else {
                                    gate.wait_timeout(d).await
                                };
                                if ok {
                                    break;
                                }
                                pause(blocking).await;
                            },
                            2 if !blocking => {
                                // Cancelled waits, then a real one.
                                while or_cancel(gate.wait(), rng.below(3)).await.is_none() {}
                            }
                            _ => {
                                // Register, poll once, drop: the event must
                                // not keep the dead waiter.
                                let mut w = gate.wait();
                                if poll_once(&mut w).is_pending() {
                                    drop(w);
                                    if blocking {
                                        gate.wait_blocking();
                                    } else {
                                        gate.wait().await;
                                    }
                                }
                            }
                        }
                        let now = passed.fetch_add(1, SeqCst) + 1;
                        assert!(
                            now <= PARTIES * (round + 1),
                            "party {i} passed round {round}'s gate early ({now} passes)"
                        );
                    }
                }
            }
        });
        for round in 0..rounds {
            // Everyone is through the previous gate: close the next one
            // before opening this one.
            gates[(round + 1) % 2].clear();
            gates[round % 2].set();
            spin_until(&rt, || passed.load(SeqCst) == PARTIES * (round + 1)).await;
        }
        join_all(parties).await;
        assert_eq!(passed.load(SeqCst), PARTIES * rounds);
        for g in gates.iter() {
            assert!(format!("{g:?}").contains("waiters: 0"), "{g:?}");
        }
    });
}

/// set()/clear() storms from several threads and tasks at once against
/// re-waiting waiters: once the storm ends with the event set, every waiter
/// gets out, and none is left registered.
#[test]
fn event_set_clear_storm_from_many_sides() {
    each_runtime(|rt| async move {
        let flips = count(400, 8);
        let evt = Arc::new(Event::new());
        let stop = Arc::new(AtomicBool::new(false));
        let waiters = bunch(&rt, World::Mixed, 4, {
            let (evt, stop) = (evt.clone(), stop.clone());
            move |i, blocking| {
                let (evt, stop) = (evt.clone(), stop.clone());
                async move {
                    let mut rng = Rng::new(100 + i);
                    let mut n = 0usize;
                    // Checked after each wait, not before: a waiter that only
                    // starts after the storm still makes (at least) the wait
                    // that the final `set` releases.
                    loop {
                        if rng.below(3) == 0 {
                            let d = Duration::from_micros(rng.below(100));
                            if blocking {
                                evt.wait_timeout_blocking(d);
                            } else {
                                evt.wait_timeout(d).await;
                            }
                        } else if blocking {
                            evt.wait_blocking();
                        } else {
                            evt.wait().await;
                        }
                        n += 1;
                        if stop.load(SeqCst) {
                            break;
                        }
                        // A set event does not block: let the stormers run.
                        pause(blocking).await;
                    }
                    n
                }
            }
        });
        let stormers = bunch(&rt, World::Mixed, 2, {
            let evt = evt.clone();
            move |_, blocking| {
                let evt = evt.clone();
                async move {
                    for _ in 0..flips {
                        evt.set();
                        pause(blocking).await;
                        evt.clear();
                    }
                }
            }
        });
        join_all(stormers).await;
        stop.store(true, SeqCst);
        evt.set();
        // The check is that every waiter returns (a lost wakeup hangs and
        // the watchdog fails the test) and leaves no listener behind. (A
        // waiter may start after the storm: its count can be 1.)
        let counts = join_all(waiters).await;
        assert_eq!(counts.len(), 4);
        assert!(format!("{evt:?}").contains("waiters: 0"), "{evt:?}");
    });
}

// ---------------------------------------------------------------------------
// Barrier

/// Generations of a barrier passed by tasks and threads, each party often
/// arriving, then withdrawing (dropping its wait) before waiting for real.
/// A withdrawal must never break the barrier or make it trip short; every
/// generation has exactly one leader; the run stops with `abort()` after
/// the target number of trips.
#[test]
fn barrier_generations_with_withdrawals() {
    each_runtime(|rt| async move {
        const PARTIES: usize = 4;
        let generations = count(300, 5);
        let barrier = Arc::new(Barrier::new(PARTIES));
        let trips = Arc::new(AtomicUsize::new(0));
        let oks = Arc::new(AtomicUsize::new(0));
        let withdrawn = Arc::new(AtomicUsize::new(0));
        let parties = bunch(&rt, World::Mixed, PARTIES, {
            let (barrier, trips, oks, withdrawn) = (
                barrier.clone(),
                trips.clone(),
                oks.clone(),
                withdrawn.clone(),
            );
            move |i, blocking| {
                let (barrier, trips, oks, withdrawn) = (
                    barrier.clone(),
                    trips.clone(),
                    oks.clone(),
                    withdrawn.clone(),
                );
                async move {
                    let mut rng = Rng::new(200 + i);
                    loop {
                        let mut result = None;
                        match rng.below(4) {
                            0 => {
                                // Arrive and withdraw at once.
                                let mut w = barrier.wait();
                                match poll_once(&mut w) {
                                    Poll::Ready(r) => result = Some(r),
                                    Poll::Pending => {
                                        drop(w);
                                        withdrawn.fetch_add(1, SeqCst);
                                    }
                                }
                            }
                            1 if !blocking => {
                                // Wait a little, then withdraw (if still waiting).
                                match or_cancel(barrier.wait(), rng.below(4)).await {
                                    Some(r) => result = Some(r),
                                    None => {
                                        withdrawn.fetch_add(1, SeqCst);
                                    }
                                }
                            }
                            _ => {}
                        }
                        let r = match result {
                            Some(r) => r,
                            None if rng.below(2) == 0 => {
                                // A generous timeout: it must never elapse.
                                let d = Duration::from_secs(3600);
                                if blocking {
                                    barrier.wait_timeout_blocking(d)
                                } else {
                                    barrier.wait_timeout(d).await
                                }
                            }
                            None if blocking => barrier.wait_blocking(),
                            None => barrier.wait().await,
                        };
                        let r = match r {
                            Ok(r) => r,
                            Err(e) => {
                                // Only the final abort breaks the barrier.
                                assert_eq!(e.reason(), rallypoint::BrokenReason::Aborted);
                                assert!(trips.load(SeqCst) >= generations, "broken early");
                                return;
                            }
                        };
                        assert!(r.index() < PARTIES);
                        oks.fetch_add(1, SeqCst);
                        if r.is_leader() {
                            let t = trips.fetch_add(1, SeqCst) + 1;
                            if t == generations {
                                barrier.abort();
                            }
                        }
                    }
                }
            }
        });
        join_all(parties).await;
        assert_eq!(trips.load(SeqCst), generations);
        // A party whose withdrawal raced its generation's trip was counted
        // in that generation without seeing its result.
        let (oks, withdrawn) = (oks.load(SeqCst), withdrawn.load(SeqCst));
        assert!(oks <= PARTIES * generations, "{oks} results");
        assert!(
            oks + withdrawn >= PARTIES * generations,
            "{oks} results, {withdrawn} withdrawn"
        );
        assert!(barrier.is_broken());
        assert_eq!(barrier.n_waiting(), 0);
        barrier.reset();
        assert!(!barrier.is_broken());
    });
}

// ---------------------------------------------------------------------------
// Semaphore

/// Tasks and threads take permits with every front-end (single, many, arc,
/// try, timeout, cancelled), a "lender" takes permits out with `forget` and
/// puts them back with `release`, and a greedy party needs all permits at
/// once (it must not starve). A holder counter never exceeds the permits;
/// at the end every permit is back.
#[test]
fn semaphore_mixed_front_ends_conserve_permits() {
    each_runtime(|rt| async move {
        const PERMITS: usize = 4;
        let rounds = count(200, 6);
        let sem = Arc::new(Semaphore::new(PERMITS));
        let holders = Arc::new(AtomicUsize::new(0));
        let granted = Arc::new(AtomicUsize::new(0));
        let hold = {
            let holders = holders.clone();
            move |n: usize| {
                let now = holders.fetch_add(n, SeqCst) + n;
                assert!(now <= PERMITS, "{now} permits held out of {PERMITS}");
            }
        };
        let parties = bunch(&rt, World::Mixed, 6, {
            let (sem, holders, granted, hold) =
                (sem.clone(), holders.clone(), granted.clone(), hold.clone());
            move |i, blocking| {
                let (sem, holders, granted, hold) =
                    (sem.clone(), holders.clone(), granted.clone(), hold.clone());
                async move {
                    let mut rng = Rng::new(300 + i);
                    for _ in 0..rounds {
                        // Party 0 is greedy: all permits at once.
                        let n = if i == 0 {
                            PERMITS
                        } else {
                            1 + rng.below(2) as usize
                        };
                        let d = Duration::from_micros(rng.below(300));
                        let permit: Option<SemaphorePermit<'_>> = match (rng.below(5), blocking) {
                            (0, false) => Some(sem.acquire_many(n).await.unwrap()),
                            (0, true) => Some(sem.acquire_many_blocking(n).unwrap()),
                            (1, _) => sem.try_acquire_many(n).ok(),
                            (2, false) => sem.acquire_many_timeout(n, d).await.ok(),
                            (2, true) => sem.acquire_many_timeout_blocking(n, d).ok(),
                            (3, false) => or_cancel(sem.acquire_many(n), rng.below(4))
                                .await
                                .map(Result::unwrap),
                            (3, true) => {
                                let mut f = sem.acquire_many(n);
                                match poll_once(&mut f) {
                                    Poll::Ready(p) => Some(p.unwrap()),
                                    Poll::Pending => None, // cancelled
                                }
                            }
                            (_, false) => {
                                let p = sem.acquire_many_arc(n).await.unwrap();
                                hold(n);
                                granted.fetch_add(1, SeqCst);
                                pause(blocking).await;
                                holders.fetch_sub(n, SeqCst);
                                drop(p);
                                None
                            }
                            (_, true) => {
                                let p = sem.acquire_many_arc_timeout_blocking(n, d);
                                if let Ok(p) = p {
                                    hold(n);
                                    granted.fetch_add(1, SeqCst);
                                    holders.fetch_sub(n, SeqCst);
                                    drop(p);
                                }
                                None
                            }
                        };
                        if let Some(p) = permit {
                            assert_eq!(p.num_permits(), n);
                            hold(n);
                            granted.fetch_add(1, SeqCst);
                            pause(blocking).await;
                            holders.fetch_sub(n, SeqCst);
                            drop(p);
                        }
                    }
                }
            }
        });
        // The lender: forget() takes permits out of circulation, release()
        // puts the same number back.
        let lender = party(&rt, World::Threads, 1, {
            let (sem, holders, hold) = (sem.clone(), holders.clone(), hold.clone());
            move |_| async move {
                let mut rng = Rng::new(399);
                for _ in 0..rounds / 2 {
                    let n = 1 + rng.below(2) as usize;
                    if let Ok(p) = sem.acquire_many_timeout_blocking(n, Duration::from_micros(500))
                    {
                        hold(n);
                        p.forget();
                        std::thread::yield_now();
                        holders.fetch_sub(n, SeqCst);
                        sem.release(n).unwrap();
                    }
                }
            }
        });
        join_all(parties).await;
        lender.await;
        assert!(granted.load(SeqCst) > 0);
        assert_eq!(holders.load(SeqCst), 0);
        assert_eq!(sem.available_permits(), PERMITS, "{sem:?}");
        assert!(sem.try_acquire_many(PERMITS).is_ok(), "{sem:?}");
    });
}

/// A bounded semaphore used as a token pool: releases of a forgotten
/// permit racing cancelled acquirers must hand the permit on, never lose
/// it, never exceed the bound.
#[test]
fn semaphore_release_vs_cancelled_waiters() {
    each_runtime(|rt| async move {
        let rounds = count(300, 8);
        let sem = Arc::new(Semaphore::bounded(2));
        let got = Arc::new(AtomicUsize::new(0));
        let waiters = bunch(&rt, World::Mixed, 4, {
            let (sem, got) = (sem.clone(), got.clone());
            move |i, blocking| {
                let (sem, got) = (sem.clone(), got.clone());
                async move {
                    let mut rng = Rng::new(400 + i);
                    for _ in 0..rounds {
                        let p = if blocking {
                            sem.acquire_timeout_blocking(Duration::from_micros(rng.below(200)))
                                .ok()
                        } else {
                            or_cancel(sem.acquire(), rng.below(3))
                                .await
                                .map(Result::unwrap)
                        };
                        if let Some(p) = p {
                            got.fetch_add(1, SeqCst);
                            // Give the permit back by release() half the time.
                            if rng.below(2) == 0 {
                                p.forget();
                                sem.release(1).expect("release beyond the bound");
                            } else {
                                drop(p);
                            }
                        }
                        pause(blocking).await;
                    }
                }
            }
        });
        join_all(waiters).await;
        assert!(sem.release(1).is_err(), "bound exceeded: {sem:?}");
        assert_eq!(sem.available_permits(), 2, "{sem:?}");
        assert!(got.load(SeqCst) > 0);
    });
}

// ---------------------------------------------------------------------------
// Condvar / Condition

struct Buffer {
    items: VecDeque<usize>,
    capacity: usize,
    producers_left: usize,
}

/// A bounded buffer made of one `Mutex` and two `Condvar`s (`not_full`,
/// `not_empty`) with `notify_one`: producers and consumers on both sides
/// are tasks and threads, consumers use plain, `wait_while`, timed and
/// cancelled waits. Every item is consumed exactly once; a lost or
/// swallowed notification hangs (watchdog).
#[test]
fn condvar_bounded_buffer_exactly_once() {
    each_runtime(|rt| async move {
        const PRODUCERS: usize = 3;
        let per_producer = count(300, 6);
        let total = PRODUCERS * per_producer;
        let shared = Arc::new((
            Mutex::new(Buffer {
                items: VecDeque::new(),
                capacity: 3,
                producers_left: PRODUCERS,
            }),
            Condvar::new(), // not_full
            Condvar::new(), // not_empty
        ));
        let seen = Seen::new(total);
        let producers = bunch(&rt, World::Mixed, PRODUCERS, {
            let shared = shared.clone();
            move |p, blocking| {
                let shared = shared.clone();
                async move {
                    let (mutex, not_full, not_empty) = &*shared;
                    for v in p * per_producer..(p + 1) * per_producer {
                        let full = |b: &mut Buffer| b.items.len() >= b.capacity;
                        let mut g = if blocking {
                            not_full.wait_while_blocking(mutex.lock_blocking(), full)
                        } else {
                            not_full.wait_while(mutex.lock().await, full).await
                        };
                        g.items.push_back(v);
                        drop(g);
                        not_empty.notify_one();
                    }
                    let mut g = if blocking {
                        mutex.lock_blocking()
                    } else {
                        mutex.lock().await
                    };
                    g.producers_left -= 1;
                    drop(g);
                    not_empty.notify_all();
                }
            }
        });
        let consumers = bunch(&rt, World::Mixed, 4, {
            let (shared, seen) = (shared.clone(), seen.clone());
            move |c, blocking| {
                let (shared, seen) = (shared.clone(), seen.clone());
                async move {
                    let (mutex, not_full, not_empty) = &*shared;
                    let mut rng = Rng::new(500 + c);
                    let mut taken = 0usize;
                    loop {
                        let mut g = if blocking {
                            mutex.lock_blocking()
                        } else {
                            mutex.lock().await
                        };
                        // Wait until there is an item or no producer is left.
                        while g.items.is_empty() && g.producers_left > 0 {
                            g = match (rng.below(4), blocking) {
                                (0, true) => not_empty.wait_blocking(g),
                                (0, false) => not_empty.wait(g).await,
                                (1, true) => {
                                    let d = Duration::from_micros(rng.below(300));
                                    not_empty.wait_timeout_blocking(g, d).0
                                }
                                (1, false) => {
                                    let d = Duration::from_micros(rng.below(300));
                                    not_empty.wait_timeout(g, d).await.0
                                }
                                (2, false) => {
                                    // Cancelled: a notification it got passes on.
                                    match or_cancel(not_empty.wait(g), rng.below(3)).await {
                                        Some(g) => g,
                                        None => mutex.lock().await,
                                    }
                                }
                                (_, true) => not_empty.wait_while_blocking(g, |b| {
                                    b.items.is_empty() && b.producers_left > 0
                                }),
                                (_, false) => {
                                    not_empty
                                        .wait_while(g, |b| {
                                            b.items.is_empty() && b.producers_left > 0
                                        })
                                        .await
                                }
                            };
                        }
                        match g.items.pop_front() {
                            Some(v) => {
                                drop(g);
                                not_full.notify_one();
                                seen.see(v);
                                taken += 1;
                            }
                            None => return taken,
                        }
                    }
                }
            }
        });
        join_all(producers).await;
        let taken: usize = join_all(consumers).await.into_iter().sum();
        assert_eq!(taken, total);
        seen.assert_exactly_once();
        let (mutex, not_full, not_empty) = &*shared;
        assert!(mutex.lock().await.items.is_empty());
        assert_eq!(not_full.notify_all(), 0);
        assert_eq!(not_empty.notify_all(), 0);
    });
}

/// A `Condition` over an unbounded token count: producers add tokens and
/// `notify_one`, consumers (tasks and threads, plain, timed and cancelled
/// waits) take exactly one token per wakeup. Exact totals at the end.
#[test]
fn condition_tokens_exact_counts() {
    each_runtime(|rt| async move {
        const PRODUCERS: usize = 2;
        let per_producer = count(500, 8);
        let total = PRODUCERS * per_producer;
        // (tokens available, producers still running)
        let cond = Arc::new(Condition::new((0usize, PRODUCERS)));
        let producers = bunch(&rt, World::Mixed, PRODUCERS, {
            let cond = cond.clone();
            move |_, blocking| {
                let cond = cond.clone();
                async move {
                    for k in 0..per_producer {
                        let mut g = if blocking {
                            cond.lock_blocking()
                        } else {
                            cond.lock().await
                        };
                        g.0 += 1;
                        drop(g);
                        cond.notify_one();
                        if k % 8 == 0 {
                            pause(blocking).await;
                        }
                    }
                    let mut g = if blocking {
                        cond.lock_blocking()
                    } else {
                        cond.lock().await
                    };
                    g.1 -= 1;
                    drop(g);
                    cond.notify_all();
                }
            }
        });
        let consumers = bunch(&rt, World::Mixed, 4, {
            let cond = cond.clone();
            move |c, blocking| {
                let cond = cond.clone();
                async move {
                    let mut rng = Rng::new(600 + c);
                    let mut taken = 0usize;
                    let empty = |s: &mut (usize, usize)| s.0 == 0 && s.1 > 0;
                    loop {
                        let mut g = match (rng.below(3), blocking) {
                            (0, true) => {
                                let d = Duration::from_micros(rng.below(300));
                                cond.lock_blocking().wait_while_timeout_blocking(empty, d).0
                            }
                            (0, false) => {
                                let d = Duration::from_micros(rng.below(300));
                                cond.lock().await.wait_while_timeout(empty, d).await.0
                            }
                            (1, false) => {
                                let g = cond.lock().await;
                                match or_cancel(g.wait_while(empty), rng.below(3)).await {
                                    Some(g) => g,
                                    None => continue,
                                }
                            }
                            (_, true) => cond.lock_blocking().wait_while_blocking(empty),
                            (_, false) => cond.lock().await.wait_while(empty).await,
                        };
                        if g.0 > 0 {
                            g.0 -= 1;
                            taken += 1;
                        } else if g.1 == 0 {
                            return taken;
                        }
                    }
                }
            }
        });
        join_all(producers).await;
        let taken: usize = join_all(consumers).await.into_iter().sum();
        assert_eq!(taken, total);
        assert_eq!(*cond.lock().await, (0, 0));
        assert_eq!(cond.notify_all(), 0);
    });
}

// ---------------------------------------------------------------------------
// Queue, Stack, PriorityQueue

macro_rules! container_stress {
    ($module:ident, $C:ident) => {
        mod $module {
            use super::*;

            /// Producers and consumers, tasks and threads, every front-end
            /// including cancelled pushes (the item must come back: it is
            /// retried) and cancelled pops (the item must stay queued):
            /// every value is received exactly once, `task_done` + `join`
            /// account for all of them, `close` ends the consumers.
            #[test]
            fn exactly_once_with_cancellations_and_join() {
                each_runtime(|rt| async move {
                    const PRODUCERS: usize = 3;
                    let per_producer = count(400, 6);
                    let total = PRODUCERS * per_producer;
                    for capacity in [Some(2), None] {
                        let q = Arc::new(match capacity {
                            Some(c) => $C::bounded(c),
                            None => $C::unbounded(),
                        });
                        let seen = Seen::new(total);
                        let consumers = bunch(&rt, World::Mixed, 4, {
                            let (q, seen) = (q.clone(), seen.clone());
                            move |c, blocking| {
                                let (q, seen) = (q.clone(), seen.clone());
                                async move {
                                    let mut rng = Rng::new(700 + c);
                                    loop {
                                        let v = match (rng.below(4), blocking) {
                                            (0, true) => q.pop_blocking().ok(),
                                            (0, false) => q.pop().await.ok(),
                                            (1, _) => match q.try_pop() {
                                                Ok(v) => Some(v),
                                                Err(TryPopError::Empty) => {
                                                    pause(blocking).await;
                                                    continue;
                                                }
                                                Err(TryPopError::Closed) => None,
                                            },
                                            (2, _) => {
                                                let d = Duration::from_micros(rng.below(200));
                                                let r = if blocking {
                                                    q.pop_timeout_blocking(d)
                                                } else {
                                                    q.pop_timeout(d).await
                                                };
                                                match r {
                                                    Ok(v) => Some(v),
                                                    Err(PopTimeoutError::Timeout) => {
                                                        pause(blocking).await;
                                                        continue;
                                                    }
                                                    Err(PopTimeoutError::Closed) => None,
                                                }
                                            }
                                            (_, true) => {
                                                let mut f = q.pop();
                                                match poll_once(&mut f) {
                                                    Poll::Ready(r) => r.ok(),
                                                    Poll::Pending => {
                                                        drop(f); // cancelled
                                                        std::thread::yield_now();
                                                        continue;
                                                    }
                                                }
                                            }
                                            (_, false) => {
                                                match or_cancel(q.pop(), rng.below(4)).await {
                                                    Some(r) => r.ok(),
                                                    None => continue, // cancelled
                                                }
                                            }
                                        };
                                        let Some(v) = v else { return };
                                        seen.see(v);
                                        q.task_done().unwrap();
                                    }
                                }
                            }
                        });
                        let producers = bunch(&rt, World::Mixed, PRODUCERS, {
                            let q = q.clone();
                            move |p, blocking| {
                                let q = q.clone();
                                async move {
                                    let mut rng = Rng::new(800 + p);
                                    for v in p * per_producer..(p + 1) * per_producer {
                                        loop {
                                            let pushed = match (rng.below(4), blocking) {
                                                (0, true) => q.push_blocking(v).is_ok(),
                                                (0, false) => q.push(v).await.is_ok(),
                                                (1, _) => match q.try_push(v) {
                                                    Ok(()) => true,
                                                    Err(TryPushError::Full(back)) => {
                                                        assert_eq!(back, v);
                                                        pause(blocking).await;
                                                        false
                                                    }
                                                    Err(TryPushError::Closed(_)) => unreachable!(),
                                                },
                                                (2, _) => {
                                                    let d = Duration::from_micros(rng.below(200));
                                                    let r = if blocking {
                                                        q.push_timeout_blocking(v, d)
                                                    } else {
                                                        q.push_timeout(v, d).await
                                                    };
                                                    match r {
                                                        Ok(()) => true,
                                                        Err(PushTimeoutError::Timeout(back)) => {
                                                            assert_eq!(back, v);
                                                            pause(blocking).await;
                                                            false
                                                        }
                                                        Err(PushTimeoutError::Closed(_)) => {
                                                            unreachable!()
                                                        }
                                                    }
                                                }
                                                (_, true) => {
                                                    // Poll once, drop if pending: the
                                                    // item must not have gone in.
                                                    let mut f = q.push(v);
                                                    match poll_once(&mut f) {
                                                        Poll::Ready(r) => r.is_ok(),
                                                        Poll::Pending => {
                                                            drop(f);
                                                            std::thread::yield_now();
                                                            false
                                                        }
                                                    }
                                                }
                                                (_, false) => or_cancel(q.push(v), rng.below(4))
                                                    .await
                                                    .is_some(),
                                            };
                                            if pushed {
                                                break;
                                            }
                                        }
                                    }
                                }
                            }
                        });
                        join_all(producers).await;
                        // Every value pushed: join waits until each was
                        // popped and marked done.
                        if capacity.is_some() {
                            q.join().await;
                        } else {
                            let q2 = q.clone();
                            rt.thread(move || q2.join_blocking()).await;
                        }
                        assert_eq!(q.unfinished_tasks(), 0);
                        assert_eq!(seen.total(), total);
                        assert!(q.is_empty());
                        assert!(q.close());
                        join_all(consumers).await;
                        seen.assert_exactly_once();
                        assert!(q.task_done().is_err(), "task_done beyond the pushed count");
                    }
                });
            }
        }
    };
}

container_stress!(queue, Queue);
container_stress!(stack, Stack);
container_stress!(priority_queue, PriorityQueue);
