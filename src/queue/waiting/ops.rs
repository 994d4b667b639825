//! The three operations a container can wait in — `PushOp`, `PopOp`,
//! `JoinOp` — over [`Core`]'s state, and their named futures.

use std::fmt;
use std::task::{Context, Poll};

use super::super::error::{PopError, PopTimeoutError, PushError, PushTimeoutError};
use super::{Core, Now, Side, State};
use crate::engine::{Op, is_own_parker, named_future};
use crate::sync::Locked;
use crate::waiters::{NewWaker, Ticket, WaitList};

impl<T> Core<T> {
    pub(crate) fn push_op(&self, item: T) -> PushOp<'_, T> {
        PushOp {
            core: self,
            item: Some(item),
            waiting: None,
            deposit: None,
        }
    }

    pub(crate) fn pop_op(&self) -> PopOp<'_, T> {
        PopOp {
            core: self,
            waiting: None,
        }
    }

    pub(crate) fn join_op(&self) -> JoinOp<'_, T> {
        JoinOp {
            core: self,
            start: None,
            waiting: None,
        }
    }
}

/// How a pop, push or join that has to wait registers, written once for
/// all three: `try_now` attempts the operation under the lock; if it cannot
/// complete, the waiter joins `line(state)` at once (so its place in line
/// is that of this attempt).
///
/// Its waker must be cloned outside the lock (user code), so when
/// `expect_wait` (a lock-free hint) says it will probably wait, it clones
/// before locking; otherwise it registers without a waker and the caller
/// stores one at once, in a second lock round ([`Ticket::has_waker`]). A
/// wrong hint thus costs a wasted clone or one more lock round, and the
/// common cases — an attempt that succeeds at once, or a wait that was
/// expected — take the lock once. (A blocking waiter's waker is the
/// engine's own, which may be cloned under the lock: it needs no hint.)
#[inline(always)]
fn try_or_wait<T, R, P: Default + Copy>(
    core: &Core<T>,
    cx: &Context<'_>,
    expect_wait: fn(&Core<T>) -> bool,
    try_now: impl FnOnce(&mut State<T>) -> Option<R>,
    line: fn(&mut State<T>) -> &mut WaitList<P>,
) -> Result<R, Ticket> {
    // The blocking driver's own waker may be cloned under the lock, when
    // it turns out to be needed: no guessing for threads.
    let waker = (expect_wait(core) && !is_own_parker(cx.waker())).then(|| NewWaker::of(cx));
    let mut state = core.lock();
    match try_now(&mut state) {
        // An unused clone is dropped after the lock is released.
        Some(out) => Ok(out),
        None => {
            let waker = waker.or_else(|| NewWaker::if_own(cx));
            Err(line(&mut state).push(waker, cx, P::default()))
        }
    }
}

/// Which [`Side`] of the state a popper or pusher waits on.
type SideOf<T> = fn(&mut State<T>) -> &mut Side;

/// How many resources (items, slots) a side's waiters compete for.
type FreeOf<T> = fn(&State<T>) -> usize;

/// Re-polls a waiting popper or pusher: the locked state if it may now
/// complete — it was given a reservation (now used up), or in barging mode
/// a resource is free — and the caller completes under this lock; or
/// `None` while it still waits (with `cx`'s waker stored if it changed).
///
/// A waiter woken in place that finds nothing free was passed over (see
/// [`WaitList::pass_over`]); past the bound, its side switches to handoff
/// mode. It then needs a waker again: its own thread's is cloned under the
/// lock, any other outside it, in a second round that looks again.
#[inline(always)]
fn claim<'a, T>(
    core: &'a Core<T>,
    ticket: &mut Ticket,
    cx: &Context<'_>,
    side: SideOf<T>,
    free: FreeOf<T>,
) -> Option<Locked<'a, State<T>>> {
    let mut fresh = ticket.fresh(cx);
    loop {
        let mut state = core.lock();
        let s = side(&mut state);
        let Some(entry) = s.waiting.get_mut(ticket) else {
            // Gone from the line: a reservation (handoff, or `close`).
            s.reserved -= 1;
            return Some(state);
        };
        let was_woken = std::mem::take(&mut entry.payload);
        if was_woken {
            s.woken -= 1;
        }
        if !s.hands_off() && free(&state) > 0 {
            // Barging mode, something free: take it (the caller does).
            side(&mut state).waiting.remove(ticket);
            return Some(state);
        }
        let s = side(&mut state);
        if was_woken && s.waiting.pass_over(ticket) {
            // Passed over for too long: reserve from now on.
            s.handoff = true;
        }
        let entry = s.waiting.get_mut(ticket).expect("still queued");
        if entry.refresh(fresh.take(), cx) {
            return None;
        }
        drop(state);
        fresh = Some(ticket.clone_waker(cx));
    }
}

/// The outcome of a pop's or push's first attempt: `Some` to return it
/// (done, or queued with its waker stored), `None` when it was queued
/// without a waker, which the caller must store now ([`claim_queued`]).
fn first_attempt<R>(attempt: Result<R, Ticket>, waiting: &mut Option<Ticket>) -> Option<Poll<R>> {
    match attempt {
        Ok(out) => Some(Poll::Ready(out)),
        Err(ticket) => {
            let stored = ticket.has_waker();
            *waiting = Some(ticket);
            stored.then_some(Poll::Pending)
        }
    }
}

/// [`claim`] for the queued waiter in `waiting`, which it clears once the
/// waiter holds a reservation.
#[inline(always)]
fn claim_queued<'a, T>(
    core: &'a Core<T>,
    waiting: &mut Option<Ticket>,
    cx: &Context<'_>,
    side: SideOf<T>,
    free: FreeOf<T>,
) -> Option<Locked<'a, State<T>>> {
    let state = claim(core, waiting.as_mut().expect("queued"), cx, side, free)?;
    *waiting = None;
    Some(state)
}

/// At the deadline: withdraws a popper or pusher that still waits (`Err`),
/// or, if a reservation raced with the deadline, uses it (`Ok`, the caller
/// completes under the lock). Reservations are made only under the lock,
/// so the line tells exactly which. A wake-in-place it had not used yet
/// passes on to the next waiter (`offer`).
fn claim_or_withdraw<'a, T>(
    core: &'a Core<T>,
    ticket: &Ticket,
    side: SideOf<T>,
    offer: fn(&Core<T>, &mut State<T>),
) -> Result<Locked<'a, State<T>>, ()> {
    let mut state = core.lock();
    match side(&mut state).withdraw(ticket) {
        Some(woken) => {
            if woken {
                offer(core, &mut state);
            }
            Err(())
        }
        None => {
            side(&mut state).reserved -= 1;
            Ok(state)
        }
    }
}

/// A cancelled popper or pusher: withdraws, or gives up the reservation
/// it held and `offer`s it to the next waiter (the item or slot never
/// left the container). Out of line: the ops' drops inline only the check.
#[inline(never)]
fn abandon<T>(
    core: &Core<T>,
    ticket: &Ticket,
    side: SideOf<T>,
    offer: fn(&Core<T>, &mut State<T>),
) {
    if let Ok(mut state) = claim_or_withdraw(core, ticket, side, offer) {
        offer(core, &mut state);
    }
}

/// The state machine behind every push: try; if full, queue up as a waiting
/// pusher (under the lock, so pushers are served in arrival order); wait for
/// a slot reservation; insert.
pub(crate) struct PushOp<'a, T> {
    pub(super) core: &'a Core<T>,
    /// `None` once the item has been inserted or handed back.
    item: Option<T>,
    /// Our place in `push.waiting` while waiting (or reserved, not yet run).
    waiting: Option<Ticket>,
    /// On a rendezvous queue, once our item is in the slot: we wait for a
    /// pop to take it (see `rendezvous.rs`).
    pub(super) deposit: Option<Deposit>,
}

/// A rendezvous pusher's item in the slot: its deposit number, and our
/// place in the confirmation line once registered.
pub(super) struct Deposit {
    pub(super) seq: u64,
    pub(super) ticket: Option<Ticket>,
}

// The item is never pinned: it is only moved in and out by value.
impl<T> Unpin for PushOp<'_, T> {}

impl<T> PushOp<'_, T> {
    /// The first poll's attempt (inlined into the futures' `poll`): done,
    /// or queued with the waker stored (`Some`); `None` when it was queued
    /// without a waker, which [`poll_waiting`](PushOp::poll_waiting) stores.
    #[inline]
    fn attempt(&mut self, cx: &mut Context<'_>) -> Option<Poll<<Self as Op>::Output>> {
        let core = self.core;
        let item = &mut self.item;
        let attempt = try_or_wait(
            core,
            cx,
            Core::looks_full,
            |state| {
                if state.closed {
                    let item = item.take().expect("push polled after completion");
                    Some(Err(PushTimeoutError::Closed(item)))
                } else if state.has_free_slot() {
                    let item = item.take().expect("push polled after completion");
                    Some(Ok(core.insert(state, item)))
                } else {
                    // Full: queue up behind the pushers already waiting.
                    None
                }
            },
            |state| &mut state.push.waiting,
        );
        match first_attempt(attempt, &mut self.waiting)? {
            Poll::Ready(polled) => Some(self.inserted(cx, polled)),
            Poll::Pending => Some(Poll::Pending),
        }
    }

    /// Every poll but a first one that completes or queues with its waker:
    /// out of line, so that the common path stays short.
    #[inline(never)]
    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<<Self as Op>::Output> {
        if self.deposit.is_some() {
            return self.poll_deposited(cx);
        }
        let Some(mut state) = claim_queued(
            self.core,
            &mut self.waiting,
            cx,
            |s| &mut s.push,
            State::free_slots,
        ) else {
            return Poll::Pending;
        };
        // A slot was reserved for us, or is free.
        let polled = self.push_reserved(&mut state);
        drop(state);
        self.inserted(cx, polled)
    }

    fn take_item(&mut self) -> T {
        self.item.take().expect("push polled after completion")
    }

    /// Completes a push that held a slot reservation: insert, unless the
    /// container was closed meanwhile. `Ok` holds the deposit number (see
    /// [`Core::insert`]).
    fn push_reserved(&mut self, state: &mut State<T>) -> Result<u64, PushTimeoutError<T>> {
        let item = self.take_item();
        if state.closed {
            // Nobody waits on a closed container: nothing to pass on.
            return Err(PushTimeoutError::Closed(item));
        }
        Ok(self.core.insert(state, item))
    }

    /// After an insertion (deposit `seq`): done, or on a rendezvous queue
    /// the wait for a pop to take the item.
    fn inserted(
        &mut self,
        cx: &mut Context<'_>,
        polled: Result<u64, PushTimeoutError<T>>,
    ) -> Poll<<Self as Op>::Output> {
        match polled {
            Ok(seq) if self.core.rendezvous => {
                self.deposit = Some(Deposit { seq, ticket: None });
                self.poll_deposited(cx)
            }
            polled => Poll::Ready(polled.map(drop)),
        }
    }
}

impl<T> Op for PushOp<'_, T> {
    type Output = Result<(), PushTimeoutError<T>>;

    #[inline]
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.deposit.is_none() && self.waiting.is_none() {
            if let Some(polled) = self.attempt(cx) {
                return polled;
            }
        }
        self.poll_waiting(cx)
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some(deposit) = self.deposit.take() {
            // Taken by the deadline, or taken back.
            return Poll::Ready(self.core.settle_deposit(deposit, PushTimeoutError::Timeout));
        }
        let Some(ticket) = self.waiting.take() else {
            // Never queued (cannot happen: Pending implies queued).
            return Poll::Ready(Err(PushTimeoutError::Timeout(self.take_item())));
        };
        Poll::Ready(
            match claim_or_withdraw(self.core, &ticket, |s| &mut s.push, Core::offer_slot) {
                Ok(mut state) if self.core.rendezvous && !state.closed => {
                    // A slot came as the deadline passed: too late to wait
                    // for a pop to take the item. Pass the slot on.
                    self.core.offer_slot(&mut state);
                    Err(PushTimeoutError::Timeout(self.take_item()))
                }
                Ok(mut state) => self.push_reserved(&mut state).map(drop),
                Err(()) => Err(PushTimeoutError::Timeout(self.take_item())),
            },
        )
    }

    const SPINS: bool = true;

    fn spin_try(&mut self) -> Option<Self::Output> {
        if self.waiting.is_some() {
            return None;
        }
        match self.core.push_now(self.take_item()) {
            Now::Done(()) => Some(Ok(())),
            Now::Closed(item) => Some(Err(PushTimeoutError::Closed(item))),
            Now::Wait(item) => {
                self.item = Some(item);
                None
            }
        }
    }

    fn may_wake_on_drop(&self) -> bool {
        self.waiting.is_some() || self.deposit.is_some()
    }
}

impl<T> Drop for PushOp<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw; pass a reserved slot on. The
        // item, never inserted, is dropped with the op.
        if let Some(ticket) = self.waiting.take() {
            abandon(self.core, &ticket, |s| &mut s.push, Core::offer_slot);
        }
        // Cancelled while a rendezvous item waits in the slot: take it back
        // (it is dropped here, after the lock is released), unless a pop
        // took it already.
        if let Some(deposit) = self.deposit.take() {
            let _ = self.core.settle_deposit(deposit, drop);
        }
    }
}

impl<T> fmt::Debug for PushOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOp")
            .field("pushed", &self.item.is_none())
            .field(
                "waiting",
                &(self.waiting.is_some() || self.deposit.is_some()),
            )
            .finish()
    }
}

/// The state machine behind every pop: try; if nothing is free, queue up as
/// a waiting popper (under the lock); wait for an item reservation; take.
pub(crate) struct PopOp<'a, T> {
    core: &'a Core<T>,
    /// Our place in `pop.waiting` while waiting (or reserved, not yet run).
    waiting: Option<Ticket>,
}

impl<T> PopOp<'_, T> {
    /// The first attempt (inlined into the futures' `poll`): done, or
    /// queued with the waker stored (`Some`); `None` when it was queued
    /// without a waker, which [`poll_waiting`](PopOp::poll_waiting) stores.
    #[inline]
    fn attempt(&mut self, cx: &mut Context<'_>) -> Option<Poll<<Self as Op>::Output>> {
        let core = self.core;
        let attempt = try_or_wait(
            core,
            cx,
            Core::looks_empty,
            |state| {
                if state.has_free_item() {
                    if let Some(item) = core.remove(state) {
                        return Some(Ok(item));
                    }
                }
                // Empty (or every item is promised to an earlier waiter):
                // queue up, unless closed.
                state.closed.then_some(Err(PopTimeoutError::Closed))
            },
            |state| &mut state.pop.waiting,
        );
        first_attempt(attempt, &mut self.waiting)
    }

    /// Every poll but a first one that completes or queues with its waker:
    /// out of line, so that the common path stays short.
    #[inline(never)]
    fn poll_waiting(&mut self, cx: &mut Context<'_>) -> Poll<<Self as Op>::Output> {
        loop {
            if self.waiting.is_none() {
                if let Some(polled) = self.attempt(cx) {
                    return polled;
                }
            }
            let Some(mut state) = claim_queued(
                self.core,
                &mut self.waiting,
                cx,
                |s| &mut s.pop,
                State::free_items,
            ) else {
                return Poll::Pending;
            };
            // An item was reserved for us, or is free.
            match self.pop_reserved(&mut state) {
                Some(item) => return Poll::Ready(Ok(item)),
                None if state.closed => return Poll::Ready(Err(PopTimeoutError::Closed)),
                // Open, and the rendezvous item promised to us was taken
                // back by its pusher: queue up again (at the back).
                None => {}
            }
        }
    }

    /// Completes a pop that held an item reservation. The item leaves the
    /// container here, in the call that returns it. `None` if there is
    /// none: after `close()` every waiter was reserved and the last ones
    /// may find none; on a rendezvous queue the pusher of the item may have
    /// taken it back (timed out or cancelled) before we ran.
    fn pop_reserved(&mut self, state: &mut State<T>) -> Option<T> {
        self.core.remove(state)
    }
}

impl<T> Op for PopOp<'_, T> {
    type Output = Result<T, PopTimeoutError>;

    #[inline]
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.waiting.is_none() {
            if let Some(polled) = self.attempt(cx) {
                return polled;
            }
        }
        self.poll_waiting(cx)
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(ticket) = self.waiting.take() else {
            return Poll::Ready(Err(PopTimeoutError::Timeout));
        };
        Poll::Ready(
            match claim_or_withdraw(self.core, &ticket, |s| &mut s.pop, Core::offer_item) {
                // An item was reserved for us as the deadline passed: take it.
                Ok(mut state) => match self.pop_reserved(&mut state) {
                    Some(item) => Ok(item),
                    None if state.closed => Err(PopTimeoutError::Closed),
                    None => Err(PopTimeoutError::Timeout),
                },
                Err(()) => Err(PopTimeoutError::Timeout),
            },
        )
    }

    const SPINS: bool = true;

    fn spin_try(&mut self) -> Option<Self::Output> {
        if self.waiting.is_some() {
            return None;
        }
        match self.core.pop_now() {
            Now::Done(item) => Some(Ok(item)),
            Now::Closed(()) => Some(Err(PopTimeoutError::Closed)),
            Now::Wait(()) => None,
        }
    }

    fn may_wake_on_drop(&self) -> bool {
        self.waiting.is_some()
    }
}

impl<T> Drop for PopOp<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw. If an item had been reserved
        // for us, it never left the container; offer it to the next waiter.
        if let Some(ticket) = self.waiting.take() {
            abandon(self.core, &ticket, |s| &mut s.pop, Core::offer_item);
        }
    }
}

impl<T> fmt::Debug for PopOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopOp")
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

/// The state machine behind every `join`: like `Event::wait`, with
/// "`unfinished == 0` or the join generation moved on" as the flag.
pub(crate) struct JoinOp<'a, T> {
    core: &'a Core<T>,
    /// The join generation seen on the first poll.
    start: Option<usize>,
    /// Our place in `join_waiting`, while waiting.
    waiting: Option<Ticket>,
}

/// Whether a `join` that started at join generation `start` may return.
fn join_released<T>(start: &mut Option<usize>, state: &State<T>) -> bool {
    state.unfinished == 0 || *start.get_or_insert(state.join_generation) != state.join_generation
}

impl<T> JoinOp<'_, T> {
    /// Leaves the line (if still in it) and reports whether we were released.
    fn settle(&mut self, state: &mut State<T>) -> bool {
        if let Some(ticket) = self.waiting.take() {
            state.join_waiting.remove(&ticket);
        }
        join_released(&mut self.start, state)
    }
}

impl<T> Op for JoinOp<'_, T> {
    type Output = bool;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        let core = self.core;
        if self.waiting.is_none() {
            // No hint: `join` is not on any hot path; when it has to wait
            // it stores its waker in a second lock round.
            let start = &mut self.start;
            let attempt = try_or_wait(
                core,
                cx,
                |_| false,
                |state| join_released(start, state).then_some(()),
                |state| &mut state.join_waiting,
            );
            match attempt {
                Ok(()) => return Poll::Ready(true),
                Err(ticket) => self.waiting = Some(ticket),
            }
        }
        let ticket = self.waiting.as_mut().expect("queued above");
        let fresh = ticket.fresh(cx);
        let mut state = core.lock();
        // Woken (removed) only by the `task_done` that released us.
        if state.join_waiting.still_waiting(ticket, fresh, cx)
            && !join_released(&mut self.start, &state)
        {
            return Poll::Pending;
        }
        Poll::Ready(self.settle(&mut state))
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<bool> {
        let core = self.core;
        let mut state = core.lock();
        Poll::Ready(self.settle(&mut state))
    }

    fn may_wake_on_drop(&self) -> bool {
        // A join notification is for everyone: nothing to pass on.
        false
    }
}

impl<T> Drop for JoinOp<'_, T> {
    fn drop(&mut self) {
        if let Some(ticket) = self.waiting.take() {
            self.core.lock().join_waiting.remove(&ticket);
        }
    }
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinOp")
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

named_future! {
    /// Future returned by `push` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue):
    /// resolves once the item is inside, or to [`PushError`] (holding the
    /// item) if the container is closed.
    pub struct Push<'a, T>(PushOp<'a, T>) -> Result<(), PushError<T>>;
    |r| r.map_err(|e| PushError::Closed(e.into_inner()))
}

named_future! {
    /// Future returned by `push_timeout` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue).
    pub struct PushTimeout<'a, T>(PushOp<'a, T>) -> Result<(), PushTimeoutError<T>>;
    |r| r
}

named_future! {
    /// Future returned by `pop` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue):
    /// resolves to the next item, or to [`PopError`] once the container is
    /// closed and drained.
    pub struct Pop<'a, T>(PopOp<'a, T>) -> Result<T, PopError>;
    |r| r.map_err(|_| PopError)
}

named_future! {
    /// Future returned by `pop_timeout` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue).
    pub struct PopTimeout<'a, T>(PopOp<'a, T>) -> Result<T, PopTimeoutError>;
    |r| r
}

named_future! {
    /// Future returned by `join` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue):
    /// resolves once every pushed item has been matched by a `task_done()`.
    pub struct Join<'a, T>(JoinOp<'a, T>) -> ();
    |_done| ()
}

named_future! {
    /// Future returned by `join_timeout` on a [`Queue`](crate::Queue),
    /// [`Stack`](crate::Stack) or [`PriorityQueue`](crate::PriorityQueue):
    /// `true` if every task was done, `false` on timeout.
    pub struct JoinTimeout<'a, T>(JoinOp<'a, T>) -> bool;
    |done| done
}
