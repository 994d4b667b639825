//! The waiting engine shared by the three containers: `Core<T>`, its
//! state and the two waiter sides. The three operations that can wait
//! (`PushOp`, `PopOp`, `JoinOp`) and their named futures are in
//! `waiting/ops.rs`. See the parent module's docs for the design.

mod ops;
mod rendezvous;
#[cfg(all(test, not(loom)))]
mod tests;

pub use ops::{Join, JoinTimeout, Pop, PopTimeout, Push, PushTimeout};

use std::fmt;

use super::error::{TryPopError, TryPushError};
use super::items::Items;
use crate::fairness::Fairness;
use crate::sync::{AtomicBool, Locked, Mutex, Ordering, get_mut, lock, loom_const_fn};
use crate::waiters::{Ticket, WaitList};

/// Everything a container is: one mutex-protected state, which holds the
/// buffer and every waiter (poppers, pushers and `join` waiters).
pub(crate) struct Core<T> {
    state: Mutex<State<T>>,
    /// Whether the buffer looks empty / full, for a pop or push deciding
    /// whether it will probably wait (and so should clone its waker before
    /// taking the lock; see `try_or_wait`). Stored under the lock, and only
    /// when the answer changes, so that while the container is neither
    /// empty nor full, readers share a clean cache line with no traffic
    /// (on its own line, away from the lock word, which every operation
    /// writes). Relaxed everywhere: a stale answer costs at most a wasted
    /// clone or one more lock round, never correctness.
    hints: Hints,
    /// The capacity, `usize::MAX` for unbounded (a copy of the state's, for
    /// the hints).
    limit: usize,
    /// A rendezvous queue (see [`Rendezvous`]).
    rendezvous: bool,
}

#[repr(align(64))]
struct Hints {
    empty: AtomicBool,
    full: AtomicBool,
}

impl Hints {
    /// Records whether the buffer is empty or full (with the lock held).
    #[inline]
    fn note(&self, len: usize, limit: usize) {
        let (empty, full) = (len == 0, len >= limit);
        if self.empty.load(Ordering::Relaxed) != empty {
            self.empty.store(empty, Ordering::Relaxed);
        }
        if self.full.load(Ordering::Relaxed) != full {
            self.full.store(full, Ordering::Relaxed);
        }
    }
}

/// What a push or pop that does not wait found: done, the container
/// closed, or it would have to wait (`R` gives back what was not used).
pub(super) enum Now<D, R> {
    Done(D),
    Closed(R),
    Wait(R),
}

/// The state behind `Core::state`.
///
/// Invariants, true whenever the lock is free and the container is open:
///
/// * `pop.waiting` holds the poppers not yet given an item, in the crate's
///   [`WaitList`]. In *handoff* mode (always under [`Fairness::Strict`];
///   under eventual fairness while a waiter is past the bound), leaving it
///   other than by one's own withdrawal *is* the reservation: whoever
///   removes a waiter from the front (an offer, or `close`) counts it in
///   `pop.reserved` and wakes it in the same critical section, so a waiter
///   that finds itself gone holds a reservation. `pop.reserved` counts the
///   poppers given one whose pop has not run yet, and `pop.reserved <=
///   items.len()`. In handoff mode every item beyond `pop.reserved` has
///   been offered: poppers waiting implies `items.len() == pop.reserved`.
/// * In *barging* mode (eventual fairness, nobody past the bound) an offer
///   goes to the oldest popper not yet woken: a blocking one (a thread) is
///   woken in place and reserves nothing (`Side::woken` counts those not
///   yet back), and the woken popper, or any running caller, takes a free
///   item; an async one (a task) is given the item as in handoff mode.
///   Each free item beyond the woken count has gone to one more popper:
///   poppers waiting with a waker implies `items.len() - pop.reserved <=
///   pop.woken`. A woken popper that finds nothing free was passed over;
///   once one has been for longer than the bound, the side switches to
///   handoff mode.
/// * Symmetrically for pushers and free slots (`capacity - items.len() -
///   push.reserved` free).
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
    /// Waiting and reserved poppers.
    pop: Side,
    /// Waiting and reserved pushers.
    push: Side,
    /// `join` waiters; all woken when `unfinished` reaches 0.
    join_waiting: WaitList<()>,
    /// A rendezvous queue's handoff bookkeeping (unused otherwise).
    rv: Rendezvous,
}

/// How a rendezvous queue (`Queue::rendezvous()`, no buffer) knows when a
/// push is complete: its one slot holds the item of the pusher that waits
/// for a popper to take it, and a push returns only once a pop removed it
/// (see `waiting/rendezvous.rs`).
///
/// Internally the queue has a capacity of 1 (the slot; pushers wait for it
/// in line like on any bounded queue), so at most one item is in the slot
/// at a time, and the item deposited while `taken` is `n - 1` is deposit
/// `n`: its pusher is done once `taken >= n`. A pusher that gives up
/// (timeout, cancellation, `close`) before its item was taken removes it
/// again, and the next deposit gets the same number (nobody else holds it).
struct Rendezvous {
    /// Items removed by pops.
    taken: u64,
    /// The pusher whose item is in the slot, waiting for it to be taken
    /// (at most one).
    confirm: WaitList<()>,
}

/// The poppers or the pushers: those waiting (each entry's payload says
/// whether it was woken in place and has not looked yet), how many hold a
/// reservation (an item or a slot promised to them) not yet used, and how
/// many were woken in place.
struct Side {
    waiting: WaitList<bool>,
    reserved: usize,
    woken: usize,
    /// Eventual fairness only: a waiter was passed over for longer than the
    /// bound, so freed resources are reserved for waiters.
    handoff: bool,
}

impl Side {
    const fn new() -> Self {
        Side {
            waiting: WaitList::with_fairness(Fairness::Eventual(Fairness::DEFAULT_BOUND)),
            reserved: 0,
            woken: 0,
            handoff: false,
        }
    }

    /// Waiters still waiting for something: not those woken because a
    /// resource is free for them (they are about to look).
    fn waiting_now(&self) -> usize {
        self.waiting.len() - self.woken
    }

    /// Whether freed resources are reserved for waiters (no barging).
    fn hands_off(&self) -> bool {
        self.handoff || self.waiting.is_strict()
    }

    /// One more resource is free (`free` in all, unreserved): in handoff
    /// mode reserve it for the oldest waiter (removed and woken); in
    /// barging mode, if fewer are woken than there are free resources, the
    /// oldest waiter not yet woken is woken in place if it is a thread, or
    /// given the resource (reserved) if it is a task.
    fn offer(&mut self, free: usize) {
        if self.waiting.is_empty() || free == 0 {
            return;
        }
        if self.hands_off() {
            if let Some(was_woken) = self.waiting.wake_front() {
                self.reserved += 1;
                if was_woken {
                    self.woken -= 1;
                }
            }
            if !self.waiting.is_strict() && !self.waiting.front_past_bound() {
                // Nobody left past the bound: running callers may barge.
                self.handoff = false;
            }
            return;
        }
        if free <= self.woken {
            return;
        }
        // The oldest waiter not yet woken (entries without a waker are
        // running: they registered under the lock and look again).
        let Some((i, entry)) = self.waiting.find_mut(|e| !e.payload && e.has_waker()) else {
            return;
        };
        if entry.is_thread() {
            // A sleeping thread takes tens of microseconds to run: wake it
            // in place and let running callers use the resource meanwhile.
            entry.payload = true;
            entry.wake();
            self.woken += 1;
        } else {
            // A task runs as soon as its executor polls it: hand the
            // resource over, so that it finds it there, in one lock round.
            self.waiting.wake_at(i);
            self.reserved += 1;
        }
    }

    /// Gives every waiter a reservation (`close`: each re-checks).
    fn reserve_all(&mut self) {
        self.reserved += self.waiting.wake_all();
        self.woken = 0;
        self.handoff = false;
    }

    /// Takes `ticket`'s waiter out of line; whether it was there, and
    /// whether it had been woken in place (its wake must pass on).
    fn withdraw(&mut self, ticket: &Ticket) -> Option<bool> {
        let (woken, _) = self.waiting.remove(ticket)?;
        if woken {
            self.woken -= 1;
        }
        Some(woken)
    }
}

impl<T> State<T> {
    fn limit(&self) -> usize {
        self.capacity.unwrap_or(usize::MAX)
    }

    /// Whether a push that holds no reservation may insert now.
    fn has_free_slot(&self) -> bool {
        self.items.len().saturating_add(self.push.reserved) < self.limit()
    }

    /// Whether a pop that holds no reservation may take an item now.
    fn has_free_item(&self) -> bool {
        self.items.len() > self.pop.reserved
    }

    /// Items not reserved for a popper.
    fn free_items(&self) -> usize {
        self.items.len().saturating_sub(self.pop.reserved)
    }

    /// Free slots not reserved for a pusher.
    fn free_slots(&self) -> usize {
        self.limit()
            .saturating_sub(self.items.len())
            .saturating_sub(self.push.reserved)
    }
}

impl<T> Core<T> {
    loom_const_fn! {
        pub(crate) const fn new(items: Items<T>, capacity: Option<usize>) -> Self {
            Self::with_rendezvous(items, capacity, false)
        }
    }

    loom_const_fn! {
        /// A rendezvous queue: a one-item slot whose pushers wait until a
        /// pop takes their item.
        pub(crate) const fn rendezvous(items: Items<T>) -> Self {
            Self::with_rendezvous(items, Some(1), true)
        }
    }

    loom_const_fn! {
        const fn with_rendezvous(items: Items<T>, capacity: Option<usize>, rendezvous: bool) -> Self {
            Core {
                state: Mutex::new(State {
                    items,
                    capacity,
                    closed: false,
                    unfinished: 0,
                    join_generation: 0,
                    pop: Side::new(),
                    push: Side::new(),
                    join_waiting: WaitList::new(),
                    rv: Rendezvous {
                        taken: 0,
                        confirm: WaitList::new(),
                    },
                }),
                hints: Hints {
                    empty: AtomicBool::new(true),
                    full: AtomicBool::new(false),
                },
                limit: match capacity {
                    Some(capacity) => capacity,
                    None => usize::MAX,
                },
                rendezvous,
            }
        }
    }

    fn lock(&self) -> Locked<'_, State<T>> {
        lock(&self.state)
    }

    /// Whether a pop will probably have to wait (a hint: see `hints`).
    fn looks_empty(&self) -> bool {
        self.hints.empty.load(Ordering::Relaxed)
    }

    /// Whether a push will probably have to wait (a hint: see `hints`).
    fn looks_full(&self) -> bool {
        self.hints.full.load(Ordering::Relaxed)
    }

    /// Offers an unreserved item, if any, to the waiting poppers.
    #[inline]
    fn offer_item(&self, state: &mut State<T>) {
        if state.pop.waiting.is_empty() {
            return;
        }
        let free = state.free_items();
        state.pop.offer(free);
    }

    /// Offers an unreserved free slot, if any, to the waiting pushers.
    #[inline]
    fn offer_slot(&self, state: &mut State<T>) {
        if state.push.waiting.is_empty() {
            return;
        }
        let free = state.free_slots();
        state.push.offer(free);
    }

    /// Sets the fairness policy (construction only: nobody waits yet).
    pub(crate) fn set_fairness(&mut self, fairness: Fairness) {
        let state = get_mut(&mut self.state);
        state.pop.waiting.set_fairness(fairness);
        state.push.waiting.set_fairness(fairness);
    }

    pub(crate) fn fairness(&self) -> Fairness {
        self.lock().pop.waiting.fairness()
    }

    /// Inserts `item` (the caller checked for room and openness). Returns
    /// its deposit number on a rendezvous queue (0 otherwise).
    #[inline]
    fn insert(&self, state: &mut State<T>, item: T) -> u64 {
        state.items.push(item);
        self.hints.note(state.items.len(), self.limit);
        state.unfinished += 1;
        self.offer_item(state);
        if self.rendezvous {
            // The slot was free: this is the only item in it.
            state.rv.taken + 1
        } else {
            0
        }
    }

    /// Removes the next item, if any, and passes the freed slot on (on a
    /// rendezvous queue, also tells its pusher that it was taken).
    #[inline]
    fn remove(&self, state: &mut State<T>) -> Option<T> {
        let item = state.items.pop();
        if item.is_some() {
            self.hints.note(state.items.len(), self.limit);
            self.offer_slot(state);
            if self.rendezvous {
                state.rv.taken += 1;
                state.rv.confirm.wake_all();
            }
        }
        item
    }

    pub(crate) fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
        let mut state = self.lock();
        if state.closed {
            Err(TryPushError::Closed(item))
        } else if state.has_free_slot() && (!self.rendezvous || !state.pop.waiting.is_empty()) {
            // On a rendezvous queue, only for a popper already waiting: the
            // item is offered to it (it may still be cancelled before it
            // runs; the item then stays for the next pop).
            self.insert(&mut state, item);
            Ok(())
        } else {
            Err(TryPushError::Full(item))
        }
    }

    /// A push that does not wait: the blocking driver's first attempt
    /// (`PushOp::spin_try`) and the one the blocking forms make before
    /// they build an op (`push_at_once`). The lock only if the hint says
    /// a slot may be free, and never on a rendezvous queue, where an
    /// insertion only starts the push.
    #[inline]
    pub(super) fn push_now(&self, item: T) -> Now<(), T> {
        if self.rendezvous || self.looks_full() {
            return Now::Wait(item);
        }
        let mut state = self.lock();
        if state.closed {
            Now::Closed(item)
        } else if state.has_free_slot() {
            self.insert(&mut state, item);
            Now::Done(())
        } else {
            Now::Wait(item)
        }
    }

    /// [`push_now`](Core::push_now) for pops: the lock only if the hint
    /// says an item may be there.
    #[inline]
    pub(super) fn pop_now(&self) -> Now<T, ()> {
        if self.looks_empty() {
            return Now::Wait(());
        }
        let mut state = self.lock();
        if state.has_free_item() {
            if let Some(item) = self.remove(&mut state) {
                return Now::Done(item);
            }
        }
        if state.closed {
            Now::Closed(())
        } else {
            Now::Wait(())
        }
    }

    /// The blocking forms' first attempt ([`push_now`](Core::push_now)),
    /// made before any op or driver exists, so that a push that does not
    /// wait pays for neither. `Err` hands the item back for the op, which
    /// then waits, or reports `Closed` in its own error type.
    #[inline]
    pub(crate) fn push_at_once(&self, item: T) -> Result<(), T> {
        match self.push_now(item) {
            Now::Done(()) => Ok(()),
            Now::Closed(item) | Now::Wait(item) => Err(item),
        }
    }

    /// [`push_at_once`](Core::push_at_once) for pops: an item if one is
    /// free now; `None` leaves it to the op.
    #[inline]
    pub(crate) fn pop_at_once(&self) -> Option<T> {
        match self.pop_now() {
            Now::Done(item) => Some(item),
            Now::Closed(()) | Now::Wait(()) => None,
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
        // A rendezvous queue has no room: a push always waits for a pop.
        self.rendezvous || state.items.len() >= state.limit()
    }

    pub(crate) fn capacity(&self) -> Option<usize> {
        let state = self.lock();
        if self.rendezvous {
            Some(0)
        } else {
            state.capacity
        }
    }

    pub(crate) fn close(&self) -> bool {
        let mut state = self.lock();
        if state.closed {
            return false;
        }
        state.closed = true;
        // Wake every waiter as a reserved one: each re-checks and finds out.
        state.pop.reserve_all();
        state.push.reserve_all();
        // A pusher whose item is in a rendezvous slot takes it back.
        state.rv.confirm.wake_all();
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
            state.join_waiting.wake_all();
        }
        Ok(())
    }

    pub(crate) fn unfinished_tasks(&self) -> usize {
        self.lock().unfinished
    }

    /// Formats the live state, items in pop order.
    pub(crate) fn debug(&self, f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result
    where
        T: fmt::Debug,
    {
        let state = self.lock();
        f.debug_struct(name)
            .field("items", &state.items.in_pop_order())
            .field(
                "capacity",
                &if self.rendezvous {
                    Some(0)
                } else {
                    state.capacity
                },
            )
            .field("closed", &state.closed)
            .field("unfinished_tasks", &state.unfinished)
            .field("waiting_poppers", &state.pop.waiting_now())
            .field("waiting_pushers", &state.push.waiting_now())
            .finish()
    }
}
