//! [`Condition`]: a value behind a mutex with a condition variable attached
//! (Python's `threading.Condition`), its guard and futures. Every wait goes
//! through [`Condvar`]'s state machine; the docs of the wait methods point
//! to [`Condvar`]'s, which hold the details.

use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::wait::wait_future;
use super::{Condvar, NoPredicate, WaitTimeoutResult};
use crate::engine::{WakeSection, deadline_after};
use crate::mutex::lock::LazyLock;
use crate::mutex::{Mutex, MutexGuard};
use crate::sync::loom_const_fn;

wait_future! {
    /// Future returned by [`ConditionGuard::wait`]; resolves to the relocked
    /// guard.
    pub struct ConditionWait<'a, T>(predicate: NoPredicate<T>) -> ConditionGuard<'a, T>;
    |condvar, (guard, _)| ConditionGuard::new(guard, condvar)
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_while`]; resolves to the
    /// relocked guard once the predicate returns `false`.
    pub struct ConditionWaitWhile<'a, T, F>(predicate: F) -> ConditionGuard<'a, T>;
    |condvar, (guard, _)| ConditionGuard::new(guard, condvar)
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_timeout`]; resolves to the
    /// relocked guard and whether the wait timed out.
    pub struct ConditionWaitTimeout<'a, T>(predicate: NoPredicate<T>)
        -> (ConditionGuard<'a, T>, WaitTimeoutResult);
    |condvar, (guard, timed_out)| (ConditionGuard::new(guard, condvar), WaitTimeoutResult(timed_out))
}

wait_future! {
    /// Future returned by [`ConditionGuard::wait_while_timeout`]; resolves to
    /// the relocked guard and whether the time ran out with the predicate
    /// still true.
    pub struct ConditionWaitWhileTimeout<'a, T, F>(predicate: F)
        -> (ConditionGuard<'a, T>, WaitTimeoutResult);
    |condvar, (guard, timed_out)| (ConditionGuard::new(guard, condvar), WaitTimeoutResult(timed_out))
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
    /// Dropped by hand, inside a wake section (see `Drop`).
    guard: ManuallyDrop<MutexGuard<'a, T>>,
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
        ConditionGuard::new(guard, &self.condvar)
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
            lock: LazyLock::new(self.mutex.as_async_lock()),
            condvar: &self.condvar,
            done: false,
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
        d.field("waiters", &self.condvar.waiting()).finish()
    }
}

impl<'a, T: ?Sized> ConditionGuard<'a, T> {
    /// Releases the lock, waits for a notification, relocks and returns the
    /// guard. See [`Condvar::wait`].
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait`].
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
        let (guard, condvar) = self.into_parts();
        ConditionWait::new(condvar, guard, None, None)
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
    /// As for [`Condvar::wait_while`]: a panicking `condition` propagates,
    /// with the lock released.
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
        let (guard, condvar) = self.into_parts();
        ConditionWaitWhile::new(condvar, guard, Some(condition), None)
    }

    /// Blocking form of [`wait_while`](ConditionGuard::wait_while).
    ///
    /// This must not be called from async code.
    ///
    /// # Panics
    ///
    /// As for [`Condvar::wait_while`]: a panicking `condition` propagates,
    /// with the lock released.
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
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
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
        let (guard, condvar) = self.into_parts();
        ConditionWaitTimeout::new(condvar, guard, None, deadline_after(timeout))
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
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As for [`Condvar::wait`].
    ///
    /// # Panics
    ///
    /// As for [`Condvar::wait_while`]: a panicking `condition` propagates,
    /// with the lock released.
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
        let (guard, condvar) = self.into_parts();
        ConditionWaitWhileTimeout::new(condvar, guard, Some(condition), deadline_after(timeout))
    }

    /// Blocking form of
    /// [`wait_while_timeout`](ConditionGuard::wait_while_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Panics
    ///
    /// As for [`Condvar::wait_while`]: a panicking `condition` propagates,
    /// with the lock released.
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

impl<'a, T: ?Sized> ConditionGuard<'a, T> {
    pub(super) fn new(guard: MutexGuard<'a, T>, condvar: &'a Condvar) -> Self {
        ConditionGuard {
            guard: ManuallyDrop::new(guard),
            condvar,
        }
    }

    /// The inner guard (not unlocked) and the condvar, for a wait.
    fn into_parts(self) -> (MutexGuard<'a, T>, &'a Condvar) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the guard is
        // taken exactly once.
        let guard = unsafe { ManuallyDrop::take(&mut this.guard) };
        (guard, this.condvar)
    }
}

impl<T: ?Sized> Drop for ConditionGuard<'_, T> {
    fn drop(&mut self) {
        // Unlocking wakes the next locker or relocking waiter through
        // async-lock's listener list, under its lock: inside our section,
        // that wake is deferred until the list's lock is released, and runs
        // here, on this thread.
        let _section = WakeSection::enter();
        // SAFETY: dropped exactly once, here; `into_parts` forgets `self`
        // instead of dropping it.
        unsafe { ManuallyDrop::drop(&mut self.guard) }
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
    lock: LazyLock<&'a async_lock::Mutex<T>>,
    condvar: &'a Condvar,
    /// Returned `Ready` (`FusedFuture`).
    done: bool,
}

impl<'a, T: ?Sized> Future for ConditionLock<'a, T> {
    type Output = ConditionGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ConditionGuard<'a, T>> {
        let condvar = self.condvar;
        let out = self
            .lock
            .poll(cx)
            .map(|guard| ConditionGuard::new(guard, condvar));
        self.done = out.is_ready();
        out
    }
}

#[cfg(feature = "futures-core")]
impl<T: ?Sized> futures_core::future::FusedFuture for ConditionLock<'_, T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T: ?Sized> fmt::Debug for ConditionLock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionLock").finish_non_exhaustive()
    }
}
