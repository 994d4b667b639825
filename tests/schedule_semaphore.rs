#![cfg(not(loom))]
//! Poll-schedule model test for [`Semaphore`] (plain and bounded).
//!
//! Futures are driven by hand on one thread (see `schedule_common`), under
//! proptest-generated schedules over a semaphore with 0..=3 initial permits
//! (bounded or not) and up to 4 waiters: create waiter `k` (`acquire_many(n)`
//! or `acquire_many_timeout(n, 1 h)`, n in 0..=3), poll `k`, drop `k`,
//! `release(n)`, `try_acquire_many(n)`, `acquire_many_timeout(n, ZERO)`,
//! `close()`, and dropping or forgetting a permit the test holds.
//!
//! The model (SPEC §5 and the docs of `src/semaphore.rs`): a count of
//! available permits and a FIFO queue of waiters with their needs. A waiter
//! tries at its first poll (futures are lazy): with the queue empty and
//! enough permits it takes them; otherwise it joins the back of the queue
//! (or fails: closed, or more than a bounded semaphore's bound). Whenever
//! permits come in (release, a dropped permit, a dropped granted waiter
//! giving its permits back) or the front waiter leaves, the queue is
//! *dispatched*: while the oldest waiter's need fits, its permits are set
//! aside for it (granted). `try_acquire` never takes permits while anyone is
//! queued (no barging), and neither does a zero-timeout acquire. `close()`
//! fails every queued waiter; granted ones keep their permits. A bounded
//! semaphore's `release` fails past the bound, and a returned permit is
//! clamped at it. Checked after every op:
//!
//! * (a) no lost wakeup: every granted (or closed-out) waiter has been
//!   woken since its last poll;
//! * (b) nothing completes that the model forbids: polls return `Ready`
//!   exactly when the model says so, with the model's outcome (permit count
//!   or error); try-acquires and releases succeed exactly when the model says;
//! * (c) conservation: `available_permits()` equals the model, and
//!   available + held by the test + granted-but-unpolled ==
//!   initial + released − forgotten − clamped away.
//!
//! At the end every granted waiter is polled and must complete.
//!
//! The model above is strict mode ([`Fairness::Strict`]). The same
//! schedules also run in eventual mode with a bound no test reaches (1 h),
//! whose model is: nothing is ever granted; a running caller (a try, a
//! zero timeout, a new waiter's first poll) takes permits whenever enough
//! are available, queue or not (barging); a queued waiter completes only
//! when it is the front and enough permits are available at its poll, and
//! (a) becomes: whenever the front's need fits in the available permits,
//! the front has been woken since its last poll.

mod schedule_common;

use proptest::prelude::*;
use rallypoint::{
    AcquireError, AcquireTimeoutError, Fairness, Semaphore, SemaphorePermit, TryAcquireError,
};
use schedule_common::{Pool, config};
use std::collections::VecDeque;
use std::task::Poll;
use std::time::Duration;

const WAITERS: usize = 4;

#[derive(Debug, Clone)]
enum Op {
    New {
        k: usize,
        n: usize,
        timed: bool,
    },
    Poll(usize),
    Drop(usize),
    Release(usize),
    TryAcquire(usize),
    /// `acquire_many_timeout(n, Duration::ZERO)`, driven to completion.
    AcquireZero(usize),
    Close,
    /// Drop the i-th permit the test holds (modulo their number).
    DropPermit(usize),
    /// Forget the i-th permit the test holds.
    ForgetPermit(usize),
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..WAITERS;
    let n = 0usize..=3;
    prop_oneof![
        4 => (k.clone(), n.clone(), any::<bool>()).prop_map(|(k, n, timed)| Op::New { k, n, timed }),
        5 => k.clone().prop_map(Op::Poll),
        2 => k.prop_map(Op::Drop),
        3 => n.clone().prop_map(Op::Release),
        2 => n.clone().prop_map(Op::TryAcquire),
        1 => n.prop_map(Op::AcquireZero),
        1 => Just(Op::Close),
        3 => any::<usize>().prop_map(Op::DropPermit),
        1 => any::<usize>().prop_map(Op::ForgetPermit),
    ]
}

/// An acquire's outcome as the model sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Out {
    Permits(usize),
    Closed,
    ExceedsBound,
    Timeout,
}

impl From<AcquireError> for Out {
    fn from(e: AcquireError) -> Out {
        match e {
            AcquireError::Closed => Out::Closed,
            AcquireError::ExceedsBound => Out::ExceedsBound,
        }
    }
}

impl From<AcquireTimeoutError> for Out {
    fn from(e: AcquireTimeoutError) -> Out {
        match e {
            AcquireTimeoutError::Closed => Out::Closed,
            AcquireTimeoutError::ExceedsBound => Out::ExceedsBound,
            AcquireTimeoutError::Timeout => Out::Timeout,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum W {
    Empty,
    Fresh(usize),
    Queued(usize),
    /// Ready with this outcome when polled (granted permits or closed out).
    Settled(Out),
}

struct Model {
    /// Strict mode (else eventual, with a bound never reached).
    strict: bool,
    bound: usize,
    available: usize,
    closed: bool,
    /// Queued waiters, oldest first: (k, need).
    queue: VecDeque<(usize, usize)>,
    w: [W; WAITERS],
    /// initial + released − forgotten − clamped away.
    total: usize,
}

impl Model {
    fn dispatch(&mut self) {
        if !self.strict {
            // Nothing is handed over: the front is woken to try (see (a)).
            return;
        }
        while let Some(&(k, need)) = self.queue.front() {
            if need > self.available {
                break;
            }
            self.available -= need;
            self.queue.pop_front();
            self.w[k] = W::Settled(Out::Permits(need));
        }
    }

    /// Adds permits; `clamp` for permit returns (never fails).
    fn add(&mut self, n: usize, clamp: bool) -> bool {
        let room = self.bound - self.available;
        let add = if n <= room {
            n
        } else if clamp {
            room
        } else {
            return false;
        };
        self.available += add;
        if clamp {
            self.total -= n - add;
        } else {
            self.total += add;
        }
        self.dispatch();
        true
    }

    /// The lock-free attempt: `Some(outcome)` or `None` = no permits now.
    fn try_take(&mut self, n: usize) -> Option<Out> {
        if self.closed {
            Some(Out::Closed)
        } else if n == 0 {
            Some(Out::Permits(0))
        } else if (self.strict && !self.queue.is_empty()) || self.available < n {
            None
        } else {
            self.available -= n;
            Some(Out::Permits(n))
        }
    }

    fn granted(&self) -> usize {
        self.w
            .iter()
            .map(|w| match w {
                W::Settled(Out::Permits(n)) => *n,
                _ => 0,
            })
            .sum()
    }
}

fn run(initial: usize, bounded: bool, strict: bool, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let fairness = if strict {
        Fairness::Strict
    } else {
        Fairness::Eventual(Duration::from_secs(3600))
    };
    let sem = if bounded {
        Semaphore::bounded(initial)
    } else {
        Semaphore::new(initial)
    }
    .with_fairness(fairness);
    let mut held: Vec<SemaphorePermit<'_>> = Vec::new();
    let mut pool: Pool<'_, Result<SemaphorePermit<'_>, Out>> = Pool::new(WAITERS);
    let mut m = Model {
        strict,
        bound: if bounded {
            initial
        } else {
            Semaphore::MAX_PERMITS
        },
        available: initial,
        closed: false,
        queue: VecDeque::new(),
        w: [W::Empty; WAITERS],
        total: initial,
    };
    for (step, op) in ops.iter().enumerate() {
        match *op {
            Op::New { k, n, timed } => {
                if m.w[k] == W::Empty {
                    if timed {
                        let fut = sem.acquire_many_timeout(n, Duration::from_secs(3600));
                        pool.insert(k, async move { fut.await.map_err(Out::from) });
                    } else {
                        let fut = sem.acquire_many(n);
                        pool.insert(k, async move { fut.await.map_err(Out::from) });
                    }
                    m.w[k] = W::Fresh(n);
                }
            }
            Op::Poll(k) => {
                let expect = match m.w[k] {
                    W::Empty => None,
                    W::Fresh(n) => Some(match m.try_take(n) {
                        Some(o) => Some(o),
                        None if n > m.bound => Some(Out::ExceedsBound),
                        None => {
                            m.queue.push_back((k, n));
                            m.w[k] = W::Queued(n);
                            None
                        }
                    }),
                    W::Queued(need) => {
                        let front = m.queue.front().is_some_and(|&(j, _)| j == k);
                        if !m.strict && front && m.available >= need {
                            // Eventual mode: the woken front takes them.
                            m.available -= need;
                            m.queue.pop_front();
                            Some(Some(Out::Permits(need)))
                        } else {
                            Some(None)
                        }
                    }
                    W::Settled(o) => Some(Some(o)),
                };
                if let Some(expect) = expect {
                    match (pool.poll(k), expect) {
                        (Poll::Ready(r), Some(o)) => {
                            let got = match r {
                                Ok(p) => {
                                    let n = p.num_permits();
                                    held.push(p);
                                    Out::Permits(n)
                                }
                                Err(e) => e,
                            };
                            prop_assert_eq!(got, o, "step {}: waiter {} outcome", step, k);
                            m.w[k] = W::Empty;
                        }
                        (Poll::Pending, None) => {}
                        (Poll::Ready(r), None) => {
                            prop_assert!(
                                false,
                                "step {step}: waiter {k} completed with {:?}, model forbids",
                                r.map(|p| p.num_permits())
                            )
                        }
                        (Poll::Pending, Some(o)) => {
                            prop_assert!(false, "step {step}: waiter {k} pending, model says {o:?}")
                        }
                    }
                }
            }
            Op::Drop(k) => {
                if m.w[k] != W::Empty {
                    pool.drop_slot(k);
                    match m.w[k] {
                        W::Queued(_) => {
                            m.queue.retain(|&(j, _)| j != k);
                            m.dispatch();
                        }
                        W::Settled(Out::Permits(n)) => {
                            m.w[k] = W::Empty;
                            m.add(n, true);
                        }
                        _ => {}
                    }
                    m.w[k] = W::Empty;
                }
            }
            Op::Release(n) => {
                let ok = sem.release(n).is_ok();
                let expect = m.add(n, false);
                prop_assert_eq!(ok, expect, "step {}: release({})", step, n);
            }
            Op::TryAcquire(n) => {
                let got = match sem.try_acquire_many(n) {
                    Ok(p) => {
                        let n = p.num_permits();
                        held.push(p);
                        Some(Out::Permits(n))
                    }
                    Err(TryAcquireError::Closed) => Some(Out::Closed),
                    Err(TryAcquireError::NoPermits) => None,
                };
                let expect = m.try_take(n);
                prop_assert_eq!(got, expect, "step {}: try_acquire_many({})", step, n);
            }
            Op::AcquireZero(n) => {
                let got = match futures_lite::future::block_on(
                    sem.acquire_many_timeout(n, Duration::ZERO),
                ) {
                    Ok(p) => {
                        let n = p.num_permits();
                        held.push(p);
                        Out::Permits(n)
                    }
                    Err(e) => e.into(),
                };
                let expect = match m.try_take(n) {
                    Some(o) => o,
                    None if n > m.bound => Out::ExceedsBound,
                    None => Out::Timeout,
                };
                prop_assert_eq!(
                    got,
                    expect,
                    "step {}: acquire_many_timeout({}, ZERO)",
                    step,
                    n
                );
            }
            Op::Close => {
                sem.close();
                m.closed = true;
                for (k, _) in m.queue.drain(..) {
                    m.w[k] = W::Settled(Out::Closed);
                }
            }
            Op::DropPermit(i) => {
                if !held.is_empty() {
                    let p = held.swap_remove(i % held.len());
                    let n = p.num_permits();
                    drop(p);
                    m.add(n, true);
                }
            }
            Op::ForgetPermit(i) => {
                if !held.is_empty() {
                    let p = held.swap_remove(i % held.len());
                    m.total -= p.num_permits();
                    p.forget();
                }
            }
        }
        // (c) conservation.
        prop_assert_eq!(
            sem.available_permits(),
            m.available,
            "step {}: available_permits",
            step
        );
        prop_assert_eq!(sem.is_closed(), m.closed, "step {}: is_closed", step);
        let held_n: usize = held.iter().map(|p| p.num_permits()).sum();
        prop_assert_eq!(
            sem.available_permits() + held_n + m.granted(),
            m.total,
            "step {}: permits not conserved",
            step
        );
        // (a) no lost wakeup.
        if let Some(&(k, need)) = m.queue.front() {
            if !m.strict && m.available >= need && pool.polls(k) > 0 {
                prop_assert!(
                    pool.woken(k),
                    "step {step}: front waiter {k} fits ({need} of {}) but not woken after {op:?}",
                    m.available
                );
            }
        }
        for k in 0..WAITERS {
            if let W::Settled(o) = m.w[k] {
                if pool.polls(k) > 0 {
                    prop_assert!(
                        pool.woken(k),
                        "step {step}: waiter {k} settled ({o:?}) but not woken after {op:?}"
                    );
                }
            }
        }
    }
    for k in 0..WAITERS {
        if let W::Settled(o) = m.w[k] {
            match pool.poll(k) {
                Poll::Ready(r) => {
                    let got = r.map(|p| p.num_permits());
                    prop_assert_eq!(
                        got.map(Out::Permits).unwrap_or_else(|e| e),
                        o,
                        "final: waiter {}",
                        k
                    );
                }
                Poll::Pending => prop_assert!(false, "final: settled waiter {k} pending"),
            }
        }
    }
    drop(pool);
    drop(held);
    if m.total <= m.bound {
        // Everything given back: the count is whole again.
        prop_assert_eq!(
            sem.available_permits(),
            m.total,
            "final: permits leaked or duplicated"
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn semaphore_matches_model(
        initial in 0usize..=3,
        bounded in any::<bool>(),
        strict in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run(initial, bounded, strict, ops)?;
    }
}

/// Strict mode: a queued `acquire_many(3)` is not overtaken by
/// `try_acquire` or a later `acquire()`, and a dropped granted waiter hands
/// its permits on.
#[test]
fn no_barging_and_handoff() {
    run(
        1,
        false,
        true,
        vec![
            Op::New {
                k: 0,
                n: 3,
                timed: false,
            },
            Op::Poll(0),
            Op::Release(1),
            Op::TryAcquire(1),
            Op::New {
                k: 1,
                n: 1,
                timed: true,
            },
            Op::Poll(1),
            Op::Release(1),
            Op::Drop(0),
            Op::Poll(1),
        ],
    )
    .unwrap();
}
