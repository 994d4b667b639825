//! The guards of a [`Mutex`]: async-lock's guards, wrapped so that the
//! unlock runs inside one of the engine's wake sections.
//!
//! # Why wrap them
//!
//! Unlocking async-lock's mutex wakes the next waiter from inside its
//! listener list's lock. A task's waker is user code (SPEC §0), so a task
//! waiting in [`Mutex::lock`] registers a shield rather than its waker (see
//! `lock.rs`), and the shield's wake is deferred: to the end of the open
//! wake section on this thread if there is one, else to the engine's wake
//! thread. If the guard were async-lock's own, every unlock by user code
//! would take the second way, a thread hop per contended handoff between
//! tasks. Our
//! guard opens a section around the unlock instead, so the waiter's waker
//! runs on this thread, right after async-lock has released its list lock,
//! as if async-lock had woken it directly.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use super::Mutex;
use crate::engine::WakeSection;

/// The guard of a locked [`Mutex`]; unlocks on drop.
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
/// drop(guard);
/// assert_eq!(*mutex.try_lock().unwrap(), 2);
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    /// Dropped by hand, inside a wake section (see the module docs).
    inner: ManuallyDrop<async_lock::MutexGuard<'a, T>>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    #[inline]
    pub(crate) fn new(inner: async_lock::MutexGuard<'a, T>) -> Self {
        MutexGuard {
            inner: ManuallyDrop::new(inner),
        }
    }

    /// The mutex this guard holds locked.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Mutex, MutexGuard};
    ///
    /// let mutex = Mutex::new(());
    /// let guard = mutex.try_lock().unwrap();
    /// assert!(std::ptr::eq(MutexGuard::source(&guard), &mutex));
    /// ```
    #[must_use]
    pub fn source(guard: &Self) -> &'a Mutex<T> {
        let inner: &'a async_lock::Mutex<T> = async_lock::MutexGuard::source(&guard.inner);
        Mutex::from_async_lock(inner)
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        let _section = WakeSection::enter();
        // SAFETY: dropped exactly once, here (nothing takes `inner` out).
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The owned guard of a [`Mutex`] held in an `Arc`, from
/// [`lock_arc`](Mutex::lock_arc) and its other forms; unlocks on drop. It
/// holds a clone of the `Arc`, so it is `'static` when `T` is.
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
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuardArc<T: ?Sized> {
    /// Dropped by hand, inside a wake section (see the module docs).
    inner: ManuallyDrop<async_lock::MutexGuardArc<T>>,
}

impl<T: ?Sized> MutexGuardArc<T> {
    #[inline]
    pub(crate) fn new(inner: async_lock::MutexGuardArc<T>) -> Self {
        MutexGuardArc {
            inner: ManuallyDrop::new(inner),
        }
    }

    /// The mutex this guard holds locked.
    ///
    /// (async-lock's owned guard returns its `Arc`; this one returns the
    /// mutex, since the `Arc` inside is async-lock's type. Like
    /// async-lock's, it needs `T: Send`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Mutex, MutexGuardArc};
    /// use std::sync::Arc;
    ///
    /// let mutex = Arc::new(Mutex::new(()));
    /// let guard = mutex.try_lock_arc().unwrap();
    /// assert!(std::ptr::eq(MutexGuardArc::source(&guard), &*mutex));
    /// ```
    #[must_use]
    pub fn source(guard: &Self) -> &Mutex<T>
    where
        T: Send,
    {
        let arc: &Arc<async_lock::Mutex<T>> = async_lock::MutexGuardArc::source(&guard.inner);
        Mutex::from_async_lock(arc)
    }
}

impl<T: ?Sized> Drop for MutexGuardArc<T> {
    #[inline]
    fn drop(&mut self) {
        let _section = WakeSection::enter();
        // SAFETY: dropped exactly once, here (nothing takes `inner` out).
        unsafe { ManuallyDrop::drop(&mut self.inner) }
    }
}

impl<T: ?Sized> Deref for MutexGuardArc<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuardArc<T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuardArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuardArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
