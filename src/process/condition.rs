//! `process::Condition`: Python's `multiprocessing.Condition`, a
//! [`process::Lock`](super::Lock) and a queue of waiters in one segment.
//!
//! # Layout
//!
//! The body starts with a lock's body (its owner word, sleepers and
//! roster), so the condition's lock *is* a `process::Lock` over the same
//! segment; then a ticket counter and 128 waiter records:
//!
//! ```text
//!  record word (futex) : state (bits 0..2: FREE, RESERVED, WAITING, NOTIFIED)
//!                        | owner, a short roster token (bits 2..24)
//!                        | seq (bits 24..32, bumped on every free, against ABA)
//!  ticket              : the order of the wait (FIFO), written while RESERVED
//! ```
//!
//! # Protocol
//!
//! Every change is one compare-exchange on one record word, so neither the
//! lock nor any order between processes is needed, and a process killed at
//! any instruction leaves every record in a state:
//!
//! * **wait** (lock held): `FREE → RESERVED(me)` (the claim names its owner
//!   in the same step), ticket, `→ WAITING(me)`; release the lock; sleep on
//!   the record word until it says `NOTIFIED`; `→ FREE`; take the lock.
//! * **notify(n)**: up to `n` times, the `WAITING` record with the smallest
//!   ticket `→ NOTIFIED`, then wake its word. Each compare-exchange succeeds
//!   for one notifier only, so concurrent notifies wake distinct waiters and
//!   the counts are exact; a record that registers during the scan is not
//!   counted (it was not waiting "at that moment").
//! * **timeout / cancel**: `WAITING → FREE`. If that fails the record was
//!   notified: the wait reports a notification (timeout), or passes it on
//!   with `notify(1)` (a dropped future).
//! * **a dead owner**: a notifier that meets a `WAITING` or `RESERVED`
//!   record of a process that is gone frees it instead of counting it (the
//!   roster says who is gone; the reaper watches peers through pidfds, so
//!   asking again is cheap).
//!
//! A record whose state is garbage (a scribbled segment) is neither a
//! waiter nor free: it is never counted, and stays unusable.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

mod records;
mod wait;

use super::layout::{Kind, Meta};
use super::lock::{self, Lock, LockAcquire, LockGuard, LockResult};
use super::owner::Known;
use super::roster;
use super::segment::{DEFAULT_MODE, Mapping, Segment};
use super::wait as shm_wait;
use crate::WaitTimeoutResult;
use crate::engine::deadline_after;

use self::records::{Body, RECORDS, WAITING, state_of};
use self::wait::NoticeOp;
pub use self::wait::{ConditionWait, ConditionWaitTimeout};

/// The body's revision (bumped when `Body` changes).
const LAYOUT: u32 = 1;

/// A lock and a condition variable shared between processes — Python's
/// `multiprocessing.Condition`.
///
/// The lock is a [`process::Lock`](super::Lock) (so a holder that dies
/// hands [`OwnerDied`](super::OwnerDied) to the next locker, from
/// [`lock`](Condition::lock_blocking) or from the relock at the end of a
/// wait); [`wait_blocking`](Condition::wait_blocking) and friends take its
/// guard, as `std`'s `Condvar` does. As for the in-process
/// [`Condvar`](crate::Condvar) (SPEC §4): `notify(n)` wakes exactly the `n`
/// oldest waiters waiting at that moment, in every process (none if nobody
/// waits: nothing is stored); successive `notify_one()`s wake distinct
/// waiters; a wait returns only after a notification (or its timeout);
/// waiters are woken in the order they began waiting.
///
/// # A killed process
///
/// * Killed holding the lock: the next locker gets `OwnerDied` (the guard
///   inside), as for `Lock`.
/// * Killed while waiting: its record is reclaimed by the next notifier,
///   which does not count it, so no notification is lost on it.
/// * Killed after being notified, before relocking: that notification is
///   gone with it (as in Python).
///
/// # Limits
///
/// 128 waiters at once, in all processes together; a wait that finds every
/// record taken returns at once, relocked, as a spurious wake-up would
/// (`wait_while` forms are unaffected: they look at the predicate again).
///
/// # Example
///
/// ```
/// use rallypoint::process::{Condition, Event};
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-cond-{}", std::process::id());
/// let cond = Condition::create(&name)?;
/// let peer = Condition::open(&name)?; // in another process, usually
/// let ready = Event::anonymous()?;     // the state the condition guards
/// std::thread::scope(|s| {
///     s.spawn(|| {
///         let guard = peer.lock_blocking().unwrap();
///         let _guard = peer.wait_while_blocking(guard, || !ready.is_set()).unwrap();
///     });
///     let _guard = cond.lock_blocking().unwrap();
///     ready.set();
///     cond.notify_all();
/// });
/// # Ok(())
/// # }
/// ```
pub struct Condition {
    lock: Lock,
    /// This handle's short roster token (the owner in its records).
    me: u32,
    /// Peers this handle has seen waiting and watches.
    known: Known,
}

impl Condition {
    /// Creates a condition (its lock unlocked) under `name` in `/dev/shm`,
    /// owner-only (mode `0o600`); the name is removed when this handle is
    /// dropped unless [`persist`](Condition::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a bad name,
    /// or the system's error.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let name = format!("doc-cond-create-{}", std::process::id());
    /// let cond = Condition::create(&name)?;
    /// assert_eq!(cond.name(), Some(name.as_str()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(name: &str) -> io::Result<Condition> {
        Condition::create_with_mode(name, DEFAULT_MODE)
    }

    /// [`create`](Condition::create) with the file mode `mode` (subject to
    /// the umask).
    ///
    /// # Errors
    ///
    /// As [`create`](Condition::create); `InvalidInput` for bits beyond
    /// `0o777`.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let name = format!("doc-cond-mode-{}", std::process::id());
    /// let cond = Condition::create_with_mode(&name, 0o600)?;
    /// assert!(!cond.as_lock().is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_with_mode(name: &str, mode: u32) -> io::Result<Condition> {
        Condition::with(Segment::create(name, mode, meta(), |_| {})?)
    }

    /// Opens the condition another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// a condition of this version, or `Other` if all 64 participant slots
    /// are taken by live handles.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// assert!(Condition::open("no-such-condition").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(name: &str) -> io::Result<Condition> {
        Condition::with(Segment::open(
            name,
            Kind::Condition,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    /// Creates a condition with no name (a sealed memfd), shared by handing
    /// [`as_fd_owned`](Condition::as_fd_owned) to another process, which
    /// takes it with [`from_fd`](Condition::from_fd).
    ///
    /// # Errors
    ///
    /// The system's error.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let same = Condition::from_fd(cond.as_fd_owned()?)?;
    /// drop(cond.lock_blocking());
    /// assert_eq!(same.notify_all(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous() -> io::Result<Condition> {
        Condition::with(Segment::anonymous(meta(), |_| {})?)
    }

    /// Takes over a condition segment's file descriptor, checking it as
    /// [`open`](Condition::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](Condition::open).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let same = Condition::from_fd(cond.as_fd_owned()?)?;
    /// let _guard = cond.lock_blocking().unwrap();
    /// assert!(same.as_lock().is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<Condition> {
        Condition::with(Segment::adopt(
            fd,
            None,
            Kind::Condition,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    fn with(seg: Segment) -> io::Result<Condition> {
        let lock = Lock::with(seg)?;
        Ok(Condition {
            me: roster::short(lock.token()),
            lock,
            known: Known::default(),
        })
    }

    fn map(&self) -> &Arc<Mapping> {
        self.lock.segment().map()
    }

    fn body(&self) -> &Body {
        self.map().body()
    }

    /// The condition's lock (e.g. for [`is_locked`](Lock::is_locked)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let _guard = cond.lock_blocking().unwrap();
    /// assert!(cond.as_lock().is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_lock(&self) -> &Lock {
        &self.lock
    }

    /// Waits for the condition's lock.
    ///
    /// # Cancel safety
    ///
    /// As [`Lock::acquire`].
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// futures_lite::future::block_on(async {
    ///     let _guard = cond.lock().await.expect("nobody died");
    ///     assert!(cond.try_lock().is_none());
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn lock(&self) -> LockAcquire<'_> {
        self.lock.acquire()
    }

    /// Blocks until it holds the condition's lock. Must not be called from
    /// async code (use [`lock`](Condition::lock)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let guard = cond.lock_blocking().expect("nobody died");
    /// drop(guard);
    /// # Ok(())
    /// # }
    /// ```
    pub fn lock_blocking(&self) -> LockResult<LockGuard<'_>> {
        self.lock.acquire_blocking()
    }

    /// Blocks until it holds the lock or `timeout` passes (`None`). Must
    /// not be called from async code.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// use std::time::Duration;
    /// let cond = Condition::anonymous()?;
    /// let _held = cond.lock_blocking().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(cond.lock_timeout_blocking(Duration::from_millis(10)).is_none()));
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn lock_timeout_blocking(&self, timeout: Duration) -> Option<LockResult<LockGuard<'_>>> {
        self.lock.acquire_timeout_blocking(timeout)
    }

    /// Takes the lock if it is free (or its holder is dead): `None` if a
    /// live process holds it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let guard = cond.try_lock().expect("free").unwrap();
    /// assert!(cond.try_lock().is_none());
    /// drop(guard);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_lock(&self) -> Option<LockResult<LockGuard<'_>>> {
        self.lock.try_acquire()
    }

    fn check(&self, guard: &LockGuard<'_>) {
        assert!(
            std::ptr::eq(guard.lock(), &self.lock),
            "the guard is not of this condition's lock"
        );
    }

    /// Wakes up to `n` of the waiters waiting now, oldest first, in every
    /// process: how many it woke.
    ///
    /// It does not need the lock (Python's does): a notification is not
    /// stored, so hold the lock while changing what the waiters test to
    /// not miss one that is about to wait.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// assert_eq!(cond.notify(3), 0); // nobody waits: nothing is stored
    /// # Ok(())
    /// # }
    /// ```
    pub fn notify(&self, n: usize) -> usize {
        self.notify_records(n)
    }

    /// Wakes the oldest waiter, if any: whether one was woken.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// assert!(!cond.notify_one()); // nobody waits
    /// # Ok(())
    /// # }
    /// ```
    pub fn notify_one(&self) -> bool {
        self.notify(1) == 1
    }

    /// Wakes every waiter waiting now: how many.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// assert_eq!(cond.notify_all(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn notify_all(&self) -> usize {
        self.notify(usize::MAX)
    }

    /// Releases the lock (held by `guard`), waits for a notification, and
    /// takes the lock again. Must not be called from async code (use
    /// [`wait`](Condition::wait)).
    ///
    /// # Errors
    ///
    /// [`OwnerDied`](super::OwnerDied) (the guard inside) if, while this
    /// waited, a process died holding the lock.
    ///
    /// # Panics
    ///
    /// If `guard` is not of this condition's lock.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// std::thread::scope(|s| {
    ///     let guard = cond.lock_blocking().unwrap();
    ///     s.spawn(|| {
    ///         // Takes the lock only once the waiter released it in `wait`.
    ///         let _guard = cond.lock_blocking().unwrap();
    ///         cond.notify_one();
    ///     });
    ///     let _guard = cond.wait_blocking(guard).unwrap();
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_blocking<'a>(&'a self, guard: LockGuard<'a>) -> LockResult<LockGuard<'a>> {
        self.wait_until_blocking(guard, None).0
    }

    /// [`wait_blocking`](Condition::wait_blocking) for at most `timeout`
    /// (the relock is not timed). Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Condition::wait_blocking).
    ///
    /// # Panics
    ///
    /// If `guard` is not of this condition's lock.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// use std::time::Duration;
    /// let cond = Condition::anonymous()?;
    /// let guard = cond.lock_blocking().unwrap();
    /// let (guard, result) = cond.wait_timeout_blocking(guard, Duration::from_millis(10));
    /// assert!(result.timed_out() && guard.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_timeout_blocking<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> (LockResult<LockGuard<'a>>, WaitTimeoutResult) {
        let (guard, timed_out) = self.wait_until_blocking(guard, deadline_after(timeout));
        (guard, WaitTimeoutResult::new(timed_out))
    }

    fn wait_until_blocking<'a>(
        &'a self,
        guard: LockGuard<'a>,
        deadline: Option<Instant>,
    ) -> (LockResult<LockGuard<'a>>, bool) {
        self.check(&guard);
        let record = self.register();
        drop(guard);
        let timed_out = match record {
            // No record: a spurious wake-up (type docs, "Limits").
            None => {
                std::thread::yield_now();
                false
            }
            Some(record) => !shm_wait::block(&mut self.notice_op(record), deadline),
        };
        (self.lock.acquire_blocking(), timed_out)
    }

    /// Waits (as [`wait_blocking`](Condition::wait_blocking)) while `pred`
    /// returns `true`, which it calls with the lock held. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Condition::wait_blocking), at once.
    ///
    /// # Panics
    ///
    /// If `guard` is not of this condition's lock.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// let cond = Condition::anonymous()?;
    /// let ready = AtomicBool::new(false); // in real use, state in shared memory
    /// std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         let _guard = cond.lock_blocking().unwrap();
    ///         ready.store(true, Ordering::SeqCst);
    ///         cond.notify_all();
    ///     });
    ///     let guard = cond.lock_blocking().unwrap();
    ///     let _guard = cond.wait_while_blocking(guard, || !ready.load(Ordering::SeqCst)).unwrap();
    /// });
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_blocking<'a>(
        &'a self,
        guard: LockGuard<'a>,
        pred: impl FnMut() -> bool,
    ) -> LockResult<LockGuard<'a>> {
        self.wait_while_until_blocking(guard, pred, None).0
    }

    /// [`wait_while_blocking`](Condition::wait_while_blocking) for at most
    /// `timeout`: timed out if `pred` still asks to wait when the time is
    /// up. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Condition::wait_blocking), at once.
    ///
    /// # Panics
    ///
    /// If `guard` is not of this condition's lock.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// use std::time::Duration;
    /// let cond = Condition::anonymous()?;
    /// let guard = cond.lock_blocking().unwrap();
    /// let (guard, result) = cond.wait_while_timeout_blocking(guard, || true, Duration::from_millis(10));
    /// assert!(result.timed_out() && guard.is_ok());
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "wait_for")]
    pub fn wait_while_timeout_blocking<'a>(
        &'a self,
        guard: LockGuard<'a>,
        pred: impl FnMut() -> bool,
        timeout: Duration,
    ) -> (LockResult<LockGuard<'a>>, WaitTimeoutResult) {
        let (guard, timed_out) =
            self.wait_while_until_blocking(guard, pred, deadline_after(timeout));
        (guard, WaitTimeoutResult::new(timed_out))
    }

    fn wait_while_until_blocking<'a>(
        &'a self,
        mut guard: LockGuard<'a>,
        mut pred: impl FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> (LockResult<LockGuard<'a>>, bool) {
        loop {
            if !pred() {
                return (Ok(guard), false);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return (Ok(guard), true);
            }
            match self.wait_until_blocking(guard, deadline).0 {
                Ok(next) => guard = next,
                died @ Err(_) => return (died, false),
            }
        }
    }

    /// Releases the lock (held by `guard`), waits for a notification, and
    /// takes the lock again.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Condition::wait_blocking).
    ///
    /// # Panics
    ///
    /// If `guard` is not of this condition's lock (when called, not when
    /// polled).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropped while waiting, the wait is withdrawn; dropped
    /// after its notification arrived but before it relocked, it passes the
    /// notification on to the next waiter. Either way the lock is not held
    /// by the dropped future.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// futures_lite::future::block_on(async {
    ///     let guard = cond.lock().await.unwrap();
    ///     let mut wait = Box::pin(cond.wait(guard));
    ///     // Not notified yet:
    ///     assert!(futures_lite::future::poll_once(&mut wait).await.is_none());
    ///     assert!(cond.notify_one());
    ///     let _guard = wait.await.unwrap();
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait<'a>(&'a self, guard: LockGuard<'a>) -> ConditionWait<'a> {
        ConditionWait::new(self, guard, None)
    }

    /// [`wait`](Condition::wait) for at most `timeout` (the relock is not
    /// timed): the guard and whether it timed out.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Condition::wait_blocking).
    ///
    /// # Panics
    ///
    /// As [`wait`](Condition::wait).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Condition::wait).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// use std::time::Duration;
    /// let cond = Condition::anonymous()?;
    /// futures_lite::future::block_on(async {
    ///     let guard = cond.lock().await.unwrap();
    ///     let (guard, result) = cond.wait_timeout(guard, Duration::from_millis(10)).await;
    ///     assert!(result.timed_out() && guard.is_ok());
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn wait_timeout<'a>(
        &'a self,
        guard: LockGuard<'a>,
        timeout: Duration,
    ) -> ConditionWaitTimeout<'a> {
        ConditionWaitTimeout(ConditionWait::new(self, guard, deadline_after(timeout)))
    }

    fn notice_op(&self, (index, word): (usize, u32)) -> NoticeOp<'_> {
        NoticeOp {
            cond: self,
            index,
            word,
        }
    }
}

fn meta() -> Meta {
    Meta {
        kind: Kind::Condition,
        layout: LAYOUT,
        body_size: size_of::<Body>(),
        creator_pid: std::process::id(),
        params: [lock::SLOTS as u64, RECORDS as u64, 0, 0],
    }
}

impl Condition {
    /// A duplicate of the segment's file descriptor, e.g. to pass to a
    /// child, which takes it over with [`from_fd`](Condition::from_fd).
    ///
    /// # Errors
    ///
    /// The system's error (out of descriptors).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let cond = Condition::anonymous()?;
    /// let fd = cond.as_fd_owned()?; // hand it to a child process
    /// let _same = Condition::from_fd(fd)?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn as_fd_owned(&self) -> io::Result<OwnedFd> {
        self.lock.as_fd_owned()
    }

    /// The segment's name, `None` for an anonymous condition.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// assert_eq!(Condition::anonymous()?.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.lock.name()
    }

    /// Removes the name now: handles already open keep working, and no
    /// later `open` finds it. Any handle may call it.
    ///
    /// # Errors
    ///
    /// `NotFound` if the segment is anonymous, was unlinked already, or the
    /// name now refers to another segment.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let name = format!("doc-cond-unlink-{}", std::process::id());
    /// let cond = Condition::create(&name)?;
    /// cond.unlink()?;
    /// assert!(Condition::open(&name).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn unlink(&self) -> io::Result<()> {
        self.lock.unlink()
    }

    /// Keeps the name after this (creating) handle is dropped, so that
    /// processes started later can still open it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Condition;
    /// let name = format!("doc-cond-persist-{}", std::process::id());
    /// let cond = Condition::create(&name)?;
    /// cond.persist();
    /// drop(cond);
    /// let again = Condition::open(&name)?; // still there
    /// again.unlink()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn persist(&self) {
        self.lock.persist();
    }
}

impl std::os::fd::AsFd for Condition {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.lock.as_fd()
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        let used = (body.tickets.used.load(Ordering::Relaxed) as usize).min(RECORDS);
        // Relaxed: a snapshot for display (a killed waiter is counted
        // until a notifier reclaims its record).
        let waiters = body.records[..used]
            .iter()
            .filter(|r| state_of(r.word.load(Ordering::Relaxed)) == WAITING)
            .count();
        f.debug_struct("Condition")
            .field("name", &self.name())
            .field("locked", &self.lock.is_locked())
            .field("waiters", &waiters)
            .finish()
    }
}
