//! [`Condvar`] and [`Condition`]: condition variables for tasks and threads
//! at once (Python's `threading.Condition`).
//!
//! A [`Condvar`] works with the async [`Mutex`] re-exported from async-lock:
//! a wait takes the mutex's [`MutexGuard`], releases the lock while it
//! waits, and gives the guard back once it has been notified and has locked
//! the mutex again ([`MutexGuard::source`] tells it which mutex to relock).
//! [`Condition`] bundles a `Mutex<T>` and a `Condvar`, Python style.
//!
//! # State machine
//!
//! Each wait is one state machine (`WaitOp`), driven by the crate's engine
//! both asynchronously and by blocking:
//!
//! ```text
//!            predicate says "keep waiting"         notified
//!  Locked ─────────────────────────────────▶ Waiting ─────────▶ Relocking
//!    ▲      register listener, THEN unlock                          │
//!    └──────────────────────── lock acquired ───────────────────────┘
//!  Locked ── predicate says "done" (a plain `wait`: after one
//!            notification) ──▶ return the guard
//! ```
//!
//! * **No lost wakeups.** The listener is registered on the condvar's
//!   [`event_listener::Event`] *while the mutex is still held*, and only then
//!   is the guard dropped. A notifier that changed the state under the lock
//!   either did so before the waiter locked (the waiter's check sees the
//!   change) or after the waiter unlocked, and then its `notify` runs after
//!   the registration (unlock → lock → notify is a happens-before chain), so
//!   it finds the listener.
//! * **Counting notifications.** `notify(n)` is event-listener's
//!   `notify(n.additional())`: it notifies the `n` oldest listeners that
//!   have *not yet been notified*, and returns how many it found. Plain
//!   `Event::notify(n)` would mean "make sure at least `n` are notified in
//!   total" and would merge two quick `notify_one()`s into one. A
//!   notification with no listener is not stored.
//! * **No spurious wakeups.** A waiter leaves `Waiting` only when its own
//!   listener was notified, so while nobody cancels, `wait` returns only
//!   after a notify picked it.
//! * **Cancellation hands notifications on.** Dropped in `Waiting`, the
//!   listener's own drop passes a notification it had received to the next
//!   listener (event-listener propagates `additional` notifications on
//!   drop). Dropped in `Relocking`, the waiter has already consumed its
//!   notification, so `Relock`'s drop calls `notify(1.additional())` itself.
//! * **Deadlines.** When the deadline passes, `on_timeout` removes the
//!   listener with `discard()`, which reports whether a notification had
//!   arrived in the meantime; if so the waiter keeps it (it reports "not
//!   timed out" for a plain wait, and is re-checked for `wait_while`). The
//!   waiter then relocks without a deadline — a wait never gives back a
//!   guard it does not hold — first with one `try_lock`-style attempt, then,
//!   if the mutex is busy, in a second, untimed stage (`Finish`).
//!
//! # Memory ordering
//!
//! This module has no atomics of its own. The data is protected by the
//! user's mutex (whose unlock/lock pairs order everything), and the
//! listener list by event-listener's internal lock; event-listener also
//! emits a `SeqCst` fence before each notify and after each registration.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll, Waker, ready};
use std::time::{Duration, Instant};

use async_lock::futures::Lock;
use event_listener::{EventListener, IntoNotification, Listener};

use crate::engine::{Op, Timed, WakeSection, deadline_after};
use crate::mutex::{Mutex, MutexGuard};
use crate::sync::loom_const_fn;

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
    /// One listener per waiter between "registered" and "notified and
    /// resumed"; always notified with `additional` notifications.
    waiters: event_listener::Event,
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
                waiters: event_listener::Event::new(),
            }
        }
    }

    fn waiter<'a, T: ?Sized, F: FnMut(&mut T) -> bool>(
        &'a self,
        guard: MutexGuard<'a, T>,
        predicate: Option<F>,
        deadline: Option<Instant>,
    ) -> Waiter<'a, T, F> {
        let op = WaitOp {
            condvar: self,
            mutex: MutexGuard::source(&guard),
            predicate,
            phase: Phase::Locked {
                guard,
                notified: false,
            },
        };
        Waiter {
            stage: Stage::Waiting(Timed::new(op, deadline)),
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
        CondvarWait {
            waiter: self.waiter::<T, NoPredicate<T>>(guard, None, None),
            condvar: self,
        }
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
        CondvarWaitWhile {
            waiter: self.waiter(guard, Some(condition), None),
            condvar: self,
        }
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
        CondvarWaitTimeout {
            waiter: self.waiter::<T, NoPredicate<T>>(guard, None, deadline_after(timeout)),
            condvar: self,
        }
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
        CondvarWaitWhileTimeout {
            waiter: self.waiter(guard, Some(condition), deadline_after(timeout)),
            condvar: self,
        }
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
        // Wakers run after event-listener's list lock is released.
        let _wakes = WakeSection::enter();
        // `additional`: count only listeners not notified yet (see module docs).
        self.waiters.notify(n.additional())
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

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    /// Shows `waiters`: the registered waiters, including notified ones that
    /// have not resumed yet.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.waiters.total_listeners())
            .finish()
    }
}

/// Locks a mutex: one `try_lock` first, and async-lock's `Lock` future
/// (boxed, since it is `!Unpin`) only if the mutex is busy, so the
/// uncontended path does not allocate.
struct LazyLock<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    slow: Option<Pin<Box<Lock<'a, T>>>>,
}

impl<'a, T: ?Sized> LazyLock<'a, T> {
    fn new(mutex: &'a Mutex<T>) -> Self {
        LazyLock { mutex, slow: None }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        if self.slow.is_none() {
            if let Some(guard) = self.mutex.try_lock() {
                return Poll::Ready(guard);
            }
        }
        let mutex = self.mutex;
        self.slow
            .get_or_insert_with(|| Box::pin(mutex.lock()))
            .as_mut()
            .poll(cx)
    }
}

/// Takes the lock back after a wait, owning the notification the waiter
/// consumed (if any) until the lock is acquired.
struct Relock<'a, T: ?Sized> {
    condvar: &'a Condvar,
    lock: LazyLock<'a, T>,
    /// A notification was consumed and not yet turned into a return: if the
    /// relock is abandoned, it must go to another waiter.
    holds_notification: bool,
}

impl<'a, T: ?Sized> Relock<'a, T> {
    fn new(condvar: &'a Condvar, mutex: &'a Mutex<T>, notified: bool) -> Self {
        Relock {
            condvar,
            lock: LazyLock::new(mutex),
            holds_notification: notified,
        }
    }

    /// The guard, and whether this waiter had been notified.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(MutexGuard<'a, T>, bool)> {
        let guard = ready!(self.lock.poll(cx));
        let notified = std::mem::replace(&mut self.holds_notification, false);
        Poll::Ready((guard, notified))
    }
}

impl<T: ?Sized> Drop for Relock<'_, T> {
    fn drop(&mut self) {
        if self.holds_notification {
            // Cancelled after consuming a notification: hand it on, as an
            // `additional` one so it reaches a waiter not notified yet.
            self.condvar.notify(1);
        }
    }
}

/// Whether a waiter holding the lock must (still) wait: a plain wait
/// (`predicate == None`) waits until it has been notified once; a
/// `wait_while` waits while its predicate holds.
fn keep_waiting<T: ?Sized, F: FnMut(&mut T) -> bool>(
    predicate: &mut Option<F>,
    value: &mut T,
    notified: bool,
) -> bool {
    match predicate {
        None => !notified,
        Some(predicate) => predicate(value),
    }
}

enum Phase<'a, T: ?Sized> {
    /// Holding the lock: at the start (`notified == false`) and after each
    /// relock (`notified == true`).
    Locked {
        guard: MutexGuard<'a, T>,
        notified: bool,
    },
    /// Registered, lock released, waiting for a notification.
    Waiting(EventListener),
    /// Notified; taking the lock back.
    Relocking(Relock<'a, T>),
    /// Output returned (or handed to the `Finish` stage).
    Done,
}

/// The state machine behind every condvar wait (see the module docs).
///
/// Dropping it undoes whatever its phase holds through the fields' own
/// drops: a guard unlocks, a listener withdraws (passing on a notification
/// it had received), a `Relock` passes on the notification it consumed.
struct WaitOp<'a, T: ?Sized, F> {
    condvar: &'a Condvar,
    mutex: &'a Mutex<T>,
    /// `None` for a plain wait; taken by the `Finish` stage after a timeout.
    predicate: Option<F>,
    phase: Phase<'a, T>,
}

/// How a [`WaitOp`] ends: with the lock held (guard, timed out?), or — only
/// after a deadline, when the mutex was busy — with a relock still to do.
enum Settled<'a, T: ?Sized, F> {
    Locked(MutexGuard<'a, T>, bool),
    Relock(Finish<'a, T, F>),
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> WaitOp<'a, T, F> {
    /// After the deadline: relock (once without waiting, else in a
    /// `Finish` stage) and report whether the wait timed out.
    fn settle(&mut self, relock: Relock<'a, T>) -> Settled<'a, T, F> {
        let mut finish = Finish {
            relock,
            predicate: self.predicate.take(),
        };
        match finish.poll_op(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready((guard, timed_out)) => Settled::Locked(guard, timed_out),
            Poll::Pending => Settled::Relock(finish),
        }
    }
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> Op for WaitOp<'a, T, F> {
    type Output = Settled<'a, T, F>;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            // Taken out so each arm owns its state; every arm that does not
            // return puts a new phase back. If the predicate panics, the
            // guard is dropped (unlocking) and the op is left `Done`.
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Locked {
                    mut guard,
                    notified,
                } => {
                    if !keep_waiting(&mut self.predicate, &mut *guard, notified) {
                        return Poll::Ready(Settled::Locked(guard, false));
                    }
                    // Register BEFORE unlocking: no lost wakeups.
                    self.phase = Phase::Waiting(self.condvar.waiters.listen());
                    drop(guard);
                }
                Phase::Waiting(mut listener) => {
                    if Pin::new(&mut listener).poll(cx).is_pending() {
                        self.phase = Phase::Waiting(listener);
                        return Poll::Pending;
                    }
                    // Notified: the listener is spent, the notification is ours.
                    self.phase = Phase::Relocking(Relock::new(self.condvar, self.mutex, true));
                }
                Phase::Relocking(mut relock) => match relock.poll(cx) {
                    Poll::Pending => {
                        self.phase = Phase::Relocking(relock);
                        return Poll::Pending;
                    }
                    Poll::Ready((guard, notified)) => {
                        self.phase = Phase::Locked { guard, notified };
                    }
                },
                Phase::Done => panic!("condvar wait polled after completion"),
            }
        }
    }

    fn on_timeout(&mut self) -> Self::Output {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Locked {
                mut guard,
                notified,
            } => {
                let timed_out = keep_waiting(&mut self.predicate, &mut *guard, notified);
                Settled::Locked(guard, timed_out)
            }
            Phase::Waiting(listener) => {
                // `discard` withdraws the listener and tells us whether a
                // notification raced with the deadline; if so, we keep it.
                let notified = listener.discard();
                self.settle(Relock::new(self.condvar, self.mutex, notified))
            }
            Phase::Relocking(relock) => self.settle(relock),
            Phase::Done => panic!("condvar wait settled after completion"),
        }
    }
}

/// The untimed second stage of a timed wait whose deadline passed while
/// the mutex was busy: relock, then decide "timed out" from the last
/// predicate check (or, for a plain wait, from whether it was notified).
struct Finish<'a, T: ?Sized, F> {
    relock: Relock<'a, T>,
    predicate: Option<F>,
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> Op for Finish<'a, T, F> {
    type Output = (MutexGuard<'a, T>, bool);

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (mut guard, notified) = ready!(self.relock.poll(cx));
        let timed_out = keep_waiting(&mut self.predicate, &mut *guard, notified);
        Poll::Ready((guard, timed_out))
    }

    fn on_timeout(&mut self) -> Self::Output {
        // Finish always runs with `Timed::new(_, None)`: no deadline, so the
        // engine never calls this.
        unreachable!("the relock stage of a condvar wait has no deadline")
    }
}

/// Drives a wait through its stages: the (possibly timed) `WaitOp`, then,
/// only if its deadline passed while the mutex was busy, `Finish`.
struct Waiter<'a, T: ?Sized, F> {
    stage: Stage<'a, T, F>,
}

enum Stage<'a, T: ?Sized, F> {
    Waiting(Timed<WaitOp<'a, T, F>>),
    Finishing(Timed<Finish<'a, T, F>>),
    Done,
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> Waiter<'a, T, F> {
    /// The guard and whether the wait timed out.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(MutexGuard<'a, T>, bool)> {
        loop {
            match &mut self.stage {
                Stage::Waiting(timed) => match ready!(timed.poll(cx)) {
                    Settled::Locked(guard, timed_out) => {
                        self.stage = Stage::Done;
                        return Poll::Ready((guard, timed_out));
                    }
                    Settled::Relock(finish) => {
                        self.stage = Stage::Finishing(Timed::new(finish, None));
                    }
                },
                Stage::Finishing(timed) => {
                    let out = ready!(timed.poll(cx));
                    self.stage = Stage::Done;
                    return Poll::Ready(out);
                }
                Stage::Done => panic!("condvar wait polled after completion"),
            }
        }
    }

    fn block(self) -> (MutexGuard<'a, T>, bool) {
        match self.stage {
            Stage::Waiting(timed) => match timed.block() {
                Settled::Locked(guard, timed_out) => (guard, timed_out),
                Settled::Relock(finish) => Timed::new(finish, None).block(),
            },
            Stage::Finishing(timed) => timed.block(),
            Stage::Done => panic!("condvar wait polled after completion"),
        }
    }

    fn stage_name(&self) -> &'static str {
        match &self.stage {
            Stage::Waiting(_) => "waiting",
            Stage::Finishing(_) => "relocking",
            Stage::Done => "done",
        }
    }
}

/// Declares a public wait future around a [`Waiter`], mapping its
/// `(guard, timed_out)` output.
macro_rules! wait_future {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<'a, T $(, $f:ident)?>(predicate: $pred:ty) -> $out:ty;
        |$condvar:ident, $res:pat_param| $map:expr
    ) => {
        $(#[$meta])*
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct $name<'a, T: ?Sized $(, $f)?> {
            waiter: Waiter<'a, T, $pred>,
            condvar: &'a Condvar,
        }

        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> $name<'a, T $(, $f)?> {
            fn block(self) -> $out {
                let $condvar = self.condvar;
                let $res = self.waiter.block();
                $map
            }
        }

        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> Future for $name<'a, T $(, $f)?> {
            type Output = $out;

            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<$out> {
                let $condvar = self.condvar;
                self.waiter.poll(cx).map(|$res| $map)
            }
        }

        // The predicate is never pinned (it is only ever called through
        // `&mut`) and everything else is `Unpin`, so the future is `Unpin`
        // whatever the predicate's type.
        impl<T: ?Sized $(, $f)?> Unpin for $name<'_, T $(, $f)?> {}

        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> fmt::Debug for $name<'a, T $(, $f)?> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("stage", &self.waiter.stage_name())
                    .finish_non_exhaustive()
            }
        }
    };
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

wait_future! {
    /// Future returned by [`ConditionGuard::wait`]; resolves to the relocked
    /// guard.
    pub struct ConditionWait<'a, T>(predicate: NoPredicate<T>) -> ConditionGuard<'a, T>;
    |condvar, (guard, _)| ConditionGuard { guard, condvar }
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_while`]; resolves to the
    /// relocked guard once the predicate returns `false`.
    pub struct ConditionWaitWhile<'a, T, F>(predicate: F) -> ConditionGuard<'a, T>;
    |condvar, (guard, _)| ConditionGuard { guard, condvar }
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_timeout`]; resolves to the
    /// relocked guard and whether the wait timed out.
    pub struct ConditionWaitTimeout<'a, T>(predicate: NoPredicate<T>)
        -> (ConditionGuard<'a, T>, WaitTimeoutResult);
    |condvar, (guard, timed_out)| (ConditionGuard { guard, condvar }, WaitTimeoutResult(timed_out))
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_while_timeout`]; resolves to
    /// the relocked guard and whether the time ran out with the predicate
    /// still true.
    pub struct ConditionWaitWhileTimeout<'a, T, F>(predicate: F)
        -> (ConditionGuard<'a, T>, WaitTimeoutResult);
    |condvar, (guard, timed_out)| (ConditionGuard { guard, condvar }, WaitTimeoutResult(timed_out))
}

/// A value behind a mutex, with a condition variable attached: Python's
/// `threading.Condition`, for tasks and threads at once.
///
/// Lock it with [`lock`](Condition::lock) (async),
/// [`lock_blocking`](Condition::lock_blocking) or
/// [`try_lock`](Condition::try_lock); the [`ConditionGuard`] dereferences to
/// the value and has the wait methods (`wait`, `wait_while`,
/// `wait_timeout`, `wait_while_timeout`, and their `_blocking` forms), which
/// consume the guard and give it back relocked. Notify with
/// [`notify_one`](Condition::notify_one), [`notify`](Condition::notify) or
/// [`notify_all`](Condition::notify_all). All the guarantees of
/// [`Condvar`] hold.
///
/// Unlike Python, waiting without the lock is impossible by construction
/// (the wait methods live on the guard, so Python's `RuntimeError` for an
/// unacquired wait becomes a compile error), and the lock is not re-entrant
/// (Python's default is an `RLock`; re-entrancy has no meaning for tasks,
/// see [`ReentrantMutex`](crate::ReentrantMutex)).
///
/// ```compile_fail
/// let condition = rallypoint::Condition::new(());
/// condition.wait_blocking(); // no such method: wait on a guard
/// ```
///
/// # Must the notifier hold the lock?
///
/// No. Python raises `RuntimeError` if `notify` is called without the lock;
/// here `notify_*` take `&self` and may be called with or without a guard.
/// Both are sound and lose nothing: a waiter registers before it releases
/// the lock, so any notify that follows a state change made **under the
/// lock** reaches every party that saw the old state. The rule that matters
/// is therefore: *change the state while holding the guard*, then notify
/// (before or after dropping the guard).
///
/// # Panics while locked
///
/// The mutex is async-lock's and has no poisoning: if code panics while
/// holding a guard, the guard's drop unlocks the mutex during unwinding,
/// waiters keep waiting (a panic notifies nobody), and the next locker sees
/// the value as the panicking code left it.
///
/// # Examples
///
/// ```
/// use rallypoint::Condition;
/// use std::sync::Arc;
///
/// let items = Arc::new(Condition::new(Vec::new()));
/// let consumer = {
///     let items = items.clone();
///     std::thread::spawn(move || {
///         let mut guard = items.lock_blocking().wait_while_blocking(|v| v.is_empty());
///         guard.pop().unwrap()
///     })
/// };
/// futures_lite::future::block_on(async {
///     items.lock().await.push("job");
///     items.notify_one();
/// });
/// assert_eq!(consumer.join().unwrap(), "job");
/// ```
pub struct Condition<T: ?Sized> {
    condvar: Condvar,
    mutex: Mutex<T>,
}

/// The guard of a locked [`Condition`]: dereferences to the value, unlocks
/// on drop, and carries the wait methods.
///
/// The wait methods take the guard by value and hand it back, because an
/// async wait that is cancelled cannot relock synchronously: the lock is
/// released while waiting and the guard is re-created only once relocked.
/// Being methods, they take precedence over methods of the same name on
/// `T`; call those as `(*guard).wait()`.
///
/// # Examples
///
/// ```
/// let condition = rallypoint::Condition::new(1);
/// let mut guard = condition.lock_blocking();
/// *guard += 1;
/// assert_eq!(*guard, 2);
/// ```
#[must_use = "if unused the Condition will immediately unlock"]
pub struct ConditionGuard<'a, T: ?Sized> {
    guard: MutexGuard<'a, T>,
    condvar: &'a Condvar,
}

impl<T> Condition<T> {
    loom_const_fn! {
        /// Creates an unlocked condition holding `value`, with no waiters.
        ///
        /// # Examples
        ///
        /// ```
        /// use rallypoint::Condition;
        /// static JOBS: Condition<Vec<u32>> = Condition::new(Vec::new());
        /// assert!(JOBS.lock_blocking().is_empty());
        /// ```
        #[must_use]
        pub const fn new(value: T) -> Condition<T> {
            Condition {
                condvar: Condvar::new(),
                mutex: Mutex::new(value),
            }
        }
    }

    /// Consumes the condition and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(7);
    /// assert_eq!(condition.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        self.mutex.into_inner()
    }
}

impl<T: ?Sized> Condition<T> {
    fn guard<'a>(&'a self, guard: MutexGuard<'a, T>) -> ConditionGuard<'a, T> {
        ConditionGuard {
            guard,
            condvar: &self.condvar,
        }
    }

    /// Locks the condition's mutex.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes leaves the
    /// mutex as it was (async-lock's `Lock` withdraws its listener and
    /// passes on a wakeup it had received).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let condition = rallypoint::Condition::new(0);
    /// *condition.lock().await += 1;
    /// assert_eq!(*condition.lock().await, 1);
    /// # });
    /// ```
    pub fn lock(&self) -> ConditionLock<'_, T> {
        ConditionLock {
            lock: LazyLock::new(&self.mutex),
            condvar: &self.condvar,
        }
    }

    /// Blocks the current thread until it holds the lock.
    ///
    /// This must not be called from async code. Use
    /// [`lock`](Condition::lock) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(String::new());
    /// condition.lock_blocking().push_str("hi");
    /// assert_eq!(*condition.lock_blocking(), "hi");
    /// ```
    pub fn lock_blocking(&self) -> ConditionGuard<'_, T> {
        self.guard(self.mutex.lock_blocking())
    }

    /// Locks without waiting; `None` if the lock is held.
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(());
    /// let guard = condition.try_lock().unwrap();
    /// assert!(condition.try_lock().is_none());
    /// drop(guard);
    /// assert!(condition.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<ConditionGuard<'_, T>> {
        self.mutex.try_lock().map(|guard| self.guard(guard))
    }

    /// A mutable reference to the value; no locking is needed since `&mut`
    /// proves exclusive access.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut condition = rallypoint::Condition::new(1);
    /// *condition.get_mut() = 2;
    /// assert_eq!(*condition.lock_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.mutex.get_mut()
    }

    /// Wakes the oldest waiter not notified yet; `true` if there was one.
    /// See [`Condvar::notify_one`]. The caller may or may not hold the lock
    /// (see the type docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(());
    /// assert!(!condition.notify_one()); // nobody waiting: not stored
    /// ```
    pub fn notify_one(&self) -> bool {
        self.condvar.notify_one()
    }

    /// Wakes up to `n` of the parties waiting now; returns how many. See
    /// [`Condvar::notify`].
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(());
    /// assert_eq!(condition.notify(3), 0);
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        self.condvar.notify(n)
    }

    /// Wakes every party waiting now; returns how many. See
    /// [`Condvar::notify_all`].
    ///
    /// # Examples
    ///
    /// ```
    /// let condition = rallypoint::Condition::new(());
    /// assert_eq!(condition.notify_all(), 0);
    /// ```
    pub fn notify_all(&self) -> usize {
        self.condvar.notify_all()
    }
}

impl<T: Default> Default for Condition<T> {
    fn default() -> Self {
        Condition::new(T::default())
    }
}

impl<T> From<T> for Condition<T> {
    fn from(value: T) -> Self {
        Condition::new(value)
    }
}

impl<T: fmt::Debug + ?Sized> fmt::Debug for Condition<T> {
    /// Shows the value (or `<locked>`) and the number of registered waiters.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Condition");
        match self.mutex.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.field("waiters", &self.condvar.waiters.total_listeners())
            .finish()
    }
}

impl<'a, T: ?Sized> ConditionGuard<'a, T> {
    /// Releases the lock, waits for a notification, relocks and returns the
    /// guard. See [`Condvar::wait`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait`]: a drop at any point leaves the mutex
    /// unlocked by this waiter, withdraws it, and passes on a notification
    /// it had received or consumed.
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Condition;
    /// use std::sync::Arc;
    ///
    /// let flag = Arc::new(Condition::new(false));
    /// let setter = {
    ///     let flag = flag.clone();
    ///     std::thread::spawn(move || {
    ///         *flag.lock_blocking() = true;
    ///         flag.notify_all();
    ///     })
    /// };
    /// futures_lite::future::block_on(async {
    ///     let mut guard = flag.lock().await;
    ///     while !*guard {
    ///         guard = guard.wait().await;
    ///     }
    /// });
    /// setter.join().unwrap();
    /// ```
    pub fn wait(self) -> ConditionWait<'a, T> {
        ConditionWait {
            waiter: self
                .condvar
                .waiter::<T, NoPredicate<T>>(self.guard, None, None),
            condvar: self.condvar,
        }
    }

    /// Blocking form of [`wait`](ConditionGuard::wait).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Condition;
    /// use std::sync::Arc;
    ///
    /// let flag = Arc::new(Condition::new(false));
    /// let waiter = {
    ///     let flag = flag.clone();
    ///     std::thread::spawn(move || {
    ///         let mut guard = flag.lock_blocking();
    ///         while !*guard {
    ///             guard = guard.wait_blocking();
    ///         }
    ///     })
    /// };
    /// *flag.lock_blocking() = true;
    /// flag.notify_all();
    /// waiter.join().unwrap();
    /// ```
    pub fn wait_blocking(self) -> ConditionGuard<'a, T> {
        self.wait().block()
    }

    /// Waits **while** `condition` returns `true`; see
    /// [`Condvar::wait_while`]. Python's `wait_for(pred)` is
    /// `wait_while(|v| !pred(v))`.
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait`].
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
    /// let condition = rallypoint::Condition::new(3);
    /// let guard = condition.lock().await.wait_while(|n| *n < 3).await;
    /// assert_eq!(*guard, 3);
    /// # });
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while<F>(self, condition: F) -> ConditionWaitWhile<'a, T, F>
    where
        F: FnMut(&mut T) -> bool,
    {
        ConditionWaitWhile {
            waiter: self.condvar.waiter(self.guard, Some(condition), None),
            condvar: self.condvar,
        }
    }

    /// Blocking form of [`wait_while`](ConditionGuard::wait_while).
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
    /// let condition = rallypoint::Condition::new(vec![1]);
    /// let guard = condition.lock_blocking().wait_while_blocking(|v| v.is_empty());
    /// assert_eq!(*guard, [1]);
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_blocking<F>(self, condition: F) -> ConditionGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while(condition).block()
    }

    /// Like [`wait`](ConditionGuard::wait) with a timeout; see
    /// [`Condvar::wait_timeout`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait_timeout`].
    ///
    /// # Panics
    ///
    /// Panics if polled again after it completed.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::time::Duration;
    /// let condition = rallypoint::Condition::new(());
    /// let (_guard, result) = condition.lock().await.wait_timeout(Duration::from_millis(10)).await;
    /// assert!(result.timed_out());
    /// # });
    /// ```
    pub fn wait_timeout(self, timeout: Duration) -> ConditionWaitTimeout<'a, T> {
        ConditionWaitTimeout {
            waiter: self.condvar.waiter::<T, NoPredicate<T>>(
                self.guard,
                None,
                deadline_after(timeout),
            ),
            condvar: self.condvar,
        }
    }

    /// Blocking form of [`wait_timeout`](ConditionGuard::wait_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let condition = rallypoint::Condition::new(());
    /// let (_guard, result) =
    ///     condition.lock_blocking().wait_timeout_blocking(Duration::from_millis(10));
    /// assert!(result.timed_out());
    /// ```
    pub fn wait_timeout_blocking(
        self,
        timeout: Duration,
    ) -> (ConditionGuard<'a, T>, WaitTimeoutResult) {
        self.wait_timeout(timeout).block()
    }

    /// Like [`wait_while`](ConditionGuard::wait_while) with an overall
    /// timeout; see [`Condvar::wait_while_timeout`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait`].
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
    /// use std::time::Duration;
    /// let condition = rallypoint::Condition::new(0);
    /// let (guard, result) = condition
    ///     .lock()
    ///     .await
    ///     .wait_while_timeout(|n| *n < 4, Duration::from_millis(10))
    ///     .await;
    /// assert!(result.timed_out());
    /// assert_eq!(*guard, 0);
    /// # });
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_timeout<F>(
        self,
        condition: F,
        timeout: Duration,
    ) -> ConditionWaitWhileTimeout<'a, T, F>
    where
        F: FnMut(&mut T) -> bool,
    {
        ConditionWaitWhileTimeout {
            waiter: self
                .condvar
                .waiter(self.guard, Some(condition), deadline_after(timeout)),
            condvar: self.condvar,
        }
    }

    /// Blocking form of
    /// [`wait_while_timeout`](ConditionGuard::wait_while_timeout).
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
    /// use std::time::Duration;
    /// let condition = rallypoint::Condition::new(0);
    /// let (_guard, result) = condition
    ///     .lock_blocking()
    ///     .wait_while_timeout_blocking(|n| *n < 4, Duration::from_millis(10));
    /// assert!(result.timed_out());
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_timeout_blocking<F>(
        self,
        condition: F,
        timeout: Duration,
    ) -> (ConditionGuard<'a, T>, WaitTimeoutResult)
    where
        F: FnMut(&mut T) -> bool,
    {
        self.wait_while_timeout(condition, timeout).block()
    }
}

impl<T: ?Sized> Deref for ConditionGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T: ?Sized> DerefMut for ConditionGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

impl<T: fmt::Debug + ?Sized> fmt::Debug for ConditionGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display + ?Sized> fmt::Display for ConditionGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// Future returned by [`Condition::lock`]; resolves to a [`ConditionGuard`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ConditionLock<'a, T: ?Sized> {
    lock: LazyLock<'a, T>,
    condvar: &'a Condvar,
}

impl<'a, T: ?Sized> Future for ConditionLock<'a, T> {
    type Output = ConditionGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ConditionGuard<'a, T>> {
        let condvar = self.condvar;
        self.lock
            .poll(cx)
            .map(|guard| ConditionGuard { guard, condvar })
    }
}

impl<T: ?Sized> fmt::Debug for ConditionLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionLock").finish_non_exhaustive()
    }
}
