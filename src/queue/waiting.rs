//! The waiting engine shared by the three containers: `Core<T>`, the three
//! operations that can wait (`PushOp`, `PopOp`, `JoinOp`) and their named
//! futures. See the parent module's docs for the design.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use event_listener::{EventListener, Listener};

use super::error::{
    PopError, PopTimeoutError, PushError, PushTimeoutError, TryPopError, TryPushError,
};
use super::items::Items;
use crate::engine::{Op, named_future, wake_deferred};
use crate::sync::{Locked, Mutex, lock, loom_const_fn};

/// Everything a container is: one mutex-protected state (which holds the
/// waiting poppers and pushers) and the `join` waiters.
pub(crate) struct Core<T> {
    state: Mutex<State<T>>,
    /// `join` waiters; notified (all of them) when `unfinished` reaches 0.
    join_ops: event_listener::Event,
}

/// Waiting poppers or pushers, oldest first, each with its id (increasing
/// along the queue) and waker. Leaving the queue other than by one's own
/// withdrawal *is* the reservation: whoever removes a waiter from the front
/// (an offer, or `close`) counts it in `pop_reserved`/`push_reserved` and
/// wakes it in the same critical section. So a waiter that finds itself
/// gone holds a reservation. (These used to be `event_listener::Event`s:
/// a heap-allocated listener per wait and a second lock per offer, which
/// made the waiting paths several times slower than async-channel's.)
struct Waiters {
    queue: VecDeque<(u64, Waker)>,
}

impl Waiters {
    const fn new() -> Self {
        Waiters {
            queue: VecDeque::new(),
        }
    }

    fn len(&self) -> usize {
        self.queue.len()
    }

    /// Queues waiter `id` at the back.
    fn push(&mut self, id: u64, waker: &Waker) {
        self.queue.push_back((id, waker.clone()));
    }

    /// The position of waiter `id`, if still queued.
    fn position(&self, id: u64) -> Option<usize> {
        match self.queue.front() {
            Some((front, _)) if *front == id => Some(0),
            _ => self.queue.binary_search_by_key(&id, |(i, _)| *i).ok(),
        }
    }

    /// If waiter `id` is still queued, stores `waker` in its entry and
    /// returns `true`; `false` means it has been given a reservation.
    fn still_waiting(&mut self, id: u64, waker: &Waker) -> bool {
        match self.position(id) {
            Some(i) => {
                let slot = &mut self.queue[i].1;
                if !slot.will_wake(waker) {
                    slot.clone_from(waker);
                }
                true
            }
            None => false,
        }
    }

    /// Withdraws waiter `id`: `true` if it was still queued, `false` if it
    /// had been given a reservation.
    fn withdraw(&mut self, id: u64) -> bool {
        match self.position(id) {
            Some(i) => {
                self.queue.remove(i);
                true
            }
            None => false,
        }
    }

    /// Gives the oldest waiter its reservation: removes and wakes it.
    fn wake_front(&mut self) {
        if let Some((_, waker)) = self.queue.pop_front() {
            wake_deferred(waker);
        }
    }

    /// Removes and wakes every waiter; returns how many there were.
    fn wake_all(&mut self) -> usize {
        let n = self.queue.len();
        for (_, waker) in self.queue.drain(..) {
            wake_deferred(waker);
        }
        n
    }
}

/// The state behind `Core::state`.
///
/// Invariants, true whenever the lock is free and the container is open:
///
/// * `pop_waiting` holds the poppers not yet given an item (the docs call
///   their number `pop_waiting` too); `pop_reserved` counts the poppers
///   given one whose pop has not run yet. Every item beyond `pop_reserved`
///   has been offered: poppers waiting implies
///   `items.len() == pop_reserved`, and `pop_reserved <= items.len()`.
/// * Symmetrically for pushers and free slots: pushers waiting implies
///   `items.len() + push_reserved == capacity`.
///
/// `close()` turns every waiter into a reserved one (so each wakes, looks,
/// and finds out), after which the inequalities may not hold: a reserved
/// popper then takes an item if one is left, else reports `Closed`.
struct State<T> {
    items: Items<T>,
    capacity: Option<usize>,
    closed: bool,
    /// Items pushed and not yet matched by `task_done()`.
    unfinished: usize,
    /// Bumped whenever `unfinished` drops to 0, so that a `join` waiter
    /// released by it completes even if a push raises the count again
    /// before the waiter runs.
    join_generation: usize,
    /// The id of the next popper or pusher to wait.
    next_id: u64,
    pop_waiting: Waiters,
    pop_reserved: usize,
    push_waiting: Waiters,
    push_reserved: usize,
}

impl<T> State<T> {
    fn limit(&self) -> usize {
        self.capacity.unwrap_or(usize::MAX)
    }

    /// Whether a push that holds no reservation may insert now.
    fn has_free_slot(&self) -> bool {
        self.items.len().saturating_add(self.push_reserved) < self.limit()
    }

    /// Whether a pop that holds no reservation may take an item now.
    fn has_free_item(&self) -> bool {
        self.items.len() > self.pop_reserved
    }
}

impl<T> Core<T> {
    loom_const_fn! {
        pub(crate) const fn new(items: Items<T>, capacity: Option<usize>) -> Self {
            Core {
                state: Mutex::new(State {
                    items,
                    capacity,
                    closed: false,
                    unfinished: 0,
                    join_generation: 0,
                    next_id: 0,
                    pop_waiting: Waiters::new(),
                    pop_reserved: 0,
                    push_waiting: Waiters::new(),
                    push_reserved: 0,
                }),
                join_ops: event_listener::Event::new(),
            }
        }
    }

    fn lock(&self) -> Locked<'_, State<T>> {
        lock(&self.state)
    }

    /// Offers an unreserved item, if any, to the oldest waiting popper.
    fn offer_item(&self, state: &mut State<T>) {
        if state.pop_waiting.len() > 0 && state.has_free_item() {
            state.pop_waiting.wake_front();
            state.pop_reserved += 1;
        }
    }

    /// Offers an unreserved free slot, if any, to the oldest waiting pusher.
    fn offer_slot(&self, state: &mut State<T>) {
        if state.push_waiting.len() > 0 && state.has_free_slot() {
            state.push_waiting.wake_front();
            state.push_reserved += 1;
        }
    }

    /// Inserts `item` (the caller checked for room and openness).
    fn insert(&self, state: &mut State<T>, item: T) {
        state.items.push(item);
        state.unfinished += 1;
        self.offer_item(state);
    }

    /// Removes the next item, if any, and passes the freed slot on.
    fn remove(&self, state: &mut State<T>) -> Option<T> {
        let item = state.items.pop();
        if item.is_some() {
            self.offer_slot(state);
        }
        item
    }

    pub(crate) fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
        let mut state = self.lock();
        if state.closed {
            Err(TryPushError::Closed(item))
        } else if state.has_free_slot() {
            self.insert(&mut state, item);
            Ok(())
        } else {
            Err(TryPushError::Full(item))
        }
    }

    pub(crate) fn try_pop(&self) -> Result<T, TryPopError> {
        let mut state = self.lock();
        if state.has_free_item() {
            // `has_free_item` implies the buffer is not empty.
            self.remove(&mut state).ok_or(TryPopError::Empty)
        } else if state.closed {
            Err(TryPopError::Closed)
        } else {
            Err(TryPopError::Empty)
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().items.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        let state = self.lock();
        state.items.len() >= state.limit()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        self.lock().capacity
    }

    pub(crate) fn close(&self) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        // Wake every waiter as a reserved one: each re-checks and finds out.
        state.pop_reserved += state.pop_waiting.wake_all();
        state.push_reserved += state.push_waiting.wake_all();
        true
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub(crate) fn task_done(&self) -> Result<(), super::TaskDoneError> {
        let mut state = self.lock();
        if state.unfinished == 0 {
            return Err(super::TaskDoneError);
        }
        state.unfinished -= 1;
        if state.unfinished == 0 {
            state.join_generation = state.join_generation.wrapping_add(1);
            self.join_ops.notify(usize::MAX);
        }
        Ok(())
    }

    pub(crate) fn unfinished_tasks(&self) -> usize {
        self.lock().unfinished
    }

    pub(crate) fn push_op(&self, item: T) -> PushOp<'_, T> {
        PushOp {
            core: self,
            item: Some(item),
            waiting: None,
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
            listener: None,
        }
    }

    /// Formats the live state, items in pop order.
    pub(crate) fn debug(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result
    where
        T: fmt::Debug,
    {
        let state = self.lock();
        f.debug_struct(name)
            .field("items", &state.items.in_pop_order())
            .field("capacity", &state.capacity)
            .field("closed", &state.closed)
            .field("unfinished_tasks", &state.unfinished)
            .field("waiting_poppers", &state.pop_waiting.len())
            .field("waiting_pushers", &state.push_waiting.len())
            .finish()
    }
}

/// The state machine behind every push: try; if full, queue up as a waiting
/// pusher (under the lock, so pushers are served in arrival order); wait for
/// a slot reservation; insert.
pub(crate) struct PushOp<'a, T> {
    core: &'a Core<T>,
    /// `None` once the item has been inserted or handed back.
    item: Option<T>,
    /// Our id in `push_waiting` while waiting (or reserved, not yet run).
    waiting: Option<u64>,
}

// The item is never pinned: it is only moved in and out by value.
impl<T> Unpin for PushOp<'_, T> {}

impl<T> PushOp<'_, T> {
    fn take_item(&mut self) -> T {
        self.item.take().expect("push polled after completion")
    }

    /// Completes a push that holds a slot reservation: insert, unless the
    /// container was closed meanwhile.
    fn push_reserved(&mut self, state: &mut State<T>) -> Result<(), PushTimeoutError<T>> {
        state.push_reserved -= 1;
        let item = self.take_item();
        if state.closed {
            // Nobody waits on a closed container: nothing to pass on.
            return Err(PushTimeoutError::Closed(item));
        }
        self.core.insert(state, item);
        Ok(())
    }
}

impl<T> Op for PushOp<'_, T> {
    type Output = Result<(), PushTimeoutError<T>>;

    // Waiting pushers' wakers live in `State::push_waiting`.
    const OWN_WAKERS: bool = true;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let core = self.core;
        let mut state = core.lock();
        if let Some(id) = self.waiting {
            if state.push_waiting.still_waiting(id, cx.waker()) {
                return Poll::Pending;
            }
            // Gone from the queue: a slot was reserved for us.
            self.waiting = None;
            return Poll::Ready(self.push_reserved(&mut state));
        }
        if state.closed {
            return Poll::Ready(Err(PushTimeoutError::Closed(self.take_item())));
        }
        if state.has_free_slot() {
            let item = self.take_item();
            core.insert(&mut state, item);
            return Poll::Ready(Ok(()));
        }
        // Full: queue up behind the pushers already waiting.
        let id = state.next_id;
        state.next_id += 1;
        state.push_waiting.push(id, cx.waker());
        self.waiting = Some(id);
        Poll::Pending
    }

    fn on_timeout(&mut self) -> Self::Output {
        let Some(id) = self.waiting.take() else {
            // Never queued (cannot happen: Pending implies queued).
            return Err(PushTimeoutError::Timeout(self.take_item()));
        };
        let mut state = self.core.lock();
        // Reservations are made only under the lock, so the queue tells
        // exactly whether a slot was reserved for us.
        if state.push_waiting.withdraw(id) {
            return Err(PushTimeoutError::Timeout(self.take_item()));
        }
        self.push_reserved(&mut state)
    }

    fn may_wake_on_drop(&self) -> bool {
        self.waiting.is_some()
    }
}

impl<T> Drop for PushOp<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw; pass a reserved slot on. The
        // item, never inserted, is dropped with the op.
        if let Some(id) = self.waiting.take() {
            let core = self.core;
            let mut state = core.lock();
            if !state.push_waiting.withdraw(id) {
                state.push_reserved -= 1;
                core.offer_slot(&mut state);
            }
        }
    }
}

impl<T> fmt::Debug for PushOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOp")
            .field("pushed", &self.item.is_none())
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

/// The state machine behind every pop: try; if nothing is free, queue up as
/// a waiting popper (under the lock); wait for an item reservation; take.
pub(crate) struct PopOp<'a, T> {
    core: &'a Core<T>,
    /// Our id in `pop_waiting` while waiting (or reserved, not yet run).
    waiting: Option<u64>,
}

impl<T> PopOp<'_, T> {
    /// Completes a pop that holds an item reservation. The item leaves the
    /// container here, in the call that returns it.
    fn pop_reserved(&mut self, state: &mut State<T>) -> Result<T, PopTimeoutError> {
        state.pop_reserved -= 1;
        // While open, a reservation always has its item; after `close()`,
        // every waiter was reserved and the last ones may find none.
        self.core.remove(state).ok_or(PopTimeoutError::Closed)
    }
}

impl<T> Op for PopOp<'_, T> {
    type Output = Result<T, PopTimeoutError>;

    // Waiting poppers' wakers live in `State::pop_waiting`.
    const OWN_WAKERS: bool = true;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let core = self.core;
        let mut state = core.lock();
        if let Some(id) = self.waiting {
            if state.pop_waiting.still_waiting(id, cx.waker()) {
                return Poll::Pending;
            }
            // Gone from the queue: an item was reserved for us.
            self.waiting = None;
            return Poll::Ready(self.pop_reserved(&mut state));
        }
        if state.has_free_item() {
            if let Some(item) = core.remove(&mut state) {
                return Poll::Ready(Ok(item));
            }
        }
        if state.closed {
            return Poll::Ready(Err(PopTimeoutError::Closed));
        }
        // Empty (or every item is promised to an earlier waiter): queue up.
        // Under the lock, so waiters are served in arrival order.
        let id = state.next_id;
        state.next_id += 1;
        state.pop_waiting.push(id, cx.waker());
        self.waiting = Some(id);
        Poll::Pending
    }

    fn on_timeout(&mut self) -> Self::Output {
        let Some(id) = self.waiting.take() else {
            return Err(PopTimeoutError::Timeout);
        };
        let mut state = self.core.lock();
        if state.pop_waiting.withdraw(id) {
            return Err(PopTimeoutError::Timeout);
        }
        // An item was reserved for us as the deadline passed: take it.
        self.pop_reserved(&mut state)
    }

    fn may_wake_on_drop(&self) -> bool {
        self.waiting.is_some()
    }
}

impl<T> Drop for PopOp<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw. If an item had been reserved
        // for us, it never left the container; offer it to the next waiter.
        if let Some(id) = self.waiting.take() {
            let core = self.core;
            let mut state = core.lock();
            if !state.pop_waiting.withdraw(id) {
                state.pop_reserved -= 1;
                core.offer_item(&mut state);
            }
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
    listener: Option<EventListener>,
}

impl<T> JoinOp<'_, T> {
    fn released(&mut self, state: &State<T>) -> bool {
        state.unfinished == 0
            || *self.start.get_or_insert(state.join_generation) != state.join_generation
    }
}

impl<T> Op for JoinOp<'_, T> {
    type Output = bool;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if let Some(listener) = &mut self.listener {
                std::task::ready!(Pin::new(listener).poll(cx));
                self.listener = None;
            }
            let core = self.core;
            let state = core.lock();
            if self.released(&state) {
                return Poll::Ready(true);
            }
            // Listening under the lock: `task_done` notifies under it too.
            self.listener = Some(core.join_ops.listen());
        }
    }

    fn on_timeout(&mut self) -> bool {
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
        let state = self.core.lock();
        self.released(&state)
    }
}

impl<T> Drop for JoinOp<'_, T> {
    fn drop(&mut self) {
        // A join notification is for everyone: nothing to pass on.
        if let Some(listener) = self.listener.take() {
            listener.discard();
        }
    }
}

impl<T> fmt::Debug for JoinOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinOp")
            .field("waiting", &self.listener.is_some())
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
