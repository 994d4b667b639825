//! The waiting engine shared by the three containers: `Core<T>`, the three
//! operations that can wait (`PushOp`, `PopOp`, `JoinOp`) and their named
//! futures. See the parent module's docs for the design.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use event_listener::{EventListener, IntoNotification, Listener};

use super::error::{
    PopError, PopTimeoutError, PushError, PushTimeoutError, TryPopError, TryPushError,
};
use super::items::Items;
use crate::engine::{Op, named_future};
use crate::sync::{Locked, Mutex, lock, loom_const_fn};

/// Everything a container is: one mutex-protected state and three waiter
/// lists.
pub(crate) struct Core<T> {
    state: Mutex<State<T>>,
    /// Poppers waiting for an item. Notified only under `state`'s lock, one
    /// at a time, and each notification is a reservation (`pop_reserved`).
    pop_ops: event_listener::Event,
    /// Pushers waiting for a free slot (bounded containers only). Notified
    /// only under the lock; each notification reserves a slot.
    push_ops: event_listener::Event,
    /// `join` waiters; notified (all of them) when `unfinished` reaches 0.
    join_ops: event_listener::Event,
}

/// The state behind `Core::state`.
///
/// Invariants, true whenever the lock is free and the container is open:
///
/// * `pop_waiting` = listeners on `pop_ops` not yet notified;
///   `pop_reserved` = listeners notified whose pop has not run yet.
///   Every item beyond `pop_reserved` has been offered: `pop_waiting > 0`
///   implies `items.len() == pop_reserved`, and `pop_reserved <= items.len()`.
/// * Symmetrically for pushers and free slots: `push_waiting > 0` implies
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
    pop_waiting: usize,
    pop_reserved: usize,
    push_waiting: usize,
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
                    pop_waiting: 0,
                    pop_reserved: 0,
                    push_waiting: 0,
                    push_reserved: 0,
                }),
                pop_ops: event_listener::Event::new(),
                push_ops: event_listener::Event::new(),
                join_ops: event_listener::Event::new(),
            }
        }
    }

    fn lock(&self) -> Locked<'_, State<T>> {
        lock(&self.state)
    }

    /// Offers an unreserved item, if any, to the oldest waiting popper.
    fn offer_item(&self, state: &mut State<T>) {
        if state.pop_waiting > 0 && state.has_free_item() {
            let notified = self.pop_ops.notify(1.additional());
            debug_assert_eq!(notified, 1, "pop_waiting out of sync with its listeners");
            state.pop_waiting -= 1;
            state.pop_reserved += 1;
        }
    }

    /// Offers an unreserved free slot, if any, to the oldest waiting pusher.
    fn offer_slot(&self, state: &mut State<T>) {
        if state.push_waiting > 0 && state.has_free_slot() {
            let notified = self.push_ops.notify(1.additional());
            debug_assert_eq!(notified, 1, "push_waiting out of sync with its listeners");
            state.push_waiting -= 1;
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
        if state.pop_waiting > 0 {
            self.pop_ops.notify(state.pop_waiting.additional());
            state.pop_reserved += state.pop_waiting;
            state.pop_waiting = 0;
        }
        if state.push_waiting > 0 {
            self.push_ops.notify(state.push_waiting.additional());
            state.push_reserved += state.push_waiting;
            state.push_waiting = 0;
        }
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
            listener: None,
        }
    }

    pub(crate) fn pop_op(&self) -> PopOp<'_, T> {
        PopOp {
            core: self,
            listener: None,
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
            .field("waiting_poppers", &state.pop_waiting)
            .field("waiting_pushers", &state.push_waiting)
            .finish()
    }
}

/// The state machine behind every push: try; if full, register as a waiting
/// pusher (under the lock, so waiters queue in arrival order); wait for a
/// slot reservation; insert.
pub(crate) struct PushOp<'a, T> {
    core: &'a Core<T>,
    /// `None` once the item has been inserted or handed back.
    item: Option<T>,
    /// Registered on `push_ops` while waiting.
    listener: Option<EventListener>,
}

// The item is never pinned: it is only moved in and out by value.
impl<T> Unpin for PushOp<'_, T> {}

impl<T> PushOp<'_, T> {
    fn take_item(&mut self) -> T {
        self.item.take().expect("push polled after completion")
    }

    /// Completes a push that holds a slot reservation (its listener was
    /// notified): insert, unless the container was closed meanwhile.
    fn push_reserved(&mut self) -> Result<(), PushTimeoutError<T>> {
        let core = self.core;
        let mut state = core.lock();
        state.push_reserved -= 1;
        let item = self.take_item();
        if state.closed {
            // Nobody waits on a closed container: nothing to pass on.
            return Err(PushTimeoutError::Closed(item));
        }
        core.insert(&mut state, item);
        Ok(())
    }
}

impl<T> Op for PushOp<'_, T> {
    type Output = Result<(), PushTimeoutError<T>>;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            if let Some(listener) = &mut self.listener {
                // Still registered: pending until a slot is reserved for us.
                std::task::ready!(Pin::new(listener).poll(cx));
                self.listener = None;
                return Poll::Ready(self.push_reserved());
            }
            let core = self.core;
            let mut state = core.lock();
            if state.closed {
                return Poll::Ready(Err(PushTimeoutError::Closed(self.take_item())));
            }
            if state.has_free_slot() {
                let item = self.take_item();
                core.insert(&mut state, item);
                return Poll::Ready(Ok(()));
            }
            // Full: queue up behind the pushers already waiting. Registering
            // under the lock keeps `push_waiting` equal to the number of
            // unnotified listeners. Loop to poll the listener (registers the
            // waker) outside the lock.
            state.push_waiting += 1;
            self.listener = Some(core.push_ops.listen());
        }
    }

    fn on_timeout(&mut self) -> Self::Output {
        let Some(listener) = self.listener.take() else {
            // Never registered (cannot happen: Pending implies registered).
            return Err(PushTimeoutError::Timeout(self.take_item()));
        };
        let mut state = self.core.lock();
        // Notifications happen only under the lock, so `discard` tells
        // exactly whether a slot was reserved for us.
        if listener.discard() {
            drop(state);
            return self.push_reserved();
        }
        state.push_waiting -= 1;
        Err(PushTimeoutError::Timeout(self.take_item()))
    }
}

impl<T> Drop for PushOp<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw; pass a reserved slot on. The
        // item, never inserted, is dropped with the op.
        if let Some(listener) = self.listener.take() {
            let core = self.core;
            let mut state = core.lock();
            if listener.discard() {
                state.push_reserved -= 1;
                core.offer_slot(&mut state);
            } else {
                state.push_waiting -= 1;
            }
        }
    }
}

impl<T> fmt::Debug for PushOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushOp")
            .field("pushed", &self.item.is_none())
            .field("waiting", &self.listener.is_some())
            .finish()
    }
}

/// The state machine behind every pop: try; if nothing is free, register as
/// a waiting popper (under the lock); wait for an item reservation; take.
pub(crate) struct PopOp<'a, T> {
    core: &'a Core<T>,
    /// Registered on `pop_ops` while waiting.
    listener: Option<EventListener>,
}

impl<T> PopOp<'_, T> {
    /// Completes a pop that holds an item reservation. The item leaves the
    /// container here, in the call that returns it.
    fn pop_reserved(&mut self) -> Result<T, PopTimeoutError> {
        let core = self.core;
        let mut state = core.lock();
        state.pop_reserved -= 1;
        // While open, a reservation always has its item; after `close()`,
        // every waiter was reserved and the last ones may find none.
        core.remove(&mut state).ok_or(PopTimeoutError::Closed)
    }
}

impl<T> Op for PopOp<'_, T> {
    type Output = Result<T, PopTimeoutError>;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            if let Some(listener) = &mut self.listener {
                std::task::ready!(Pin::new(listener).poll(cx));
                self.listener = None;
                return Poll::Ready(self.pop_reserved());
            }
            let core = self.core;
            let mut state = core.lock();
            if state.has_free_item() {
                if let Some(item) = core.remove(&mut state) {
                    return Poll::Ready(Ok(item));
                }
            }
            if state.closed {
                return Poll::Ready(Err(PopTimeoutError::Closed));
            }
            // Empty (or every item is promised to an earlier waiter): queue
            // up. Under the lock, so waiters are served in arrival order.
            state.pop_waiting += 1;
            self.listener = Some(core.pop_ops.listen());
        }
    }

    fn on_timeout(&mut self) -> Self::Output {
        let Some(listener) = self.listener.take() else {
            return Err(PopTimeoutError::Timeout);
        };
        let mut state = self.core.lock();
        if listener.discard() {
            // An item was reserved for us as the deadline passed: take it.
            drop(state);
            return self.pop_reserved();
        }
        state.pop_waiting -= 1;
        Err(PopTimeoutError::Timeout)
    }
}

impl<T> Drop for PopOp<'_, T> {
    fn drop(&mut self) {
        // Cancelled while waiting: withdraw. If an item had been reserved
        // for us, it never left the container; offer it to the next waiter.
        if let Some(listener) = self.listener.take() {
            let core = self.core;
            let mut state = core.lock();
            if listener.discard() {
                state.pop_reserved -= 1;
                core.offer_item(&mut state);
            } else {
                state.pop_waiting -= 1;
            }
        }
    }
}

impl<T> fmt::Debug for PopOp<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopOp")
            .field("waiting", &self.listener.is_some())
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
