//! `process::Lock`: Python's `multiprocessing.Lock`, one owner word
//! ([`owner`](super::owner)) in a segment: free, held by a handle's roster
//! token, or marked `DIED` once its holder's process exited.
//!
//! Unlike a robust pthread mutex there is no `consistent()` step: the
//! locker told [`OwnerDied`] owns a normal lock, and the next one after it
//! gets a plain guard. What the lock protected may be half-updated; that
//! is what the error is for.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::layout::{Kind, Meta};
use super::owner::{Known, OwnerWord, TakeOp};
use super::reaper::DIED;
use super::roster::{self, Claim, Slot};
use super::segment::{DEFAULT_MODE, Mapping, Segment, segment_handle};
use super::wait::{self, AsyncShm, Attempt, ShmOp};
use crate::engine::{deadline_after, named_future};

/// The body's revision (bumped when `Body` changes).
const LAYOUT: u32 = 1;
/// Participant slots: how many handles (in all processes) may have the
/// lock open at once.
pub(super) const SLOTS: usize = 64;

/// The lock's body; a `process::Condition`'s body starts with one.
#[repr(C, align(64))]
pub(super) struct Body {
    word: AtomicU32,
    sleepers: AtomicU32,
    _pad: [AtomicU32; 14],
    slots: [Slot; SLOTS],
}

const _: () = assert!(size_of::<Body>() == 64 + 16 * SLOTS && SLOTS <= roster::MAX_SLOTS);

impl Body {
    /// The roster of the lock's handles.
    pub(super) fn slots(&self) -> &[Slot] {
        &self.slots
    }
}

/// The outcome of an acquire: the guard, or the guard with the news that
/// the previous holder died holding the lock.
pub type LockResult<G> = Result<G, OwnerDied<G>>;

/// The lock was taken over from a process that died while holding it (like
/// `EOWNERDEAD`): the guard inside is a normal guard — the lock is held —
/// but what the lock protects may have been left half-updated.
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn new(guard: G) -> Self {
        OwnerDied { guard }
    }

    /// The guard: the lock is held.
    pub fn into_guard(self) -> G {
        self.guard
    }

    /// The guard, borrowed.
    pub fn guard(&self) -> &G {
        &self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDied").finish_non_exhaustive()
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the previous holder of the lock died while holding it; the lock is now held")
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

/// A lock shared between processes — Python's `multiprocessing.Lock` —
/// with the four forms of every rallypoint wait, that survives its holder
/// being killed.
///
/// Not reentrant: a second acquire from the same handle (even the same
/// thread) waits for the first guard to be dropped, like Python's `Lock`.
/// A guard may be dropped by any thread (it is `Send`).
///
/// # A killed process
///
/// If the process holding the lock dies (SIGKILL at any instruction), the
/// next acquire — a waiter asleep at the time, or a later locker — gets
/// [`OwnerDied`] holding the guard (see the module docs of the source for
/// how). `multiprocessing.Lock` stays locked forever in that case
/// (python/cpython#88304). Each open handle takes one of the segment's 64
/// participant slots until dropped; slots of dead processes are reclaimed.
///
/// # Example
///
/// ```
/// use rallypoint::process::Lock;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-lock-{}", std::process::id());
/// let lock = Lock::create(&name)?;
/// let peer = Lock::open(&name)?; // in another process, usually
/// {
///     let _guard = lock.acquire_blocking().expect("nobody died");
///     assert!(peer.try_acquire().is_none());
/// }
/// assert!(peer.try_acquire().is_some());
/// # Ok(())
/// # }
/// ```
pub struct Lock {
    seg: Segment,
    claim: Claim,
    /// Holders this handle has asked the reaper to watch.
    known: Known,
}

/// Held while the lock is acquired; dropping it releases the lock.
#[must_use = "the lock is released when the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
}

impl Lock {
    /// Creates an unlocked lock under `name` in `/dev/shm` (mode `0o600`);
    /// the name is removed when this handle is dropped unless
    /// [`persist`](Lock::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a bad name,
    /// or the system's error.
    pub fn create(name: &str) -> io::Result<Lock> {
        Lock::create_with_mode(name, DEFAULT_MODE)
    }

    /// [`create`](Lock::create) with the file mode `mode` (subject to the
    /// umask).
    ///
    /// # Errors
    ///
    /// As [`create`](Lock::create); `InvalidInput` for bits beyond `0o777`.
    pub fn create_with_mode(name: &str, mode: u32) -> io::Result<Lock> {
        Lock::with(Segment::create(name, mode, meta(), |_| {})?)
    }

    /// Opens the lock another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// a lock of this version, or `Other` if all 64 participant slots are
    /// taken by live handles.
    pub fn open(name: &str) -> io::Result<Lock> {
        Lock::with(Segment::open(name, Kind::Lock, LAYOUT, size_of::<Body>())?)
    }

    /// Creates an unlocked lock with no name (a sealed memfd), shared by
    /// handing [`as_fd_owned`](Lock::as_fd_owned) to a child, which calls
    /// [`from_fd`](Lock::from_fd).
    ///
    /// # Errors
    ///
    /// The system's error.
    pub fn anonymous() -> io::Result<Lock> {
        Lock::with(Segment::anonymous(meta(), |_| {})?)
    }

    /// Takes over a lock segment's file descriptor, checking it as
    /// [`open`](Lock::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](Lock::open).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Lock> {
        Lock::with(Segment::adopt(
            fd,
            None,
            Kind::Lock,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    /// A handle on the lock at the start of `seg`'s body (a lock's, or a
    /// condition's).
    pub(super) fn with(seg: Segment) -> io::Result<Lock> {
        let claim = roster::claim_for(&seg.map().body::<Body>().slots, "lock")?;
        Ok(Lock {
            seg,
            claim,
            known: Known::default(),
        })
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
    }

    /// The segment the lock is in.
    pub(super) fn segment(&self) -> &Segment {
        &self.seg
    }

    /// This handle's roster token.
    pub(super) fn token(&self) -> u32 {
        self.claim.token
    }

    /// Whether the lock is held (by anyone, alive or not).
    pub fn is_locked(&self) -> bool {
        self.body().word.load(Ordering::Relaxed) != 0
    }

    fn owner(&self) -> OwnerWord<'_> {
        let body = self.body();
        OwnerWord {
            map: self.seg.map(),
            word: &body.word,
            sleepers: &body.sleepers,
            slots: &body.slots,
            me: self.claim.token,
            known: &self.known,
        }
    }

    fn op(&self) -> AcquireOp<'_> {
        AcquireOp {
            lock: self,
            take: self.owner().take_op(),
        }
    }

    /// Waits for the lock.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future either never took the lock, or
    /// completed (and its guard was dropped with it, releasing the lock).
    pub fn acquire(&self) -> LockAcquire<'_> {
        LockAcquire::new(AsyncShm::new(self.op()), None)
    }

    /// Blocks the thread until it holds the lock. Must not be called from
    /// async code (use [`acquire`](Lock::acquire)).
    pub fn acquire_blocking(&self) -> LockResult<LockGuard<'_>> {
        wait::block(&mut self.op(), None).expect("no deadline")
    }

    /// Waits for the lock at most `timeout`: `None` on timeout.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Lock::acquire).
    pub fn acquire_timeout(&self, timeout: Duration) -> LockAcquireTimeout<'_> {
        LockAcquireTimeout::new(AsyncShm::new(self.op()), deadline_after(timeout))
    }

    /// Blocks until it holds the lock or `timeout` passes (`None`). Must not
    /// be called from async code.
    pub fn acquire_timeout_blocking(&self, timeout: Duration) -> Option<LockResult<LockGuard<'_>>> {
        wait::block(&mut self.op(), deadline_after(timeout))
    }

    /// Takes the lock if it is free (or its holder is dead): `None` if a
    /// live process holds it.
    pub fn try_acquire(&self) -> Option<LockResult<LockGuard<'_>>> {
        self.owner().try_take().map(|died| self.guard(died))
    }

    fn guard(&self, died: bool) -> LockResult<LockGuard<'_>> {
        let guard = LockGuard { lock: self };
        if died {
            Err(OwnerDied { guard })
        } else {
            Ok(guard)
        }
    }
}

fn meta() -> Meta {
    Meta {
        kind: Kind::Lock,
        layout: LAYOUT,
        body_size: size_of::<Body>(),
        creator_pid: std::process::id(),
        params: [SLOTS as u64, 0, 0, 0],
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        roster::release(&self.body().slots, &self.claim);
    }
}

segment_handle!(Lock, "lock");

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        // Relaxed: snapshots for display.
        let word = body.word.load(Ordering::Relaxed);
        let state = match word {
            0 => "unlocked",
            w if w & DIED != 0 => "locked by a dead process",
            w if w == self.claim.token => "locked by this handle",
            _ => "locked",
        };
        f.debug_struct("Lock")
            .field("name", &self.name())
            .field("state", &state)
            .field("waiters", &body.sleepers.load(Ordering::Relaxed))
            .field("handles", &roster::claimed(&body.slots))
            .finish()
    }
}

impl LockGuard<'_> {
    /// The lock this guard holds.
    pub fn lock(&self) -> &Lock {
        self.lock
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        self.lock.owner().give_back();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LockGuard")
            .field("lock", &self.lock.name())
            .finish()
    }
}

/// The state machine of one acquire: the owner word's, with a guard.
pub(crate) struct AcquireOp<'a> {
    lock: &'a Lock,
    take: TakeOp<'a>,
}

impl<'a> ShmOp for AcquireOp<'a> {
    type Output = Option<LockResult<LockGuard<'a>>>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.take.mapping()
    }

    fn word(&self) -> &AtomicU32 {
        self.take.word()
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.take.sleepers()
    }

    fn attempt(&mut self) -> Attempt<Self::Output> {
        match self.take.attempt() {
            Attempt::Done(out) => Attempt::Done(out.map(|died| self.lock.guard(died))),
            Attempt::Sleep(word) => Attempt::Sleep(word),
        }
    }

    fn timed_out(&mut self) -> Self::Output {
        None
    }

    fn prepare_sleep(&mut self, word: u32) -> bool {
        self.take.prepare_sleep(word)
    }
}

impl fmt::Debug for AcquireOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOp").finish_non_exhaustive()
    }
}

named_future! {
    /// Future returned by [`Lock::acquire`](crate::process::Lock::acquire).
    pub struct LockAcquire<'a>(AsyncShm<AcquireOp<'a>>) -> LockResult<LockGuard<'a>>;
    |out| out.expect("no deadline")
}

named_future! {
    /// Future returned by
    /// [`Lock::acquire_timeout`](crate::process::Lock::acquire_timeout):
    /// `None` on timeout.
    pub struct LockAcquireTimeout<'a>(AsyncShm<AcquireOp<'a>>) -> Option<LockResult<LockGuard<'a>>>;
    |out| out
}
