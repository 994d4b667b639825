//! Locks: Python's `Lock` and `RLock`.
//!
//! * [`Mutex`] (Python's `Lock`) is **re-exported from [`async_lock`]**, not
//!   rewritten: it already has every front-end rallypoint promises —
//!   `lock().await` in any executor, `lock_blocking()` on threads,
//!   `try_lock()`, and `lock_arc()` for guards that own an `Arc` — and the
//!   same instance may be locked by tasks and threads at once. Its guards are
//!   [`MutexGuard`] and [`MutexGuardArc`]. Pair it with [`Condvar`], or use
//!   [`Condition`], which bundles the two.
//! * [`ReentrantMutex`] (Python's `RLock`) wraps `parking_lot`'s reentrant
//!   mutex: a thread that holds it may lock it again.
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

mod reentrant;

pub use reentrant::{ReentrantMutex, ReentrantMutexGuard};

/// An async mutex, usable from tasks (`lock().await`) and threads
/// (`lock_blocking()`) at once: Python's `threading.Lock`.
///
/// Re-exported from [`async_lock`]; see its documentation for the full API.
/// It has no poisoning: a guard dropped while a panic unwinds unlocks the
/// mutex, and the next locker sees the value as the panicking code left it
/// (possibly half-updated).
///
/// # Examples
///
/// ```
/// use rallypoint::Mutex;
/// use std::sync::Arc;
///
/// let counter = Arc::new(Mutex::new(0));
/// let thread = {
///     let counter = counter.clone();
///     std::thread::spawn(move || *counter.lock_blocking() += 1)
/// };
/// futures_lite::future::block_on(async { *counter.lock().await += 1 });
/// thread.join().unwrap();
/// assert_eq!(*counter.try_lock().unwrap(), 2);
/// ```
pub use async_lock::Mutex;

/// The guard of a locked [`Mutex`]; unlocks on drop. Re-exported from
/// [`async_lock`].
///
/// [`Condvar`](crate::Condvar) waits take and give back this guard.
///
/// # Examples
///
/// ```
/// use rallypoint::{Mutex, MutexGuard};
///
/// let mutex = Mutex::new(1);
/// let mut guard: MutexGuard<'_, i32> = mutex.lock_blocking();
/// *guard += 1;
/// assert!(std::ptr::eq(MutexGuard::source(&guard), &mutex));
/// ```
pub use async_lock::MutexGuard;

/// The owned guard of a [`Mutex`] held in an `Arc`, from `lock_arc()`;
/// unlocks on drop. Re-exported from [`async_lock`].
///
/// # Examples
///
/// ```
/// use rallypoint::{Mutex, MutexGuardArc};
/// use std::sync::Arc;
///
/// let mutex = Arc::new(Mutex::new(1));
/// let guard: MutexGuardArc<i32> = mutex.lock_arc_blocking();
/// // The guard is 'static: it can move into a thread.
/// std::thread::spawn(move || assert_eq!(*guard, 1)).join().unwrap();
/// ```
pub use async_lock::MutexGuardArc;
