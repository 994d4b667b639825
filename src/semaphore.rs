//! [`Semaphore`]: a fair counting semaphore for tasks and threads
//! (Python's `threading.Semaphore` and `BoundedSemaphore`).
//!
//! This file is the public API; the algorithm (state layout, invariants,
//! why it is fair, why cancellation cannot leak a permit, memory ordering)
//! is in `semaphore/raw.rs`; the permit type, the named futures and the
//! errors have a file each beside it.

mod error;
mod futures;
mod permit;
mod raw;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

pub use error::{AcquireError, AcquireTimeoutError, ReleaseError, TryAcquireError};
pub use futures::{
    SemaphoreAcquire, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout, SemaphoreAcquireTimeout,
};
pub use permit::{SemaphorePermit, SemaphorePermitArc, SemaphorePermitOf};
use raw::{AcquireOp, RawSemaphore, TryTake};

use crate::Fairness;
use crate::engine::deadline_after;
use crate::sync::loom_const_fn;

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
/// Waiters are served in the order they began waiting. By default the
/// semaphore is **eventually fair** ([`Fairness::Eventual`], SPEC §0): a
/// released permit goes back to the count and the oldest waiter is woken to
/// take it, while a caller that is running right now may take it first —
/// until the oldest waiter has been passed over for longer than the bound
/// (1 ms), after which permits are handed to waiters directly and nobody
/// barges. A waiter asking for many permits is therefore never starved by a
/// stream of small acquires, and threads that outnumber the CPUs do not
/// wait for one wake-up per handoff. [`with_fairness`](Semaphore::with_fairness)
/// with [`Fairness::Strict`] gives tokio's semantics instead: once a waiter
/// is queued, neither a later `acquire` nor
/// [`try_acquire`](Semaphore::try_acquire) can take permits ahead of it.
/// Without waiters, acquiring and releasing are a single atomic operation
/// each.
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
    raw: RawSemaphore,
}

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
    pub const MAX_PERMITS: usize = raw::MAX_PERMITS;

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
            Semaphore {
                raw: RawSemaphore::new(permits, Semaphore::MAX_PERMITS, false),
            }
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
            Semaphore {
                raw: RawSemaphore::new(permits, permits, true),
            }
        }
    }

    /// Sets how released permits are shared between waiters and running
    /// callers (see [`Fairness`]); the default is
    /// [`Fairness::Eventual`] with a 1 ms bound. Call it when building the
    /// semaphore, before it is shared.
    ///
    /// With [`Fairness::Strict`], once a waiter is queued, released permits
    /// go to the oldest waiter first and neither `acquire` nor
    /// `try_acquire` can take permits ahead of it (tokio's semantics).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Fairness, Semaphore};
    ///
    /// let sem = Semaphore::bounded(2).with_fairness(Fairness::Strict);
    /// assert_eq!(sem.fairness(), Fairness::Strict);
    /// assert_eq!(Semaphore::new(1).fairness(), Fairness::default());
    /// ```
    #[must_use]
    pub fn with_fairness(mut self, fairness: Fairness) -> Semaphore {
        self.raw.set_fairness(fairness);
        self
    }

    /// The fairness policy this semaphore was built with.
    #[must_use]
    pub fn fairness(&self) -> Fairness {
        self.raw.fairness()
    }

    /// The number of permits available now. Permits set aside for the
    /// oldest waiter (which is waiting for more) are counted, and so are
    /// permits the woken oldest waiter is about to take (eventual fairness).
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
        self.raw.available()
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
        self.raw.close();
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
        self.raw.is_closed()
    }

    /// Adds `n` permits: Python's `release(n)`. The oldest waiters are
    /// served first, as far as the new permits go (with eventual
    /// [`Fairness`], the oldest waiter is woken to take them and a running
    /// caller may get there first).
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
        self.raw.add_permits(n, false)
    }

    /// The blocking forms' first attempt, made before any op exists: the
    /// lock-free take that the op's own first step would make
    /// (`AcquireOp::poll_fast`), so that an acquire that does not wait
    /// builds and drops no op and no driver (on an uncontended
    /// `acquire_blocking` those cost as much as the take itself). Anything
    /// but success (no permits, closed, `n` above the bound) is left to
    /// the op — which then starts with a pause (`block_after_try`) — and
    /// it reports the failure in its own error type.
    #[inline]
    fn take_at_once(&self, n: usize) -> bool {
        matches!(self.raw.try_take(n), TryTake::Taken)
    }

    /// Takes `n` permits without waiting, for `try_acquire_many(_arc)`.
    fn try_acquire_inner(&self, n: usize) -> Result<(), TryAcquireError> {
        match self.raw.try_take(n) {
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
        Ok(SemaphorePermitOf { sem: self, n })
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
        Ok(SemaphorePermitOf {
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
        SemaphoreAcquire::new(AcquireOp::new(self, n), None)
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
        if self.take_at_once(n) {
            return Ok(SemaphorePermitOf { sem: self, n });
        }
        self.acquire_many(n).block_after_try()
    }

    /// Waits for one permit for at most `timeout`; see
    /// [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
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
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
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
        SemaphoreAcquireTimeout::new(AcquireOp::new(self, n), deadline_after(timeout))
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
        if self.take_at_once(n) {
            return Ok(SemaphorePermitOf { sem: self, n });
        }
        self.acquire_many_timeout(n, timeout).block_after_try()
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
        SemaphoreAcquireArc::new(AcquireOp::new(self.clone(), n), None)
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
        if self.take_at_once(n) {
            return Ok(SemaphorePermitOf {
                sem: self.clone(),
                n,
            });
        }
        self.acquire_many_arc(n).block_after_try()
    }

    /// Like [`acquire_timeout`](Semaphore::acquire_timeout), for an `Arc`'d
    /// semaphore.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
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
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
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
        SemaphoreAcquireArcTimeout::new(AcquireOp::new(self.clone(), n), deadline_after(timeout))
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
        if self.take_at_once(n) {
            return Ok(SemaphorePermitOf {
                sem: self.clone(),
                n,
            });
        }
        self.acquire_many_arc_timeout(n, timeout).block_after_try()
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
        let waiters = self.raw.waiting();
        let mut s = f.debug_struct("Semaphore");
        if let Some(bound) = self.raw.bound() {
            s.field(
                "value",
                &format_args!("{}/{bound}", self.available_permits()),
            );
        } else {
            s.field("value", &self.available_permits());
        }
        s.field("waiters", &waiters)
            .field("closed", &self.is_closed())
            .finish()
    }
}
