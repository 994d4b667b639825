//! The errors of [`Semaphore`](super::Semaphore)'s operations.

use std::fmt;

#[allow(unused_imports, reason = "rustdoc links")]
use super::Semaphore;

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
