//! The permit a [`Semaphore`] hands out: one type behind the borrowed and
//! the `Arc`-owning names.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::Semaphore;

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
///
/// One type behind two names: [`SemaphorePermit`] borrows the semaphore
/// (`S = &Semaphore`, from [`acquire`](Semaphore::acquire) and friends) and
/// [`SemaphorePermitArc`] owns a clone of its `Arc` (`S = Arc<Semaphore>`,
/// from [`acquire_arc`](Semaphore::acquire_arc) and friends), so it can be
/// moved into a spawned task or another thread.
///
/// # Examples
///
/// ```
/// use rallypoint::{Semaphore, SemaphorePermit, SemaphorePermitArc};
/// use std::sync::Arc;
///
/// let sem = Arc::new(Semaphore::new(2));
/// {
///     let permit: SemaphorePermit<'_> = sem.try_acquire().unwrap();
///     assert_eq!(permit.num_permits(), 1);
///     assert_eq!(sem.available_permits(), 1);
/// }
/// assert_eq!(sem.available_permits(), 2);
///
/// let owned: SemaphorePermitArc = sem.try_acquire_arc().unwrap();
/// std::thread::spawn(move || drop(owned)).join().unwrap();
/// assert_eq!(sem.available_permits(), 2);
/// ```
#[must_use = "the permits are given back as soon as the permit is dropped"]
#[clippy::has_significant_drop]
pub struct SemaphorePermitOf<S: Deref<Target = Semaphore>> {
    pub(super) sem: S,
    pub(super) n: usize,
}

/// Permits borrowed from a [`Semaphore`]: see [`SemaphorePermitOf`].
pub type SemaphorePermit<'a> = SemaphorePermitOf<&'a Semaphore>;

/// Permits from an `Arc<Semaphore>`, owning a clone of the `Arc`: see
/// [`SemaphorePermitOf`].
pub type SemaphorePermitArc = SemaphorePermitOf<Arc<Semaphore>>;

impl<S: Deref<Target = Semaphore>> SemaphorePermitOf<S> {
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

impl<S: Deref<Target = Semaphore>> Drop for SemaphorePermitOf<S> {
    #[inline]
    fn drop(&mut self) {
        // Cannot fail: clamped at the bound (see `Semaphore::bounded`).
        let _ = self.sem.raw.add_permits(self.n, true);
    }
}

// One impl per public name, so `Debug` shows the name the user wrote.
impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

impl fmt::Debug for SemaphorePermitArc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermitArc")
            .field("permits", &self.n)
            .finish()
    }
}
