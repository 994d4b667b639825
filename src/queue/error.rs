//! The errors of [`Queue`](crate::Queue), [`Stack`](crate::Stack) and
//! [`PriorityQueue`](crate::PriorityQueue), modelled on crossbeam-channel's
//! `err.rs`: an error for an operation that took an item hands the item back
//! (`into_inner()`), and its `Debug` does not require `T: Debug` (it prints
//! `Closed(..)`), so `.unwrap()` works for any payload.
//!
//! Messages say "container", not "queue": the same errors come from
//! `Queue`, `Stack` and `PriorityQueue`.

use std::error;
use std::fmt;

/// The error of [`push`](crate::Queue::push) and
/// [`push_blocking`](crate::Queue::push_blocking): the container is closed.
/// The item is handed back.
///
/// # Examples
///
/// ```
/// use rallypoint::{PushError, Queue};
///
/// let q = Queue::unbounded();
/// q.close();
/// let err = q.push_blocking("late").unwrap_err();
/// assert_eq!(err, PushError::Closed("late"));
/// assert_eq!(err.into_inner(), "late");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushError<T> {
    /// The container was closed; the item was not pushed.
    Closed(T),
}

impl<T> PushError<T> {
    /// Returns the item that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = rallypoint::PushError::Closed(7);
    /// assert_eq!(err.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PushError::Closed(item) => item,
        }
    }

    /// `true`: the only reason a waiting push fails (kept for symmetry with
    /// the other push errors).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::PushError::Closed(()).is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        true
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Closed(..)")
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("push on a closed container")
    }
}

impl<T> error::Error for PushError<T> {}

/// The error of [`push_timeout`](crate::Queue::push_timeout) and
/// [`push_timeout_blocking`](crate::Queue::push_timeout_blocking). The item
/// is handed back.
///
/// # Examples
///
/// ```
/// use rallypoint::{PushTimeoutError, Queue};
/// use std::time::Duration;
///
/// let q = Queue::bounded(1);
/// q.push_blocking(1).unwrap();
/// let err = q.push_timeout_blocking(2, Duration::from_millis(5)).unwrap_err();
/// assert_eq!(err, PushTimeoutError::Timeout(2));
/// assert!(err.is_timeout());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushTimeoutError<T> {
    /// The container stayed full until the deadline; the item was not pushed.
    Timeout(T),
    /// The container is closed; the item was not pushed.
    Closed(T),
}

impl<T> PushTimeoutError<T> {
    /// Returns the item that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = rallypoint::PushTimeoutError::Timeout("x");
    /// assert_eq!(err.into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PushTimeoutError::Timeout(item) | PushTimeoutError::Closed(item) => item,
        }
    }

    /// `true` if the push timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::PushTimeoutError::Timeout(()).is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, PushTimeoutError::Timeout(_))
    }

    /// `true` if the push failed because the container is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::PushTimeoutError::Closed(()).is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, PushTimeoutError::Closed(_))
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(..) => f.write_str("Timeout(..)"),
            PushTimeoutError::Closed(..) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushTimeoutError::Timeout(..) => f.write_str("timed out waiting for room to push"),
            PushTimeoutError::Closed(..) => f.write_str("push on a closed container"),
        }
    }
}

impl<T> error::Error for PushTimeoutError<T> {}

impl<T> From<PushError<T>> for PushTimeoutError<T> {
    fn from(err: PushError<T>) -> Self {
        PushTimeoutError::Closed(err.into_inner())
    }
}

/// The error of [`try_push`](crate::Queue::try_push) (Python's
/// `put_nowait`). The item is handed back.
///
/// # Examples
///
/// ```
/// use rallypoint::{Stack, TryPushError};
///
/// let s = Stack::bounded(1);
/// s.try_push(1).unwrap();
/// assert_eq!(s.try_push(2), Err(TryPushError::Full(2)));
/// s.close();
/// assert_eq!(s.try_push(3), Err(TryPushError::Closed(3)));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPushError<T> {
    /// The container is full (or its free slots are promised to pushers
    /// already waiting); the item was not pushed.
    Full(T),
    /// The container is closed; the item was not pushed.
    Closed(T),
}

impl<T> TryPushError<T> {
    /// Returns the item that could not be pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(rallypoint::TryPushError::Full(5).into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPushError::Full(item) | TryPushError::Closed(item) => item,
        }
    }

    /// `true` if the push failed because the container was full.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::TryPushError::Full(()).is_full());
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        matches!(self, TryPushError::Full(_))
    }

    /// `true` if the push failed because the container is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::TryPushError::Closed(()).is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPushError::Closed(_))
    }
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(..) => f.write_str("Full(..)"),
            TryPushError::Closed(..) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPushError::Full(..) => f.write_str("push on a full container"),
            TryPushError::Closed(..) => f.write_str("push on a closed container"),
        }
    }
}

impl<T> error::Error for TryPushError<T> {}

impl<T> From<PushError<T>> for TryPushError<T> {
    fn from(err: PushError<T>) -> Self {
        TryPushError::Closed(err.into_inner())
    }
}

/// The error of [`pop`](crate::Queue::pop) and
/// [`pop_blocking`](crate::Queue::pop_blocking): the container is closed and
/// has been drained.
///
/// # Examples
///
/// ```
/// let q = rallypoint::Queue::unbounded();
/// q.push_blocking(1).unwrap();
/// q.close();
/// assert_eq!(q.pop_blocking(), Ok(1)); // drained first…
/// assert_eq!(q.pop_blocking(), Err(rallypoint::PopError)); // …then closed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PopError;

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pop from a closed and drained container")
    }
}

impl error::Error for PopError {}

/// The error of [`pop_timeout`](crate::Queue::pop_timeout) and
/// [`pop_timeout_blocking`](crate::Queue::pop_timeout_blocking).
///
/// # Examples
///
/// ```
/// use rallypoint::{PopTimeoutError, Queue};
/// use std::time::Duration;
///
/// let q = Queue::<i32>::unbounded();
/// assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Err(PopTimeoutError::Timeout));
/// q.close();
/// assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Err(PopTimeoutError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PopTimeoutError {
    /// Nothing could be popped before the deadline.
    Timeout,
    /// The container is closed and drained.
    Closed,
}

impl PopTimeoutError {
    /// `true` if the pop timed out.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::PopTimeoutError::Timeout.is_timeout());
    /// ```
    #[must_use]
    pub fn is_timeout(&self) -> bool {
        matches!(self, PopTimeoutError::Timeout)
    }

    /// `true` if the pop failed because the container is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::PopTimeoutError::Closed.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, PopTimeoutError::Closed)
    }
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PopTimeoutError::Timeout => f.write_str("timed out waiting for an item to pop"),
            PopTimeoutError::Closed => f.write_str("pop from a closed and drained container"),
        }
    }
}

impl error::Error for PopTimeoutError {}

impl From<PopError> for PopTimeoutError {
    fn from(_: PopError) -> Self {
        PopTimeoutError::Closed
    }
}

/// The error of [`try_pop`](crate::Queue::try_pop) (Python's `get_nowait`).
///
/// # Examples
///
/// ```
/// use rallypoint::{Queue, TryPopError};
///
/// let q = Queue::<i32>::unbounded();
/// assert_eq!(q.try_pop(), Err(TryPopError::Empty));
/// q.close();
/// assert_eq!(q.try_pop(), Err(TryPopError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryPopError {
    /// Nothing can be popped now (empty, or every buffered item is promised
    /// to a popper that was already waiting).
    Empty,
    /// The container is closed and drained.
    Closed,
}

impl TryPopError {
    /// `true` if nothing could be popped.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::TryPopError::Empty.is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        matches!(self, TryPopError::Empty)
    }

    /// `true` if the container is closed and drained.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(rallypoint::TryPopError::Closed.is_closed());
    /// ```
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, TryPopError::Closed)
    }
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPopError::Empty => f.write_str("pop from an empty container"),
            TryPopError::Closed => f.write_str("pop from a closed and drained container"),
        }
    }
}

impl error::Error for TryPopError {}

impl From<PopError> for TryPopError {
    fn from(_: PopError) -> Self {
        TryPopError::Closed
    }
}

/// The error of [`task_done`](crate::Queue::task_done): it was called more
/// times than items were pushed (Python raises `ValueError`).
///
/// # Examples
///
/// ```
/// let q = rallypoint::Queue::<i32>::unbounded();
/// assert_eq!(q.task_done(), Err(rallypoint::TaskDoneError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than items were pushed")
    }
}

impl error::Error for TaskDoneError {}
