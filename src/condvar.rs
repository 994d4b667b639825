//! [`Condvar`] and [`Condition`]: condition variables for tasks and threads
//! at once (Python's `threading.Condition`).
//!
//! A [`Condvar`] works with the async [`Mutex`] (async-lock's, wrapped): a
//! wait takes the mutex's [`MutexGuard`], releases the lock while it waits,
//! and gives the guard back once it has been notified and has locked the
//! mutex again ([`MutexGuard::source`] tells it which mutex to relock; the
//! relock waits on the async-lock mutex inside it).
//! [`Condition`] (in `condvar/condition.rs`) bundles a `Mutex<T>` and a
//! `Condvar`, Python style.
//!
//! # State machine
//!
//! Each wait is one state machine (`WaitOp`, in `condvar/wait.rs`), driven
//! by the crate's engine both asynchronously and by blocking:
//!
//! ```text
//!            predicate says "keep waiting"         notified
//!  Locked ─────────────────────────────────▶ Waiting ─────────▶ Relocking
//!    ▲        register, THEN unlock                                 │
//!    └──────────────────────── lock acquired ───────────────────────┘
//!  Locked ── predicate says "done" (a plain `wait`: after one
//!            notification) ──▶ return the guard
//! ```
//!
//! The waiters are the crate's [`WaitList`](crate::waiters::WaitList), under
//! the condvar's own small mutex. `notify(n)` removes the `n` oldest waiters
//! from the list and wakes them: being gone from the list *is* having been
//! notified.
//!
//! * **No lost wakeups.** A waiter joins the list *while the caller's mutex
//!   is still held*, and only then drops the guard. A notifier that changed
//!   the state under the lock either did so before the waiter locked (the
//!   waiter's check sees the change) or after the waiter unlocked, and then
//!   its `notify` runs after the registration (unlock → lock → notify is a
//!   happens-before chain), so it finds the waiter.
//! * **Counting notifications.** Notified waiters leave the list, so
//!   `notify(n)` can only pick waiters not notified yet, and two quick
//!   `notify_one()`s wake two distinct waiters. A notification with nobody
//!   in the list is not stored.
//! * **No spurious wakeups.** A waiter leaves `Waiting` only when it finds
//!   itself removed from the list, so while nobody cancels, `wait` returns
//!   only after a notify picked it.
//! * **Cancellation hands notifications on.** Dropped in `Waiting`, a
//!   waiter that finds itself already removed (notified) calls `notify(1)`;
//!   dropped in `Relocking`, its `Relock` does the same for the
//!   notification it consumed.
//! * **Deadlines.** When the deadline passes, `on_timeout` withdraws the
//!   waiter; if it was already gone, a notification raced with the deadline
//!   and the waiter keeps it (it reports "not timed out" for a plain wait,
//!   and is re-checked for `wait_while`). The waiter then relocks without a
//!   deadline — a wait never gives back a guard it does not hold — which
//!   may take a further wait for the mutex (`on_timeout` returns
//!   `Pending`).
//!
//! # Memory ordering
//!
//! The waiter list is only touched under its mutex; the data is protected
//! by the user's mutex, whose unlock/lock pairs order everything else.

mod condition;
pub(crate) mod wait;

use std::fmt;
use std::time::Duration;

pub use condition::{Condition, ConditionGuard, ConditionLock};
pub use condition::{
    ConditionWait, ConditionWaitTimeout, ConditionWaitWhile, ConditionWaitWhileTimeout,
};
use wait::wait_future;

use crate::engine::deadline_after;
#[cfg(doc)]
use crate::mutex::Mutex;
use crate::mutex::MutexGuard;
use crate::sync::{Mutex as StateMutex, lock, loom_const_fn};
use crate::waiters::WaitList;

/// A condition variable for the async [`Mutex`], usable by tasks and
/// threads at once: the waiting half of Python's `threading.Condition`.
///
/// A task or thread holding the mutex calls [`wait`](Condvar::wait) (or
/// [`wait_blocking`](Condvar::wait_blocking)) with its guard: the lock is
/// released while it waits and taken again before the guard is handed
/// back. Another party changes the protected state under the lock and calls
/// [`notify_one`](Condvar::notify_one), [`notify`](Condvar::notify) or
/// [`notify_all`](Condvar::notify_all).
///
/// Guarantees (the implementation notes at the top of `src/condvar.rs`
/// explain how):
///
/// * **No lost wakeups**: a notify that runs after a waiter released the
///   lock wakes it.
/// * **Exact counts**: `notify(n)` wakes up to `n` of the parties waiting at
///   that moment, oldest first, and returns how many; successive
///   `notify_one()`s wake distinct waiters; a notify with nobody waiting
///   does nothing and is not remembered.
/// * **No spurious wakeups** while nobody cancels: a wait returns only after
///   a notification was delivered to it. (Code that must also tolerate
///   other waiters changing the state first should still re-check it: use
///   [`wait_while`](Condvar::wait_while).)
/// * **Cancel safety**: a notified waiter that is dropped before it gets the
///   lock back passes its notification on to another waiter.
///
/// The caller of a notify method does not need to hold the mutex. What
/// must happen under the lock is the *change of state* that the waiters
/// test; notifying right after unlocking is fine and saves the woken waiter
/// from bumping into a held lock.
///
/// A waker is never called under a lock, including async-lock's: a
/// notified async waiter that finds the mutex held waits in async-lock's
/// list through a wrapper, and when the holder's `MutexGuard` is dropped
/// outside rallypoint, its wake is run by rallypoint's wake thread (one per
/// process, started on first use) rather than inside async-lock's unlock.
/// [`Condition`]'s guard unlocks inside rallypoint and wakes directly.
///
/// One `Condvar` is normally used with one mutex. Using it with several is
/// allowed (nothing panics, nothing is unsound), but a notification then
/// goes to whichever waiter is oldest, whatever its mutex.
///
/// # Examples
///
/// ```
/// use rallypoint::{Condvar, Mutex};
/// use std::sync::Arc;
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new()));
/// let thread = {
///     let pair = pair.clone();
///     std::thread::spawn(move || {
///         let (ready, condvar) = &*pair;
///         *ready.lock_blocking() = true;
///         condvar.notify_all();
///     })
/// };
/// futures_lite::future::block_on(async {
///     let (ready, condvar) = &*pair;
///     let guard = condvar.wait_while(ready.lock().await, |ready| !*ready).await;
///     assert!(*guard);
/// });
/// thread.join().unwrap();
/// ```
pub struct Condvar {
    /// The waiters not notified yet, oldest first (see the module docs).
    waiters: StateMutex<WaitList<()>>,
}

/// Whether a timed condvar wait returned because its timeout elapsed.
///
/// # Examples
///
/// ```
/// use rallypoint::{Condvar, Mutex};
/// use std::time::Duration;
///
/// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
/// let (_guard, result) =
///     condvar.wait_timeout_blocking(mutex.lock_blocking(), Duration::from_millis(10));
/// assert!(result.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    #[cfg(all(target_os = "linux", feature = "process", not(loom)))]
    pub(crate) fn new(timed_out: bool) -> WaitTimeoutResult {
        WaitTimeoutResult(timed_out)
    }

    /// `true` if the wait ended because the timeout elapsed: for a plain
    /// wait, no notification arrived in time; for a `wait_while` form, the
    /// predicate still asked to wait when the time was up.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    /// // The predicate is false at once: no waiting, no timeout.
    /// let (_guard, result) = condvar.wait_while_timeout_blocking(
    ///     mutex.lock_blocking(),
    ///     |n| *n > 0,
    ///     Duration::from_secs(1),
    /// );
    /// assert!(!result.timed_out());
    /// ```
    #[must_use]
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// The predicate type of plain waits (never called: a plain wait ends after
/// one notification).
type NoPredicate<T> = fn(&mut T) -> bool;

impl Condvar {
    loom_const_fn! {
        /// Creates a condition variable with no waiters.
        ///
        /// # Examples
        ///
        /// ```
        /// static CONDVAR: rallypoint::Condvar = rallypoint::Condvar::new();
        /// assert_eq!(CONDVAR.notify_all(), 0);
        /// ```
        #[must_use]
        pub const fn new() -> Condvar {
            Condvar {
                waiters: StateMutex::new(WaitList::new()),
            }
        }
    }

    /// Releases the lock held by `guard`, waits for a notification, locks
    /// the mutex again and returns the guard.
    ///
    /// The lock is released only after this waiter is registered, so a
    /// notify that runs after the release wakes it (once the future is
    /// polled: registration happens on the first poll). It returns only
    /// after a notification was delivered to it; other parties may still
    /// have changed the state before it relocked, so re-check it, or use
    /// [`wait_while`](Condvar::wait_while).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe; whatever the point of the drop, the mutex is left
    /// unlocked by this waiter and other waiters are unaffected:
    ///
    /// * never polled: the guard inside is dropped, which unlocks the mutex;
    /// * waiting for a notification: the waiter is withdrawn; if a
    ///   notification had already been delivered to it, it is passed on to
    ///   the next waiter;
    /// * notified, waiting to relock: its pending lock attempt is
    ///   abandoned and the notification it consumed is passed on to the next
    ///   waiter (`notify(1)`), so no notify is lost.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let (mutex, condvar) = &*pair;
    /// futures_lite::future::block_on(async {
    ///     let mut guard = mutex.lock().await;
    ///     let notifier = {
    ///         let pair = pair.clone();
    ///         std::thread::spawn(move || {
    ///             let (mutex, condvar) = &*pair;
    ///             *mutex.lock_blocking() = 1;
    ///             condvar.notify_one();
    ///         })
    ///     };
    ///     while *guard == 0 {
    ///         guard = condvar.wait(guard).await;
    ///     }
    ///     notifier.join().unwrap();
    /// });
    /// ```
    pub fn wait<'a, T: ?Sized>(&'a self, guard: MutexGuard<'a, T>) -> CondvarWait<'a, T> {
        CondvarWait::new(self, guard, None, None)
    }

    /// Blocking form of [`wait`](Condvar::wait): blocks the current thread
    /// until notified, then relocks and returns the guard.
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread. Use [`wait`](Condvar::wait) there.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(false), Condvar::new()));
    /// let waiter = {
    ///     let pair = pair.clone();
    ///     std::thread::spawn(move || {
    ///         let (mutex, condvar) = &*pair;
    ///         let mut guard = mutex.lock_blocking();
    ///         while !*guard {
    ///             guard = condvar.wait_blocking(guard);
    ///         }
    ///     })
    /// };
    /// let (mutex, condvar) = &*pair;
    /// *mutex.lock_blocking() = true;
    /// condvar.notify_all();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait_blocking<'a, T: ?Sized>(&'a self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.wait(guard).block()
    }

    /// Waits **while** `condition` returns `true`, then returns the guard
    /// (like `std::sync::Condvar::wait_while`; Python's `wait_for` waits
    /// *until* its predicate holds, so pass the negation).
    ///
    /// `condition` is called with the lock held: first at once (if it is
    /// `false`, this returns without waiting or unlocking), then after each
    /// notification. In between, the waiter waits as in
    /// [`wait`](Condvar::wait).
    ///
    /// # Cancel safety
    ///
    /// As for [`wait`](Condvar::wait): dropping the future unlocks or
    /// abandons the mutex, withdraws the waiter, and passes on a
    /// notification it had received or consumed.
    ///
    /// # Panics
    ///
    /// If `condition` panics, the panic propagates from `poll` and the lock
    /// is released (there is no poisoning). Panics if polled again after it
    /// completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::sync::Arc;
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let counter = {
    ///     let pair = pair.clone();
    ///     std::thread::spawn(move || {
    ///         let (mutex, condvar) = &*pair;
    ///         for _ in 0..3 {
    ///             *mutex.lock_blocking() += 1;
    ///             condvar.notify_all();
    ///         }
    ///     })
    /// };
    /// futures_lite::future::block_on(async {
    ///     let (mutex, condvar) = &*pair;
    ///     let guard = condvar.wait_while(mutex.lock().await, |n| *n < 3).await;
    ///     assert_eq!(*guard, 3);
    /// });
    /// counter.join().unwrap();
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while<'a, T, F>(
        &'a self,
        guard: MutexGuard<'a, T>,
        condition: F,
    ) -> CondvarWaitWhile<'a, T, F>
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        CondvarWaitWhile::new(self, guard, Some(condition), None)
    }

    /// Blocking form of [`wait_while`](Condvar::wait_while).
    ///
    /// This must not be called from async code.
    ///
    /// # Panics
    ///
    /// If `condition` panics, the panic propagates and the lock is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    ///
    /// let (mutex, condvar) = (Mutex::new(5), Condvar::new());
    /// // Already false: returns at once.
    /// let guard = condvar.wait_while_blocking(mutex.lock_blocking(), |n| *n < 5);
    /// assert_eq!(*guard, 5);
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_blocking<'a, T, F>(
        &'a self,
        guard: MutexGuard<'a, T>,
        condition: F,
    ) -> MutexGuard<'a, T>
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while(guard, condition).block()
    }

    /// Like [`wait`](Condvar::wait), but gives up waiting for a notification
    /// after `timeout`. Resolves to the guard (always relocked: the lock is
    /// taken again after the timeout, which may take longer) and whether the
    /// wait timed out.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// A notification that arrives at the same moment as the deadline is
    /// never lost: either this waiter keeps it (and reports
    /// `timed_out() == false`) or it was never delivered here. The timer is
    /// runtime-agnostic (see the crate's engine): this works under any
    /// executor. `Duration::ZERO` releases and retakes the lock and reports
    /// a timeout unless a notification was already there.
    ///
    /// # Cancel safety
    ///
    /// As for [`wait`](Condvar::wait). A future dropped while relocking
    /// after its timeout passes nothing on unless it had been notified.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let guard = mutex.lock().await;
    /// let (guard, result) = condvar.wait_timeout(guard, Duration::from_millis(10)).await;
    /// assert!(result.timed_out());
    /// drop(guard);
    /// # });
    /// ```
    pub fn wait_timeout<'a, T: ?Sized>(
        &'a self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> CondvarWaitTimeout<'a, T> {
        CondvarWaitTimeout::new(self, guard, None, deadline_after(timeout))
    }

    /// Blocking form of [`wait_timeout`](Condvar::wait_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, result) =
    ///     condvar.wait_timeout_blocking(mutex.lock_blocking(), Duration::from_millis(10));
    /// assert!(result.timed_out());
    /// ```
    pub fn wait_timeout_blocking<'a, T: ?Sized>(
        &'a self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        self.wait_timeout(guard, timeout).block()
    }

    /// Like [`wait_while`](Condvar::wait_while), with an overall `timeout`.
    /// Resolves to the guard and whether the time ran out *with the
    /// predicate still true* (`std`'s `wait_timeout_while` semantics: the
    /// predicate is checked one last time after the deadline).
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As for [`wait`](Condvar::wait).
    ///
    /// # Panics
    ///
    /// If `condition` panics, the panic propagates and the lock is released.
    /// Panics if polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    /// let (guard, result) = condvar
    ///     .wait_while_timeout(mutex.lock().await, |n| *n < 4, Duration::from_millis(10))
    ///     .await;
    /// assert!(result.timed_out());
    /// assert_eq!(*guard, 0);
    /// # });
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_timeout<'a, T, F>(
        &'a self,
        guard: MutexGuard<'a, T>,
        condition: F,
        timeout: Duration,
    ) -> CondvarWaitWhileTimeout<'a, T, F>
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        CondvarWaitWhileTimeout::new(self, guard, Some(condition), deadline_after(timeout))
    }

    /// Blocking form of [`wait_while_timeout`](Condvar::wait_while_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Panics
    ///
    /// If `condition` panics, the panic propagates and the lock is released.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::time::Duration;
    ///
    /// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    /// let (guard, result) = condvar.wait_while_timeout_blocking(
    ///     mutex.lock_blocking(),
    ///     |n| *n < 4,
    ///     Duration::from_millis(10),
    /// );
    /// assert!(result.timed_out());
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_timeout_blocking<'a, T, F>(
        &'a self,
        guard: MutexGuard<'a, T>,
        condition: F,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult)
    where
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_timeout(guard, condition, timeout).block()
    }

    /// Wakes the oldest waiter that has not been notified yet; returns
    /// `true` if there was one. With nobody waiting it does nothing (the
    /// notification is not stored). Two calls wake two distinct waiters.
    ///
    /// The caller need not hold the mutex (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let condvar = rallypoint::Condvar::new();
    /// assert!(!condvar.notify_one()); // nobody waiting: not stored
    /// ```
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes up to `n` of the parties waiting at this moment (oldest first,
    /// skipping those already notified) and returns how many it woke.
    /// Python's `Condition.notify(n)`. `notify(0)` does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Condvar, Mutex};
    /// use std::pin::pin;
    /// use std::future::Future;
    /// use std::task::{Context, Waker};
    ///
    /// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
    /// let mut wait = pin!(condvar.wait(mutex.lock_blocking()));
    /// let mut cx = Context::from_waker(Waker::noop());
    /// assert!(wait.as_mut().poll(&mut cx).is_pending()); // registered
    /// assert_eq!(condvar.notify(5), 1); // only one was waiting
    /// assert!(wait.as_mut().poll(&mut cx).is_ready());
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        // Notified waiters leave the list, so only waiters not notified yet
        // can be picked. The wakes run after the list's lock is released.
        let mut waiters = lock(&self.waiters);
        let mut woken = 0;
        while woken < n && waiters.wake_front().is_some() {
            woken += 1;
        }
        woken
    }

    /// Wakes every party waiting at this moment and returns how many it
    /// woke. Python's `Condition.notify_all()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let condvar = rallypoint::Condvar::new();
    /// assert_eq!(condvar.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }
}

impl Condvar {
    /// The parties waiting for a notification now (not counting notified
    /// ones that have not relocked yet).
    fn waiting(&self) -> usize {
        lock(&self.waiters).len()
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    /// Shows `waiters`: the parties waiting for a notification.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiting())
            .finish()
    }
}

wait_future! {
    /// Future returned by [`Condvar::wait`]; resolves to the relocked guard.
    pub struct CondvarWait<'a, T>(predicate: NoPredicate<T>) -> MutexGuard<'a, T>;
    |_condvar, (guard, _)| guard
}

wait_future! {
    /// Future returned by [`Condvar::wait_while`]; resolves to the relocked
    /// guard once the predicate returns `false`.
    pub struct CondvarWaitWhile<'a, T, F>(predicate: F) -> MutexGuard<'a, T>;
    |_condvar, (guard, _)| guard
}

wait_future! {
    /// Future returned by [`Condvar::wait_timeout`]; resolves to the relocked
    /// guard and whether the wait timed out.
    pub struct CondvarWaitTimeout<'a, T>(predicate: NoPredicate<T>)
        -> (MutexGuard<'a, T>, WaitTimeoutResult);
    |_condvar, (guard, timed_out)| (guard, WaitTimeoutResult(timed_out))
}

wait_future! {
    /// Future returned by [`Condvar::wait_while_timeout`]; resolves to the
    /// relocked guard and whether the time ran out with the predicate still
    /// true.
    pub struct CondvarWaitWhileTimeout<'a, T, F>(predicate: F)
        -> (MutexGuard<'a, T>, WaitTimeoutResult);
    |_condvar, (guard, timed_out)| (guard, WaitTimeoutResult(timed_out))
}
