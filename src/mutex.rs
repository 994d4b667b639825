//! Locks: Python's `Lock` and `RLock`.
//!
//! * [`Mutex`] (Python's `Lock`) is a thin wrapper around
//!   [`async_lock::Mutex`]: the lock itself (its state word, its waiter
//!   list, its eventual fairness) is async-lock's, not rewritten, and its
//!   guards, [`MutexGuard`] and [`MutexGuardArc`], wrap async-lock's so
//!   that an unlock wakes the next task on this thread (`guard.rs` says
//!   why). The wrapper adds what async-lock lacks: the timeout forms
//!   (`lock_timeout`, `lock_timeout_blocking` and their `_arc` forms,
//!   Python's `Lock.acquire(timeout=…)`), named futures that are
//!   `FusedFuture`s, and the crate's engine behind every wait — one state
//!   machine ([`lock::LockOp`]) for all four front-ends, the crate's timers,
//!   its blocking driver (spin briefly, then park with a deadline), and
//!   shielded wakers. The same instance may be locked by tasks and threads
//!   at once. Pair it with [`Condvar`], or use [`Condition`], which bundles
//!   the two.
//! * [`ReentrantMutex`] (Python's `RLock`) wraps `parking_lot`'s reentrant
//!   mutex: a thread that holds it may lock it again.
//!
//! # Why a `repr(transparent)` wrapper
//!
//! [`Mutex`] is `#[repr(transparent)]` over `async_lock::Mutex<T>`, so the
//! two have the same layout for every `T`, sized or not. That is what lets
//! [`Mutex::lock_arc`] turn an `Arc<Mutex<T>>` into the
//! `Arc<async_lock::Mutex<T>>` that async-lock's owned guard holds, without
//! a second allocation (the `// SAFETY:` note at the conversion says why
//! it is sound), and what lets [`MutexGuard::source`] return the
//! rallypoint mutex around the async-lock one the guard holds, which
//! [`Condvar`] relocks.
//!
//! # No poisoning
//!
//! Neither lock is poisoned by a panic. A guard dropped while unwinding
//! releases the lock like any other drop, and the next locker sees the data
//! exactly as the panicking code left it — possibly half-updated. If a panic
//! can interrupt an update that must be atomic, restore the invariant in a
//! drop guard or check it after locking.
//!
//! [`Condvar`]: crate::Condvar
//! [`Condition`]: crate::Condition

mod guard;
pub(crate) mod lock;
mod reentrant;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::deadline_after;
use crate::sync::loom_const_fn;
pub use guard::{MutexGuard, MutexGuardArc};
use lock::LockOp;
pub use lock::{MutexLock, MutexLockArc, MutexLockArcTimeout, MutexLockTimeout};
pub use reentrant::{ReentrantMutex, ReentrantMutexGuard};

/// An async mutex, usable from tasks (`lock().await`) and threads
/// (`lock_blocking()`) at once: Python's `threading.Lock`.
///
/// Every way of locking comes in the crate's four forms, and the owned
/// (`_arc`) forms for a mutex held in an [`Arc`]:
///
/// | Python | async | blocking |
/// |---|---|---|
/// | `lock.acquire()`, `with lock:` | [`lock`](Mutex::lock), [`lock_arc`](Mutex::lock_arc) | [`lock_blocking`](Mutex::lock_blocking), [`lock_arc_blocking`](Mutex::lock_arc_blocking) |
/// | `lock.acquire(timeout=t)` | [`lock_timeout`](Mutex::lock_timeout), [`lock_arc_timeout`](Mutex::lock_arc_timeout) | [`lock_timeout_blocking`](Mutex::lock_timeout_blocking), [`lock_arc_timeout_blocking`](Mutex::lock_arc_timeout_blocking) |
/// | `lock.acquire(blocking=False)` | [`try_lock`](Mutex::try_lock), [`try_lock_arc`](Mutex::try_lock_arc) | (the same) |
/// | `lock.release()` | drop the guard | drop the guard |
///
/// The timeout forms give `None` when the time runs out (as `try_lock`
/// does when the lock is busy), where Python's `acquire` returns `False`.
///
/// The lock is [`async_lock`]'s, wrapped rather than rewritten: it is
/// eventually fair — a waiter that has waited more than half a
/// millisecond makes new lockers queue behind it. Its guards are
/// [`MutexGuard`] and [`MutexGuardArc`], which
/// [`Condvar`](crate::Condvar) waits take and give back.
///
/// It has no poisoning: a guard dropped while a panic unwinds unlocks the
/// mutex, and the next locker sees the value as the panicking code left it
/// (possibly half-updated).
///
/// # Wakers
///
/// A task waiting for a busy mutex waits in async-lock's list of waiters,
/// which would call its waker under that list's lock; rallypoint never lets
/// a waker (user code) run under a lock, so it registers a wrapper instead,
/// and the guard's drop runs the woken waiter's waker on the unlocking
/// thread once async-lock has released its list lock — as promptly as
/// async-lock's own unlock would. Threads in the `_blocking` forms are
/// unparked directly.
///
/// # Examples
///
/// ```
/// use rallypoint::Mutex;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let counter = Arc::new(Mutex::new(0));
/// let thread = {
///     let counter = counter.clone();
///     std::thread::spawn(move || *counter.lock_blocking() += 1)
/// };
/// futures_lite::future::block_on(async {
///     *counter.lock().await += 1;
///     // Python's `lock.acquire(timeout=1)`:
///     if let Some(mut guard) = counter.lock_timeout(Duration::from_secs(1)).await {
///         *guard += 1;
///     }
/// });
/// thread.join().unwrap();
/// assert_eq!(*counter.try_lock().unwrap(), 3);
/// ```
#[repr(transparent)]
pub struct Mutex<T: ?Sized> {
    /// The lock itself. The only field: `Mutex` is `repr(transparent)` over
    /// it, which [`Mutex::lock_arc`]'s conversion relies on.
    inner: async_lock::Mutex<T>,
}

impl<T> Mutex<T> {
    loom_const_fn! {
        /// Creates an unlocked mutex holding `value`.
        ///
        /// # Examples
        ///
        /// ```
        /// use rallypoint::Mutex;
        /// static COUNTER: Mutex<u32> = Mutex::new(0);
        /// *COUNTER.lock_blocking() += 1;
        /// assert_eq!(*COUNTER.lock_blocking(), 1);
        /// ```
        #[must_use]
        pub const fn new(value: T) -> Mutex<T> {
            Mutex {
                inner: async_lock::Mutex::new(value),
            }
        }
    }

    /// Consumes the mutex and returns the value.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::Mutex::new(String::from("hi"));
    /// assert_eq!(mutex.into_inner(), "hi");
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Waits until the lock is free, then takes it: Python's
    /// `lock.acquire()`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. The future takes the lock only in the poll that returns
    /// the guard, so dropping it before then never leaves the mutex locked:
    /// it leaves async-lock's queue of waiters, and a wake-up it had been
    /// given (the lock was just released for it) passes on to the next
    /// waiter. Other waiters are unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let mutex = rallypoint::Mutex::new(10);
    /// *mutex.lock().await += 1;
    /// assert_eq!(*mutex.lock().await, 11);
    /// # });
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexLock<'_, T> {
        MutexLock::new(LockOp::new(&self.inner), None)
    }

    /// Blocks the current thread until the lock is free, then takes it.
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread (and deadlocks it if a task on that thread holds the lock).
    /// Use [`lock`](Mutex::lock) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::Mutex::new(1);
    /// *mutex.lock_blocking() += 1;
    /// assert_eq!(*mutex.lock_blocking(), 2);
    /// ```
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        // The engine's first attempt is this same compare-exchange; made
        // here, an uncontended lock skips building and dropping the op.
        if let Some(guard) = self.try_lock() {
            return guard;
        }
        self.lock().block()
    }

    /// Waits until the lock is free or `timeout` elapses: `Some(guard)`
    /// with the lock taken, `None` on timeout. Python's
    /// `lock.acquire(timeout=…)`.
    ///
    /// `Duration::ZERO` tries once without waiting (like
    /// [`try_lock`](Mutex::try_lock)); `Duration::MAX` waits forever. If
    /// the lock is released at the very moment the deadline passes, one
    /// last attempt may still take it.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, exactly like [`lock`](Mutex::lock); a timeout withdraws
    /// the same way.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::time::Duration;
    /// let mutex = rallypoint::Mutex::new(());
    /// let guard = mutex.lock().await;
    /// assert!(mutex.lock_timeout(Duration::from_millis(10)).await.is_none());
    /// drop(guard);
    /// assert!(mutex.lock_timeout(Duration::from_millis(10)).await.is_some());
    /// # });
    /// ```
    pub fn lock_timeout(&self, timeout: Duration) -> MutexLockTimeout<'_, T> {
        MutexLockTimeout::new(LockOp::new(&self.inner), deadline_after(timeout))
    }

    /// Blocks until the lock is free or `timeout` elapses: `Some(guard)`
    /// with the lock taken, `None` on timeout. Python's
    /// `lock.acquire(timeout=…)`.
    ///
    /// The thread sleeps until the lock is released or the deadline
    /// passes (no polling loop). `Duration::ZERO` tries once without
    /// waiting; `Duration::MAX` waits forever. This must not be called from
    /// async code: use [`lock_timeout`](Mutex::lock_timeout) there.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Mutex;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    ///
    /// let mutex = Arc::new(Mutex::new(()));
    /// let guard = mutex.lock_blocking();
    /// let other = mutex.clone();
    /// let waited = std::thread::spawn(move || {
    ///     other.lock_timeout_blocking(Duration::from_millis(20)).is_none()
    /// });
    /// assert!(waited.join().unwrap()); // timed out: we held the lock
    /// drop(guard);
    /// assert!(mutex.lock_timeout_blocking(Duration::ZERO).is_some());
    /// ```
    pub fn lock_timeout_blocking(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        // As in `lock_blocking`: the first attempt, without the op.
        if let Some(guard) = self.try_lock() {
            return Some(guard);
        }
        self.lock_timeout(timeout).block()
    }

    /// Takes the lock if it is free, without waiting: Python's
    /// `lock.acquire(blocking=False)`. `None` if it is held.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::Mutex::new(());
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.inner.try_lock().map(MutexGuard::new)
    }

    /// Like [`lock`](Mutex::lock), for a mutex held in an `Arc`: the future
    /// and the guard own a clone of the `Arc`, so they are `'static` (when
    /// `T` is) and can move into a spawned task or a thread.
    ///
    /// # Cancel safety
    ///
    /// As for [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Mutex;
    /// use std::sync::Arc;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let guard = mutex.lock_arc().await;
    /// std::thread::spawn(move || assert_eq!(*guard, 1)).join().unwrap();
    /// # });
    /// ```
    pub fn lock_arc(self: &Arc<Self>) -> MutexLockArc<T> {
        MutexLockArc::new(LockOp::new(self.async_lock_arc()), None)
    }

    /// Blocking form of [`lock_arc`](Mutex::lock_arc).
    ///
    /// This must not be called from async code: use
    /// [`lock_arc`](Mutex::lock_arc) there.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Mutex, MutexGuardArc};
    /// use std::sync::Arc;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let guard: MutexGuardArc<i32> = mutex.lock_arc_blocking();
    /// std::thread::spawn(move || assert_eq!(*guard, 1)).join().unwrap();
    /// ```
    pub fn lock_arc_blocking(self: &Arc<Self>) -> MutexGuardArc<T> {
        self.lock_arc().block()
    }

    /// Like [`lock_timeout`](Mutex::lock_timeout), for a mutex held in an
    /// `Arc`: `Some` owned guard, or `None` on timeout.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As for [`lock`](Mutex::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Mutex;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let held = mutex.lock_arc().await;
    /// assert!(mutex.lock_arc_timeout(Duration::from_millis(10)).await.is_none());
    /// drop(held);
    /// assert!(mutex.lock_arc_timeout(Duration::from_millis(10)).await.is_some());
    /// # });
    /// ```
    pub fn lock_arc_timeout(self: &Arc<Self>, timeout: Duration) -> MutexLockArcTimeout<T> {
        MutexLockArcTimeout::new(LockOp::new(self.async_lock_arc()), deadline_after(timeout))
    }

    /// Blocking form of [`lock_arc_timeout`](Mutex::lock_arc_timeout).
    ///
    /// This must not be called from async code.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Mutex;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let held = mutex.lock_arc_blocking();
    /// assert!(mutex.lock_arc_timeout_blocking(Duration::ZERO).is_none());
    /// drop(held);
    /// assert!(mutex.lock_arc_timeout_blocking(Duration::from_millis(10)).is_some());
    /// ```
    pub fn lock_arc_timeout_blocking(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Option<MutexGuardArc<T>> {
        self.lock_arc_timeout(timeout).block()
    }

    /// Like [`try_lock`](Mutex::try_lock), for a mutex held in an `Arc`:
    /// an owned guard if the lock is free, `None` if it is held.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Mutex;
    /// use std::sync::Arc;
    /// let mutex = Arc::new(Mutex::new(()));
    /// let guard = mutex.try_lock_arc().unwrap();
    /// assert!(mutex.try_lock_arc().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock_arc().is_some());
    /// ```
    pub fn try_lock_arc(self: &Arc<Self>) -> Option<MutexGuardArc<T>> {
        self.async_lock_arc().try_lock_arc().map(MutexGuardArc::new)
    }

    /// A mutable reference to the value; no locking is needed since `&mut`
    /// proves exclusive access.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = rallypoint::Mutex::new(1);
    /// *mutex.get_mut() += 1;
    /// assert_eq!(*mutex.lock_blocking(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    /// The async-lock mutex inside (for [`Condition`](crate::Condition)).
    #[inline]
    pub(crate) fn as_async_lock(&self) -> &async_lock::Mutex<T> {
        &self.inner
    }

    /// The rallypoint mutex around an async-lock one (a guard's source).
    #[inline]
    pub(crate) fn from_async_lock(inner: &async_lock::Mutex<T>) -> &Mutex<T> {
        // SAFETY: `Mutex<T>` is `repr(transparent)` over
        // `async_lock::Mutex<T>`, so both have the same layout (and pointer
        // metadata, for unsized `T`), and a shared reference to one is a
        // valid shared reference to the other for the same lifetime.
        unsafe { &*(inner as *const async_lock::Mutex<T> as *const Mutex<T>) }
    }

    /// A new `Arc` to the async-lock mutex inside this `Arc`'d one (a clone
    /// of the `Arc`, converted): what async-lock's owned guard holds.
    fn async_lock_arc(self: &Arc<Self>) -> Arc<async_lock::Mutex<T>> {
        let raw: *const Mutex<T> = Arc::into_raw(Arc::clone(self));
        // SAFETY: `raw` comes from `Arc::<Mutex<T>>::into_raw`, and it owns
        // the strong count of the clone made just above, which the new `Arc`
        // takes over (nothing else uses `raw`). `Arc::from_raw` with another
        // pointee type requires that type to have the same size and
        // alignment as the original: `Mutex<T>` is `#[repr(transparent)]`
        // over its only field, an `async_lock::Mutex<T>`, so the two have
        // the same size, alignment and layout for every `T`, sized or not
        // (for an unsized `T` the `as` cast keeps the pointer's metadata,
        // which describes the same tail for both types), and the `Arc`'s
        // heap block (counts, then the value) is laid out the same for both.
        // Dropping the last `Arc` as an `async_lock::Mutex<T>` is exactly
        // what dropping it as a `Mutex<T>` does (the wrapper has no `Drop`
        // of its own), and deallocates with the same layout. Sharing the
        // value through both types at once is fine: every access goes
        // through async-lock's own API either way.
        unsafe { Arc::from_raw(raw as *const async_lock::Mutex<T>) }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// Shows the value when the lock is free (taking it for the moment),
    /// `<locked>` otherwise: `Mutex { data: 1 }`, as async-lock's does.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = rallypoint::Mutex::new(1);
    /// assert_eq!(format!("{mutex:?}"), "Mutex { data: 1 }");
    /// let _guard = mutex.lock_blocking();
    /// assert_eq!(format!("{mutex:?}"), "Mutex { data: <locked> }");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[cfg(test)]
mod tests {
    //! The `Arc` conversion behind the `_arc` forms, in the shapes its
    //! `// SAFETY:` note covers (sized, slice, trait object), with the
    //! reference counts and the value's drop checked; small enough for
    //! Miri (`cargo +nightly miri test --lib`), and reactor-free.

    use super::Mutex;
    use std::fmt::Debug;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    struct Counted(Arc<AtomicUsize>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn lock_arc_converts_sized_slice_and_trait_object_arcs() {
        let sized = Arc::new(Mutex::new(5u64));
        *sized.lock_arc_blocking() += 1;
        assert_eq!(*sized.try_lock_arc().unwrap(), 6);
        let held = sized.try_lock_arc().unwrap();
        assert!(sized.try_lock_arc().is_none(), "held");
        assert!(sized.lock_arc_timeout_blocking(Duration::ZERO).is_none());
        assert_eq!(Arc::strong_count(&sized), 2, "the guard's Arc only");
        drop(held);
        assert_eq!(Arc::strong_count(&sized), 1);

        let slice: Arc<Mutex<[u16]>> = Arc::new(Mutex::new([1, 2, 3]));
        slice.lock_arc_blocking()[2] = 30;
        assert_eq!(&*slice.try_lock_arc().unwrap(), &[1, 2, 30]);

        let object: Arc<Mutex<dyn Debug + Send>> = Arc::new(Mutex::new(String::from("dyn")));
        assert_eq!(format!("{:?}", &*object.lock_arc_blocking()), "\"dyn\"");
        assert_eq!(Arc::strong_count(&object), 1);
    }

    #[test]
    fn lock_arc_future_and_guard_own_their_arc() {
        let drops = Arc::new(AtomicUsize::new(0));
        let mutex: Arc<Mutex<dyn Send>> = Arc::new(Mutex::new(Counted(drops.clone())));
        let guard = mutex.lock_arc_blocking();
        // A queued future (it owns a converted `Arc` too).
        let mut queued = mutex.lock_arc();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(std::pin::Pin::new(&mut queued).poll(&mut cx).is_pending());
        // Ours, the guard's, the future's and async-lock's inside it.
        assert_eq!(Arc::strong_count(&mutex), 4);
        drop(mutex);
        drop(guard); // unlocks: the queued future may now take it
        let Poll::Ready(guard) = std::pin::Pin::new(&mut queued).poll(&mut cx) else {
            panic!("the queued future was not served")
        };
        drop(queued);
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        // The last `Arc`, of async-lock's type, drops the value once.
        drop(guard);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
