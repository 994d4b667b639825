//! What a barrier wait returns: [`BarrierWaitResult`] (the party's rank),
//! or [`BrokenBarrierError`] with its [`BrokenReason`]. Shared by the
//! in-process [`Barrier`] and `process::Barrier`.

use std::fmt;

#[cfg(doc)]
use super::Barrier;

/// The error returned by a wait on a broken barrier: Python's
/// `BrokenBarrierError`, with the [reason](BrokenBarrierError::reason).
///
/// A barrier breaks when [`Barrier::abort`] is called, when a wait times
/// out, or when the action panicked (and a `process::Barrier` when a
/// party's process died); the parties of the generation that was filling
/// get this error, and so does every later wait until [`Barrier::reset`].
/// `reset` also fails the parties waiting at that moment with this error.
/// Its [`reason`](BrokenBarrierError::reason) tells these cases apart, and
/// its `Display` says it.
///
/// # Examples
///
/// ```
/// use rallypoint::{Barrier, BrokenReason};
///
/// let barrier = Barrier::new(2);
/// barrier.abort();
/// let err = barrier.wait_blocking().unwrap_err();
/// assert_eq!(err.reason(), BrokenReason::Aborted);
/// assert_eq!(err, BrokenReason::Aborted);
/// assert_eq!(err.to_string(), "barrier broken: aborted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BrokenBarrierError {
    pub(super) reason: BrokenReason,
}

impl BrokenBarrierError {
    /// Why the barrier is broken, as seen by the party that got this error.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Barrier, BrokenReason};
    /// use std::time::Duration;
    ///
    /// let barrier = Barrier::new(2);
    /// let mine = barrier.wait_timeout_blocking(Duration::ZERO).unwrap_err();
    /// assert_eq!(mine.reason(), BrokenReason::TimedOut);
    /// let later = barrier.wait_blocking().unwrap_err();
    /// assert_eq!(later.reason(), BrokenReason::PartyTimedOut);
    /// ```
    #[must_use]
    pub fn reason(&self) -> BrokenReason {
        self.reason
    }
}

impl From<BrokenReason> for BrokenBarrierError {
    /// The error for `reason` (for tests and wrappers that report one).
    fn from(reason: BrokenReason) -> Self {
        BrokenBarrierError { reason }
    }
}

impl PartialEq<BrokenReason> for BrokenBarrierError {
    fn eq(&self, reason: &BrokenReason) -> bool {
        self.reason == *reason
    }
}

impl PartialEq<BrokenBarrierError> for BrokenReason {
    fn eq(&self, error: &BrokenBarrierError) -> bool {
        *self == error.reason
    }
}

impl fmt::Display for BrokenBarrierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "barrier broken: {}", self.reason)
    }
}

impl std::error::Error for BrokenBarrierError {}

/// Why a barrier is broken: [`BrokenBarrierError::reason`].
///
/// Each party is told why *its* wait failed: the party whose own timeout
/// broke the barrier gets [`TimedOut`](BrokenReason::TimedOut), the other
/// parties of its generation [`PartyTimedOut`](BrokenReason::PartyTimedOut).
/// A wait on a barrier that is already broken gets the reason it broke,
/// until [`reset`](Barrier::reset); breaking a broken barrier again (an
/// `abort()`, another timeout) does not change that reason.
///
/// More reasons may be added in later versions (`#[non_exhaustive]`).
///
/// # Examples
///
/// ```
/// use rallypoint::{Barrier, BrokenReason};
/// use std::sync::Arc;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let b = barrier.clone();
/// let waiter = std::thread::spawn(move || b.wait_blocking());
/// while barrier.n_waiting() == 0 {
///     std::thread::yield_now();
/// }
/// barrier.reset(); // fails the waiting party, leaves the barrier unbroken
/// let err = waiter.join().unwrap().unwrap_err();
/// assert_eq!(err.reason(), BrokenReason::Reset);
/// match err.reason() {
///     BrokenReason::TimedOut | BrokenReason::PartyTimedOut => println!("too slow"),
///     other => println!("gave up: {other}"),
/// }
/// assert!(!barrier.is_broken());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BrokenReason {
    /// The barrier was aborted ([`Barrier::abort`]).
    Aborted,
    /// The barrier was reset ([`Barrier::reset`]) while this party waited.
    /// (A reset does not break the barrier: only the parties waiting at
    /// that moment fail, with this reason.)
    Reset,
    /// This very wait's timeout expired, which broke the barrier (Python
    /// semantics).
    TimedOut,
    /// Another party's timeout expired and broke the barrier. Later waits
    /// on the still-broken barrier are told this too, including those of
    /// the party that timed out.
    PartyTimedOut,
    /// The barrier's action panicked. The party that ran it gets the panic
    /// instead of an error.
    ActionPanicked,
    /// The process of a party of a `process::Barrier` died while it was
    /// arriving or waiting at the barrier. (Never for the in-process
    /// [`Barrier`].)
    PartyDied,
}

impl fmt::Display for BrokenReason {
    /// The reason in words, as [`BrokenBarrierError`]'s `Display` writes it
    /// after `"barrier broken: "`.
    ///
    /// ```
    /// assert_eq!(
    ///     rallypoint::BrokenReason::PartyTimedOut.to_string(),
    ///     "another party timed out"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BrokenReason::Aborted => "aborted",
            BrokenReason::Reset => "reset while waiting",
            BrokenReason::TimedOut => "this wait timed out",
            BrokenReason::PartyTimedOut => "another party timed out",
            BrokenReason::ActionPanicked => "the barrier action panicked",
            BrokenReason::PartyDied => "a party's process died",
        })
    }
}

/// What a successful [`Barrier::wait`] returns: the party's rank in its
/// generation.
///
/// # Examples
///
/// ```
/// let barrier = rallypoint::Barrier::new(1);
/// let result = barrier.wait_blocking().unwrap();
/// assert_eq!(result.index(), 0);
/// assert!(result.is_leader());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult {
    pub(super) index: usize,
    pub(super) leader: bool,
}

impl BarrierWaitResult {
    #[cfg_attr(
        not(all(target_os = "linux", feature = "process", not(loom))),
        allow(dead_code)
    )]
    pub(crate) fn new(index: usize, leader: bool) -> Self {
        BarrierWaitResult { index, leader }
    }

    /// The party's rank in arrival order among the parties released together,
    /// from `0` to `parties - 1` (withdrawn parties take no rank). Python's
    /// `Barrier.wait()` return value.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(1);
    /// assert_eq!(barrier.wait_blocking().unwrap().index(), 0);
    /// ```
    #[must_use]
    pub fn index(&self) -> usize {
        self.index
    }

    /// `true` for exactly one party per generation: the last to arrive
    /// (`index() == parties - 1`), which also ran the action.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::Barrier::new(1);
    /// assert!(barrier.wait_blocking().unwrap().is_leader());
    /// ```
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}
