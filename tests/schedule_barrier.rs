#![cfg(not(loom))]
//! Poll-schedule model test for [`Barrier`].
//!
//! Futures are driven by hand on one thread (see `schedule_common`), under
//! proptest-generated schedules over a barrier of 1..=4 parties and up to 5
//! waiters: create waiter `k` (`wait()`), poll `k`, drop `k`, `abort()`,
//! `reset()`, and a zero-timeout wait (`wait_timeout(Duration::ZERO)`,
//! driven to completion at once).
//!
//! The model (SPEC §1): a party *arrives* at its first poll (futures are
//! lazy) and joins the current generation's arrival list, unless the
//! barrier is broken (then it fails at once). When the list reaches
//! `parties`, the generation trips: the arriving party returns at once as
//! leader (index `parties - 1`) and every listed party is released with
//! its rank in the list (0, 1, …). Dropping an arrived, unreleased party
//! withdraws it (the list shrinks, nothing breaks). `abort()` fails the
//! listed parties (`Aborted`) and breaks the barrier; `reset()` fails the
//! listed parties (`Reset`) and unbreaks it. A zero-timeout wait either
//! completes the generation (as leader) or times out, which fails the
//! listed parties (`PartyTimedOut`; itself `TimedOut`) and breaks the
//! barrier (Python semantics). A broken barrier keeps the reason it first
//! broke for, which every wait on it is told (a zero-timeout one too),
//! until a reset. A released party's outcome is fixed: it survives later
//! generations, aborts and resets. Checked after every op:
//!
//! * (a) no lost wakeup: every released party has been woken since its last
//!   poll;
//! * (b) nothing completes that the model forbids: polls return `Ready`
//!   exactly when the model says so, with exactly the model's outcome
//!   (rank, leader flag, or the reason it failed);
//! * `n_waiting()` and `is_broken()` agree with the model.
//!
//! At the end every released party is polled and must complete.

mod schedule_common;

use proptest::prelude::*;
use rallypoint::{Barrier, BarrierWaitResult, BrokenBarrierError, BrokenReason};
use schedule_common::{Pool, config};
use std::task::Poll;
use std::time::Duration;

const WAITERS: usize = 5;

#[derive(Debug, Clone)]
enum Op {
    New(usize),
    Poll(usize),
    Drop(usize),
    Abort,
    Reset,
    /// `wait_timeout(Duration::ZERO)`, driven to completion.
    WaitZero,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..WAITERS;
    prop_oneof![
        3 => k.clone().prop_map(Op::New),
        5 => k.clone().prop_map(Op::Poll),
        2 => k.prop_map(Op::Drop),
        1 => Just(Op::Abort),
        1 => Just(Op::Reset),
        1 => Just(Op::WaitZero),
    ]
}

/// A party's outcome: `Ok((index, leader))` or why it failed.
type Outcome = Result<(usize, bool), BrokenReason>;

fn outcome(r: Result<BarrierWaitResult, BrokenBarrierError>) -> Outcome {
    r.map(|r| (r.index(), r.is_leader()))
        .map_err(|e| e.reason())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum W {
    Empty,
    Fresh,
    Arrived,
    Released(Outcome),
}

struct Model {
    parties: usize,
    /// Why the barrier is broken (as later waits are told).
    broken: Option<BrokenReason>,
    /// The live parties of the filling generation, in arrival order.
    arrived: Vec<usize>,
    w: [W; WAITERS],
}

impl Model {
    /// The generation fills with one more party (not in `arrived`): trip.
    fn trip(&mut self) -> Outcome {
        for (rank, k) in std::mem::take(&mut self.arrived).into_iter().enumerate() {
            self.w[k] = W::Released(Ok((rank, false)));
        }
        Ok((self.parties - 1, true))
    }

    fn fail_arrived(&mut self, reason: BrokenReason) {
        for k in std::mem::take(&mut self.arrived) {
            self.w[k] = W::Released(Err(reason));
        }
    }
}

fn run(parties: usize, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let barrier = Barrier::new(parties);
    let mut pool: Pool<'_, Result<BarrierWaitResult, BrokenBarrierError>> = Pool::new(WAITERS);
    let mut m = Model {
        parties,
        broken: None,
        arrived: Vec::new(),
        w: [W::Empty; WAITERS],
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::New(k) => {
                if m.w[k] == W::Empty {
                    pool.insert(k, barrier.wait());
                    m.w[k] = W::Fresh;
                }
            }
            Op::Poll(k) if m.w[k] != W::Empty => {
                // What the model expects: `Some(outcome)` = Ready.
                let expect: Option<Outcome> = match m.w[k] {
                    W::Empty => unreachable!(),
                    W::Fresh if m.broken.is_some() => m.broken.map(Err),
                    W::Fresh if m.arrived.len() + 1 == m.parties => Some(m.trip()),
                    W::Fresh => {
                        m.arrived.push(k);
                        m.w[k] = W::Arrived;
                        None
                    }
                    W::Arrived => None,
                    W::Released(o) => Some(o),
                };
                match (pool.poll(k), expect) {
                    (Poll::Ready(r), Some(o)) => {
                        prop_assert_eq!(outcome(r), o, "step {}: waiter {} outcome", step, k);
                        m.w[k] = W::Empty;
                    }
                    (Poll::Pending, None) => {}
                    (Poll::Ready(r), None) => {
                        prop_assert!(
                            false,
                            "step {step}: waiter {k} completed with {r:?}, model forbids"
                        )
                    }
                    (Poll::Pending, Some(o)) => {
                        prop_assert!(false, "step {step}: waiter {k} pending, model says {o:?}")
                    }
                }
            }
            Op::Poll(_) => {}
            Op::Drop(k) => {
                if m.w[k] != W::Empty {
                    if m.w[k] == W::Arrived {
                        m.arrived.retain(|&j| j != k);
                    }
                    pool.drop_slot(k);
                    m.w[k] = W::Empty;
                }
            }
            Op::Abort => {
                barrier.abort();
                m.broken.get_or_insert(BrokenReason::Aborted);
                m.fail_arrived(BrokenReason::Aborted);
            }
            Op::Reset => {
                barrier.reset();
                m.fail_arrived(BrokenReason::Reset);
                m.broken = None;
            }
            Op::WaitZero => {
                let got = outcome(futures_lite::future::block_on(
                    barrier.wait_timeout(Duration::ZERO),
                ));
                let expect = if let Some(reason) = m.broken {
                    Err(reason)
                } else if m.arrived.len() + 1 == m.parties {
                    m.trip()
                } else {
                    m.broken = Some(BrokenReason::PartyTimedOut);
                    m.fail_arrived(BrokenReason::PartyTimedOut);
                    Err(BrokenReason::TimedOut)
                };
                prop_assert_eq!(got, expect, "step {}: wait_timeout(ZERO)", step);
            }
        }
        prop_assert_eq!(
            barrier.n_waiting(),
            m.arrived.len(),
            "step {}: n_waiting",
            step
        );
        prop_assert_eq!(
            barrier.is_broken(),
            m.broken.is_some(),
            "step {}: is_broken",
            step
        );
        for k in 0..WAITERS {
            if let W::Released(_) = m.w[k] {
                prop_assert!(
                    pool.woken(k),
                    "step {step}: lost wakeup for released waiter {k} after {op:?}"
                );
            }
        }
    }
    for k in 0..WAITERS {
        if let W::Released(o) = m.w[k] {
            match pool.poll(k) {
                Poll::Ready(r) => prop_assert_eq!(outcome(r), o, "final: waiter {}", k),
                Poll::Pending => prop_assert!(false, "final: released waiter {k} pending"),
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn barrier_matches_model(parties in 1usize..=4, ops in prop::collection::vec(op(), 1..40)) {
        run(parties, ops)?;
    }
}

/// Withdrawal: a dropped party does not count, and ranks skip it.
#[test]
fn withdrawn_party_takes_no_rank() {
    run(
        3,
        vec![
            Op::New(0),
            Op::Poll(0),
            Op::New(1),
            Op::Poll(1),
            Op::Drop(0),
            Op::New(2),
            Op::Poll(2),
            Op::New(3),
            Op::Poll(3),
            Op::Poll(1),
            Op::Poll(2),
        ],
    )
    .unwrap();
}
