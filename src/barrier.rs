//! [`Barrier`]: a reusable rendezvous point for a fixed number of parties
//! (Python's `threading.Barrier`), with an action, timeouts, `abort` and
//! `reset`, whose pending waits can be withdrawn.
//!
//! # State machine
//!
//! All state lives under one mutex (`State`); the mutex is never held while
//! user code runs (the action runs outside it) or while a waiter sleeps.
//!
//! * `count` — live parties that arrived in the current generation.
//! * `generation` — bumped whenever a generation ends: by a trip, by
//!   `abort()`, by `reset()`, by a timeout or by a panicking action.
//! * `broken` — the reason the barrier broke, set by `abort()`, a timeout or
//!   a panicking action unless it is set already (the first reason stays);
//!   cleared by `reset()`. While set, every `wait` fails at once with it.
//! * `tripping` — the last party arrived and is running the action. The
//!   generation is then committed: its parties can no longer withdraw, and
//!   newcomers park their wakers in `entry` until the trip completes
//!   (Python's "draining" state, without the need for released parties to
//!   run).
//! * `slots` — one per arrived party that has not collected its outcome,
//!   in the crate's [`WaitList`]: its id (increasing along the list), its
//!   waker, and its outcome once its generation has ended (`Ok(rank)` for
//!   a trip, `Err(reason)` for a break or a reset).
//!
//! A party arrives under the lock: it increments `count` and appends its
//! slot, so the slots without an outcome are exactly the live parties of
//! the current generation, in arrival order, after any slots of earlier
//! generations whose parties were released but have not run yet.
//! Generations end only under the lock, which writes the outcome into every
//! slot still without one and wakes its party: ranks are handed out in
//! slot order, so a withdrawn party, whose slot left the list, takes no
//! rank. A party's outcome therefore lives in its own slot and survives any
//! number of later generations: a party released from generation *g*
//! returns `Ok` even if *g + 1* has begun before it runs. It removes its
//! slot when it collects the outcome.
//!
//! Withdrawal (dropping a pending wait) takes the lock and removes the
//! party's slot; if the slot had no outcome and no trip is in progress, the
//! generation is still filling, and it also decrements `count`. Otherwise
//! the generation already ended (or is committed), and the drop changes
//! nothing for anyone.
//!
//! Wakers are cloned before the lock is taken, and woken and dropped only
//! after it is released (the waiter list's rules).

use std::any::Any;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::engine::{Op, deadline_after, is_own_parker, named_future};
use crate::sync::{AtomicUsize, Locked, Mutex, Ordering, lock, loom_const_fn};
use crate::waiters::{NewWaker, Ticket, WaitList};

mod outcome;
pub use outcome::{BarrierWaitResult, BrokenBarrierError, BrokenReason};

type Action = Box<dyn FnMut() + Send + 'static>;

/// A barrier lets a fixed number of parties (tasks and/or threads) wait for
/// each other: Python's `threading.Barrier`.
///
/// Each [`wait`](Barrier::wait) blocks until `parties` waits are pending at
/// once; then all of them are released together, and the barrier is ready
/// for the next *generation*. An optional action runs once per generation,
/// on the last party to arrive, before anyone is released.
///
/// Unlike Python, and unlike tokio's and async-lock's barriers, a pending
/// async wait can be **withdrawn**: dropping the future before its
/// generation trips takes that party back out, and the barrier waits for
/// another one. Like Python, a wait that times out *breaks* the barrier.
///
/// # Memory ordering
///
/// Everything a party did before calling `wait` is visible to every party
/// of the same generation once its wait returns (the arrivals and the
/// release happen under one mutex).
///
/// # Examples
///
/// Two threads and two async tasks meet at one barrier:
///
/// ```
/// use rallypoint::Barrier;
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(4));
/// let mut handles = Vec::new();
/// for _ in 0..2 {
///     let b = barrier.clone();
///     handles.push(std::thread::spawn(move || b.wait_blocking().unwrap()));
/// }
/// for _ in 0..2 {
///     let b = barrier.clone();
///     handles.push(std::thread::spawn(move || {
///         futures_lite::future::block_on(b.wait()).unwrap()
///     }));
/// }
/// let leaders = handles
///     .into_iter()
///     .map(|h| h.join().unwrap())
///     .filter(|r| r.is_leader())
///     .count();
/// assert_eq!(leaders, 1);
/// ```
pub struct Barrier {
    parties: usize,
    /// `State::count`, stored under the lock whenever it changes, read
    /// without it: a hint telling an arriving party whether it will
    /// probably wait (and so should clone its waker before locking) or
    /// trip the barrier (and needs none). Relaxed: a stale value costs a
    /// wasted clone or one more lock round, never correctness.
    count_hint: AtomicUsize,
    default_timeout: Option<Duration>,
    state: Mutex<State>,
}

struct State {
    count: usize,
    generation: u64,
    /// Why the barrier is broken, as the parties told of it later see it
    /// (`PartyTimedOut`, not `TimedOut`); `None` while it is not.
    broken: Option<BrokenReason>,
    tripping: bool,
    action: Option<Action>,
    /// Arrived parties that have not collected their outcome (module
    /// docs): `None` while their generation is filling; then
    /// `Some(Ok(rank))` for a trip, `Some(Err(reason))` for a break or a
    /// reset.
    slots: WaitList<Option<Outcome>>,
    /// Newcomers waiting for a trip in progress to finish.
    entry: WaitList<()>,
}

/// How a party's generation ended for it: its rank, or why it broke.
type Outcome = Result<usize, BrokenReason>;

impl State {
    /// Ends the filling generation: gives every slot without an outcome the
    /// next value of `outcome` (in arrival order) and wakes its party.
    fn settle(&mut self, mut outcome: impl FnMut() -> Outcome) {
        for slot in self.slots.iter_mut().filter(|slot| slot.payload.is_none()) {
            slot.payload = Some(outcome());
            slot.wake();
        }
    }
}

/// Configures a [`Barrier`] with an action and a default timeout.
///
/// # Examples
///
/// ```
/// use rallypoint::Barrier;
/// use std::time::Duration;
///
/// let barrier = Barrier::builder(1)
///     .action(|| println!("tripped"))
///     .timeout(Duration::from_secs(5))
///     .build();
/// assert!(barrier.wait_blocking().is_ok());
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct BarrierBuilder {
    parties: usize,
    action: Option<Action>,
    timeout: Option<Duration>,
}

impl BarrierBuilder {
    /// Sets the action: a closure run once per generation by the last party
    /// to arrive, before any party of that generation is released (Python's
    /// `action` argument).
    ///
    /// If it panics, the barrier breaks, the other parties (and later waits,
    /// until [`reset`](Barrier::reset)) get [`BrokenBarrierError`] with
    /// reason [`ActionPanicked`](BrokenReason::ActionPanicked), and the panic
    /// propagates to the party that ran it. It may call the barrier's
    /// methods (`n_waiting`, `abort`, …); it must not `wait` on the same
    /// barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let trips = Arc::new(AtomicUsize::new(0));
    /// let t = trips.clone();
    /// let barrier = rallypoint::Barrier::builder(1)
    ///     .action(move || { t.fetch_add(1, Ordering::Relaxed); })
    ///     .build();
    /// barrier.wait_blocking().unwrap();
    /// barrier.wait_blocking().unwrap();
    /// assert_eq!(trips.load(Ordering::Relaxed), 2);
    /// ```
    pub fn action<F: FnMut() + Send + 'static>(mut self, action: F) -> Self {
        self.action = Some(Box::new(action));
        self
    }

    /// Sets the default timeout for [`Barrier::wait`] and
    /// [`Barrier::wait_blocking`] (Python's `timeout` argument). A wait that
    /// times out breaks the barrier: it gets
    /// [`TimedOut`](BrokenReason::TimedOut), the other parties
    /// [`PartyTimedOut`](BrokenReason::PartyTimedOut).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BrokenReason;
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::builder(2)
    ///     .timeout(Duration::from_millis(10))
    ///     .build();
    /// assert_eq!(barrier.wait_blocking().unwrap_err(), BrokenReason::TimedOut);
    /// assert!(barrier.is_broken());
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Builds the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::builder(3).build();
    /// assert_eq!(barrier.parties(), 3);
    /// ```
    pub fn build(self) -> Barrier {
        Barrier::from_parts(self.parties, self.action, self.timeout)
    }
}

impl fmt::Debug for BarrierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierBuilder")
            .field("parties", &self.parties)
            .field("action", &self.action.is_some())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Barrier {
    loom_const_fn! {
        /// Creates a barrier for `parties` parties, with no action and no default
        /// timeout.
        ///
        /// # Panics
        ///
        /// Panics if `parties` is 0.
        ///
        /// # Examples
        ///
        /// ```
        /// let barrier = rallypoint::Barrier::new(3);
        /// assert_eq!(barrier.parties(), 3);
        /// assert_eq!(barrier.n_waiting(), 0);
        ///
        /// // `const`, so it can be a `static`:
        /// static START: rallypoint::Barrier = rallypoint::Barrier::new(1);
        /// assert!(START.wait_blocking().unwrap().is_leader());
        /// ```
        #[must_use]
        #[track_caller]
        pub const fn new(parties: usize) -> Barrier {
            assert!(parties > 0, "a Barrier needs at least one party (got 0)");
            Barrier::from_parts(parties, None, None)
        }
    }

    loom_const_fn! {
        const fn from_parts(
            parties: usize,
            action: Option<Action>,
            timeout: Option<Duration>,
        ) -> Barrier {
            Barrier {
                parties,
                count_hint: AtomicUsize::new(0),
                default_timeout: timeout,
                state: Mutex::new(State {
                    count: 0,
                    generation: 0,
                    broken: None,
                    tripping: false,
                    action,
                    slots: WaitList::new(),
                    entry: WaitList::new(),
                }),
            }
        }
    }

    /// Starts configuring a barrier for `parties` parties.
    ///
    /// # Panics
    ///
    /// Panics if `parties` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::builder(2).build();
    /// assert_eq!(barrier.parties(), 2);
    /// ```
    #[track_caller]
    pub fn builder(parties: usize) -> BarrierBuilder {
        assert!(parties > 0, "a Barrier needs at least one party (got 0)");
        BarrierBuilder {
            parties,
            action: None,
            timeout: None,
        }
    }

    /// The number of parties needed to trip the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(rallypoint::Barrier::new(5).parties(), 5);
    /// ```
    #[must_use]
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// The number of parties currently waiting in the generation that is
    /// filling (withdrawn parties are not counted).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::future::Future;
    /// use std::task::{Context, Waker};
    ///
    /// let barrier = rallypoint::Barrier::new(2);
    /// let mut wait = Box::pin(barrier.wait());
    /// let _ = wait.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(barrier.n_waiting(), 1);
    /// drop(wait); // withdraws the party
    /// assert_eq!(barrier.n_waiting(), 0);
    /// # });
    /// ```
    #[must_use]
    pub fn n_waiting(&self) -> usize {
        lock(&self.state).count
    }

    /// `true` if the barrier is broken (see [`BrokenBarrierError`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(2);
    /// assert!(!barrier.is_broken());
    /// barrier.abort();
    /// assert!(barrier.is_broken());
    /// ```
    #[must_use]
    pub fn is_broken(&self) -> bool {
        lock(&self.state).broken.is_some()
    }

    /// Breaks the barrier: the parties waiting now and every later `wait`
    /// get [`BrokenBarrierError`] with reason
    /// [`Aborted`](BrokenReason::Aborted) until [`reset`](Barrier::reset).
    ///
    /// A generation whose action is running when `abort` is called has
    /// already tripped and is released normally; only later waits fail. On
    /// a barrier that is broken already, `abort` changes nothing: later
    /// waits keep getting the reason it first broke for.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BrokenReason;
    /// let barrier = rallypoint::Barrier::new(2);
    /// barrier.abort();
    /// assert_eq!(barrier.wait_blocking().unwrap_err(), BrokenReason::Aborted);
    /// ```
    pub fn abort(&self) {
        let mut state = lock(&self.state);
        state.broken.get_or_insert(BrokenReason::Aborted);
        self.end_generation(&mut state, BrokenReason::Aborted);
    }

    /// Returns the barrier to its initial state: the parties waiting now get
    /// [`BrokenBarrierError`] with reason [`Reset`](BrokenReason::Reset),
    /// then the barrier is empty and unbroken, and works normally again.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::BrokenReason;
    /// use std::future::Future;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// let barrier = rallypoint::Barrier::new(2);
    /// let mut wait = Box::pin(barrier.wait());
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(wait.as_mut().poll(&mut cx).is_pending()); // one party waits
    /// barrier.reset();
    /// let Poll::Ready(Err(err)) = wait.as_mut().poll(&mut cx) else { panic!() };
    /// assert_eq!(err.reason(), BrokenReason::Reset);
    ///
    /// barrier.abort();
    /// barrier.reset(); // repairs a broken barrier
    /// assert!(!barrier.is_broken());
    /// # });
    /// ```
    pub fn reset(&self) {
        let mut state = lock(&self.state);
        self.end_generation(&mut state, BrokenReason::Reset);
        state.broken = None;
    }

    /// Fails the parties of the filling generation with `reason` (unless a
    /// trip is in progress: that generation is committed) and starts a new
    /// one.
    fn end_generation(&self, state: &mut State, reason: BrokenReason) {
        if state.tripping {
            return;
        }
        state.generation = state.generation.wrapping_add(1);
        if state.count > 0 {
            state.count = 0;
            self.note_count(0);
            // Broken, for every party of this generation (earlier ones have
            // their outcomes already).
            state.settle(|| Err(reason));
        }
    }

    /// Updates the hint (see `count_hint`); call with the lock held.
    fn note_count(&self, count: usize) {
        self.count_hint.store(count, Ordering::Relaxed);
    }

    fn wait_op(&self) -> WaitOp<'_> {
        WaitOp {
            barrier: self,
            phase: Phase::Start,
        }
    }

    fn default_deadline(&self) -> Option<Instant> {
        self.default_timeout.and_then(deadline_after)
    }

    /// Waits until `parties` parties are waiting, then releases them all.
    ///
    /// Uses the builder's default timeout, if any. The last party to arrive
    /// runs the action (if any) before anyone is released.
    ///
    /// Returns [`BrokenBarrierError`] if the barrier is or becomes broken
    /// (or is reset) while waiting, or if the default timeout elapses (which
    /// breaks the barrier). Its [`reason`](BrokenBarrierError::reason) says
    /// which:
    ///
    /// * [`Aborted`](BrokenReason::Aborted): [`abort`](Barrier::abort) was
    ///   called, before this wait or while it waited;
    /// * [`Reset`](BrokenReason::Reset): [`reset`](Barrier::reset) was
    ///   called while it waited;
    /// * [`TimedOut`](BrokenReason::TimedOut): this wait's default timeout
    ///   elapsed, and broke the barrier;
    /// * [`PartyTimedOut`](BrokenReason::PartyTimedOut): another party's
    ///   timeout broke it, before this wait or while it waited;
    /// * [`ActionPanicked`](BrokenReason::ActionPanicked): the action
    ///   panicked in another party, now or in an earlier generation.
    ///
    /// A barrier broken before this wait reports the reason it first broke
    /// for, until [`reset`](Barrier::reset).
    ///
    /// # Panics
    ///
    /// If this party runs the action and the action panics, the panic is
    /// propagated here (after the barrier has been broken).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, and more: dropping the future before its generation
    /// trips **withdraws** the party — [`n_waiting`](Barrier::n_waiting) goes
    /// back down, the barrier does not break, and it will not trip until
    /// `parties` live parties have arrived. Dropping it after its generation
    /// tripped (or broke) changes nothing for the others.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let barrier = rallypoint::Barrier::new(2);
    /// let (a, b) = futures_lite::future::zip(barrier.wait(), barrier.wait()).await;
    /// assert_ne!(a.unwrap().is_leader(), b.unwrap().is_leader());
    /// # });
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait::new(self.wait_op(), self.default_deadline())
    }

    /// Blocks the current thread until `parties` parties are waiting; see
    /// [`wait`](Barrier::wait) (the same errors and reasons).
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread. Use [`wait`](Barrier::wait) there.
    ///
    /// # Panics
    ///
    /// Propagates a panic of the action if this thread ran it.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(1);
    /// assert!(barrier.wait_blocking().unwrap().is_leader());
    /// ```
    pub fn wait_blocking(&self) -> Result<BarrierWaitResult, BrokenBarrierError> {
        BarrierWait::new(self.wait_op(), self.default_deadline()).block()
    }

    /// Like [`wait`](Barrier::wait), with an explicit timeout instead of the
    /// default one. If it elapses, the barrier breaks and this party gets
    /// [`BrokenBarrierError`] too (Python semantics), with reason
    /// [`TimedOut`](BrokenReason::TimedOut); the other parties get
    /// [`PartyTimedOut`](BrokenReason::PartyTimedOut). (If the barrier was
    /// already broken when the deadline passed, the reason is the one it
    /// broke for.) Other errors are those of [`wait`](Barrier::wait).
    /// `Duration::ZERO` breaks the barrier unless this party is the last
    /// one needed.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Panics
    ///
    /// Propagates a panic of the action if this party ran it.
    ///
    /// # Cancel safety
    ///
    /// As for [`wait`](Barrier::wait): dropping the future before it
    /// completes withdraws the party without breaking the barrier.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::BrokenReason;
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2);
    /// let err = barrier.wait_timeout(Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err.reason(), BrokenReason::TimedOut);
    /// assert!(barrier.is_broken());
    /// # });
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> BarrierWait<'_> {
        BarrierWait::new(self.wait_op(), deadline_after(timeout))
    }

    /// Blocking form of [`wait_timeout`](Barrier::wait_timeout): the same
    /// errors and reasons.
    ///
    /// This must not be called from async code.
    ///
    /// # Panics
    ///
    /// Propagates a panic of the action if this thread ran it.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BrokenReason;
    /// use std::time::Duration;
    /// let barrier = rallypoint::Barrier::new(2);
    /// let err = barrier.wait_timeout_blocking(Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err.to_string(), "barrier broken: this wait timed out");
    /// // The barrier stays broken; later waits learn why.
    /// assert_eq!(barrier.wait_blocking().unwrap_err(), BrokenReason::PartyTimedOut);
    /// ```
    pub fn wait_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        BarrierWait::new(self.wait_op(), deadline_after(timeout)).block()
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = lock(&self.state);
        f.debug_struct("Barrier")
            .field("waiters", &format_args!("{}/{}", state.count, self.parties))
            .field("broken", &state.broken.is_some())
            .field("reason", &state.broken)
            .field("timeout", &self.default_timeout)
            .finish()
    }
}

enum Phase {
    /// Not arrived yet.
    Start,
    /// Waiting for a trip in progress to finish before arriving (our
    /// waker is in `State::entry`).
    Entering(Ticket),
    /// Arrived; our slot will carry the outcome.
    Arrived(Ticket),
    /// Finished (or settled by a timeout).
    Done,
}

/// The state machine behind every `Barrier` wait.
pub(crate) struct WaitOp<'a> {
    barrier: &'a Barrier,
    phase: Phase,
}

impl WaitOp<'_> {
    fn outcome(outcome: Outcome) -> Result<BarrierWaitResult, BrokenBarrierError> {
        outcome
            .map(|index| BarrierWaitResult {
                index,
                leader: false,
            })
            .map_err(BrokenBarrierError::from)
    }

    /// Arrives with `waker`, cloned before the lock if the hint said this
    /// party would wait (else `None`: it then stores one in a second lock
    /// round); returns the result at once for the leader or a broken
    /// barrier.
    fn arrive(
        &mut self,
        waker: Option<NewWaker>,
        cx: &Context<'_>,
    ) -> Option<Result<BarrierWaitResult, BrokenBarrierError>> {
        let waker = || waker.or_else(|| NewWaker::if_own(cx));
        let barrier = self.barrier;
        let mut state = lock(&barrier.state);
        if let Some(reason) = state.broken {
            return Some(Err(reason.into()));
        }
        if state.tripping {
            // Under the lock: the trip ends under it too.
            self.phase = Phase::Entering(state.entry.push(waker(), cx, ()));
            return None;
        }
        state.count += 1;
        barrier.note_count(state.count);
        if state.count < barrier.parties {
            // Under the lock, so the slots are in arrival order.
            self.phase = Phase::Arrived(state.slots.push(waker(), cx, None));
            return None;
        }
        Some(self.trip(state))
    }

    /// The leader's part: run the action outside the lock, then release.
    fn trip(
        &mut self,
        mut state: Locked<'_, State>,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        let barrier = self.barrier;
        state.tripping = true;
        let mut action = state.action.take();
        drop(state);

        let panic: Option<Box<dyn Any + Send>> = action
            .as_mut()
            .and_then(|action| catch_unwind(AssertUnwindSafe(action)).err());

        let mut state = lock(&barrier.state);
        state.action = action;
        state.tripping = false;
        state.count = 0;
        barrier.note_count(0);
        state.generation = state.generation.wrapping_add(1);
        if panic.is_some() {
            // (An `abort` during the action keeps its reason for later
            // waits; this generation broke because of the panic.)
            state.broken.get_or_insert(BrokenReason::ActionPanicked);
            state.settle(|| Err(BrokenReason::ActionPanicked));
        } else {
            // Ranks in slot order = arrival order of the live parties.
            let mut rank = 0;
            state.settle(|| {
                rank += 1;
                Ok(rank - 1)
            });
        }
        state.entry.wake_all();
        drop(state);

        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        Ok(BarrierWaitResult {
            index: barrier.parties - 1,
            leader: true,
        })
    }

    /// Takes our slot out; its outcome, if our generation had ended.
    ///
    /// The outcome is read where the slot is, and the slot then discarded:
    /// returned from the list's `remove`, it (a tag and a `usize` in 16
    /// bytes) went through the stack in overlapping pieces, each reload a
    /// store-forwarding stall (a sixth of `barrier_8/rallypoint/smol`'s
    /// samples, perf annotate).
    fn leave(barrier: &Barrier, state: &mut State, ticket: &Ticket) -> Option<Outcome> {
        let slot = state
            .slots
            .get_mut(ticket)
            .expect("barrier slot removed by another party");
        let outcome = slot.payload;
        state.slots.discard(ticket);
        if outcome.is_none() && !state.tripping {
            // Still filling: withdraw. (During a trip the count is
            // committed; the trip resets it.)
            state.count -= 1;
            barrier.note_count(state.count);
        }
        outcome
    }
}

impl WaitOp<'_> {
    /// One step of `poll_op`: its result, or `None` to take another step
    /// (after arriving without a waker, to store one).
    fn step(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Option<Poll<Result<BarrierWaitResult, BrokenBarrierError>>> {
        let arrive = match &mut self.phase {
            Phase::Start => true,
            Phase::Entering(ticket) => {
                // Still parked behind a trip in progress? Else arrive now.
                let fresh = ticket.fresh(cx);
                let mut state = lock(&self.barrier.state);
                !state.entry.still_waiting(ticket, fresh, cx)
            }
            Phase::Arrived(ticket) => {
                let fresh = ticket.fresh(cx);
                let mut state = lock(&self.barrier.state);
                let slot = state
                    .slots
                    .get_mut(ticket)
                    .expect("barrier slot removed by another party");
                if let Some(outcome) = slot.payload {
                    Self::leave(self.barrier, &mut state, ticket);
                    drop(state);
                    self.phase = Phase::Done;
                    return Some(Poll::Ready(Self::outcome(outcome)));
                }
                state.slots.still_waiting(ticket, fresh, cx);
                false
            }
            Phase::Done => unreachable!("barrier wait polled after completion"),
        };
        if arrive {
            // Clone before the lock (user code), unless the hint says this
            // party trips the barrier and so needs no waker.
            let barrier = self.barrier;
            let wait = barrier.count_hint.load(Ordering::Relaxed) + 1 < barrier.parties;
            // (The blocking driver's own waker may be cloned under the lock:
            // `arrive` does so when it turns out to be needed.)
            let waker = (wait && !is_own_parker(cx.waker())).then(|| NewWaker::of(cx));
            if let Some(result) = self.arrive(waker, cx) {
                self.phase = Phase::Done;
                return Some(Poll::Ready(result));
            }
            if let Phase::Arrived(ticket) | Phase::Entering(ticket) = &self.phase {
                if !ticket.has_waker() {
                    return None;
                }
            }
        }
        Some(Poll::Pending)
    }
}

impl Op for WaitOp<'_> {
    type Output = Result<BarrierWaitResult, BrokenBarrierError>;

    fn may_wake_on_drop(&self) -> bool {
        // Withdrawing only changes the count and our own slot (whose waker
        // drop the lock's section defers).
        false
    }

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            if let Some(out) = self.step(cx) {
                return out;
            }
        }
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        let barrier = self.barrier;
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let mut state = lock(&barrier.state);
        match phase {
            Phase::Arrived(ticket) => {
                if let Some(outcome) = Self::leave(barrier, &mut state, &ticket) {
                    // Our generation ended as the deadline passed: keep its
                    // outcome.
                    return Poll::Ready(Self::outcome(outcome));
                }
            }
            Phase::Entering(ticket) => {
                state.entry.remove(&ticket);
            }
            Phase::Start | Phase::Done => {}
        }
        if let Some(reason) = state.broken {
            // Broken already (by an abort or a timeout while a trip we were
            // entering or committed to was running): that is the reason.
            return Poll::Ready(Err(reason.into()));
        }
        // Python semantics: a timeout breaks the barrier. Ours did; the
        // others are told another party's did.
        state.broken = Some(BrokenReason::PartyTimedOut);
        barrier.end_generation(&mut state, BrokenReason::PartyTimedOut);
        Poll::Ready(Err(BrokenReason::TimedOut.into()))
    }
}

impl Drop for WaitOp<'_> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            // An outcome is this party's own: there is nothing to pass on.
            Phase::Arrived(ticket) => {
                Self::leave(self.barrier, &mut lock(&self.barrier.state), &ticket);
            }
            Phase::Entering(ticket) => {
                lock(&self.barrier.state).entry.remove(&ticket);
            }
            Phase::Start | Phase::Done => {}
        }
    }
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Start => "start",
            Phase::Entering(_) => "entering",
            Phase::Arrived(_) => "arrived",
            Phase::Done => "done",
        };
        f.debug_struct("WaitOp").field("phase", &phase).finish()
    }
}

named_future! {
    /// Future returned by [`Barrier::wait`] and [`Barrier::wait_timeout`].
    pub struct BarrierWait<'a>(WaitOp<'a>) -> Result<BarrierWaitResult, BrokenBarrierError>;
    |result| result
}
