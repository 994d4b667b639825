#![cfg(not(loom))]
//! Poll-schedule model tests for [`Queue`], [`Stack`] and [`PriorityQueue`].
//!
//! Futures are driven by hand on one thread (see `schedule_common`), under
//! proptest-generated schedules over an unbounded container or one of
//! capacity 1..=3, and up to 5 waiters: create waiter `k` — a popper
//! (`pop()` or `pop_timeout(1 h)`), a pusher (`push(item)` or
//! `push_timeout(item, 1 h)`) or a joiner (`join()`) — poll `k`, drop `k`,
//! `try_push`, `try_pop`, `push_timeout(item, ZERO)`, `pop_timeout(ZERO)`,
//! `close()`, `task_done()`. Items are unique numbers; for the priority
//! queue their high digits are a random priority.
//!
//! The model is the reservation scheme of the `src/queue.rs` docs (SPEC §6):
//! a buffer in the container's order, and FIFO lists of waiting poppers
//! and pushers. A popper tries at its first poll: it takes an item no
//! earlier popper was promised (`len > reserved poppers`), else fails if
//! closed, else joins the poppers' list. Each insertion while poppers wait
//! promises an item to the oldest one (it becomes *reserved*); a reserved
//! popper, when polled, removes whatever item is next in the container's
//! order (or fails if the container is closed and empty). Pushers on a full
//! container do the same with free slots (`len + reserved pushers <
//! capacity`), each removal promising a slot. A dropped reserved waiter
//! passes its promise on to the next waiting one; a dropped waiting one
//! just leaves. `try_pop`/`try_push` and the zero-timeout forms never take
//! what is promised (a zero timeout is a try that reports `Timeout`).
//! `close()` reserves every waiting popper and pusher (each re-checks once: pushers
//! fail and hand their item back, poppers drain). `join()` completes when
//! every pushed item has been matched by `task_done()`, or once the count
//! has dropped to 0 since it started waiting (a generation, like `Event`).
//! Checked after every op:
//!
//! * (a) no lost wakeup: every reserved popper or pusher, and every joiner
//!   the model releases, has been woken since its last poll;
//! * (b) nothing completes that the model forbids: polls return `Ready`
//!   exactly when the model says so, with the model's item or error (so
//!   service order among waiting poppers, the container order and the
//!   no-barging rule are all checked); try-ops and `close`/`task_done`
//!   return what the model says; `len()`, `unfinished_tasks()` agree;
//! * (c) conservation: successfully pushed == popped + `len()`, no item is
//!   popped twice, a failed push hands back exactly its own item, and at
//!   the end (all futures dropped) the container drains to exactly the
//!   model's buffer, in order.
//!
//! That is strict mode ([`Fairness::Strict`]). Every schedule also runs in
//! eventual mode with a bound no test reaches (1 h), against the same
//! model: every waiter here is an async task, and eventual fairness hands a
//! freed item or slot to a waiting task just as strict mode does (it wakes
//! only blocking waiters in place, to be raced by running callers; that is
//! checked by the unit tests in `src/queue/waiting/tests.rs` and the loom
//! models).

mod schedule_common;

use proptest::prelude::*;
use rallypoint::{
    Fairness, PopTimeoutError, PriorityQueue, PushTimeoutError, Queue, Stack, TryPopError,
    TryPushError,
};
use schedule_common::{Pool, config};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

const WAITERS: usize = 5;
const HOUR: Duration = Duration::from_secs(3600);

/// What a waiter's future resolves to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Done {
    /// `Ok(item)` or `Err(())` (closed).
    Pop(Result<u32, ()>),
    /// `Ok(())` or the item handed back (closed).
    Push(Result<(), u32>),
    Join,
}

type Fut<'a> = Pin<Box<dyn Future<Output = Done> + 'a>>;

/// The common surface of the three containers, as used here.
trait Container {
    fn make(cap: Option<usize>, fairness: Fairness) -> Self;
    fn pop_fut(&self, timed: bool) -> Fut<'_>;
    fn push_fut(&self, item: u32, timed: bool) -> Fut<'_>;
    fn join_fut(&self) -> Fut<'_>;
    /// `pop_timeout(Duration::ZERO)`, driven to completion.
    fn pop_zero(&self) -> Result<u32, PopTimeoutError>;
    /// `push_timeout(item, Duration::ZERO)`, driven to completion.
    fn push_zero(&self, item: u32) -> Result<(), PushTimeoutError<u32>>;
    fn try_push(&self, item: u32) -> Result<(), TryPushError<u32>>;
    fn try_pop(&self) -> Result<u32, TryPopError>;
    fn close(&self) -> bool;
    fn task_done(&self) -> bool;
    fn len(&self) -> usize;
    fn unfinished_tasks(&self) -> usize;
}

macro_rules! container {
    ($ty:ident) => {
        impl Container for $ty<u32> {
            fn make(cap: Option<usize>, fairness: Fairness) -> Self {
                match cap {
                    Some(c) => $ty::bounded(c),
                    None => $ty::unbounded(),
                }
                .with_fairness(fairness)
            }
            fn pop_fut(&self, timed: bool) -> Fut<'_> {
                if timed {
                    let f = self.pop_timeout(HOUR);
                    Box::pin(
                        async move { Done::Pop(f.await.map_err(|e| assert!(!e.is_timeout()))) },
                    )
                } else {
                    let f = self.pop();
                    Box::pin(async move { Done::Pop(f.await.map_err(|_| ())) })
                }
            }
            fn push_fut(&self, item: u32, timed: bool) -> Fut<'_> {
                if timed {
                    let f = self.push_timeout(item, HOUR);
                    Box::pin(async move {
                        Done::Push(f.await.map_err(|e| {
                            assert!(e.is_closed(), "push_timeout(1 h) timed out");
                            e.into_inner()
                        }))
                    })
                } else {
                    let f = self.push(item);
                    Box::pin(async move { Done::Push(f.await.map_err(|e| e.into_inner())) })
                }
            }
            fn join_fut(&self) -> Fut<'_> {
                let f = self.join();
                Box::pin(async move {
                    f.await;
                    Done::Join
                })
            }
            fn pop_zero(&self) -> Result<u32, PopTimeoutError> {
                futures_lite::future::block_on(self.pop_timeout(Duration::ZERO))
            }
            fn push_zero(&self, item: u32) -> Result<(), PushTimeoutError<u32>> {
                futures_lite::future::block_on(self.push_timeout(item, Duration::ZERO))
            }
            fn try_push(&self, item: u32) -> Result<(), TryPushError<u32>> {
                $ty::try_push(self, item)
            }
            fn try_pop(&self) -> Result<u32, TryPopError> {
                $ty::try_pop(self)
            }
            fn close(&self) -> bool {
                $ty::close(self)
            }
            fn task_done(&self) -> bool {
                $ty::task_done(self).is_ok()
            }
            fn len(&self) -> usize {
                $ty::len(self)
            }
            fn unfinished_tasks(&self) -> usize {
                $ty::unfinished_tasks(self)
            }
        }
    };
}
container!(Queue);
container!(Stack);
container!(PriorityQueue);

#[derive(Debug, Clone, Copy, PartialEq)]
enum Order {
    Fifo,
    Lifo,
    Greatest,
}

#[derive(Debug, Clone)]
enum Op {
    NewPop {
        k: usize,
        timed: bool,
    },
    NewPush {
        k: usize,
        prio: u32,
        timed: bool,
    },
    NewJoin(usize),
    Poll(usize),
    Drop(usize),
    TryPush(u32),
    TryPop,
    /// `push_timeout(item, Duration::ZERO)`.
    PushZero(u32),
    /// `pop_timeout(Duration::ZERO)`.
    PopZero,
    Close,
    TaskDone,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..WAITERS;
    prop_oneof![
        3 => (k.clone(), any::<bool>()).prop_map(|(k, timed)| Op::NewPop { k, timed }),
        3 => (k.clone(), 0u32..4, any::<bool>()).prop_map(|(k, prio, timed)| Op::NewPush { k, prio, timed }),
        1 => k.clone().prop_map(Op::NewJoin),
        6 => k.clone().prop_map(Op::Poll),
        2 => k.prop_map(Op::Drop),
        3 => (0u32..4).prop_map(Op::TryPush),
        2 => Just(Op::TryPop),
        1 => (0u32..4).prop_map(Op::PushZero),
        1 => Just(Op::PopZero),
        1 => Just(Op::Close),
        2 => Just(Op::TaskDone),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum W {
    Empty,
    PopFresh,
    PopWaiting,
    PopReserved,
    PushFresh(u32),
    PushWaiting(u32),
    PushReserved(u32),
    JoinFresh,
    JoinWaiting(u64),
}

struct Model {
    order: Order,
    cap: Option<usize>,
    buf: Vec<u32>,
    closed: bool,
    pop_list: Vec<usize>,
    push_list: Vec<usize>,
    unfinished: usize,
    join_gen: u64,
    w: [W; WAITERS],
}

impl Model {
    fn count(&self, f: impl Fn(W) -> bool) -> usize {
        self.w.iter().filter(|&&w| f(w)).count()
    }
    fn pop_reserved(&self) -> usize {
        self.count(|w| w == W::PopReserved)
    }
    fn push_reserved(&self) -> usize {
        self.count(|w| matches!(w, W::PushReserved(_)))
    }
    fn has_free_slot(&self) -> bool {
        self.cap
            .is_none_or(|c| self.buf.len() + self.push_reserved() < c)
    }
    fn has_free_item(&self) -> bool {
        self.buf.len() > self.pop_reserved()
    }
    fn offer_item(&mut self) {
        if !self.pop_list.is_empty() && self.has_free_item() {
            let k = self.pop_list.remove(0);
            self.w[k] = W::PopReserved;
        }
    }
    fn offer_slot(&mut self) {
        if !self.push_list.is_empty() && self.has_free_slot() {
            let k = self.push_list.remove(0);
            let W::PushWaiting(item) = self.w[k] else {
                unreachable!()
            };
            self.w[k] = W::PushReserved(item);
        }
    }
    fn insert(&mut self, item: u32) {
        self.buf.push(item);
        self.unfinished += 1;
        self.offer_item();
    }
    fn remove(&mut self) -> Option<u32> {
        if self.buf.is_empty() {
            return None;
        }
        let i = match self.order {
            Order::Fifo => 0,
            Order::Lifo => self.buf.len() - 1,
            Order::Greatest => (0..self.buf.len()).max_by_key(|&i| self.buf[i]).unwrap(),
        };
        let item = self.buf.remove(i);
        self.offer_slot();
        Some(item)
    }
    fn join_released(&self, start: u64) -> bool {
        self.unfinished == 0 || start != self.join_gen
    }
}

fn run<C: Container>(
    order: Order,
    cap: Option<usize>,
    strict: bool,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    let fairness = if strict {
        Fairness::Strict
    } else {
        Fairness::Eventual(HOUR)
    };
    let q = C::make(cap, fairness);
    let mut pool: Pool<'_, Done> = Pool::new(WAITERS);
    let mut m = Model {
        order,
        cap,
        buf: Vec::new(),
        closed: false,
        pop_list: Vec::new(),
        push_list: Vec::new(),
        unfinished: 0,
        join_gen: 0,
        w: [W::Empty; WAITERS],
    };
    let mut next_id = 0u32;
    let mut fresh_item = |prio: u32| {
        next_id += 1;
        prio * 1000 + next_id
    };
    let mut pushed = 0usize;
    let mut popped: HashSet<u32> = HashSet::new();
    for (step, op) in ops.iter().enumerate() {
        // The outcome of whatever completed in this step, checked below.
        match *op {
            Op::NewPop { k, timed } if m.w[k] == W::Empty => {
                pool.insert(k, q.pop_fut(timed));
                m.w[k] = W::PopFresh;
            }
            Op::NewPush { k, prio, timed } if m.w[k] == W::Empty => {
                let item = fresh_item(prio);
                pool.insert(k, q.push_fut(item, timed));
                m.w[k] = W::PushFresh(item);
            }
            Op::NewJoin(k) if m.w[k] == W::Empty => {
                pool.insert(k, q.join_fut());
                m.w[k] = W::JoinFresh;
            }
            Op::NewPop { .. } | Op::NewPush { .. } | Op::NewJoin(_) => {}
            Op::Poll(k) if m.w[k] != W::Empty => {
                let expect: Option<Done> = match m.w[k] {
                    W::Empty => unreachable!(),
                    W::PopFresh => {
                        if m.has_free_item() {
                            Some(Done::Pop(Ok(m.remove().unwrap())))
                        } else if m.closed {
                            Some(Done::Pop(Err(())))
                        } else {
                            m.pop_list.push(k);
                            m.w[k] = W::PopWaiting;
                            None
                        }
                    }
                    W::PopWaiting | W::PushWaiting(_) => None,
                    W::PopReserved => {
                        m.w[k] = W::Empty;
                        Some(Done::Pop(m.remove().ok_or(())))
                    }
                    W::PushFresh(item) => {
                        if m.closed {
                            Some(Done::Push(Err(item)))
                        } else if m.has_free_slot() {
                            m.insert(item);
                            Some(Done::Push(Ok(())))
                        } else {
                            m.push_list.push(k);
                            m.w[k] = W::PushWaiting(item);
                            None
                        }
                    }
                    W::PushReserved(item) => {
                        m.w[k] = W::Empty;
                        if m.closed {
                            Some(Done::Push(Err(item)))
                        } else {
                            m.insert(item);
                            Some(Done::Push(Ok(())))
                        }
                    }
                    W::JoinFresh => {
                        if m.unfinished == 0 {
                            Some(Done::Join)
                        } else {
                            m.w[k] = W::JoinWaiting(m.join_gen);
                            None
                        }
                    }
                    W::JoinWaiting(start) => m.join_released(start).then_some(Done::Join),
                };
                match (pool.poll(k), expect) {
                    (Poll::Ready(got), Some(want)) => {
                        prop_assert_eq!(got, want, "step {}: waiter {} outcome", step, k);
                        m.w[k] = W::Empty;
                        match got {
                            Done::Pop(Ok(item)) => {
                                prop_assert!(
                                    popped.insert(item),
                                    "step {step}: item {item} popped twice"
                                );
                            }
                            Done::Push(Ok(())) => pushed += 1,
                            _ => {}
                        }
                    }
                    (Poll::Pending, None) => {}
                    (Poll::Ready(got), None) => {
                        prop_assert!(
                            false,
                            "step {step}: waiter {k} completed with {got:?}, model forbids"
                        )
                    }
                    (Poll::Pending, Some(want)) => {
                        prop_assert!(
                            false,
                            "step {step}: waiter {k} pending, model says {want:?}"
                        )
                    }
                }
            }
            Op::Poll(_) => {}
            Op::Drop(k) => {
                match m.w[k] {
                    W::PopWaiting => m.pop_list.retain(|&j| j != k),
                    W::PushWaiting(_) => m.push_list.retain(|&j| j != k),
                    W::PopReserved => {
                        m.w[k] = W::Empty;
                        m.offer_item();
                    }
                    W::PushReserved(_) => {
                        m.w[k] = W::Empty;
                        m.offer_slot();
                    }
                    _ => {}
                }
                if pool.is_live(k) {
                    pool.drop_slot(k);
                }
                m.w[k] = W::Empty;
            }
            Op::TryPush(prio) => {
                let item = fresh_item(prio);
                let got = q.try_push(item);
                let want: Result<(), TryPushError<u32>> = if m.closed {
                    Err(TryPushError::Closed(item))
                } else if m.has_free_slot() {
                    m.insert(item);
                    Ok(())
                } else {
                    Err(TryPushError::Full(item))
                };
                prop_assert_eq!(&got, &want, "step {}: try_push({})", step, item);
                if got.is_ok() {
                    pushed += 1;
                }
            }
            Op::TryPop => {
                let got = q.try_pop();
                let want = if m.has_free_item() {
                    m.remove().ok_or(TryPopError::Empty)
                } else if m.closed {
                    Err(TryPopError::Closed)
                } else {
                    Err(TryPopError::Empty)
                };
                prop_assert_eq!(&got, &want, "step {}: try_pop", step);
                if let Ok(item) = got {
                    prop_assert!(popped.insert(item), "step {step}: item {item} popped twice");
                }
            }
            Op::PushZero(prio) => {
                let item = fresh_item(prio);
                let got = q.push_zero(item);
                let want: Result<(), PushTimeoutError<u32>> = if m.closed {
                    Err(PushTimeoutError::Closed(item))
                } else if m.has_free_slot() {
                    m.insert(item);
                    Ok(())
                } else {
                    Err(PushTimeoutError::Timeout(item))
                };
                prop_assert_eq!(&got, &want, "step {}: push_timeout({}, ZERO)", step, item);
                if got.is_ok() {
                    pushed += 1;
                }
            }
            Op::PopZero => {
                let got = q.pop_zero();
                let want = if m.has_free_item() {
                    Ok(m.remove().unwrap())
                } else if m.closed {
                    Err(PopTimeoutError::Closed)
                } else {
                    Err(PopTimeoutError::Timeout)
                };
                prop_assert_eq!(&got, &want, "step {}: pop_timeout(ZERO)", step);
                if let Ok(item) = got {
                    prop_assert!(popped.insert(item), "step {step}: item {item} popped twice");
                }
            }
            Op::Close => {
                let got = q.close();
                prop_assert_eq!(got, !m.closed, "step {}: close()", step);
                m.closed = true;
                for k in std::mem::take(&mut m.pop_list) {
                    m.w[k] = W::PopReserved;
                }
                for k in std::mem::take(&mut m.push_list) {
                    let W::PushWaiting(item) = m.w[k] else {
                        unreachable!()
                    };
                    m.w[k] = W::PushReserved(item);
                }
            }
            Op::TaskDone => {
                let got = q.task_done();
                prop_assert_eq!(got, m.unfinished > 0, "step {}: task_done()", step);
                if m.unfinished > 0 {
                    m.unfinished -= 1;
                    if m.unfinished == 0 {
                        m.join_gen += 1;
                    }
                }
            }
        }
        // (b)/(c) observable state and conservation.
        prop_assert_eq!(q.len(), m.buf.len(), "step {}: len()", step);
        prop_assert_eq!(
            q.unfinished_tasks(),
            m.unfinished,
            "step {}: unfinished_tasks()",
            step
        );
        prop_assert_eq!(
            pushed,
            popped.len() + q.len(),
            "step {}: items not conserved",
            step
        );
        // (a) no lost wakeup.
        for k in 0..WAITERS {
            let should_wake = match m.w[k] {
                W::PopReserved | W::PushReserved(_) => true,
                W::JoinWaiting(start) => m.join_released(start),
                _ => false,
            };
            if should_wake {
                prop_assert!(
                    pool.woken(k),
                    "step {step}: waiter {k} ({:?}) not woken after {op:?}",
                    m.w[k]
                );
            }
        }
    }
    // End: every released waiter completes; then drop the rest, and the
    // container drains to exactly the model's buffer.
    for k in 0..WAITERS {
        if matches!(m.w[k], W::JoinWaiting(s) if m.join_released(s)) {
            prop_assert!(pool.poll(k).is_ready(), "final: joiner {k} should complete");
            m.w[k] = W::Empty;
        }
    }
    pool.clear();
    for w in &mut m.w {
        if *w == W::PopReserved {
            *w = W::Empty;
        }
    }
    let mut drained = Vec::new();
    while let Ok(item) = q.try_pop() {
        drained.push(item);
    }
    let mut expect = Vec::new();
    m.pop_list.clear();
    m.push_list.clear();
    while let Some(item) = m.remove() {
        expect.push(item);
    }
    prop_assert_eq!(drained, expect, "final drain");
    Ok(())
}

fn cap() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (1usize..=3).prop_map(Some)]
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn queue_matches_model(
        cap in cap(),
        strict in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run::<Queue<u32>>(Order::Fifo, cap, strict, ops)?;
    }

    #[test]
    fn stack_matches_model(
        cap in cap(),
        strict in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run::<Stack<u32>>(Order::Lifo, cap, strict, ops)?;
    }

    #[test]
    fn priority_queue_matches_model(
        cap in cap(),
        strict in any::<bool>(),
        ops in prop::collection::vec(op(), 1..40),
    ) {
        run::<PriorityQueue<u32>>(Order::Greatest, cap, strict, ops)?;
    }
}

/// Strict mode: waiting poppers are served in the order they began
/// waiting, and a `try_pop` cannot take an item promised to one of them.
#[test]
fn poppers_served_fifo_without_barging() {
    run::<Queue<u32>>(
        Order::Fifo,
        None,
        true,
        vec![
            Op::NewPop { k: 0, timed: false },
            Op::NewPop { k: 1, timed: true },
            Op::Poll(1),
            Op::Poll(0),
            Op::TryPush(0),
            Op::TryPop,
            Op::Poll(0),
            Op::Poll(1),
        ],
    )
    .unwrap();
}
