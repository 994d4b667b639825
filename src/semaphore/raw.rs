//! The algorithm behind [`Semaphore`]: a strictly fair counting semaphore
//! whose uncontended paths are one atomic read-modify-write.
//!
//! # State
//!
//! One `AtomicUsize` holds the permit count and two flags:
//!
//! ```text
//!  bit 0       : QUEUED — at least one waiter is in the queue
//!  bit 1       : CLOSED — `close()` has run; set once, never cleared
//!  bits 2..    : the number of available permits (at most MAX_PERMITS)
//! ```
//!
//! The queue lives under a mutex (`Waiters`): the crate's
//! [`WaitList`], whose payload is the number of permits each waiter needs.
//! Its order is arrival order and its front is the oldest waiter. The queue
//! *is* the notification: a waiter learns its outcome by finding itself
//! gone from it.
//!
//! Invariants (they hold whenever the mutex is free):
//!
//! 1. `QUEUED` is set exactly when the queue is non-empty, and it is only set
//!    or cleared under the mutex.
//! 2. While `QUEUED` is set, the permit count is only changed under the
//!    mutex: every lock-free path bails out to the mutex when it sees the
//!    flag (and all of them change the state with a compare-exchange of the
//!    whole word, so a flag set between their load and their write makes
//!    the write fail).
//! 3. If the queue is non-empty, its front waiter needs more permits than
//!    are available (otherwise it would have been served).
//! 4. A waiter leaves the queue only under the mutex, in one of three ways:
//!    served from the front (its permits subtracted for it), failed by
//!    `close` (which empties the queue and records the oldest failed id in
//!    `closed_from`), or withdrawn by itself. Grants only ever take the
//!    front, so every served id is below every id queued after it, and in
//!    particular below `closed_from`. Hence a waiter that finds itself gone
//!    was granted iff its id is below `closed_from`.
//!
//! # The algorithm
//!
//! * **Fast paths.** With `QUEUED` and `CLOSED` clear, `try_acquire`,
//!   the first step of `acquire` and `release` are one compare-exchange on
//!   the state — a single read-modify-write each way.
//! * **Queueing.** An `acquire` that cannot be served at once clones its
//!   waker, takes the mutex, and there either takes the permits (if the
//!   queue is empty and enough are available) or sets `QUEUED` with a
//!   compare-exchange and joins the back of the queue.
//! * **Dispatch.** Whoever adds permits while `QUEUED` is set does so under
//!   the mutex and then *dispatches*: while the front waiter's need fits in
//!   the available permits, it subtracts that need and removes and wakes
//!   the waiter. When the queue becomes empty it clears `QUEUED`, reopening
//!   the fast paths. The granted permits already belong to the waiter; when
//!   it is polled it takes the mutex, finds itself gone (granted, by
//!   invariant 4) and returns its permit.
//! * **Close.** `close` sets `CLOSED`, records `closed_from`, empties the
//!   queue, clears `QUEUED` and wakes every waiter it removed, all under the
//!   mutex. Waiters granted before the close keep their permits.
//!
//! # Why it is fair
//!
//! Once a waiter is queued, `QUEUED` stays set until the queue is empty, so
//! every `acquire` and `try_acquire` sees it: `try_acquire` fails, and
//! `acquire` joins the back of the queue. Permits released meanwhile stay in
//! the count (nobody outside the mutex may take them) until the oldest
//! waiter's need fits. So the oldest waiter is always served first, and an
//! `acquire_many(n)` is never starved by a stream of smaller acquires: after
//! it is queued, only waiters ahead of it can take permits.
//!
//! # Why cancellation cannot lose or leak a permit
//!
//! A dropped waiter (or one whose deadline passed) takes the mutex. Grants
//! happen only under the mutex and remove the waiter's entry in the same
//! critical section that subtracts its permits, so the dropped waiter sees
//! one of two consistent states:
//!
//! * its entry is still queued: nothing was assigned to it. It removes the
//!   entry, and if it was the front, dispatches, because the next waiter may
//!   fit now.
//! * its entry is gone: by invariant 4 it was granted (id below
//!   `closed_from`) or failed by the close. Granted permits are added back
//!   and dispatched, so they go to the next waiter in line; a failed waiter
//!   had nothing assigned.
//!
//! # Memory ordering
//!
//! Every write to the state is a read-modify-write, so its modification
//! order is one chain of release sequences: an `Acquire` read of the state
//! synchronises with every `Release` write earlier in that order.
//!
//! * Lock-free acquires use `Acquire` on the successful compare-exchange, so
//!   they see everything done before the release of the permits they take.
//! * Lock-free releases use `Release`, to publish everything done while the
//!   permits were held.
//! * Failed compare-exchanges and the initial loads are `Relaxed`: they only
//!   feed the next attempt, whose success ordering does the work.
//! * The read-modify-writes under the mutex use `AcqRel`: they both take
//!   permits (for a waiter) and publish them, and some of them (setting
//!   `QUEUED` while the queue is empty) race with lock-free paths.
//! * Loads under the mutex while `QUEUED` is set are `Relaxed`: by
//!   invariant 2 the count is then written only under the mutex, which
//!   orders those writes before the load.
//! * A granted waiter never touches the state: its permits were subtracted
//!   by the dispatcher, which had acquired the releases (via the state or
//!   the mutex); the waiter learns of the grant by finding its entry gone
//!   under the same mutex, which orders the dispatch before its return.
//! * `available_permits` and `is_closed` are `Relaxed` snapshots: a caller
//!   gets no permit from them, so there is nothing to synchronise with.

use std::fmt;
use std::ops::Deref;
use std::task::{Context, Poll};

use super::{AcquireTimeoutError, ReleaseError, Semaphore, SemaphorePermitOf};
use crate::engine::Op;
use crate::sync::{AtomicUsize, Locked, Mutex, Ordering, lock, loom_const_fn};
use crate::waiters::{NewWaker, Ticket, WaitList};

const QUEUED: usize = 1;
const CLOSED: usize = 2;
const SHIFT: u32 = 2;

/// The most permits the count can hold (two bits of the state are flags).
pub(super) const MAX_PERMITS: usize = usize::MAX >> SHIFT;

/// The permits encoded in `state`.
const fn permits(state: usize) -> usize {
    state >> SHIFT
}

/// The semaphore's state and waiter queue (see the module docs).
pub(super) struct RawSemaphore {
    /// Permits and flags; see the module docs for the layout and invariants.
    state: AtomicUsize,
    /// The most permits the count may hold: the initial value for a bounded
    /// semaphore, [`MAX_PERMITS`] otherwise.
    bound: usize,
    bounded: bool,
    /// The queue of waiters. Guards the setting and clearing of `QUEUED` and
    /// `CLOSED`, and the count while `QUEUED` is set.
    waiters: Mutex<Waiters>,
}

struct Waiters {
    /// The waiting acquires, oldest first, each with the permits it needs.
    list: WaitList<usize>,
    /// `u64::MAX` until `close`, then the id of the oldest waiter that was
    /// still queued at the close (or the next id if none was): a waiter that
    /// is no longer queued was failed by the close iff its id is at least
    /// this (see the module docs).
    closed_from: u64,
}

impl Waiters {
    /// The outcome of waiter `ticket`, which is no longer queued.
    fn outcome(&self, ticket: &Ticket) -> Wake {
        if ticket.id() >= self.closed_from {
            Wake::Closed
        } else {
            Wake::Granted
        }
    }
}

/// How a queued waiter's wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    /// Its permits were subtracted from the count on its behalf.
    Granted,
    /// The semaphore was closed while it waited.
    Closed,
}

/// Outcome of a lock-free attempt to take permits.
pub(super) enum TryTake {
    Taken,
    Closed,
    NoPermits,
}

/// Outcome of the slow path of an acquire.
enum Enqueue {
    Taken,
    Closed,
    Queued(Ticket),
}

impl RawSemaphore {
    loom_const_fn! {
        #[track_caller]
        pub(super) const fn new(permits: usize, bound: usize, bounded: bool) -> RawSemaphore {
            assert!(
                permits <= MAX_PERMITS,
                "a Semaphore cannot hold more than Semaphore::MAX_PERMITS permits"
            );
            RawSemaphore {
                state: AtomicUsize::new(permits << SHIFT),
                bound,
                bounded,
                waiters: Mutex::new(Waiters {
                    list: WaitList::new(),
                    closed_from: u64::MAX,
                }),
            }
        }
    }

    pub(super) fn available(&self) -> usize {
        // Relaxed: a snapshot (see the module docs).
        permits(self.state.load(Ordering::Relaxed))
    }

    pub(super) fn is_closed(&self) -> bool {
        // Relaxed: a snapshot (see the module docs).
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// The bound, if the semaphore is bounded.
    pub(super) fn bound(&self) -> Option<usize> {
        self.bounded.then_some(self.bound)
    }

    /// How many acquires are queued.
    pub(super) fn waiting(&self) -> usize {
        lock(&self.waiters).list.len()
    }

    pub(super) fn close(&self) {
        let mut waiters = lock(&self.waiters);
        // AcqRel, like every read-modify-write under the mutex (module docs).
        // CLOSED first, so lock-free paths fail from here on.
        let old = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if old & CLOSED != 0 {
            return;
        }
        // Every waiter still queued, and only those, fails (invariant 4).
        waiters.closed_from = waiters
            .list
            .front()
            .map_or(waiters.list.next_id(), |w| w.id());
        if waiters.list.wake_all() > 0 {
            self.state.fetch_and(!QUEUED, Ordering::AcqRel);
        }
    }

    /// Adds `n` permits, lock-free while nobody waits. With `clamp`, permits
    /// beyond the bound are discarded instead of failing (permit drops).
    #[inline]
    pub(super) fn add_permits(&self, n: usize, clamp: bool) -> Result<(), ReleaseError> {
        if n == 0 {
            return Ok(());
        }
        // Relaxed: only feeds the compare-exchange.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & QUEUED != 0 {
                let mut waiters = lock(&self.waiters);
                return self.add_permits_locked(&mut waiters, n, clamp);
            }
            let add = self.addable(state, n, clamp)?;
            // Release: publishes the holder's work to the next acquirer.
            match self.state.compare_exchange_weak(
                state,
                state + (add << SHIFT),
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(actual) => state = actual,
            }
        }
    }

    /// How many of `n` permits may be added to `state` without exceeding
    /// the bound.
    #[inline]
    fn addable(&self, state: usize, n: usize, clamp: bool) -> Result<usize, ReleaseError> {
        let room = self.bound.saturating_sub(permits(state));
        if n <= room {
            Ok(n)
        } else if clamp {
            Ok(room)
        } else {
            Err(ReleaseError)
        }
    }

    /// [`add_permits`](RawSemaphore::add_permits) with the mutex held,
    /// followed by a dispatch.
    fn add_permits_locked(
        &self,
        waiters: &mut Locked<'_, Waiters>,
        n: usize,
        clamp: bool,
    ) -> Result<(), ReleaseError> {
        // Relaxed: only feeds the compare-exchange. A loop even under the
        // mutex: if `QUEUED` was cleared meanwhile, lock-free paths race.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let add = self.addable(state, n, clamp)?;
            match self.state.compare_exchange_weak(
                state,
                state + (add << SHIFT),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.dispatch(waiters);
        Ok(())
    }

    /// Serves the oldest waiters while their needs fit, and clears `QUEUED`
    /// once the queue is empty. Called with the mutex held after anything
    /// that may let the front waiter proceed.
    fn dispatch(&self, waiters: &mut Locked<'_, Waiters>) {
        while let Some(front) = waiters.list.front() {
            // Relaxed: `QUEUED` is set, so the count is only written under
            // the mutex we hold (invariant 2).
            let state = self.state.load(Ordering::Relaxed);
            let need = front.payload;
            if permits(state) < need {
                return;
            }
            // AcqRel: see the module docs.
            self.state.fetch_sub(need << SHIFT, Ordering::AcqRel);
            // Leaving the queue (below `closed_from`) is the grant.
            waiters.list.wake_front();
        }
        // Empty queue: reopen the lock-free paths. Harmless if already clear.
        self.state.fetch_and(!QUEUED, Ordering::AcqRel);
    }

    /// Lock-free attempt to take `n` permits; never jumps a queued waiter.
    #[inline]
    pub(super) fn try_take(&self, n: usize) -> TryTake {
        // Relaxed: only feeds the compare-exchange.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return TryTake::Closed;
            }
            if n == 0 {
                return TryTake::Taken;
            }
            if state & QUEUED != 0 || permits(state) < n {
                return TryTake::NoPermits;
            }
            // Acquire: pairs with the Release of whoever gave the permits back.
            match self.state.compare_exchange_weak(
                state,
                state - (n << SHIFT),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return TryTake::Taken,
                Err(actual) => state = actual,
            }
        }
    }

    /// The slow path of an acquire: under the mutex, take the permits if
    /// nobody is queued and enough are available, else join the queue with
    /// `waker` (cloned before the mutex was taken).
    fn take_or_enqueue(&self, n: usize, waker: NewWaker) -> Enqueue {
        let mut waiters = lock(&self.waiters);
        // Relaxed: only feeds the compare-exchanges.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Enqueue::Closed;
            }
            if state & QUEUED != 0 {
                // Others are queued; the front does not fit (invariant 3),
                // and neither may we jump it: go to the back.
                break;
            }
            let (next, taken) = if permits(state) >= n {
                (state - (n << SHIFT), true)
            } else {
                (state | QUEUED, false)
            };
            // AcqRel: taking permits acquires; setting QUEUED races with
            // lock-free paths (a failed exchange means one of them won).
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) if taken => return Enqueue::Taken,
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        Enqueue::Queued(waiters.list.push(Some(waker), n))
    }

    /// Polls queued waiter `ticket`: its outcome if it has left the queue,
    /// else `None`, with `cx`'s waker stored if it changed.
    fn poll_queued(&self, ticket: &mut Ticket, cx: &Context<'_>) -> Option<Wake> {
        let fresh = ticket.fresh(cx);
        let mut waiters = lock(&self.waiters);
        if waiters.list.still_waiting(ticket, fresh) {
            None
        } else {
            Some(waiters.outcome(ticket))
        }
    }

    /// Takes waiter `ticket` out of line (its future was dropped or timed
    /// out). Returns the outcome it had received, if any; a granted outcome
    /// is passed on to the next waiters when `give_back` is set.
    fn withdraw(&self, ticket: &Ticket, n: usize, give_back: bool) -> Option<Wake> {
        let mut waiters = lock(&self.waiters);
        if let Some((_, was_front)) = waiters.list.remove(ticket) {
            // Still queued, so nothing was assigned to it.
            if was_front {
                // The next waiter may fit now.
                self.dispatch(&mut waiters);
            }
            return None;
        }
        // Served or failed under the mutex, which removed it from the queue.
        let wake = waiters.outcome(ticket);
        if wake == Wake::Granted && give_back {
            // Clamp: a permit's return cannot fail (see `Semaphore::bounded`).
            let _ = self.add_permits_locked(&mut waiters, n, true);
        }
        Some(wake)
    }
}

enum Phase {
    /// Not yet tried.
    Start,
    /// In the queue.
    Queued(Ticket),
    /// Finished (or settled by a timeout).
    Done,
}

/// The state machine behind every waiting acquire, borrowed (`S =
/// &Semaphore`) or owned (`S = Arc<Semaphore>`).
pub(crate) struct AcquireOp<S: Deref<Target = Semaphore> + Clone> {
    handle: S,
    n: usize,
    phase: Phase,
}

impl<S: Deref<Target = Semaphore> + Clone> AcquireOp<S> {
    pub(super) fn new(handle: S, n: usize) -> Self {
        AcquireOp {
            handle,
            n,
            phase: Phase::Start,
        }
    }

    fn raw(&self) -> &RawSemaphore {
        &self.handle.raw
    }

    fn permit(&self) -> SemaphorePermitOf<S> {
        SemaphorePermitOf {
            sem: self.handle.clone(),
            n: self.n,
        }
    }

    fn outcome(&self, wake: Wake) -> Result<SemaphorePermitOf<S>, AcquireTimeoutError> {
        match wake {
            Wake::Granted => Ok(self.permit()),
            Wake::Closed => Err(AcquireTimeoutError::Closed),
        }
    }
}

impl<S: Deref<Target = Semaphore> + Clone> Op for AcquireOp<S> {
    type Output = Result<SemaphorePermitOf<S>, AcquireTimeoutError>;

    #[inline]
    fn poll_fast(&mut self) -> Option<Self::Output> {
        // Only the lock-free first try; anything else goes through
        // `poll_op`, which tries again (one extra load on the slow path).
        if !matches!(self.phase, Phase::Start) {
            return None;
        }
        let result = match self.raw().try_take(self.n) {
            TryTake::Taken => Ok(self.permit()),
            TryTake::Closed => Err(AcquireTimeoutError::Closed),
            TryTake::NoPermits => return None,
        };
        self.phase = Phase::Done;
        Some(result)
    }

    #[inline]
    fn may_wake_on_drop(&self) -> bool {
        // Only a queued waiter withdraws (and may pass permits on).
        matches!(self.phase, Phase::Queued(_))
    }

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.phase {
            Phase::Start => {
                // The lock-free try first (the same one `Timed` runs before
                // entering its wake section), then the queue.
                if let Some(out) = self.poll_fast() {
                    return Poll::Ready(out);
                }
                let raw = self.raw();
                let result = if self.n > raw.bound {
                    Err(AcquireTimeoutError::ExceedsBound)
                } else {
                    // Cloned before the mutex is taken (user code).
                    match raw.take_or_enqueue(self.n, NewWaker::of(cx)) {
                        Enqueue::Taken => Ok(()),
                        Enqueue::Closed => Err(AcquireTimeoutError::Closed),
                        Enqueue::Queued(ticket) => {
                            // Queued with our waker: any grant wakes us.
                            self.phase = Phase::Queued(ticket);
                            return Poll::Pending;
                        }
                    }
                };
                self.phase = Phase::Done;
                Poll::Ready(result.map(|()| self.permit()))
            }
            Phase::Queued(ticket) => match self.handle.raw.poll_queued(ticket, cx) {
                Some(wake) => {
                    self.phase = Phase::Done;
                    Poll::Ready(self.outcome(wake))
                }
                None => Poll::Pending,
            },
            Phase::Done => unreachable!("semaphore acquire polled after completion"),
        }
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Queued(ticket) => match self.raw().withdraw(&ticket, self.n, false) {
                // A grant raced with the deadline: keep the permits.
                Some(wake) => self.outcome(wake),
                None => Err(AcquireTimeoutError::Timeout),
            },
            // Tried, and finished without queueing (`ExceedsBound` etc.
            // return `Ready` and never reach here).
            Phase::Start | Phase::Done => Err(AcquireTimeoutError::Timeout),
        })
    }
}

impl<S: Deref<Target = Semaphore> + Clone> Drop for AcquireOp<S> {
    fn drop(&mut self) {
        if let Phase::Queued(ticket) = std::mem::replace(&mut self.phase, Phase::Done) {
            // Gives granted permits back to the next waiters.
            self.raw().withdraw(&ticket, self.n, true);
        }
    }
}

impl<S: Deref<Target = Semaphore> + Clone> fmt::Debug for AcquireOp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Start => "start",
            Phase::Queued(_) => "queued",
            Phase::Done => "done",
        };
        f.debug_struct("AcquireOp")
            .field("permits", &self.n)
            .field("phase", &phase)
            .finish()
    }
}
