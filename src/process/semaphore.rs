//! `process::Semaphore`: Python's `multiprocessing.Semaphore` and
//! `BoundedSemaphore`, with the in-process [`Semaphore`](crate::Semaphore)'s
//! fairness and cancel-safety; the algorithm is in `raw.rs`.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::layout::Kind;
use super::owner::{Known, OwnerWord};
use super::roster::{self, Claim};
use super::segment::{DEFAULT_MODE, Segment, segment_handle};
use super::wait::{self, AsyncShm};
use crate::engine::deadline_after;
use crate::{AcquireError, AcquireTimeoutError, Fairness, ReleaseError, TryAcquireError};

mod acquire;
mod arc;
mod builder;
mod raw;

use acquire::{AcquireOp, timeout_result};
pub use acquire::{
    SemaphoreAcquire, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout, SemaphoreAcquireTimeout,
    SemaphorePermit, SemaphorePermitArc, SemaphorePermitOf,
};
pub use builder::SemaphoreBuilder;
use raw::{Body, Locked, Params, RECORDS, SLOTS, TryTake};

/// The body's revision (bumped when `Body` changes).
const LAYOUT: u32 = 1;

/// A counting semaphore shared between processes — Python's
/// `multiprocessing.Semaphore` and `BoundedSemaphore` — with the four
/// forms of every rallypoint wait and the in-process
/// [`Semaphore`](crate::Semaphore)'s rules (SPEC §5): FIFO among waiters,
/// [eventually fair](Fairness) by default or strictly FIFO on request, a
/// queued `acquire_many(n)` never starved by smaller acquires, `close()`.
///
/// Waiters of all processes queue in one table in the segment (128
/// records: an acquire that finds them all taken waits for one to be
/// freed, outside the FIFO order). An uncontended acquire or release is one
/// atomic read-modify-write.
///
/// # A killed process
///
/// * Permits it *held* are gone, as in Python: a permit has no owner
///   (anyone may `release`). Use a [`Lock`](super::Lock) for ownership.
/// * A process killed while *waiting* loses its place: its record is
///   reclaimed, and permits granted to it but not yet returned to its
///   caller go to the next waiter — at once if another process was waiting
///   behind it (that process's reaper watches it), else when the next
///   acquire has to wait. Survivors never wait for a dead process.
/// * A process killed *inside* the semaphore's short internal critical
///   section is taken over by the next process that enters it, which
///   finishes or undoes what it was doing.
///
/// Each open handle takes one of the segment's 64 participant slots until
/// dropped; slots of dead processes are reclaimed.
///
/// # Example
///
/// ```
/// use rallypoint::process::Semaphore;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-sem-{}", std::process::id());
/// let sem = Semaphore::create_bounded(&name, 2)?;
/// let peer = Semaphore::open(&name)?; // in another process, usually
/// let a = sem.acquire_blocking().unwrap();
/// let b = peer.try_acquire().unwrap();
/// assert!(peer.try_acquire().is_err());
/// drop((a, b));
/// assert_eq!(peer.available_permits(), 2);
/// assert!(peer.release(1).is_err()); // bounded: at most 2
/// # Ok(())
/// # }
/// ```
pub struct Semaphore {
    seg: Segment,
    claim: Claim,
    params: Params,
    /// Holders of the internal mutex this handle asked the reaper to watch.
    mutex_known: Known,
    /// Processes with records ahead of this handle's waiters, watched.
    peers: Known,
}

impl Semaphore {
    /// The most permits a process semaphore may hold (2³¹ − 1).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// assert!(Semaphore::anonymous(Semaphore::MAX_PERMITS + 1).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub const MAX_PERMITS: usize = raw::MAX_PERMITS as usize;

    /// A builder for a semaphore with `permits` initial permits.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let sem = Semaphore::builder(3).anonymous()?;
    /// assert_eq!(sem.available_permits(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(permits: usize) -> SemaphoreBuilder {
        SemaphoreBuilder {
            permits,
            bounded: false,
            fairness: Fairness::default(),
            mode: DEFAULT_MODE,
        }
    }

    /// Creates a semaphore with `permits` permits under `name` in
    /// `/dev/shm` (mode `0o600`); `release` may raise the count without
    /// limit (up to [`MAX_PERMITS`](Semaphore::MAX_PERMITS)). The name is
    /// removed when this handle is dropped unless
    /// [`persist`](Semaphore::persist)ed.
    ///
    /// # Errors
    ///
    /// As [`SemaphoreBuilder::create`].
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let name = format!("doc-sem-create-{}", std::process::id());
    /// let sem = Semaphore::create(&name, 1)?;
    /// assert!(Semaphore::create(&name, 1).is_err()); // AlreadyExists
    /// sem.release(5).unwrap(); // unbounded
    /// assert_eq!(sem.available_permits(), 6);
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(name: &str, permits: usize) -> io::Result<Semaphore> {
        Semaphore::builder(permits).create(name)
    }

    /// [`create`](Semaphore::create) for a bounded semaphore (Python's
    /// `BoundedSemaphore`): the count may never exceed `permits`.
    ///
    /// # Errors
    ///
    /// As [`SemaphoreBuilder::create`].
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let name = format!("doc-sem-bounded-{}", std::process::id());
    /// let sem = Semaphore::create_bounded(&name, 1)?;
    /// assert!(sem.release(1).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_bounded(name: &str, permits: usize) -> io::Result<Semaphore> {
        Semaphore::builder(permits).bounded().create(name)
    }

    /// Creates an unbounded semaphore with no name (see
    /// [`SemaphoreBuilder::anonymous`]).
    ///
    /// # Errors
    ///
    /// As [`SemaphoreBuilder::anonymous`].
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let sem = Semaphore::anonymous(1)?;
    /// assert_eq!(sem.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous(permits: usize) -> io::Result<Semaphore> {
        Semaphore::builder(permits).anonymous()
    }

    /// Opens the semaphore another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// a semaphore of this version, or `Other` if all 64 participant slots
    /// are taken by live handles.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let name = format!("doc-sem-open-{}", std::process::id());
    /// let sem = Semaphore::create(&name, 0)?;
    /// let peer = Semaphore::open(&name)?; // in another process, usually
    /// peer.release(1).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// assert!(Semaphore::open("no-such-semaphore").is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(name: &str) -> io::Result<Semaphore> {
        Semaphore::with(Segment::open(
            name,
            Kind::Semaphore,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    /// Takes over a semaphore segment's file descriptor, checking it as
    /// [`open`](Semaphore::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](Semaphore::open).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let sem = Semaphore::anonymous(1)?;
    /// let same = Semaphore::from_fd(sem.as_fd_owned()?)?;
    /// drop(same.try_acquire().unwrap());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<Semaphore> {
        Semaphore::with(Segment::adopt(
            fd,
            None,
            Kind::Semaphore,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    fn with(seg: Segment) -> io::Result<Semaphore> {
        let [tables, bound, fairness, _] = seg.meta().params;
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidData, why);
        if tables != SLOTS as u64 | (RECORDS as u64) << 16 {
            return Err(invalid(format!(
                "semaphore segment with tables {tables:#x}"
            )));
        }
        if bound > raw::MAX_PERMITS + 1 {
            return Err(invalid(format!("semaphore segment with bound {bound}")));
        }
        let params = Params {
            max: bound.checked_sub(1).unwrap_or(raw::MAX_PERMITS),
            bounded: bound != 0,
            bound_ns: fairness.checked_sub(1),
        };
        let claim = roster::claim_for(&seg.map().body::<Body>().slots, "semaphore")?;
        Ok(Semaphore {
            seg,
            claim,
            params,
            mutex_known: Known::default(),
            peers: Known::default(),
        })
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
    }

    /// The semaphore's [`Fairness`] (chosen at creation).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::{Fairness, process::Semaphore};
    /// assert_eq!(Semaphore::anonymous(1)?.fairness(), Fairness::default());
    /// # Ok(())
    /// # }
    /// ```
    pub fn fairness(&self) -> Fairness {
        match self.params.bound_ns {
            None => Fairness::Strict,
            Some(ns) => Fairness::Eventual(Duration::from_nanos(ns)),
        }
    }

    /// Whether the semaphore is bounded (Python's `BoundedSemaphore`).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// assert!(!Semaphore::anonymous(1)?.is_bounded());
    /// assert!(Semaphore::builder(1).bounded().anonymous()?.is_bounded());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_bounded(&self) -> bool {
        self.params.bounded
    }

    /// The permits available now (a snapshot).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(3)?;
    /// let _two = sem.try_acquire_many(2).unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn available_permits(&self) -> usize {
        // Relaxed: a snapshot; nothing is taken with it.
        raw::avail(self.body().state.load(Ordering::Relaxed)) as usize
    }

    /// Closes the semaphore, in every process: waiters and later acquires
    /// get [`AcquireError::Closed`] (`try_acquire` gets
    /// [`TryAcquireError::Closed`]). Permits already held stay valid;
    /// [`release`](Semaphore::release) still changes the count. A waiter
    /// that had been granted its permits before the close succeeds.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// sem.close();
    /// assert!(sem.acquire_blocking().is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&self) {
        self.lock().close();
    }

    /// `true` once [`close`](Semaphore::close) has been called (by any
    /// process).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// assert!(!sem.is_closed());
    /// sem.close();
    /// assert!(sem.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.body().state.load(Ordering::Relaxed) & raw::CLOSED != 0
    }

    /// Adds `n` permits: Python's `release(n)`. The oldest waiters, in any
    /// process, are served first, as far as the permits go (with eventual
    /// [`Fairness`], the oldest is woken to take them and a running caller
    /// may get there first).
    ///
    /// # Errors
    ///
    /// [`ReleaseError`], changing nothing, if the count would exceed the
    /// bound of a bounded semaphore (or
    /// [`MAX_PERMITS`](Semaphore::MAX_PERMITS)).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(0)?;
    /// sem.release(2).unwrap();
    /// assert_eq!(sem.available_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn release(&self, n: usize) -> Result<(), ReleaseError> {
        if n == 0 {
            return Ok(());
        }
        let n = u64::try_from(n).map_err(|_| ReleaseError)?;
        match raw::add(self.body(), n, self.params.max, true) {
            Err(()) => Err(ReleaseError),
            Ok(serve) => {
                if serve {
                    self.lock().serve();
                }
                Ok(())
            }
        }
    }

    /// Gives back a permit's `n` (never past the bound: a count that would
    /// go past it was raised by releases that had no permits behind them).
    pub(super) fn give_back(&self, n: u64) {
        if let Ok(true) = raw::add(self.body(), n, self.params.max, false) {
            self.lock().serve();
        }
    }

    /// Takes one permit if one is available and the semaphore is not
    /// handing permits to waiters (see [`Fairness`]).
    ///
    /// # Errors
    ///
    /// [`TryAcquireError::NoPermits`] or [`TryAcquireError::Closed`].
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_err());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_ok());
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if available, as [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(3)?;
    /// let two = sem.try_acquire_many(2).unwrap();
    /// assert!(sem.try_acquire_many(2).is_err());
    /// assert_eq!(two.num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_take(n).map(|n| SemaphorePermitOf::new(self, n))
    }

    /// [`try_acquire`](Semaphore::try_acquire) for an `Arc`: the permit
    /// owns a clone of it.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(1)?);
    /// let permit = sem.try_acquire_arc().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// assert_eq!(sem.available_permits(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire_arc(self: &Arc<Self>) -> Result<SemaphorePermitArc, TryAcquireError> {
        self.try_acquire_many_arc(1)
    }

    /// [`try_acquire_many`](Semaphore::try_acquire_many) for an `Arc`.
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(2)?);
    /// assert_eq!(sem.try_acquire_many_arc(2).unwrap().num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire_many_arc(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<SemaphorePermitArc, TryAcquireError> {
        self.try_take(n)
            .map(|n| SemaphorePermitOf::new(Arc::clone(self), n))
    }

    fn try_take(&self, n: usize) -> Result<u32, TryAcquireError> {
        let Ok(n) = u32::try_from(n) else {
            return Err(if self.is_closed() {
                TryAcquireError::Closed
            } else {
                TryAcquireError::NoPermits
            });
        };
        match raw::try_take(self.body(), u64::from(n)) {
            TryTake::Taken => Ok(n),
            TryTake::NoPermits => Err(TryAcquireError::NoPermits),
            TryTake::Closed => Err(TryAcquireError::Closed),
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is or gets closed (by any
    /// process).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future leaves the queue and keeps no place
    /// in line; permits that had been granted to it go back and on to the
    /// next waiter, in whichever process.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// let permit = futures_lite::future::block_on(sem.acquire()).unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire(&self) -> SemaphoreAcquire<'_> {
        self.acquire_many(1)
    }

    /// Waits for `n` permits at once, served in FIFO order with the other
    /// waiters of every process (a queued `acquire_many` is not starved by
    /// smaller acquires). `n == 0` succeeds at once.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`], or [`AcquireError::ExceedsBound`] at once
    /// if `n` is more than the semaphore can ever hold.
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::builder(2).bounded().anonymous()?;
    /// futures_lite::future::block_on(async {
    ///     assert_eq!(sem.acquire_many(2).await.unwrap().num_permits(), 2);
    ///     assert!(sem.acquire_many(3).await.is_err()); // ExceedsBound
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many(&self, n: usize) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire::new(AsyncShm::new(AcquireOp::new(self, n)), None)
    }

    /// Blocks the thread until it has one permit. Must not be called from
    /// async code (use [`acquire`](Semaphore::acquire)).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// let permit = sem.acquire_blocking().unwrap();
    /// assert_eq!(sem.available_permits(), 0);
    /// # drop(permit);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks until it has `n` permits. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = rallypoint::process::Semaphore::anonymous(3)?;
    /// assert_eq!(sem.acquire_many_blocking(3).unwrap().num_permits(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        wait::block(&mut AcquireOp::new(self, n), None).expect("no deadline")
    }

    /// Waits for one permit at most `timeout`.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`], or as [`acquire`](Semaphore::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = rallypoint::process::Semaphore::anonymous(0)?;
    /// let got = futures_lite::future::block_on(sem.acquire_timeout(Duration::from_millis(5)));
    /// assert!(got.unwrap_err().is_timeout());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits for `n` permits at most `timeout`.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout) and
    /// [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// let got = futures_lite::future::block_on(sem.acquire_many_timeout(2, Duration::from_millis(5)));
    /// assert!(got.unwrap_err().is_timeout());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        SemaphoreAcquireTimeout::new(
            AsyncShm::new(AcquireOp::new(self, n)),
            deadline_after(timeout),
        )
    }

    /// Blocks until it has one permit or `timeout` passes. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = rallypoint::process::Semaphore::anonymous(1)?;
    /// let _one = sem.acquire_timeout_blocking(Duration::from_secs(1)).unwrap();
    /// assert!(sem.acquire_timeout_blocking(Duration::from_millis(5)).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        self.acquire_many_timeout_blocking(1, timeout)
    }

    /// Blocks until it has `n` permits or `timeout` passes. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = rallypoint::process::Semaphore::anonymous(2)?;
    /// let two = sem.acquire_many_timeout_blocking(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(two.num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_timeout_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        timeout_result(wait::block(
            &mut AcquireOp::new(self, n),
            deadline_after(timeout),
        ))
    }

    /// Takes the internal mutex (blocking: it is held for a few hundred
    /// nanoseconds at a time, also by async acquires).
    fn lock(&self) -> Locked<'_> {
        let body = self.body();
        let owner = self.mutex_owner();
        let died = wait::block(&mut owner.take_op(), None).expect("no deadline");
        Locked::new(body, self.params, self.claim.token, owner, died)
    }

    fn mutex_owner(&self) -> OwnerWord<'_> {
        let body = self.body();
        OwnerWord {
            map: self.seg.map(),
            word: &body.mutex,
            sleepers: &body.mutex_sleepers,
            slots: &body.slots,
            me: self.claim.token,
            known: &self.mutex_known,
        }
    }

    /// Makes sure this process hears of the death of every process with
    /// a record ahead of record `index`; `false` if one is dead already.
    fn watch_ahead(&self, index: usize) -> bool {
        let body = self.body();
        let mut me = None;
        let mut all_alive = true;
        for owner in Locked::owners_ahead(body, index, self.claim.token) {
            // Another handle of this process: its death is ours.
            let me = *me.get_or_insert_with(std::process::id);
            if roster::holder_unchecked(&body.slots, owner).is_some_and(|p| p.pid == me) {
                continue;
            }
            if !self.peers.watch(
                self.seg.map(),
                &body.slots,
                owner,
                &body.deaths,
                (raw::peer_exited, owner),
                SLOTS,
            ) {
                raw::peer_exited(self.seg.map(), &body.deaths, owner);
                all_alive = false;
            }
        }
        all_alive
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        roster::release(&self.body().slots, &self.claim);
    }
}

segment_handle!(Semaphore, "semaphore");

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        let mut d = f.debug_struct("Semaphore");
        d.field("name", &self.name());
        if self.params.bounded {
            d.field(
                "value",
                &format_args!("{}/{}", self.available_permits(), self.params.max),
            );
        } else {
            d.field("value", &self.available_permits());
        }
        d.field("waiters", &raw::waiting(body))
            .field("closed", &self.is_closed())
            .field("fairness", &self.fairness())
            .field("handles", &roster::claimed(&body.slots))
            .finish()
    }
}
