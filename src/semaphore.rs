//! [`Semaphore`]: a strictly fair counting semaphore for tasks and threads
//! (Python's `threading.Semaphore` and `BoundedSemaphore`).
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
//! The queue lives under a mutex (`Waiters`): a `VecDeque` of waiters, each
//! with its id, the number of permits it needs and its waker. Ids are handed
//! out in increasing order under the mutex and waiters only join at the
//! back, so the queue's order is arrival order (and id order: a waiter is
//! found by binary search) and its front is the oldest waiter.
//!
//! The queue *is* the waiter list: a waiter learns its outcome by finding
//! itself gone from it, so no separate notification object is needed. An
//! earlier version paired the queue with a tagged `event_listener::Event`
//! (one heap-allocated listener per wait, a second lock per grant); with
//! 8 tasks on 2 permits that cost 2–5× tokio's time per acquire (see
//! BENCHMARKS.md), because under strict FIFO nearly every acquire waits.
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
//! * **Queueing.** An `acquire` that cannot be served at once takes the
//!   mutex, and there either takes the permits (if the queue is empty and
//!   enough are available) or sets `QUEUED` with a compare-exchange and
//!   pushes itself, with its waker, at the back of the queue.
//! * **Dispatch.** Whoever adds permits while `QUEUED` is set does so under
//!   the mutex and then *dispatches*: while the front waiter's need fits in
//!   the available permits, it subtracts that need, pops the waiter and
//!   wakes it. When the queue becomes empty it clears `QUEUED`, reopening
//!   the fast paths. The granted permits already belong to the waiter; when
//!   it is polled it takes the mutex, finds itself gone (granted, by
//!   invariant 4) and returns its permit. A poll that finds itself still
//!   queued stores its current waker in its entry.
//! * **Close.** `close` sets `CLOSED`, records `closed_from`, empties the
//!   queue, clears `QUEUED` and wakes every waiter it removed, all under the
//!   mutex. Waiters granted before the close keep their permits.
//! * **Wakes.** Wakers are woken through the engine's `wake_deferred`, so
//!   they run only once the mutex is released (a waker may re-enter the
//!   semaphore or panic; see `engine.rs`).
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

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::engine::{Op, Timed, deadline_after, named_future, wake_deferred};
use crate::sync::{AtomicUsize, Locked, Mutex, Ordering, lock, loom_const_fn};

const QUEUED: usize = 1;
const CLOSED: usize = 2;
const SHIFT: u32 = 2;

/// The permits encoded in `state`.
const fn permits(state: usize) -> usize {
    state >> SHIFT
}

/// A counting semaphore shared by async tasks and threads: Python's
/// `threading.Semaphore` ([`new`](Semaphore::new)) and `BoundedSemaphore`
/// ([`bounded`](Semaphore::bounded)).
///
/// A semaphore holds a number of permits. [`acquire`](Semaphore::acquire)
/// takes one (or [`acquire_many`](Semaphore::acquire_many) several), waiting
/// until they are available, and returns a [`SemaphorePermit`] that gives
/// them back when dropped. [`release`](Semaphore::release) adds permits
/// without a permit object, like Python's `release(n)`.
///
/// The semaphore is **strictly fair**: waiters are served in the order they
/// began waiting, and once one is waiting, neither a later `acquire` nor
/// [`try_acquire`](Semaphore::try_acquire) can take permits ahead of it. A
/// waiter asking for many permits is therefore never starved by a stream of
/// small acquires. Without waiters, acquiring and releasing are a single
/// atomic operation each.
///
/// Every waiting operation comes in four forms (`acquire`,
/// `acquire_blocking`, `acquire_timeout`, `acquire_timeout_blocking`), and
/// the same semaphore may be used by tasks and threads at once.
///
/// # Memory ordering
///
/// Releasing permits (dropping a permit, or calling `release`) happens
/// before the acquisition that obtains those permits returns: whatever a
/// holder did before giving its permits back is visible to the next holder.
/// `available_permits` and `is_closed` are snapshots that order nothing.
///
/// # Examples
///
/// Limit concurrency to two, with threads and tasks sharing the semaphore:
///
/// ```
/// use rallypoint::Semaphore;
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(2));
/// let thread = {
///     let sem = sem.clone();
///     std::thread::spawn(move || {
///         let _permit = sem.acquire_blocking().unwrap();
///         // at most two holders here
///     })
/// };
/// futures_lite::future::block_on(async {
///     let _permit = sem.acquire().await.unwrap();
///     // at most two holders here
/// });
/// thread.join().unwrap();
/// assert_eq!(sem.available_permits(), 2);
/// ```
pub struct Semaphore {
    /// Permits and flags; see the module docs for the layout and invariants.
    state: AtomicUsize,
    /// The most permits the count may hold: the initial value for a bounded
    /// semaphore, [`Semaphore::MAX_PERMITS`] otherwise.
    bound: usize,
    bounded: bool,
    /// The queue of waiters. Guards the setting and clearing of `QUEUED` and
    /// `CLOSED`, and the count while `QUEUED` is set.
    waiters: Mutex<Waiters>,
}

struct Waiters {
    /// The waiting acquires, oldest first (so in increasing `id` order).
    queue: VecDeque<Waiter>,
    /// The id of the next waiter to queue.
    next_id: u64,
    /// `u64::MAX` until `close`, then the id of the oldest waiter that was
    /// still queued at the close (or `next_id` if none was): a waiter that
    /// is no longer queued was failed by the close iff its id is at least
    /// this (see the module docs).
    closed_from: u64,
}

impl Waiters {
    /// The position of waiter `id` in the queue, if it is still queued.
    fn position(&self, id: u64) -> Option<usize> {
        // Ids increase along the queue; the front is the common case.
        match self.queue.front() {
            Some(front) if front.id == id => Some(0),
            _ => self.queue.binary_search_by_key(&id, |w| w.id).ok(),
        }
    }

    /// The outcome of waiter `id`, which is no longer queued.
    fn outcome(&self, id: u64) -> Wake {
        if id >= self.closed_from {
            Wake::Closed
        } else {
            Wake::Granted
        }
    }
}

/// One queued acquire.
struct Waiter {
    id: u64,
    /// Permits it needs.
    need: usize,
    /// Woken (through `wake_deferred`) when it is served or failed.
    waker: Waker,
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
enum TryTake {
    Taken,
    Closed,
    NoPermits,
}

/// Outcome of the slow path of an acquire.
enum Enqueue {
    Taken,
    Closed,
    Queued(u64),
}

/// The error of [`Semaphore::acquire`] and its variants (except the
/// `_timeout` ones, which use [`AcquireTimeoutError`]).
///
/// # Examples
///
/// ```
/// use rallypoint::{AcquireError, Semaphore};
///
/// let sem = Semaphore::new(1);
/// sem.close();
/// assert_eq!(sem.acquire_blocking().unwrap_err(), AcquireError::Closed);
///
/// let bounded = Semaphore::bounded(2);
/// assert_eq!(bounded.acquire_many_blocking(3).unwrap_err(), AcquireError::ExceedsBound);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireError {
    /// The semaphore is closed (or was closed while waiting).
    Closed,
    /// More permits were asked for than the semaphore can ever hold (its
    /// bound, or [`Semaphore::MAX_PERMITS`]): the wait could never end, so
    /// it fails at once.
    ExceedsBound,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AcquireError::Closed => "semaphore is closed",
            AcquireError::ExceedsBound => "more permits requested than the semaphore can hold",
        })
    }
}

impl std::error::Error for AcquireError {}

/// The error of the `_timeout` forms of [`Semaphore::acquire`].
///
/// # Examples
///
/// ```
/// use rallypoint::{AcquireTimeoutError, Semaphore};
/// use std::time::Duration;
///
/// let sem = Semaphore::new(0);
/// let err = sem.acquire_timeout_blocking(Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err, AcquireTimeoutError::Timeout);
/// assert!(err.is_timeout());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AcquireTimeoutError {
    /// The timeout elapsed before the permits were available.
    Timeout,
    /// The semaphore is closed (or was closed while waiting).
    Closed,
    /// More permits were asked for than the semaphore can ever hold; see
    /// [`AcquireError::ExceedsBound`].
    ExceedsBound,
}

impl AcquireTimeoutError {
    /// `true` for [`AcquireTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::AcquireTimeoutError;
    /// assert!(AcquireTimeoutError::Timeout.is_timeout());
    /// assert!(!AcquireTimeoutError::Closed.is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, AcquireTimeoutError::Timeout)
    }
}

impl From<AcquireError> for AcquireTimeoutError {
    fn from(err: AcquireError) -> Self {
        match err {
            AcquireError::Closed => AcquireTimeoutError::Closed,
            AcquireError::ExceedsBound => AcquireTimeoutError::ExceedsBound,
        }
    }
}

impl fmt::Display for AcquireTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcquireTimeoutError::Timeout => f.write_str("timed out waiting for semaphore permits"),
            AcquireTimeoutError::Closed => AcquireError::Closed.fmt(f),
            AcquireTimeoutError::ExceedsBound => AcquireError::ExceedsBound.fmt(f),
        }
    }
}

impl std::error::Error for AcquireTimeoutError {}

/// The error of [`Semaphore::try_acquire`] and
/// [`Semaphore::try_acquire_many`].
///
/// # Examples
///
/// ```
/// use rallypoint::{Semaphore, TryAcquireError};
///
/// let sem = Semaphore::new(0);
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
/// sem.close();
/// assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::Closed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryAcquireError {
    /// Not enough permits are available, or another waiter is queued ahead
    /// (a `try_acquire` never jumps the queue).
    NoPermits,
    /// The semaphore is closed.
    Closed,
}

impl fmt::Display for TryAcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TryAcquireError::NoPermits => "no semaphore permits available",
            TryAcquireError::Closed => "semaphore is closed",
        })
    }
}

impl std::error::Error for TryAcquireError {}

/// The error of [`Semaphore::release`]: the release would raise the count
/// above the semaphore's bound (Python's `ValueError: Semaphore released
/// too many times`). The count is left unchanged.
///
/// # Examples
///
/// ```
/// let sem = rallypoint::Semaphore::bounded(1);
/// let err = sem.release(1).unwrap_err();
/// assert_eq!(err.to_string(), "semaphore released too many times");
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReleaseError;

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released too many times")
    }
}

impl std::error::Error for ReleaseError {}

impl Semaphore {
    /// The most permits a semaphore can hold: `usize::MAX >> 2` (two bits of
    /// the state hold flags). An unbounded semaphore is capped here: a
    /// [`release`](Semaphore::release) beyond it fails with [`ReleaseError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Semaphore;
    /// let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    /// assert!(sem.release(1).is_err());
    /// ```
    pub const MAX_PERMITS: usize = usize::MAX >> SHIFT;

    loom_const_fn! {
        /// Creates a semaphore with `permits` permits, whose count
        /// [`release`](Semaphore::release) may raise without limit (up to
        /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS)): Python's `Semaphore(value)`.
        ///
        /// # Panics
        ///
        /// Panics if `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
        ///
        /// # Examples
        ///
        /// ```
        /// static LIMIT: rallypoint::Semaphore = rallypoint::Semaphore::new(3);
        /// assert_eq!(LIMIT.available_permits(), 3);
        /// ```
        #[must_use]
        #[track_caller]
        pub const fn new(permits: usize) -> Semaphore {
            Semaphore::with_bound(permits, Semaphore::MAX_PERMITS, false)
        }
    }

    loom_const_fn! {
        /// Creates a bounded semaphore with `permits` permits: Python's
        /// `BoundedSemaphore(value)`. The count may never exceed `permits`; a
        /// [`release`](Semaphore::release) that would raise it above fails with
        /// [`ReleaseError`] and changes nothing, and an
        /// [`acquire_many`](Semaphore::acquire_many) of more than `permits`
        /// fails at once with [`AcquireError::ExceedsBound`].
        ///
        /// Permits are returned by dropping a [`SemaphorePermit`], which cannot
        /// fail: if extra `release` calls have already refilled the semaphore,
        /// the permits that would exceed the bound are discarded (Python would
        /// raise `ValueError` at that point).
        ///
        /// # Panics
        ///
        /// Panics if `permits` exceeds [`MAX_PERMITS`](Semaphore::MAX_PERMITS).
        ///
        /// # Examples
        ///
        /// ```
        /// let sem = rallypoint::Semaphore::bounded(2);
        /// let permit = sem.try_acquire().unwrap();
        /// assert!(sem.release(1).is_ok()); // back to 2
        /// assert!(sem.release(1).is_err()); // 3 would exceed the bound
        /// permit.forget();
        /// assert_eq!(sem.available_permits(), 2);
        /// ```
        #[must_use]
        #[track_caller]
        pub const fn bounded(permits: usize) -> Semaphore {
            Semaphore::with_bound(permits, permits, true)
        }
    }

    loom_const_fn! {
        #[track_caller]
        const fn with_bound(permits: usize, bound: usize, bounded: bool) -> Semaphore {
            assert!(
                permits <= Semaphore::MAX_PERMITS,
                "a Semaphore cannot hold more than Semaphore::MAX_PERMITS permits"
            );
            Semaphore {
                state: AtomicUsize::new(permits << SHIFT),
                bound,
                bounded,
                waiters: Mutex::new(Waiters {
                    queue: VecDeque::new(),
                    next_id: 0,
                    closed_from: u64::MAX,
                }),
            }
        }
    }

    /// The number of permits available now. Permits set aside for the
    /// oldest waiter (which is waiting for more) are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(3);
    /// let _permit = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[must_use]
    pub fn available_permits(&self) -> usize {
        // Relaxed: a snapshot (see the module docs).
        permits(self.state.load(Ordering::Relaxed))
    }

    /// Closes the semaphore: every task and thread waiting in `acquire`
    /// gets [`AcquireError::Closed`], and so does every later acquire
    /// (`try_acquire` gets [`TryAcquireError::Closed`]).
    ///
    /// Permits already held stay valid and are returned as usual when
    /// dropped; [`release`](Semaphore::release) still changes the count.
    /// A waiter that had been granted its permits before the close succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(1);
    /// sem.close();
    /// assert!(sem.is_closed());
    /// assert!(sem.acquire_blocking().is_err());
    /// ```
    pub fn close(&self) {
        let mut waiters = lock(&self.waiters);
        // AcqRel, like every read-modify-write under the mutex (module docs).
        // CLOSED first, so lock-free paths fail from here on.
        let old = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if old & CLOSED != 0 {
            return;
        }
        // Every waiter still queued, and only those, fails (invariant 4).
        waiters.closed_from = waiters.queue.front().map_or(waiters.next_id, |w| w.id);
        if !waiters.queue.is_empty() {
            for waiter in std::mem::take(&mut waiters.queue) {
                wake_deferred(waiter.waker);
            }
            self.state.fetch_and(!QUEUED, Ordering::AcqRel);
        }
    }

    /// `true` once [`close`](Semaphore::close) has been called.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(1);
    /// assert!(!sem.is_closed());
    /// sem.close();
    /// assert!(sem.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        // Relaxed: a snapshot (see the module docs).
        self.state.load(Ordering::Relaxed) & CLOSED != 0
    }

    /// Adds `n` permits: Python's `release(n)`. The oldest waiters are
    /// served first, as far as the new permits go.
    ///
    /// Fails with [`ReleaseError`], changing nothing, if the count would
    /// exceed the bound of a [bounded](Semaphore::bounded) semaphore (or
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS) for an unbounded one).
    /// `release(0)` does nothing and succeeds. Releasing works on a closed
    /// semaphore too.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(0);
    /// sem.release(2).unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    ///
    /// let bounded = rallypoint::Semaphore::bounded(1);
    /// assert!(bounded.release(1).is_err());
    /// ```
    #[inline]
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        self.add_permits(n, false)
    }

    /// Adds `n` permits, lock-free while nobody waits. With `clamp`, permits
    /// beyond the bound are discarded instead of failing (permit drops).
    #[inline]
    fn add_permits(&self, n: usize, clamp: bool) -> Result<(), ReleaseError> {
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

    /// [`add_permits`](Semaphore::add_permits) with the mutex held, followed
    /// by a dispatch.
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
        while let Some(front) = waiters.queue.front() {
            // Relaxed: `QUEUED` is set, so the count is only written under
            // the mutex we hold (invariant 2).
            let state = self.state.load(Ordering::Relaxed);
            let need = front.need;
            if permits(state) < need {
                return;
            }
            // AcqRel: see the module docs.
            self.state.fetch_sub(need << SHIFT, Ordering::AcqRel);
            // Leaving the queue (below `closed_from`) is the grant.
            if let Some(served) = waiters.queue.pop_front() {
                wake_deferred(served.waker);
            }
        }
        // Empty queue: reopen the lock-free paths. Harmless if already clear.
        self.state.fetch_and(!QUEUED, Ordering::AcqRel);
    }

    /// Lock-free attempt to take `n` permits; never jumps a queued waiter.
    #[inline]
    fn try_take(&self, n: usize) -> TryTake {
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
    /// nobody is queued and enough are available, else join the queue.
    fn take_or_enqueue(&self, n: usize, waker: &Waker) -> Enqueue {
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
        let id = waiters.next_id;
        waiters.next_id += 1;
        waiters.queue.push_back(Waiter {
            id,
            need: n,
            waker: waker.clone(),
        });
        Enqueue::Queued(id)
    }

    /// Polls queued waiter `id`: its outcome if it has left the queue, else
    /// `None` with `waker` registered in its place.
    fn poll_queued(&self, id: u64, waker: &Waker) -> Option<Wake> {
        let mut waiters = lock(&self.waiters);
        match waiters.position(id) {
            Some(i) => {
                let slot = &mut waiters.queue[i].waker;
                if !slot.will_wake(waker) {
                    slot.clone_from(waker);
                }
                None
            }
            None => Some(waiters.outcome(id)),
        }
    }

    /// Takes waiter `id` out of line (its future was dropped or timed out).
    /// Returns the outcome it had received, if any; a granted outcome is
    /// passed on to the next waiters when `give_back` is set.
    fn withdraw(&self, id: u64, n: usize, give_back: bool) -> Option<Wake> {
        let mut waiters = lock(&self.waiters);
        if let Some(i) = waiters.position(id) {
            // Still queued, so nothing was assigned to it.
            waiters.queue.remove(i);
            if i == 0 {
                // It was the front: the next waiter may fit now.
                self.dispatch(&mut waiters);
            }
            return None;
        }
        // Served or failed under the mutex, which removed it from the queue.
        let wake = waiters.outcome(id);
        if wake == Wake::Granted && give_back {
            // Clamp: a permit's return cannot fail (see `bounded`).
            let _ = self.add_permits_locked(&mut waiters, n, true);
        }
        Some(wake)
    }

    fn acquire_op<S: Handle>(handle: S, n: usize, try_only: bool) -> AcquireOp<S> {
        AcquireOp {
            handle,
            n,
            try_only,
            phase: Phase::Start,
        }
    }

    /// Takes `n` permits without waiting, for `try_acquire_many(_arc)`.
    fn try_acquire_inner(&self, n: usize) -> Result<(), TryAcquireError> {
        match self.try_take(n) {
            TryTake::Taken => Ok(()),
            TryTake::Closed => Err(TryAcquireError::Closed),
            TryTake::NoPermits => Err(TryAcquireError::NoPermits),
        }
    }

    /// Takes one permit if one is available and nobody is waiting.
    ///
    /// Fails with [`TryAcquireError::NoPermits`] if no permit is available
    /// **or another task or thread is already waiting** (it never takes a
    /// permit ahead of a queued waiter), and with
    /// [`TryAcquireError::Closed`] if the semaphore is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if they are available and nobody is waiting; see
    /// [`try_acquire`](Semaphore::try_acquire). `n == 0` succeeds unless the
    /// semaphore is closed. Asking for more than the semaphore can hold
    /// fails with [`TryAcquireError::NoPermits`].
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(3);
    /// let permit = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(permit.num_permits(), 2);
    /// assert!(sem.try_acquire_many(2).is_err());
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_inner(n)?;
        Ok(SemaphorePermit { sem: self, n })
    }

    /// Like [`try_acquire`](Semaphore::try_acquire), for an `Arc`'d
    /// semaphore: the permit owns a clone of the `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// let permit = sem.try_acquire_arc().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    pub fn try_acquire_arc(self: &Arc<Self>) -> Result<SemaphorePermitArc, TryAcquireError> {
        self.try_acquire_many_arc(1)
    }

    /// Like [`try_acquire_many`](Semaphore::try_acquire_many), for an
    /// `Arc`'d semaphore.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(3));
    /// let permit = sem.try_acquire_many_arc(3).unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn try_acquire_many_arc(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<SemaphorePermitArc, TryAcquireError> {
        self.try_acquire_inner(n)?;
        Ok(SemaphorePermitArc {
            sem: self.clone(),
            n,
        })
    }

    /// Waits for one permit. See [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes takes it out of
    /// line (it keeps no place in the queue); if permits had already been
    /// assigned to it, they are given back and go to the next waiter. No
    /// permit is lost or leaked, and the waiters behind it are not wedged.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let sem = rallypoint::Semaphore::new(1);
    /// let permit = sem.acquire().await.unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// # });
    /// ```
    #[inline]
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        self.acquire_many(1)
    }

    /// Waits until `n` permits can be taken, then takes them all at once.
    ///
    /// Waiters are served strictly in the order they began waiting: this
    /// one gets its permits before any later `acquire` or `try_acquire`,
    /// however many it asks for.
    ///
    /// Fails with [`AcquireError::Closed`] if the semaphore is or becomes
    /// closed, and at once with [`AcquireError::ExceedsBound`] if `n` is
    /// more than the semaphore can ever hold. `n == 0` succeeds at once
    /// (with an empty permit) unless the semaphore is closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes takes it out of
    /// line (it keeps no place in the queue), and if it was first in line
    /// the next waiter is served if it now can be. If permits had already
    /// been assigned to it, they are given back and go to the next waiter.
    /// No permit is lost or leaked.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let sem = rallypoint::Semaphore::new(3);
    /// let permit = sem.acquire_many(3).await.unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// assert_eq!(sem.available_permits(), 0);
    /// # });
    /// ```
    #[inline]
    pub fn acquire_many(&self, n: usize) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire::new(Semaphore::acquire_op(self, n, false), None)
    }

    /// Blocks the current thread until a permit is available, and takes it.
    /// See [`acquire_many`](Semaphore::acquire_many).
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread. Use [`acquire`](Semaphore::acquire) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(1);
    /// let permit = sem.acquire_blocking().unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    #[inline]
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks the current thread until `n` permits can be taken; see
    /// [`acquire_many`](Semaphore::acquire_many).
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread. Use [`acquire_many`](Semaphore::acquire_many) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(2);
    /// let permit = sem.acquire_many_blocking(2).unwrap();
    /// assert_eq!(permit.num_permits(), 2);
    /// ```
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many(n).block()
    }

    /// Waits for one permit for at most `timeout`; see
    /// [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::time::Duration;
    /// let sem = rallypoint::Semaphore::new(1);
    /// let _held = sem.try_acquire().unwrap();
    /// assert!(sem.acquire_timeout(Duration::from_millis(5)).await.unwrap_err().is_timeout());
    /// # });
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits until `n` permits can be taken, for at most `timeout`.
    ///
    /// Fails with [`AcquireTimeoutError::Timeout`] if the timeout elapses
    /// first (the waiter then leaves the queue), and otherwise like
    /// [`acquire_many`](Semaphore::acquire_many). `Duration::ZERO` tries
    /// once without waiting (and, like `try_acquire`, does not jump queued
    /// waiters); `Duration::MAX` waits forever. The timer is
    /// runtime-agnostic: it works under any executor. If the permits are
    /// granted at the very moment the deadline passes, the grant wins and
    /// the permits are returned, never lost.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::time::Duration;
    /// let sem = rallypoint::Semaphore::new(2);
    /// let permit = sem.acquire_many_timeout(2, Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(permit.num_permits(), 2);
    /// # });
    /// ```
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        let (try_only, deadline) = timeout_mode(timeout);
        SemaphoreAcquireTimeout::new(Semaphore::acquire_op(self, n, try_only), deadline)
    }

    /// Blocking form of [`acquire_timeout`](Semaphore::acquire_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = rallypoint::Semaphore::new(0);
    /// assert!(sem.acquire_timeout_blocking(Duration::ZERO).is_err());
    /// ```
    pub fn acquire_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        self.acquire_many_timeout_blocking(1, timeout)
    }

    /// Blocking form of
    /// [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let sem = rallypoint::Semaphore::new(1);
    /// let err = sem.acquire_many_timeout_blocking(2, Duration::from_millis(5)).unwrap_err();
    /// assert!(err.is_timeout());
    /// ```
    pub fn acquire_many_timeout_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        self.acquire_many_timeout(n, timeout).block()
    }

    /// Like [`acquire`](Semaphore::acquire), for an `Arc`'d semaphore: the
    /// future and the permit own a clone of the `Arc`, so they can outlive
    /// the borrow (e.g. be moved into a spawned task).
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// let permit = sem.acquire_arc().await.unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// drop(permit);
    /// # });
    /// ```
    pub fn acquire_arc(self: &Arc<Self>) -> SemaphoreAcquireArc {
        self.acquire_many_arc(1)
    }

    /// Like [`acquire_many`](Semaphore::acquire_many), for an `Arc`'d
    /// semaphore.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(2));
    /// let permit = sem.acquire_many_arc(2).await.unwrap();
    /// assert_eq!(permit.num_permits(), 2);
    /// # });
    /// ```
    pub fn acquire_many_arc(self: &Arc<Self>, n: usize) -> SemaphoreAcquireArc {
        SemaphoreAcquireArc {
            inner: Timed::new(Semaphore::acquire_op(self.clone(), n, false), None),
        }
    }

    /// Blocking form of [`acquire_arc`](Semaphore::acquire_arc).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// let permit = sem.acquire_arc_blocking().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn acquire_arc_blocking(self: &Arc<Self>) -> Result<SemaphorePermitArc, AcquireError> {
        self.acquire_many_arc_blocking(1)
    }

    /// Blocking form of [`acquire_many_arc`](Semaphore::acquire_many_arc).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(2));
    /// assert_eq!(sem.acquire_many_arc_blocking(2).unwrap().num_permits(), 2);
    /// ```
    pub fn acquire_many_arc_blocking(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<SemaphorePermitArc, AcquireError> {
        self.acquire_many_arc(n)
            .inner
            .block()
            .map_err(acquire_error)
    }

    /// Like [`acquire_timeout`](Semaphore::acquire_timeout), for an `Arc`'d
    /// semaphore.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire`](Semaphore::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let sem = Arc::new(rallypoint::Semaphore::new(0));
    /// assert!(sem.acquire_arc_timeout(Duration::from_millis(5)).await.is_err());
    /// # });
    /// ```
    pub fn acquire_arc_timeout(self: &Arc<Self>, timeout: Duration) -> SemaphoreAcquireArcTimeout {
        self.acquire_many_arc_timeout(1, timeout)
    }

    /// Like [`acquire_many_timeout`](Semaphore::acquire_many_timeout), for
    /// an `Arc`'d semaphore.
    ///
    /// # Cancel safety
    ///
    /// As for [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let sem = Arc::new(rallypoint::Semaphore::new(3));
    /// let permit = sem.acquire_many_arc_timeout(3, Duration::from_secs(1)).await.unwrap();
    /// assert_eq!(permit.num_permits(), 3);
    /// # });
    /// ```
    pub fn acquire_many_arc_timeout(
        self: &Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> SemaphoreAcquireArcTimeout {
        let (try_only, deadline) = timeout_mode(timeout);
        SemaphoreAcquireArcTimeout {
            inner: Timed::new(Semaphore::acquire_op(self.clone(), n, try_only), deadline),
        }
    }

    /// Blocking form of [`acquire_arc_timeout`](Semaphore::acquire_arc_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// assert!(sem.acquire_arc_timeout_blocking(Duration::from_millis(5)).is_ok());
    /// ```
    pub fn acquire_arc_timeout_blocking(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<SemaphorePermitArc, AcquireTimeoutError> {
        self.acquire_many_arc_timeout_blocking(1, timeout)
    }

    /// Blocking form of
    /// [`acquire_many_arc_timeout`](Semaphore::acquire_many_arc_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// let err = sem.acquire_many_arc_timeout_blocking(2, Duration::ZERO).unwrap_err();
    /// assert!(err.is_timeout());
    /// ```
    pub fn acquire_many_arc_timeout_blocking(
        self: &Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermitArc, AcquireTimeoutError> {
        self.acquire_many_arc_timeout(n, timeout).inner.block()
    }
}

/// `Duration::ZERO` → try once, no deadline; otherwise the (saturating)
/// deadline.
fn timeout_mode(timeout: Duration) -> (bool, Option<Instant>) {
    if timeout.is_zero() {
        (true, None)
    } else {
        (false, deadline_after(timeout))
    }
}

/// Maps the op's error for the front-ends without a deadline (which cannot
/// time out).
fn acquire_error(err: AcquireTimeoutError) -> AcquireError {
    match err {
        AcquireTimeoutError::ExceedsBound => AcquireError::ExceedsBound,
        AcquireTimeoutError::Closed | AcquireTimeoutError::Timeout => AcquireError::Closed,
    }
}

impl Default for Semaphore {
    /// One permit, like Python's `Semaphore()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::default();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    fn default() -> Self {
        Semaphore::new(1)
    }
}

impl fmt::Debug for Semaphore {
    /// Shows the live state, like Python's repr: `value=2/3` for a bounded
    /// semaphore, `value=2` otherwise, plus the number of queued waiters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let waiters = lock(&self.waiters).queue.len();
        let mut s = f.debug_struct("Semaphore");
        if self.bounded {
            s.field(
                "value",
                &format_args!("{}/{}", self.available_permits(), self.bound),
            );
        } else {
            s.field("value", &self.available_permits());
        }
        s.field("waiters", &waiters)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
///
/// # Examples
///
/// ```
/// let sem = rallypoint::Semaphore::new(2);
/// {
///     let permit = sem.try_acquire_many(2).unwrap();
///     assert_eq!(permit.num_permits(), 2);
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: usize,
}

impl SemaphorePermit<'_> {
    /// Consumes the permit without giving its permits back: the semaphore's
    /// count stays lower (Python's `acquire()` without `release()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(2);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// The number of permits this permit holds.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = rallypoint::Semaphore::new(3);
    /// assert_eq!(sem.try_acquire_many(3).unwrap().num_permits(), 3);
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: clamped at the bound (see `Semaphore::bounded`).
        let _ = self.sem.add_permits(self.n, true);
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Permits taken from an `Arc<Semaphore>` with
/// [`acquire_arc`](Semaphore::acquire_arc) and friends; it owns a clone of
/// the `Arc`, and dropping it gives the permits back.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let sem = Arc::new(rallypoint::Semaphore::new(1));
/// let permit = sem.try_acquire_arc().unwrap();
/// std::thread::spawn(move || {
///     let _permit = permit; // released when the thread ends
/// })
/// .join()
/// .unwrap();
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct SemaphorePermitArc {
    sem: Arc<Semaphore>,
    n: usize,
}

impl SemaphorePermitArc {
    /// Consumes the permit without giving its permits back.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(1));
    /// sem.try_acquire_arc().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// The number of permits this permit holds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// let sem = Arc::new(rallypoint::Semaphore::new(2));
    /// assert_eq!(sem.try_acquire_many_arc(2).unwrap().num_permits(), 2);
    /// ```
    #[must_use]
    pub fn num_permits(&self) -> usize {
        self.n
    }
}

impl Drop for SemaphorePermitArc {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: clamped at the bound (see `Semaphore::bounded`).
        let _ = self.sem.add_permits(self.n, true);
    }
}

impl fmt::Debug for SemaphorePermitArc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermitArc")
            .field("permits", &self.n)
            .finish()
    }
}

/// How an acquire refers to its semaphore and builds its permit: borrowed
/// (`&Semaphore` → [`SemaphorePermit`]) or owned (`Arc` →
/// [`SemaphorePermitArc`]).
pub(crate) trait Handle {
    type Permit;
    fn semaphore(&self) -> &Semaphore;
    fn permit(&self, n: usize) -> Self::Permit;
}

impl<'a> Handle for &'a Semaphore {
    type Permit = SemaphorePermit<'a>;

    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self
    }

    #[inline]
    fn permit(&self, n: usize) -> SemaphorePermit<'a> {
        SemaphorePermit { sem: self, n }
    }
}

impl Handle for Arc<Semaphore> {
    type Permit = SemaphorePermitArc;

    #[inline]
    fn semaphore(&self) -> &Semaphore {
        self
    }

    #[inline]
    fn permit(&self, n: usize) -> SemaphorePermitArc {
        SemaphorePermitArc {
            sem: self.clone(),
            n,
        }
    }
}

enum Phase {
    /// Not yet tried.
    Start,
    /// In the queue as waiter `id`.
    Queued(u64),
    /// Finished (or settled by a timeout).
    Done,
}

/// The state machine behind every waiting acquire.
pub(crate) struct AcquireOp<S: Handle> {
    handle: S,
    n: usize,
    /// `Duration::ZERO`: try once, never queue.
    try_only: bool,
    phase: Phase,
}

impl<S: Handle> AcquireOp<S> {
    fn outcome(&self, wake: Wake) -> Result<S::Permit, AcquireTimeoutError> {
        match wake {
            Wake::Granted => Ok(self.handle.permit(self.n)),
            Wake::Closed => Err(AcquireTimeoutError::Closed),
        }
    }
}

impl<S: Handle> Op for AcquireOp<S> {
    type Output = Result<S::Permit, AcquireTimeoutError>;

    // The waiter queue keeps wakers itself and wakes them deferred.
    const OWN_WAKERS: bool = true;

    #[inline]
    fn poll_fast(&mut self) -> Option<Self::Output> {
        // Only the lock-free first try; anything else goes through
        // `poll_op`, which tries again (one extra load on the slow path).
        if !matches!(self.phase, Phase::Start) {
            return None;
        }
        let result = match self.handle.semaphore().try_take(self.n) {
            TryTake::Taken => Ok(self.handle.permit(self.n)),
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
        match self.phase {
            Phase::Start => {
                // The lock-free try first (the same one `Timed` runs before
                // entering its wake section), then the queue.
                if let Some(out) = self.poll_fast() {
                    return Poll::Ready(out);
                }
                let sem = self.handle.semaphore();
                let result = if self.n > sem.bound {
                    Err(AcquireTimeoutError::ExceedsBound)
                } else if self.try_only {
                    Err(AcquireTimeoutError::Timeout)
                } else {
                    match sem.take_or_enqueue(self.n, cx.waker()) {
                        Enqueue::Taken => Ok(()),
                        Enqueue::Closed => Err(AcquireTimeoutError::Closed),
                        Enqueue::Queued(id) => {
                            // Queued with our waker: any grant wakes us.
                            self.phase = Phase::Queued(id);
                            return Poll::Pending;
                        }
                    }
                };
                self.phase = Phase::Done;
                Poll::Ready(result.map(|()| self.handle.permit(self.n)))
            }
            Phase::Queued(id) => match self.handle.semaphore().poll_queued(id, cx.waker()) {
                Some(wake) => {
                    self.phase = Phase::Done;
                    Poll::Ready(self.outcome(wake))
                }
                None => Poll::Pending,
            },
            Phase::Done => unreachable!("semaphore acquire polled after completion"),
        }
    }

    fn on_timeout(&mut self) -> Self::Output {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Queued(id) => {
                let sem = self.handle.semaphore();
                match sem.withdraw(id, self.n, false) {
                    // A grant raced with the deadline: keep the permits.
                    Some(wake) => self.outcome(wake),
                    None => Err(AcquireTimeoutError::Timeout),
                }
            }
            // `Timed` polls before checking the deadline, so the op has
            // at least been tried.
            Phase::Start | Phase::Done => Err(AcquireTimeoutError::Timeout),
        }
    }
}

impl<S: Handle> Drop for AcquireOp<S> {
    fn drop(&mut self) {
        if let Phase::Queued(id) = std::mem::replace(&mut self.phase, Phase::Done) {
            // Gives granted permits back to the next waiters.
            self.handle.semaphore().withdraw(id, self.n, true);
        }
    }
}

impl<S: Handle> fmt::Debug for AcquireOp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let phase = match &self.phase {
            Phase::Start => "start",
            Phase::Queued { .. } => "queued",
            Phase::Done => "done",
        };
        f.debug_struct("AcquireOp")
            .field("permits", &self.n)
            .field("phase", &phase)
            .finish()
    }
}

named_future! {
    /// Future returned by [`Semaphore::acquire`] and
    /// [`Semaphore::acquire_many`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Semaphore;
    /// use rallypoint::futures::SemaphoreAcquire;
    /// let sem = Semaphore::new(1);
    /// let future: SemaphoreAcquire<'_> = sem.acquire();
    /// assert_eq!(future.await.unwrap().num_permits(), 1);
    /// # });
    /// ```
    pub struct SemaphoreAcquire<'a>(AcquireOp<&'a Semaphore>)
        -> Result<SemaphorePermit<'a>, AcquireError>;
    |result| result.map_err(acquire_error)
}

named_future! {
    /// Future returned by [`Semaphore::acquire_timeout`] and
    /// [`Semaphore::acquire_many_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Semaphore;
    /// use rallypoint::futures::SemaphoreAcquireTimeout;
    /// use std::time::Duration;
    /// let sem = Semaphore::new(0);
    /// let future: SemaphoreAcquireTimeout<'_> = sem.acquire_timeout(Duration::from_millis(1));
    /// assert!(future.await.unwrap_err().is_timeout());
    /// # });
    /// ```
    pub struct SemaphoreAcquireTimeout<'a>(AcquireOp<&'a Semaphore>)
        -> Result<SemaphorePermit<'a>, AcquireTimeoutError>;
    |result| result
}

/// Future returned by [`Semaphore::acquire_arc`] and
/// [`Semaphore::acquire_many_arc`]. It owns a clone of the `Arc`, so it is
/// `'static` and can be spawned.
///
/// # Examples
///
/// ```
/// use rallypoint::Semaphore;
/// use rallypoint::futures::SemaphoreAcquireArc;
/// use std::sync::Arc;
/// let sem = Arc::new(Semaphore::new(1));
/// let future: SemaphoreAcquireArc = sem.acquire_arc();
/// let permit = std::thread::spawn(move || futures_lite::future::block_on(future))
///     .join()
///     .unwrap()
///     .unwrap();
/// assert_eq!(permit.num_permits(), 1);
/// ```
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for
/// most futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SemaphoreAcquireArc {
    inner: Timed<AcquireOp<Arc<Semaphore>>>,
}

impl Future for SemaphoreAcquireArc {
    type Output = Result<SemaphorePermitArc, AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner
            .poll(cx)
            .map(|result| result.map_err(acquire_error))
    }
}

impl fmt::Debug for SemaphoreAcquireArc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquireArc")
            .finish_non_exhaustive()
    }
}

/// Future returned by [`Semaphore::acquire_arc_timeout`] and
/// [`Semaphore::acquire_many_arc_timeout`].
///
/// # Examples
///
/// ```
/// # futures_lite::future::block_on(async {
/// use rallypoint::Semaphore;
/// use rallypoint::futures::SemaphoreAcquireArcTimeout;
/// use std::sync::Arc;
/// use std::time::Duration;
/// let sem = Arc::new(Semaphore::new(2));
/// let future: SemaphoreAcquireArcTimeout = sem.acquire_many_arc_timeout(2, Duration::from_secs(1));
/// assert_eq!(future.await.unwrap().num_permits(), 2);
/// # });
/// ```
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for
/// most futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct SemaphoreAcquireArcTimeout {
    inner: Timed<AcquireOp<Arc<Semaphore>>>,
}

impl Future for SemaphoreAcquireArcTimeout {
    type Output = Result<SemaphorePermitArc, AcquireTimeoutError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.poll(cx)
    }
}

impl fmt::Debug for SemaphoreAcquireArcTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreAcquireArcTimeout")
            .finish_non_exhaustive()
    }
}
