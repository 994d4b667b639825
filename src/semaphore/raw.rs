//! The algorithm behind [`Semaphore`]: a counting semaphore whose
//! uncontended paths are one atomic read-modify-write, eventually fair by
//! default and strictly FIFO on request ([`Fairness`]).
//!
//! # State
//!
//! One `AtomicUsize` holds the permit count and three flags:
//!
//! ```text
//!  bit 0       : HANDOFF — permits are handed to queued waiters directly;
//!                lock-free paths may not take them
//!  bit 1       : CLOSED  — `close()` has run; set once, never cleared
//!  bit 2       : NOTIFY  — (eventual mode) the next release must wake the
//!                front waiter
//!  bits 3..    : the number of available permits (at most MAX_PERMITS)
//! ```
//!
//! The queue lives under a mutex (`Waiters`): the crate's [`WaitList`],
//! whose payload is the number of permits each waiter needs and which
//! carries the fairness policy. Its order is arrival order and its front is
//! the oldest waiter.
//!
//! # Two modes, one queue
//!
//! * **Handoff** (`HANDOFF` set): always in strict mode while anyone waits;
//!   in eventual mode while the front waiter is past the fairness bound.
//!   Released permits stay in the count, where only the mutex holder may
//!   take them, and are *granted* to the oldest waiters as their needs fit:
//!   the dispatcher subtracts a waiter's need, removes it from the queue and
//!   wakes it. A waiter learns of its grant by finding itself gone.
//! * **Barging** (eventual mode, `HANDOFF` clear): released permits go back
//!   to the count, where anyone may take them — a `try_acquire`, the first
//!   attempt of a new `acquire`, or the front waiter. The front waiter is
//!   woken *in place* (it stays queued) when the available permits cover its
//!   need, and tries again under the mutex; if others took them first it is
//!   *passed over* and sets `NOTIFY` again. Once it has been passed over for
//!   longer than the bound (the list keeps the time), it sets `HANDOFF`, and
//!   permits add up for it. Handoff ends when the queue empties or a new
//!   front is not past the bound.
//!
//! Invariants (they hold whenever the mutex is free):
//!
//! 1. `HANDOFF` and `NOTIFY` are only set or cleared under the mutex, or
//!    (`NOTIFY`) cleared by a lock-free release, which then takes the mutex
//!    and serves the front. With the queue empty both are clear.
//! 2. While `HANDOFF` is set, the permit count is only changed under the
//!    mutex: every lock-free path bails out to the mutex when it sees the
//!    flag (and all of them change the state with a compare-exchange of the
//!    whole word, so a flag set between their load and their write makes
//!    the write fail).
//! 3. In handoff mode, the front waiter needs more permits than are
//!    available (otherwise it would have been granted). In barging mode,
//!    if the front's need fits in the available permits, the front has been
//!    woken since it last looked (no lost wakeup): every change that can
//!    make it fit — permits added with `NOTIFY` set, a new front — is
//!    followed by a serve under the mutex, and the front only sets `NOTIFY`
//!    with a compare-exchange that checks the count.
//! 4. A waiter leaves the queue only under the mutex, in one of four ways:
//!    granted from the front (its permits subtracted for it), taking its
//!    own permits as the woken front (it then returns them to its caller at
//!    once, and never looks at the queue again), failed by `close` (which
//!    empties the queue and records the oldest failed id in `closed_from`),
//!    or withdrawn by itself. Grants only ever take the front, so every
//!    granted id is below every id queued after it, and in particular below
//!    `closed_from`. Hence a waiter that finds itself gone was granted iff
//!    its id is below `closed_from`.
//!
//! # The algorithm
//!
//! * **Fast paths.** With `HANDOFF` and `CLOSED` clear, `try_acquire`, the
//!   first step of `acquire` and `release` are one compare-exchange on the
//!   state — a single read-modify-write each way. A release that finds
//!   `NOTIFY` set clears it in the same exchange and then takes the mutex to
//!   serve the front.
//! * **Queueing.** An `acquire` that cannot be served at once clones its
//!   waker, takes the mutex, and there either takes the permits (barging
//!   mode, or nobody queued) or joins the back of the queue, setting
//!   `HANDOFF` (strict mode) or `NOTIFY` (eventual mode, first in line).
//! * **Serve** (`RawSemaphore::serve`), under the mutex after anything that
//!   may let the front proceed: in handoff mode, grant while the front
//!   fits; in barging mode, wake the front if it fits, else set `NOTIFY`;
//!   with the queue empty, clear both flags, reopening the fast paths.
//! * **Close.** `close` sets `CLOSED`, records `closed_from`, empties the
//!   queue, clears the flags and wakes every waiter it removed, all under
//!   the mutex. Waiters granted before the close keep their permits.
//!
//! # Why it is fair
//!
//! Waiters among themselves are served oldest first in both modes: only
//! the front is granted or woken to try. In strict mode `HANDOFF` stays set
//! while anyone is queued, so every `acquire` and `try_acquire` sees it:
//! `try_acquire` fails, and `acquire` joins the back of the queue; the
//! oldest waiter is always served first, and an `acquire_many(n)` is never
//! starved by a stream of smaller acquires. In eventual mode running
//! callers may take permits ahead of the front only until the front has
//! been passed over for longer than the bound — a front whose need is not
//! covered by what was freed counts as passed over too — after which the
//! semaphore is in handoff mode until that waiter is served.
//!
//! # Why cancellation cannot lose or leak a permit
//!
//! A dropped waiter (or one whose deadline passed) takes the mutex. Grants
//! happen only under the mutex and remove the waiter's entry in the same
//! critical section that subtracts its permits, so the dropped waiter sees
//! one of two consistent states:
//!
//! * its entry is still queued: nothing was assigned to it. It removes the
//!   entry, and if it was the front, serves, because the next waiter may
//!   fit now (and a wake that had been meant for it passes on).
//! * its entry is gone: by invariant 4 it was granted (id below
//!   `closed_from`) or failed by the close. Granted permits are added back
//!   and served, so they go to the next waiter in line; a failed waiter
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
//!   permits (for a waiter, or the woken front for itself) and publish
//!   them, and most of them race with lock-free paths.
//! * Loads under the mutex are `Relaxed`: they feed a compare-exchange, or
//!   (with `HANDOFF` set) read a count that by invariant 2 is then written
//!   only under the mutex, which orders those writes before the load.
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
use crate::fairness::Fairness;
use crate::sync::{AtomicUsize, Locked, Mutex, Ordering, get_mut, lock, loom_const_fn};
use crate::waiters::{NewWaker, Ticket, WaitList};

const HANDOFF: usize = 1;
const CLOSED: usize = 2;
const NOTIFY: usize = 4;
const SHIFT: u32 = 3;

/// The most permits the count can hold (three bits of the state are flags).
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
    /// The queue of waiters. Guards the setting and clearing of the flags
    /// (but see invariant 1 for `NOTIFY`), and the count while `HANDOFF` is
    /// set.
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

/// What the front waiter's retry does (see `retry_front`).
enum Retry {
    Take,
    HandOff,
    Wait,
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
                    list: WaitList::with_fairness(Fairness::Eventual(Fairness::DEFAULT_BOUND)),
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
        waiters.list.wake_all();
        self.state.fetch_and(!(HANDOFF | NOTIFY), Ordering::AcqRel);
    }

    /// Sets the fairness policy (construction only: nothing is queued).
    pub(super) fn set_fairness(&mut self, fairness: Fairness) {
        get_mut(&mut self.waiters).list.set_fairness(fairness);
    }

    pub(super) fn fairness(&self) -> Fairness {
        lock(&self.waiters).list.fairness()
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
            if state & HANDOFF != 0 {
                let mut waiters = lock(&self.waiters);
                return self.add_permits_locked(&mut waiters, n, clamp);
            }
            let add = self.addable(state, n, clamp)?;
            // Release: publishes the holder's work to the next acquirer.
            // Clearing NOTIFY makes this release the one that wakes the
            // front waiter (eventual mode).
            match self.state.compare_exchange_weak(
                state,
                (state + (add << SHIFT)) & !NOTIFY,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if state & NOTIFY != 0 {
            let mut waiters = lock(&self.waiters);
            self.serve(&mut waiters);
        }
        Ok(())
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
    /// followed by a serve.
    fn add_permits_locked(
        &self,
        waiters: &mut Locked<'_, Waiters>,
        n: usize,
        clamp: bool,
    ) -> Result<(), ReleaseError> {
        // Relaxed: only feeds the compare-exchange. A loop even under the
        // mutex: outside handoff mode, lock-free paths race.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            let add = self.addable(state, n, clamp)?;
            match self.state.compare_exchange_weak(
                state,
                (state + (add << SHIFT)) & !NOTIFY,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        self.serve(waiters);
        Ok(())
    }

    /// Passes available permits on to the waiters, with the mutex held,
    /// after anything that may let the front waiter proceed (permits added,
    /// the front withdrawn or served).
    ///
    /// In handoff mode: grants the oldest waiters while their needs fit,
    /// leaving handoff mode once the queue is empty or (eventual mode) the
    /// new front is not past the bound. Outside it: wakes the front in
    /// place if its need fits, else sets `NOTIFY` so that the next release
    /// does; with the queue empty, clears both flags.
    fn serve(&self, waiters: &mut Locked<'_, Waiters>) {
        // Relaxed: only feeds the compare-exchanges (or, with HANDOFF set,
        // the count is only written under this mutex: invariant 2).
        let mut state = self.state.load(Ordering::Relaxed);
        // Asked at most once per call (a clock read).
        let mut past_bound = None;
        loop {
            let Some(front) = waiters.list.front() else {
                // Empty queue: reopen the lock-free paths. AcqRel: see the
                // module docs.
                self.state.fetch_and(!(HANDOFF | NOTIFY), Ordering::AcqRel);
                return;
            };
            let need = front.payload;
            if state & HANDOFF != 0 {
                if permits(state) < need {
                    return;
                }
                // AcqRel: see the module docs.
                state = self.state.fetch_sub(need << SHIFT, Ordering::AcqRel) - (need << SHIFT);
                // Leaving the queue (below `closed_from`) is the grant.
                waiters.list.wake_front();
                past_bound = None;
                if !waiters.list.is_empty() && !waiters.list.front_past_bound() {
                    // Eventual mode, nobody past the bound any more: let
                    // running callers barge again.
                    state = self.state.fetch_and(!HANDOFF, Ordering::AcqRel) & !HANDOFF;
                }
                continue;
            }
            // Eventual mode (strict mode is always in handoff while anyone
            // waits). AcqRel on success: races with lock-free paths.
            let fits = permits(state) >= need;
            let next = if fits {
                state & !NOTIFY
            } else if permits(state) > 0
                && *past_bound.get_or_insert_with(|| waiters.list.pass_over_front())
            {
                // Freed permits keep missing the front's need while others
                // take them: hand off from now on, so they add up for it.
                (state | HANDOFF) & !NOTIFY
            } else {
                state | NOTIFY
            };
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if fits {
                        // It tries again, competing with running callers.
                        if let Some(front) = waiters.list.front_mut() {
                            front.wake();
                        }
                        return;
                    }
                    if next & HANDOFF == 0 {
                        return;
                    }
                    state = next;
                }
                Err(actual) => state = actual,
            }
        }
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
            if state & HANDOFF != 0 || permits(state) < n {
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
    fn take_or_enqueue(&self, n: usize, waker: NewWaker, cx: &Context<'_>) -> Enqueue {
        let mut waiters = lock(&self.waiters);
        // Relaxed: only feeds the compare-exchanges.
        let mut state = self.state.load(Ordering::Relaxed);
        let strict = waiters.list.is_strict();
        let first = waiters.list.is_empty();
        loop {
            if state & CLOSED != 0 {
                return Enqueue::Closed;
            }
            if state & HANDOFF != 0 {
                // Others are queued and handed off to; the front does not
                // fit (invariant 3), and neither may we jump it: go to the
                // back.
                break;
            }
            let (next, taken) = if permits(state) >= n {
                // Eventual mode: barging past waiters is allowed here.
                (state - (n << SHIFT), true)
            } else if strict {
                (state | HANDOFF, false)
            } else if first {
                // We become the front: the next release must wake us.
                (state | NOTIFY, false)
            } else {
                // The front is taken care of; join the back.
                break;
            };
            // AcqRel: taking permits acquires; setting a flag races with
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
        Enqueue::Queued(waiters.list.push(Some(waker), cx, n))
    }

    /// Polls queued waiter `ticket`: its outcome if it has left the queue,
    /// else `None`, with `cx`'s waker stored if it changed. In eventual mode
    /// the front tries to take its permits here (it is woken in place to do
    /// so), and once passed over for longer than the bound, switches the
    /// semaphore to handoff mode.
    fn poll_queued(&self, ticket: &mut Ticket, n: usize, cx: &Context<'_>) -> Option<Wake> {
        let mut fresh = ticket.fresh(cx);
        loop {
            let mut waiters = lock(&self.waiters);
            let front = waiters.list.is_front(ticket);
            let Some(entry) = waiters.list.get_mut(ticket) else {
                return Some(waiters.outcome(ticket));
            };
            // A woken-in-place entry has no waker; a spurious poll of one
            // that has may still refresh it.
            let woken = !entry.has_waker();
            if front && woken {
                if let Some(wake) = self.retry_front(&mut waiters, ticket, n) {
                    return Some(wake);
                }
            }
            let Some(entry) = waiters.list.get_mut(ticket) else {
                return Some(waiters.outcome(ticket));
            };
            if entry.refresh(fresh.take(), cx) {
                return None;
            }
            // Woken, still waiting, and our waker may not be cloned under
            // the lock: clone it outside, and look again (a wake that came
            // meanwhile found no waker to run, so the retry above reruns).
            drop(waiters);
            fresh = Some(ticket.clone_waker(cx));
        }
    }

    /// The woken front waiter's retry (eventual mode, mutex held): takes
    /// its `n` permits if they are there (leaving the queue, `Granted`),
    /// else records being passed over and either switches to handoff mode
    /// (past the bound; it may then be granted at once) or sets `NOTIFY`
    /// so the next release wakes it again (`None`: it keeps waiting).
    fn retry_front(
        &self,
        waiters: &mut Locked<'_, Waiters>,
        ticket: &Ticket,
        n: usize,
    ) -> Option<Wake> {
        // Relaxed: only feeds the compare-exchanges.
        let mut state = self.state.load(Ordering::Relaxed);
        let mut past_bound = None;
        loop {
            if state & HANDOFF != 0 {
                // Handed off to (strict mode, or set by an earlier retry):
                // grants come from `serve`.
                return None;
            }
            let (next, step) = if permits(state) >= n {
                (state - (n << SHIFT), Retry::Take)
            } else if *past_bound.get_or_insert_with(|| waiters.list.pass_over_front()) {
                ((state | HANDOFF) & !NOTIFY, Retry::HandOff)
            } else {
                (state | NOTIFY, Retry::Wait)
            };
            // AcqRel: taking permits acquires (as in `try_take`); setting a
            // flag races with lock-free paths.
            match self
                .state
                .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => match step {
                    Retry::Take => {
                        waiters.list.remove(ticket);
                        // Permits may be left for the next waiter.
                        self.serve(waiters);
                        return Some(Wake::Granted);
                    }
                    Retry::HandOff => {
                        // From now on permits are handed to waiters, us
                        // first.
                        self.serve(waiters);
                        return (!waiters.list.is_front(ticket)).then(|| waiters.outcome(ticket));
                    }
                    Retry::Wait => return None,
                },
                Err(actual) => state = actual,
            }
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
                // The next waiter may fit now (and a wake meant for us
                // passes on to it).
                self.serve(&mut waiters);
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

    const SPINS: bool = true;

    #[inline]
    fn spin_try(&mut self) -> Option<Self::Output> {
        // A relaxed load first: the compare-exchange only when permits
        // look available, so spinners do not take the state's cache line.
        if self.raw().available() < self.n && !self.raw().is_closed() {
            return None;
        }
        self.poll_fast()
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
                    match raw.take_or_enqueue(self.n, NewWaker::of(cx), cx) {
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
            Phase::Queued(ticket) => match self.handle.raw.poll_queued(ticket, self.n, cx) {
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
