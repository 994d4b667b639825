//! `process::Semaphore`: Python's `multiprocessing.Semaphore` and
//! `BoundedSemaphore`, with the in-process [`Semaphore`](crate::Semaphore)'s
//! fairness and cancel-safety; the algorithm is in `raw.rs`.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::layout::{Kind, Meta};
use super::owner::{Known, OwnerWord};
use super::roster::{self, Claim};
use super::segment::{DEFAULT_MODE, Mapping, Segment, segment_handle};
use super::wait::{self, AsyncShm, Attempt, ShmOp};
use crate::engine::{deadline_after, named_future};
use crate::{AcquireError, AcquireTimeoutError, Fairness, ReleaseError, TryAcquireError};

mod raw;

use raw::{Body, Enqueue, Locked, Mine, Params, RECORDS, SLOTS, TryTake};

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

/// How a semaphore is created: bounded or not, its [`Fairness`], its file
/// mode. From [`Semaphore::builder`].
///
/// # Example
///
/// ```
/// use rallypoint::Fairness;
/// use rallypoint::process::Semaphore;
///
/// # fn main() -> std::io::Result<()> {
/// let sem = Semaphore::builder(3).bounded().fairness(Fairness::Strict).anonymous()?;
/// assert_eq!(sem.fairness(), Fairness::Strict);
/// assert!(sem.is_bounded());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until `create` or `anonymous`"]
pub struct SemaphoreBuilder {
    permits: usize,
    bounded: bool,
    fairness: Fairness,
    mode: u32,
}

impl SemaphoreBuilder {
    /// A bounded semaphore (Python's `BoundedSemaphore`): `release` fails
    /// instead of raising the count above the initial permits.
    pub fn bounded(mut self) -> Self {
        self.bounded = true;
        self
    }

    /// The [`Fairness`] (default: [`Fairness::Eventual`] with 1 ms). It is
    /// part of the segment: every process gets the same.
    pub fn fairness(mut self, fairness: Fairness) -> Self {
        self.fairness = fairness;
        self
    }

    /// The file mode of a named segment (default `0o600`; subject to the
    /// umask).
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Creates the semaphore under `name` in `/dev/shm`; the name is
    /// removed when this handle is dropped unless
    /// [`persist`](Semaphore::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a bad name
    /// or mode or more than [`Semaphore::MAX_PERMITS`] permits, or the
    /// system's error.
    pub fn create(self, name: &str) -> io::Result<Semaphore> {
        let (meta, permits) = self.meta()?;
        Semaphore::with(Segment::create(name, self.mode, meta, |map| {
            map.body::<Body>().state.store(permits, Ordering::Relaxed);
        })?)
    }

    /// Creates the semaphore with no name (a sealed memfd), shared by
    /// handing [`as_fd_owned`](Semaphore::as_fd_owned) to a child, which
    /// calls [`from_fd`](Semaphore::from_fd).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for more than [`Semaphore::MAX_PERMITS`] permits, or
    /// the system's error.
    pub fn anonymous(self) -> io::Result<Semaphore> {
        let (meta, permits) = self.meta()?;
        Semaphore::with(Segment::anonymous(meta, |map| {
            map.body::<Body>().state.store(permits, Ordering::Relaxed);
        })?)
    }

    fn meta(&self) -> io::Result<(Meta, u64)> {
        let permits = self.permits as u64;
        if permits > raw::MAX_PERMITS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{permits} permits is more than a process semaphore holds ({})",
                    raw::MAX_PERMITS
                ),
            ));
        }
        let bound = if self.bounded { permits + 1 } else { 0 };
        let fairness = match self.fairness {
            Fairness::Strict => 0,
            Fairness::Eventual(bound) => u64::try_from(bound.as_nanos())
                .unwrap_or(u64::MAX - 1)
                .saturating_add(1),
        };
        Ok((
            Meta {
                kind: Kind::Semaphore,
                layout: LAYOUT,
                body_size: size_of::<Body>(),
                creator_pid: std::process::id(),
                params: [SLOTS as u64 | (RECORDS as u64) << 16, bound, fairness, 0],
            },
            permits,
        ))
    }
}

impl Semaphore {
    /// The most permits a process semaphore may hold (2³¹ − 1).
    pub const MAX_PERMITS: usize = raw::MAX_PERMITS as usize;

    /// A builder for a semaphore with `permits` initial permits.
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
    pub fn create(name: &str, permits: usize) -> io::Result<Semaphore> {
        Semaphore::builder(permits).create(name)
    }

    /// [`create`](Semaphore::create) for a bounded semaphore (Python's
    /// `BoundedSemaphore`): the count may never exceed `permits`.
    ///
    /// # Errors
    ///
    /// As [`SemaphoreBuilder::create`].
    pub fn create_bounded(name: &str, permits: usize) -> io::Result<Semaphore> {
        Semaphore::builder(permits).bounded().create(name)
    }

    /// Creates an unbounded semaphore with no name (see
    /// [`SemaphoreBuilder::anonymous`]).
    ///
    /// # Errors
    ///
    /// As [`SemaphoreBuilder::anonymous`].
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
    pub fn fairness(&self) -> Fairness {
        match self.params.bound_ns {
            None => Fairness::Strict,
            Some(ns) => Fairness::Eventual(Duration::from_nanos(ns)),
        }
    }

    /// Whether the semaphore is bounded (Python's `BoundedSemaphore`).
    pub fn is_bounded(&self) -> bool {
        self.params.bounded
    }

    /// The permits available now (a snapshot).
    pub fn available_permits(&self) -> usize {
        // Relaxed: a snapshot; nothing is taken with it.
        raw::avail(self.body().state.load(Ordering::Relaxed)) as usize
    }

    /// Closes the semaphore, in every process: waiters and later acquires
    /// get [`AcquireError::Closed`] (`try_acquire` gets
    /// [`TryAcquireError::Closed`]). Permits already held stay valid;
    /// [`release`](Semaphore::release) still changes the count. A waiter
    /// that had been granted its permits before the close succeeds.
    pub fn close(&self) {
        self.lock().close();
    }

    /// `true` once [`close`](Semaphore::close) has been called (by any
    /// process).
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
    fn give_back(&self, n: u64) {
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
    pub fn try_acquire(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.try_acquire_many(1)
    }

    /// Takes `n` permits if available, as [`try_acquire`](Semaphore::try_acquire).
    ///
    /// # Errors
    ///
    /// As [`try_acquire`](Semaphore::try_acquire).
    pub fn try_acquire_many(&self, n: usize) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        let Ok(n) = u32::try_from(n) else {
            return Err(if self.is_closed() {
                TryAcquireError::Closed
            } else {
                TryAcquireError::NoPermits
            });
        };
        match raw::try_take(self.body(), u64::from(n)) {
            TryTake::Taken => Ok(self.permit(n)),
            TryTake::NoPermits => Err(TryAcquireError::NoPermits),
            TryTake::Closed => Err(TryAcquireError::Closed),
        }
    }

    fn permit(&self, n: u32) -> SemaphorePermit<'_> {
        SemaphorePermit { sem: self, n }
    }

    fn op(&self, n: usize) -> AcquireOp<'_> {
        AcquireOp {
            sem: self,
            n: u32::try_from(n).unwrap_or(u32::MAX),
            stage: Stage::Start,
            watched: false,
            dummy: AtomicU32::new(0),
        }
    }

    /// Waits for one permit.
    ///
    /// # Errors
    ///
    /// [`AcquireError::Closed`] if the semaphore is or gets closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future leaves the queue; permits that had
    /// been granted to it go back and on to the next waiter.
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
    pub fn acquire_many(&self, n: usize) -> SemaphoreAcquire<'_> {
        SemaphoreAcquire::new(AsyncShm::new(self.op(n)), None)
    }

    /// Blocks the thread until it has one permit. Must not be called from
    /// async code (use [`acquire`](Semaphore::acquire)).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    pub fn acquire_blocking(&self) -> Result<SemaphorePermit<'_>, AcquireError> {
        self.acquire_many_blocking(1)
    }

    /// Blocks until it has `n` permits. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    pub fn acquire_many_blocking(&self, n: usize) -> Result<SemaphorePermit<'_>, AcquireError> {
        wait::block(&mut self.op(n), None).expect("no deadline")
    }

    /// Waits for one permit at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`AcquireTimeoutError::Timeout`], or as [`acquire`](Semaphore::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        self.acquire_many_timeout(1, timeout)
    }

    /// Waits for `n` permits at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout) and
    /// [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    pub fn acquire_many_timeout(&self, n: usize, timeout: Duration) -> SemaphoreAcquireTimeout<'_> {
        SemaphoreAcquireTimeout::new(AsyncShm::new(self.op(n)), deadline_after(timeout))
    }

    /// Blocks until it has one permit or `timeout` passes. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout).
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
    pub fn acquire_many_timeout_blocking(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermit<'_>, AcquireTimeoutError> {
        timeout_result(wait::block(&mut self.op(n), deadline_after(timeout)))
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
        let me = std::process::id();
        let mut all_alive = true;
        for owner in Locked::owners_ahead(body, index, self.claim.token) {
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

fn timeout_result<P>(out: Option<Result<P, AcquireError>>) -> Result<P, AcquireTimeoutError> {
    match out {
        None => Err(AcquireTimeoutError::Timeout),
        Some(Ok(permit)) => Ok(permit),
        Some(Err(AcquireError::Closed)) => Err(AcquireTimeoutError::Closed),
        Some(Err(AcquireError::ExceedsBound)) => Err(AcquireTimeoutError::ExceedsBound),
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

/// Permits taken from a [`Semaphore`]; dropping it gives them back.
#[must_use = "the permits are given back when the permit is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
    n: u32,
}

impl SemaphorePermit<'_> {
    /// Keeps the permits taken: they are not given back on drop.
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        if self.n != 0 {
            self.sem.give_back(u64::from(self.n));
        }
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Where one acquire is.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Not queued.
    Start,
    /// In record `index` at use `seq`; sleeping while its word is `seen`.
    Queued { index: usize, seq: u32, seen: u32 },
    /// Every record was taken; sleeping while `frees` is `seen`.
    Full { seen: u32 },
    /// Finished (nothing to undo).
    Done,
}

/// The state machine of one acquire.
pub(crate) struct AcquireOp<'a> {
    sem: &'a Semaphore,
    n: u32,
    stage: Stage,
    /// Whether the processes ahead of our record are watched.
    watched: bool,
    /// The sleepers count wait.rs asks for: unused, since whoever changes
    /// a record word always wakes it.
    dummy: AtomicU32,
}

type Out<'a> = Option<Result<SemaphorePermit<'a>, AcquireError>>;

impl<'a> AcquireOp<'a> {
    fn done(&mut self, out: Result<SemaphorePermit<'a>, AcquireError>) -> Attempt<Out<'a>> {
        self.stage = Stage::Done;
        Attempt::Done(Some(out))
    }

    /// Leaves the queue (or the overflow count); `Some(permit)` if the
    /// permits had been granted meanwhile.
    fn leave(&mut self) -> Option<SemaphorePermit<'a>> {
        let sem = self.sem;
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Queued { index, seq, .. } => {
                sem.lock().withdraw(index, seq).map(|_| sem.permit(self.n))
            }
            Stage::Full { .. } => {
                Locked::leave_overflow(sem.body());
                None
            }
            Stage::Start | Stage::Done => None,
        }
    }
}

impl<'a> ShmOp for AcquireOp<'a> {
    type Output = Out<'a>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.sem.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        let body = self.sem.body();
        match self.stage {
            Stage::Queued { index, .. } => &body.records[index].word,
            _ => &body.frees,
        }
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.dummy
    }

    fn attempt(&mut self) -> Attempt<Out<'a>> {
        let sem = self.sem;
        let body = sem.body();
        loop {
            match self.stage {
                Stage::Done => return Attempt::Done(Some(Err(AcquireError::Closed))),
                Stage::Start => {
                    let n = u64::from(self.n);
                    if n > sem.params.max {
                        return self.done(Err(AcquireError::ExceedsBound));
                    }
                    match raw::try_take(body, n) {
                        TryTake::Taken => return self.done(Ok(sem.permit(self.n))),
                        TryTake::Closed => return self.done(Err(AcquireError::Closed)),
                        TryTake::NoPermits => {}
                    }
                    match sem.lock().take_or_enqueue(n) {
                        Enqueue::Taken => return self.done(Ok(sem.permit(self.n))),
                        Enqueue::Closed => return self.done(Err(AcquireError::Closed)),
                        Enqueue::Queued { index, word } => {
                            self.watched = false;
                            self.stage = Stage::Queued {
                                index,
                                seq: raw::seq(word),
                                seen: word,
                            };
                        }
                        Enqueue::Full(seen) => self.stage = Stage::Full { seen },
                    }
                }
                Stage::Full { seen } => {
                    let now = body.frees.load(Ordering::SeqCst);
                    if now == seen {
                        return Attempt::Sleep(now);
                    }
                    Locked::leave_overflow(body);
                    self.stage = Stage::Start;
                }
                Stage::Queued { index, seq, seen } => {
                    let record = &body.records[index];
                    // SeqCst: pairs with the grant's exchange (Acquire
                    // would do; the other record accesses are SeqCst).
                    let word = record.word.load(Ordering::SeqCst);
                    if raw::seq(word) != seq {
                        // Our record was reclaimed: only a peer that
                        // corrupted the table does that. Queue again.
                        self.stage = Stage::Start;
                        continue;
                    }
                    match raw::rstate(word) {
                        raw::GRANTED | raw::R_CLOSED => {
                            let free = word & !0xF;
                            // Acquire: the grant acquired the permits' releases.
                            if record
                                .word
                                .compare_exchange(word, free, Ordering::SeqCst, Ordering::SeqCst)
                                .is_err()
                            {
                                continue;
                            }
                            raw::freed(body);
                            return if raw::rstate(word) == raw::GRANTED {
                                self.done(Ok(sem.permit(self.n)))
                            } else {
                                self.done(Err(AcquireError::Closed))
                            };
                        }
                        raw::WAITING if word == seen => return Attempt::Sleep(word),
                        raw::WAITING => match sem.lock().retry(index, seq) {
                            Mine::Taken => return self.done(Ok(sem.permit(self.n))),
                            Mine::Waiting(now) => {
                                self.stage = Stage::Queued {
                                    index,
                                    seq,
                                    seen: now,
                                };
                            }
                            Mine::Changed => {
                                self.stage = Stage::Queued {
                                    index,
                                    seq,
                                    seen: u32::MAX,
                                };
                            }
                        },
                        _ => {
                            // FREE at our seq: reclaimed (corruption).
                            self.stage = Stage::Start;
                        }
                    }
                }
            }
        }
    }

    fn attempt_fast(&mut self) -> Option<Out<'a>> {
        if !matches!(self.stage, Stage::Start) || u64::from(self.n) > self.sem.params.max {
            return None;
        }
        match raw::try_take(self.sem.body(), u64::from(self.n)) {
            TryTake::Taken => {
                self.stage = Stage::Done;
                Some(Some(Ok(self.sem.permit(self.n))))
            }
            TryTake::Closed | TryTake::NoPermits => None,
        }
    }

    fn timed_out(&mut self) -> Out<'a> {
        // Granted meanwhile: completing beats timing out.
        self.leave().map(Ok)
    }

    fn prepare_sleep(&mut self, _val: u32) -> bool {
        let Stage::Queued { index, .. } = self.stage else {
            return true;
        };
        raw::will_sleep(self.sem.body(), index);
        if std::mem::replace(&mut self.watched, true) || self.sem.watch_ahead(index) {
            return true;
        }
        // A process ahead is dead: reap it before sleeping.
        self.sem.lock().serve();
        false
    }
}

impl Drop for AcquireOp<'_> {
    fn drop(&mut self) {
        // A permit granted meanwhile goes back (and on to the next waiter).
        drop(self.leave());
    }
}

impl fmt::Debug for AcquireOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOp")
            .field("permits", &self.n)
            .field("stage", &self.stage)
            .finish()
    }
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire`](crate::process::Semaphore::acquire) and
    /// [`acquire_many`](crate::process::Semaphore::acquire_many).
    pub struct SemaphoreAcquire<'a>(AsyncShm<AcquireOp<'a>>) -> Result<SemaphorePermit<'a>, AcquireError>;
    |out| out.expect("no deadline")
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire_timeout`](crate::process::Semaphore::acquire_timeout)
    /// and [`acquire_many_timeout`](crate::process::Semaphore::acquire_many_timeout).
    pub struct SemaphoreAcquireTimeout<'a>(AsyncShm<AcquireOp<'a>>) -> Result<SemaphorePermit<'a>, AcquireTimeoutError>;
    |out| timeout_result(out)
}
