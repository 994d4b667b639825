//! [`ReentrantMutex`] (Python's `RLock`): a wrapper around parking_lot's
//! reentrant mutex, blocking only (the type docs say why).

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

/// A mutex that the thread holding it may lock again: Python's
/// `threading.RLock`.
///
/// A thread that owns the lock can call [`lock`](ReentrantMutex::lock_blocking) any
/// number of times without deadlocking; the lock is released when the last
/// of its guards is dropped. Another thread's `lock` blocks until then. The
/// guard gives only `&T` (two guards of the same thread may coexist); put a
/// `Cell` or `RefCell` inside for mutation.
///
/// This wraps [`parking_lot`]'s `ReentrantMutex` (eventually fair, with
/// a fast uncontended path) rather than re-implementing one.
///
/// # Why there is no async front-end
///
/// Re-entrancy is defined by *thread* ownership: "the current thread holds
/// it, so it may lock again". A task has no stable thread: after any
/// `.await` a work-stealing executor may resume it on another thread, where
/// a guard it holds would no longer be "owned by the current thread" (and
/// another task, scheduled on the original thread, *would* count as the
/// owner and could re-enter a lock it never took). Thread ownership is
/// therefore meaningless for tasks, so `ReentrantMutex` is blocking-only and
/// its guard is not `Send`. Async code that needs re-entrancy should pass
/// the [`MutexGuard`](crate::MutexGuard) (or `&mut T`) down the call chain instead of locking
/// again.
///
/// Like every rallypoint lock it has no poisoning: a guard dropped while a
/// panic unwinds releases its level of the lock, and the value is left as
/// the panicking code left it.
///
/// # Examples
///
/// ```
/// use rallypoint::ReentrantMutex;
/// use std::cell::RefCell;
///
/// let log = ReentrantMutex::new(RefCell::new(Vec::new()));
///
/// fn record(log: &ReentrantMutex<RefCell<Vec<&'static str>>>, what: &'static str) {
///     log.lock_blocking().borrow_mut().push(what);
/// }
///
/// let outer = log.lock_blocking();
/// record(&log, "nested"); // the same thread locks again: no deadlock
/// outer.borrow_mut().push("outer");
/// drop(outer);
/// assert_eq!(*log.lock_blocking().borrow(), ["nested", "outer"]);
/// ```
pub struct ReentrantMutex<T> {
    inner: parking_lot::ReentrantMutex<T>,
}

/// The guard of a locked [`ReentrantMutex`]; gives `&T` and releases one
/// level of the lock on drop.
///
/// It is not `Send`: the lock belongs to the thread that took it, so it
/// cannot be released by another thread (Python raises `RuntimeError` for
/// that; here it does not compile).
///
/// ```compile_fail
/// use std::sync::Arc;
/// let mutex = Arc::new(rallypoint::ReentrantMutex::new(5));
/// let guard = mutex.lock_blocking();
/// std::thread::spawn(move || drop(guard)); // error: guard is not Send
/// ```
///
/// # Examples
///
/// ```
/// let mutex = rallypoint::ReentrantMutex::new(5);
/// let guard = mutex.lock_blocking();
/// assert_eq!(*guard, 5);
/// ```
#[must_use = "if unused the ReentrantMutex will immediately unlock"]
pub struct ReentrantMutexGuard<'a, T> {
    inner: parking_lot::ReentrantMutexGuard<'a, T>,
}

impl<T> ReentrantMutex<T> {
    /// Creates an unlocked reentrant mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::ReentrantMutex;
    /// static LOCK: ReentrantMutex<()> = ReentrantMutex::new(());
    /// let _a = LOCK.lock_blocking();
    /// let _b = LOCK.lock_blocking();
    /// ```
    #[must_use]
    pub const fn new(value: T) -> ReentrantMutex<T> {
        ReentrantMutex {
            inner: parking_lot::ReentrantMutex::new(value),
        }
    }

    /// Blocks the current thread until it owns the lock, and returns a guard.
    /// Returns at once if this thread already owns it (the count of guards
    /// goes up by one).
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread, and thread ownership means nothing to a task (see the type
    /// docs).
    ///
    /// # Panics
    ///
    /// Panics if this thread already holds `usize::MAX` guards (the
    /// re-entrancy count would overflow).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::ReentrantMutex::new(1);
    /// let a = mutex.lock_blocking();
    /// let b = mutex.lock_blocking();
    /// assert_eq!(*a + *b, 2);
    /// ```
    pub fn lock_blocking(&self) -> ReentrantMutexGuard<'_, T> {
        ReentrantMutexGuard {
            inner: self.inner.lock(),
        }
    }

    /// The old name of [`lock_blocking`](ReentrantMutex::lock_blocking)
    /// (it blocks; every blocking form's name says so).
    #[deprecated(since = "0.1.0", note = "renamed `lock_blocking`")]
    #[doc(hidden)]
    pub fn lock(&self) -> ReentrantMutexGuard<'_, T> {
        self.lock_blocking()
    }

    /// Locks without waiting: `Some(guard)` if the lock was free or is
    /// already owned by this thread, `None` if another thread holds it.
    ///
    /// # Panics
    ///
    /// Panics if the re-entrancy count would overflow (see
    /// [`lock`](ReentrantMutex::lock_blocking)).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::ReentrantMutex;
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(ReentrantMutex::new(()));
    /// let guard = mutex.lock_blocking();
    /// assert!(mutex.try_lock().is_some()); // same thread: re-entrant
    /// let other = mutex.clone();
    /// let contended = std::thread::spawn(move || other.try_lock().is_none());
    /// assert!(contended.join().unwrap());
    /// drop(guard);
    /// ```
    pub fn try_lock(&self) -> Option<ReentrantMutexGuard<'_, T>> {
        self.inner
            .try_lock()
            .map(|inner| ReentrantMutexGuard { inner })
    }

    /// Blocks until this thread owns the lock or `timeout` elapses:
    /// `Some(guard)` on success, `None` on timeout. Python's
    /// `RLock.acquire(timeout=…)`.
    ///
    /// `Duration::ZERO` is [`try_lock`](ReentrantMutex::try_lock); a timeout
    /// too large to represent (e.g. `Duration::MAX`) waits forever. This
    /// must not be called from async code.
    ///
    /// # Panics
    ///
    /// Panics if the re-entrancy count would overflow (see
    /// [`lock`](ReentrantMutex::lock_blocking)).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::ReentrantMutex;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let mutex = Arc::new(ReentrantMutex::new(()));
    /// let guard = mutex.lock_blocking();
    /// let other = mutex.clone();
    /// let waited = std::thread::spawn(move || {
    ///     other.lock_timeout_blocking(Duration::from_millis(20)).is_none()
    /// });
    /// assert!(waited.join().unwrap()); // timed out: we held the lock
    /// drop(guard);
    /// assert!(mutex.lock_timeout_blocking(Duration::from_millis(20)).is_some());
    /// ```
    pub fn lock_timeout_blocking(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        if timeout.is_zero() {
            return self.try_lock();
        }
        // parking_lot saturates: a deadline past `Instant`'s range waits forever.
        self.inner
            .try_lock_for(timeout)
            .map(|inner| ReentrantMutexGuard { inner })
    }

    /// The old name of
    /// [`lock_timeout_blocking`](ReentrantMutex::lock_timeout_blocking).
    #[deprecated(since = "0.1.0", note = "renamed `lock_timeout_blocking`")]
    #[doc(hidden)]
    pub fn lock_timeout(&self, timeout: Duration) -> Option<ReentrantMutexGuard<'_, T>> {
        self.lock_timeout_blocking(timeout)
    }

    /// `true` if some thread (possibly this one) holds the lock. A snapshot:
    /// it may change as soon as it is returned.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::ReentrantMutex::new(());
    /// assert!(!mutex.is_locked());
    /// let _guard = mutex.lock_blocking();
    /// assert!(mutex.is_locked());
    /// ```
    #[must_use]
    pub fn is_locked(&self) -> bool {
        self.inner.is_locked()
    }

    /// `true` if the current thread holds the lock (Python's
    /// `RLock._is_owned()`).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::ReentrantMutex::new(());
    /// let guard = mutex.lock_blocking();
    /// assert!(mutex.is_owned_by_current_thread());
    /// drop(guard);
    /// assert!(!mutex.is_owned_by_current_thread());
    /// ```
    #[must_use]
    pub fn is_owned_by_current_thread(&self) -> bool {
        self.inner.is_owned_by_current_thread()
    }

    /// A mutable reference to the value; no locking is needed since `&mut`
    /// proves exclusive access.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = rallypoint::ReentrantMutex::new(1);
    /// *mutex.get_mut() += 1;
    /// assert_eq!(*mutex.lock_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::ReentrantMutex::new(String::from("hi"));
    /// assert_eq!(mutex.into_inner(), "hi");
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: Default> Default for ReentrantMutex<T> {
    fn default() -> Self {
        ReentrantMutex::new(T::default())
    }
}

impl<T> From<T> for ReentrantMutex<T> {
    fn from(value: T) -> Self {
        ReentrantMutex::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for ReentrantMutex<T> {
    /// Shows `locked` (by any thread), `owned` (by the calling thread) and the
    /// value when the calling thread can lock it without waiting.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ReentrantMutex");
        d.field("locked", &self.is_locked())
            .field("owned", &self.is_owned_by_current_thread());
        match self.try_lock() {
            Some(guard) => d.field("data", &&*guard),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish()
    }
}

impl<T> Deref for ReentrantMutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: fmt::Debug> fmt::Debug for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for ReentrantMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
