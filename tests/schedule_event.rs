#![cfg(not(loom))]
//! Poll-schedule model test for [`Event`].
//!
//! Futures are driven by hand on one thread (see `schedule_common`), under
//! proptest-generated schedules of: create waiter `k` (`wait()` or
//! `wait_timeout(1 h)`), poll `k`, drop `k`, `set()`, `clear()`, and a
//! try-wait (`wait_timeout(Duration::ZERO)`, polled once).
//!
//! The model: a flag and a generation bumped by every unset → set
//! transition. A waiter starts waiting at its first poll (futures are lazy)
//! and remembers the generation then; it may complete iff the flag is set or
//! the generation has moved on since it started — SPEC §2: "a waiter that
//! was waiting when `set()` ran completes even if `clear()` runs before it
//! is polled". Checked after every op:
//!
//! * (a) no lost wakeup: every started waiter the model releases has had its
//!   waker called since its last poll;
//! * (b) nothing completes that the model forbids: a poll returns `Ready`
//!   exactly when the model says so, and `wait_timeout` resolves to `true`;
//!   a try-wait returns exactly `is_set()`;
//! * the flag: `is_set()` agrees with the model.
//!
//! At the end every live waiter the model releases is polled and must
//! complete.

mod schedule_common;

use proptest::prelude::*;
use rallypoint::Event;
use schedule_common::{Pool, config};
use std::task::Poll;
use std::time::Duration;

const WAITERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    /// Create waiter k (if its slot is free); `timed` uses `wait_timeout(1 h)`.
    New {
        k: usize,
        timed: bool,
    },
    Poll(usize),
    Drop(usize),
    Set,
    Clear,
    /// `wait_timeout(Duration::ZERO)`, polled once.
    TryWait,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..WAITERS;
    prop_oneof![
        3 => (k.clone(), any::<bool>()).prop_map(|(k, timed)| Op::New { k, timed }),
        4 => k.clone().prop_map(Op::Poll),
        1 => k.prop_map(Op::Drop),
        2 => Just(Op::Set),
        2 => Just(Op::Clear),
        1 => Just(Op::TryWait),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum W {
    Empty,
    /// Created, never polled: not waiting yet.
    Fresh,
    /// Polled, pending; started at this generation.
    Waiting(u64),
}

struct Model {
    set: bool,
    generation: u64,
    w: [W; WAITERS],
}

impl Model {
    fn released(&self, k: usize) -> bool {
        match self.w[k] {
            W::Waiting(start) => self.set || start != self.generation,
            W::Fresh => self.set,
            W::Empty => false,
        }
    }
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let event = Event::new();
    let mut pool: Pool<'_, bool> = Pool::new(WAITERS);
    let mut m = Model {
        set: false,
        generation: 0,
        w: [W::Empty; WAITERS],
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::New { k, timed } => {
                if m.w[k] == W::Empty {
                    if timed {
                        pool.insert(k, event.wait_timeout(Duration::from_secs(3600)));
                    } else {
                        let fut = event.wait();
                        pool.insert(k, async move {
                            fut.await;
                            true
                        });
                    }
                    m.w[k] = W::Fresh;
                }
            }
            Op::Poll(k) => {
                if m.w[k] != W::Empty {
                    let expect = m.released(k);
                    match pool.poll(k) {
                        Poll::Ready(v) => {
                            prop_assert!(
                                expect,
                                "step {step}: waiter {k} completed, model forbids"
                            );
                            prop_assert!(v, "step {step}: wait_timeout(1h) reported a timeout");
                            m.w[k] = W::Empty;
                        }
                        Poll::Pending => {
                            prop_assert!(
                                !expect,
                                "step {step}: waiter {k} pending, model releases it"
                            );
                            if m.w[k] == W::Fresh {
                                m.w[k] = W::Waiting(m.generation);
                            }
                        }
                    }
                }
            }
            Op::Drop(k) => {
                if m.w[k] != W::Empty {
                    pool.drop_slot(k);
                    m.w[k] = W::Empty;
                }
            }
            Op::Set => {
                event.set();
                if !m.set {
                    m.set = true;
                    m.generation += 1;
                }
            }
            Op::Clear => {
                event.clear();
                m.set = false;
            }
            Op::TryWait => {
                let got = futures_lite::future::block_on(event.wait_timeout(Duration::ZERO));
                prop_assert_eq!(got, m.set, "step {}: wait_timeout(ZERO)", step);
            }
        }
        // Invariants after every op.
        prop_assert_eq!(event.is_set(), m.set, "step {}: is_set", step);
        for k in 0..WAITERS {
            if let W::Waiting(_) = m.w[k] {
                if m.released(k) {
                    prop_assert!(
                        pool.woken(k),
                        "step {step}: lost wakeup for waiter {k} after {op:?}"
                    );
                }
            }
        }
    }
    // Liveness at the end: whatever the model releases completes when polled.
    for k in 0..WAITERS {
        if m.w[k] != W::Empty && m.released(k) {
            prop_assert!(pool.poll(k).is_ready(), "final: waiter {k} should complete");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn event_matches_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

/// The CPython gh-57711 schedule, spelled out: a waiter that was waiting
/// when `set()` ran completes after a `clear()`; one that starts after the
/// `clear()` does not.
#[test]
fn waiting_at_set_completes_after_clear() {
    run(vec![
        Op::New { k: 0, timed: false },
        Op::Poll(0),
        Op::New { k: 1, timed: true },
        Op::Set,
        Op::Clear,
        Op::Poll(1),
        Op::Poll(0),
    ])
    .unwrap();
}
