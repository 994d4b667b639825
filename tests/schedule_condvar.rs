#![cfg(not(loom))]
//! Poll-schedule model test for [`Condvar`] (with the re-exported async
//! [`Mutex`]).
//!
//! Futures are driven by hand on one thread (see `schedule_common`), under
//! proptest-generated schedules over up to 4 waiters: create waiter `k`
//! (lock the mutex with `try_lock`, then `wait(guard)` or
//! `wait_timeout(guard, 1 h)`; the future owns the guard until its first
//! poll), poll `k`, drop `k`, `notify(n)` for n in 0..=3, `notify_all()`,
//! and the test itself locking / unlocking the mutex (so that a notified
//! waiter has to wait for the lock, and can be dropped while relocking).
//! A completed wait drops its guard at once.
//!
//! The model (SPEC §4 and the docs of `src/condvar.rs`): a waiter
//! registers at its first poll, then releases the lock. Registered waiters
//! form a list in registration order; `notify(n)` notifies the `n` oldest
//! registered waiters not notified yet and returns how many (nothing is
//! stored when nobody waits). A notified waiter, when polled, consumes its
//! notification and relocks: it completes at once if the mutex is free,
//! otherwise it becomes a *relocker* until the mutex is released. Dropping a
//! notified waiter — registered or relocking — passes one notification to
//! the oldest registered waiter not notified yet (lost if there is none).
//! Dropping an un-notified waiter just withdraws it. Checked after every op:
//!
//! * (a) no lost wakeup: every notified registered waiter has been woken
//!   since its last poll; when the mutex is free and relockers exist, at
//!   least one relocker has been woken (async-lock hands the lock to one
//!   waiter at a time), and a woken relocker completes when polled;
//! * (b) nothing completes that the model forbids — no spurious wakeups:
//!   an un-notified waiter's poll is `Pending`, a relocker's poll is
//!   `Pending` while the mutex is held, and `notify` returns the model's
//!   count; a timed wait that completes reports "not timed out";
//! * (c) notifications are conserved: delivered (sum of `notify` returns)
//!   == completed waits + notified-but-not-completed waiters + those lost
//!   on a drop with nobody left to pass them to; and `try_lock` fails
//!   while the model says the mutex is held.
//!
//! To keep async-lock's timing-based anti-starvation mode out of the way
//! (a woken lock waiter that finds the mutex held for > 0.5 ms switches to
//! a fairer mode), the test takes the mutex (for itself or a new waiter)
//! only while no relocker exists; the mutex is never contended otherwise.

mod schedule_common;

use proptest::prelude::*;
use rallypoint::{Condvar, Mutex, MutexGuard};
use schedule_common::{Pool, config};
use std::task::Poll;
use std::time::Duration;

const WAITERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    New { k: usize, timed: bool },
    Poll(usize),
    Drop(usize),
    Notify(usize),
    NotifyAll,
    Lock,
    Unlock,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..WAITERS;
    prop_oneof![
        3 => (k.clone(), any::<bool>()).prop_map(|(k, timed)| Op::New { k, timed }),
        5 => k.clone().prop_map(Op::Poll),
        2 => k.prop_map(Op::Drop),
        3 => (0usize..=3).prop_map(Op::Notify),
        1 => Just(Op::NotifyAll),
        1 => Just(Op::Lock),
        1 => Just(Op::Unlock),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum W {
    Empty,
    /// Created, holds the lock, never polled.
    Fresh,
    /// Registered (in `list`).
    Waiting,
    /// Notification consumed, waiting for the mutex.
    Relocking,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Holder {
    Free,
    Test,
    Fresh(usize),
}

struct Model {
    holder: Holder,
    /// Registered waiters in registration order, with their "notified" flag.
    list: Vec<(usize, bool)>,
    w: [W; WAITERS],
    delivered: usize,
    completed: usize,
    lost: usize,
}

impl Model {
    /// Notifies up to `n` registered, un-notified waiters, oldest first.
    fn notify(&mut self, n: usize) -> usize {
        let mut count = 0;
        for entry in self.list.iter_mut() {
            if count == n {
                break;
            }
            if !entry.1 {
                entry.1 = true;
                count += 1;
            }
        }
        count
    }

    fn pass_on(&mut self) {
        if self.notify(1) == 0 {
            self.lost += 1;
        }
    }

    fn notified(&self, k: usize) -> bool {
        self.list.iter().any(|&(j, n)| j == k && n)
    }

    fn relockers(&self) -> impl Iterator<Item = usize> + '_ {
        (0..WAITERS).filter(|&k| self.w[k] == W::Relocking)
    }

    fn may_take_lock(&self) -> bool {
        self.holder == Holder::Free && self.relockers().next().is_none()
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mutex = Mutex::new(0u32);
    let condvar = Condvar::new();
    let mut test_guard: Option<MutexGuard<'_, u32>> = None;
    let mut pool: Pool<'_, bool> = Pool::new(WAITERS);
    let mut m = Model {
        holder: Holder::Free,
        list: Vec::new(),
        w: [W::Empty; WAITERS],
        delivered: 0,
        completed: 0,
        lost: 0,
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::New { k, timed } => {
                if m.w[k] == W::Empty && m.may_take_lock() {
                    let guard = mutex.try_lock();
                    prop_assert!(
                        guard.is_some(),
                        "step {step}: try_lock failed on a free mutex"
                    );
                    let guard = guard.unwrap();
                    if timed {
                        let fut = condvar.wait_timeout(guard, Duration::from_secs(3600));
                        pool.insert(k, async move {
                            let (guard, res) = fut.await;
                            drop(guard);
                            !res.timed_out()
                        });
                    } else {
                        let fut = condvar.wait(guard);
                        pool.insert(k, async move {
                            drop(fut.await);
                            true
                        });
                    }
                    m.w[k] = W::Fresh;
                    m.holder = Holder::Fresh(k);
                }
            }
            Op::Poll(k) if m.w[k] != W::Empty => {
                // `Some(ready?)`, or `None` = either is fine.
                let expect: Option<bool> = match m.w[k] {
                    W::Empty => unreachable!(),
                    W::Fresh => {
                        m.list.push((k, false));
                        m.w[k] = W::Waiting;
                        m.holder = Holder::Free;
                        Some(false)
                    }
                    W::Waiting if !m.notified(k) => Some(false),
                    W::Waiting => {
                        m.list.retain(|&(j, _)| j != k);
                        if m.holder == Holder::Free {
                            Some(true)
                        } else {
                            m.w[k] = W::Relocking;
                            Some(false)
                        }
                    }
                    W::Relocking if m.holder != Holder::Free => Some(false),
                    W::Relocking if pool.woken(k) => Some(true),
                    W::Relocking => None,
                };
                match pool.poll(k) {
                    Poll::Ready(not_timed_out) => {
                        prop_assert!(
                            expect != Some(false),
                            "step {step}: waiter {k} completed, model forbids"
                        );
                        prop_assert!(not_timed_out, "step {step}: waiter {k} reported a timeout");
                        m.w[k] = W::Empty;
                        m.completed += 1;
                    }
                    Poll::Pending => {
                        prop_assert!(
                            expect != Some(true),
                            "step {step}: waiter {k} pending, model says it completes"
                        );
                    }
                }
            }
            Op::Poll(_) => {}
            Op::Drop(k) => {
                match m.w[k] {
                    W::Empty => {}
                    W::Fresh => m.holder = Holder::Free,
                    W::Waiting => {
                        let notified = m.notified(k);
                        m.list.retain(|&(j, _)| j != k);
                        if notified {
                            m.pass_on();
                        }
                    }
                    W::Relocking => m.pass_on(),
                }
                if m.w[k] != W::Empty {
                    pool.drop_slot(k);
                    m.w[k] = W::Empty;
                }
            }
            Op::Notify(n) => {
                let got = condvar.notify(n);
                let expect = m.notify(n);
                prop_assert_eq!(got, expect, "step {}: notify({})", step, n);
                m.delivered += got;
            }
            Op::NotifyAll => {
                let got = condvar.notify_all();
                let expect = m.notify(usize::MAX);
                prop_assert_eq!(got, expect, "step {}: notify_all()", step);
                m.delivered += got;
            }
            Op::Lock => {
                if m.may_take_lock() {
                    let guard = mutex.try_lock();
                    prop_assert!(
                        guard.is_some(),
                        "step {step}: try_lock failed on a free mutex"
                    );
                    test_guard = guard;
                    m.holder = Holder::Test;
                }
            }
            Op::Unlock => {
                if m.holder == Holder::Test {
                    test_guard = None;
                    m.holder = Holder::Free;
                }
            }
        }
        // (b) the mutex is held when the model says so.
        if m.holder != Holder::Free {
            prop_assert!(
                mutex.try_lock().is_none(),
                "step {step}: mutex free, model says held"
            );
        }
        // (c) notifications conserved.
        let outstanding = m.list.iter().filter(|e| e.1).count() + m.relockers().count();
        prop_assert_eq!(
            m.delivered,
            m.completed + outstanding + m.lost,
            "step {}: notification accounting",
            step
        );
        // (a) no lost wakeup.
        for &(k, notified) in &m.list {
            if notified {
                prop_assert!(
                    pool.woken(k),
                    "step {step}: notified waiter {k} not woken after {op:?}"
                );
            }
        }
        if m.holder == Holder::Free && m.relockers().next().is_some() {
            // Released in the test's code (an unlock, or a completed wait's
            // guard dropped by the pool): the wake may still be on its way
            // from the wake thread.
            await_relocker_wake(&pool, &m);
            prop_assert!(
                m.relockers().any(|k| pool.woken(k)),
                "step {step}: mutex free but no relocker woken after {op:?}"
            );
        }
    }
    // Liveness: release the mutex, notify everyone, and every waiter must
    // complete after a bounded number of polls of woken waiters.
    drop(test_guard.take());
    if m.holder == Holder::Test {
        m.holder = Holder::Free;
        await_relocker_wake(&pool, &m);
    }
    for k in 0..WAITERS {
        if m.w[k] == W::Fresh {
            prop_assert!(pool.poll(k).is_pending());
            m.w[k] = W::Waiting;
        }
    }
    condvar.notify_all();
    // Bounded in time, not in rounds: a completed wait drops its guard in
    // the test's code, outside rallypoint, so the next relocker's wake
    // comes from rallypoint's wake thread (see `await_relocker_wake`).
    let start = std::time::Instant::now();
    while m.w.iter().any(|w| *w != W::Empty) && start.elapsed() < Duration::from_secs(10) {
        let mut progress = false;
        for k in 0..WAITERS {
            if m.w[k] != W::Empty && pool.woken(k) && pool.poll(k).is_ready() {
                m.w[k] = W::Empty;
                progress = true;
            }
        }
        if !progress {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    for k in 0..WAITERS {
        prop_assert!(m.w[k] == W::Empty, "final: waiter {k} never completed");
    }
    prop_assert!(mutex.try_lock().is_some(), "final: mutex left locked");
    Ok(())
}

/// The test's own unlock (an async-lock guard dropped outside rallypoint)
/// wakes a relocker through rallypoint's wake thread, so that no user waker
/// runs under async-lock's listener lock: the wake arrives shortly after
/// the unlock rather than during it. Waits (bounded) for it, so that the
/// model's checks see it.
fn await_relocker_wake(pool: &Pool<'_, bool>, m: &Model) {
    if m.relockers().next().is_none() {
        return;
    }
    let start = std::time::Instant::now();
    while !m.relockers().any(|k| pool.woken(k)) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no relocker woken 10 s after the mutex was released"
        );
        std::thread::sleep(Duration::from_micros(50));
    }
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn condvar_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

/// A notified waiter dropped while relocking passes its notification on.
#[test]
fn dropped_relocker_passes_notification_on() {
    run(vec![
        Op::New { k: 0, timed: false },
        Op::Poll(0),
        Op::New { k: 1, timed: true },
        Op::Poll(1),
        Op::Lock,
        Op::Notify(1),
        Op::Poll(0), // relocking: the test holds the mutex
        Op::Drop(0), // passes the notification to waiter 1
        Op::Unlock,
        Op::Poll(1),
    ])
    .unwrap();
}
