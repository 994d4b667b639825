//! `process::RLock`: Python's `multiprocessing.RLock`, a reentrant lock
//! owned by one thread of one process.
//!
//! # The words
//!
//! ```text
//!  word   (u32): an owner word (owner.rs): 0, the holding handle's roster
//!                token, or token | DIED once its process exited
//!  thread (u64): which thread of that handle's process holds it (a
//!                per-process thread number, never 0), 0 while free
//!  depth  (u32): how many times the holder has acquired it
//! ```
//!
//! Only the holding thread writes `thread` and `depth`, and only while it
//! holds the word: it sets them right after taking the word and clears
//! `thread` right before giving the word back. A reentrant acquire is
//! recognised by the word holding this handle's token *and* `thread`
//! holding this thread's number: another thread of the same handle sees
//! the token but not its own number (it never reads a number older than
//! its own last write, which was 0 when it last released), so it waits
//! like any other locker.
//!
//! A new holder — also one that takes over from a dead process — writes
//! `thread` and `depth` afresh, so whatever a dead holder left there does
//! not matter.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use super::layout::{Kind, Meta};
use super::lock::{LockResult, OwnerDied};
use super::owner::{Known, OwnerWord};
use super::reaper::DIED;
use super::roster::{self, Claim, Slot};
use super::segment::{DEFAULT_MODE, Segment, segment_handle};
use super::wait;
use crate::engine::deadline_after;

/// The body's revision (bumped when `Body` changes).
const LAYOUT: u32 = 1;
/// Participant slots: how many handles (in all processes) may have the
/// lock open at once.
const SLOTS: usize = 64;

#[repr(C, align(64))]
struct Body {
    word: AtomicU32,
    sleepers: AtomicU32,
    thread: AtomicU64,
    depth: AtomicU32,
    _pad: [AtomicU32; 11],
    slots: [Slot; SLOTS],
}

const _: () = assert!(size_of::<Body>() == 64 + 16 * SLOTS && SLOTS <= roster::MAX_SLOTS);

/// This thread's number in this process (never 0).
fn thread_number() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static NUMBER: Cell<u64> = const { Cell::new(0) };
    }
    NUMBER.with(|n| {
        if n.get() == 0 {
            // Relaxed: only uniqueness matters.
            n.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        n.get()
    })
}

/// A reentrant lock shared between processes — Python's
/// `multiprocessing.RLock` — owned by one thread of one process, that
/// survives its holder being killed.
///
/// The thread holding it may acquire it again *through the same handle*
/// (a second handle of the same lock in the same thread waits, like a
/// second `RLock` object would); it is released when every guard has been
/// dropped. Guards cannot leave their thread (they are not
/// `Send`), which is what makes the owner a thread; for the same reason
/// there are only blocking forms (`acquire_blocking`,
/// `acquire_timeout_blocking`, `try_acquire`), as in Python.
///
/// # A killed process
///
/// If the process holding the lock dies (at any depth), the next acquire
/// — a waiter asleep at the time, or a later locker — gets [`OwnerDied`]
/// holding a guard of depth 1, exactly as [`Lock`](super::Lock) does. Each
/// open handle takes one of the segment's 64 participant slots until
/// dropped; slots of dead processes are reclaimed.
///
/// # Example
///
/// ```
/// use rallypoint::process::RLock;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-rlock-{}", std::process::id());
/// let lock = RLock::create(&name)?;
/// let outer = lock.acquire_blocking().expect("nobody died");
/// let inner = lock.try_acquire().expect("this thread holds it").expect("nobody died");
/// assert_eq!(lock.depth(), 2);
/// let peer = RLock::open(&name)?; // in another process, usually
/// std::thread::scope(|s| {
///     s.spawn(|| assert!(peer.try_acquire().is_none()));
/// });
/// drop((inner, outer));
/// assert!(peer.try_acquire().is_some());
/// # Ok(())
/// # }
/// ```
pub struct RLock {
    seg: Segment,
    claim: Claim,
    /// Holders this handle has asked the reaper to watch.
    known: Known,
}

/// Held while the lock is acquired (once per acquire); the lock is
/// released when the last guard of its thread is dropped. Not `Send`: it
/// must be dropped by the thread that acquired it.
#[must_use = "the lock is released when the guard is dropped"]
pub struct RLockGuard<'a> {
    lock: &'a RLock,
    _not_send: PhantomData<*const ()>,
}

impl RLock {
    /// Creates an unlocked reentrant lock under `name` in `/dev/shm` (mode
    /// `0o600`); the name is removed when this handle is dropped unless
    /// [`persist`](RLock::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a bad name,
    /// or the system's error.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("doc-rlock-create-{}", std::process::id());
    /// let lock = rallypoint::process::RLock::create(&name)?;
    /// assert!(!lock.is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(name: &str) -> io::Result<RLock> {
        RLock::create_with_mode(name, DEFAULT_MODE)
    }

    /// [`create`](RLock::create) with the file mode `mode` (subject to the
    /// umask).
    ///
    /// # Errors
    ///
    /// As [`create`](RLock::create); `InvalidInput` for bits beyond `0o777`.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let name = format!("doc-rlock-mode-{}", std::process::id());
    /// let lock = rallypoint::process::RLock::create_with_mode(&name, 0o640)?;
    /// assert_eq!(lock.name(), Some(name.as_str()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn create_with_mode(name: &str, mode: u32) -> io::Result<RLock> {
        RLock::with(Segment::create(name, mode, meta(), |_| {})?)
    }

    /// Opens the reentrant lock another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// an RLock of this version, or `Other` if all 64 participant slots are
    /// taken by live handles.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::RLock;
    /// let name = format!("doc-rlock-open-{}", std::process::id());
    /// let lock = RLock::create(&name)?;
    /// let peer = RLock::open(&name)?;
    /// let _guard = lock.acquire_blocking().unwrap();
    /// assert!(peer.is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(name: &str) -> io::Result<RLock> {
        RLock::with(Segment::open(name, Kind::RLock, LAYOUT, size_of::<Body>())?)
    }

    /// Creates an unlocked reentrant lock with no name (a sealed memfd),
    /// shared by handing [`as_fd_owned`](RLock::as_fd_owned) to a child,
    /// which calls [`from_fd`](RLock::from_fd).
    ///
    /// # Errors
    ///
    /// The system's error.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// assert_eq!(lock.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous() -> io::Result<RLock> {
        RLock::with(Segment::anonymous(meta(), |_| {})?)
    }

    /// Takes over an RLock segment's file descriptor, checking it as
    /// [`open`](RLock::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](RLock::open).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::RLock;
    /// let lock = RLock::anonymous()?;
    /// let same = RLock::from_fd(lock.as_fd_owned()?)?; // in a child, usually
    /// let _guard = lock.acquire_blocking().unwrap();
    /// assert!(same.is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<RLock> {
        RLock::with(Segment::adopt(
            fd,
            None,
            Kind::RLock,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    fn with(seg: Segment) -> io::Result<RLock> {
        let claim = roster::claim_for(&seg.map().body::<Body>().slots, "rlock")?;
        Ok(RLock {
            seg,
            claim,
            known: Known::default(),
        })
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
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

    /// Whether the lock is held (by anyone, alive or not).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// let guard = lock.acquire_blocking().unwrap();
    /// assert!(lock.is_locked());
    /// drop(guard);
    /// assert!(!lock.is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_locked(&self) -> bool {
        // Relaxed: a snapshot.
        self.body().word.load(Ordering::Relaxed) != 0
    }

    /// How many times the calling thread holds the lock (0 if it does
    /// not).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// assert_eq!(lock.depth(), 0);
    /// let _a = lock.acquire_blocking().unwrap();
    /// let _b = lock.acquire_blocking().unwrap();
    /// assert_eq!(lock.depth(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn depth(&self) -> usize {
        if self.held_here() {
            self.body().depth.load(Ordering::Relaxed) as usize
        } else {
            0
        }
    }

    /// Whether this thread holds the lock through this handle.
    fn held_here(&self) -> bool {
        let body = self.body();
        // Relaxed: if the word holds our token and the thread our number,
        // we wrote both ourselves (module docs); otherwise the answer is
        // "no" whatever the order.
        body.word.load(Ordering::Relaxed) == self.claim.token
            && body.thread.load(Ordering::Relaxed) == thread_number()
    }

    /// Acquires again if this thread holds the lock already.
    fn reenter(&self) -> Option<RLockGuard<'_>> {
        if !self.held_here() {
            return None;
        }
        let depth = &self.body().depth;
        // Only this thread writes the depth while it holds the lock.
        let now = depth.load(Ordering::Relaxed);
        depth.store(now.saturating_add(1), Ordering::Relaxed);
        Some(self.guard())
    }

    /// Records this thread as the new holder of a just-taken word.
    fn took(&self, died: bool) -> LockResult<RLockGuard<'_>> {
        let body = self.body();
        body.thread.store(thread_number(), Ordering::Relaxed);
        body.depth.store(1, Ordering::Relaxed);
        let guard = self.guard();
        if died {
            Err(OwnerDied::new(guard))
        } else {
            Ok(guard)
        }
    }

    fn guard(&self) -> RLockGuard<'_> {
        RLockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Blocks the thread until it holds the lock (at once if it holds it
    /// already). Must not be called from async code.
    ///
    /// # Errors
    ///
    /// [`OwnerDied`] (holding the guard) if the previous holder's process
    /// died holding the lock.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// let outer = lock.acquire_blocking().unwrap();
    /// let inner = lock.acquire_blocking().unwrap(); // reentrant
    /// drop(inner);
    /// assert!(lock.is_locked());
    /// drop(outer);
    /// assert!(!lock.is_locked());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_blocking(&self) -> LockResult<RLockGuard<'_>> {
        if let Some(guard) = self.reenter() {
            return Ok(guard);
        }
        let died = wait::block(&mut self.owner().take_op(), None).expect("no deadline");
        self.took(died)
    }

    /// Blocks until it holds the lock or `timeout` passes (`None`). Must
    /// not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_blocking`](RLock::acquire_blocking), inside the `Some`.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// let _held = lock.acquire_blocking().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.acquire_timeout_blocking(Duration::from_millis(5)).is_none()));
    /// });
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Option<LockResult<RLockGuard<'_>>> {
        if let Some(guard) = self.reenter() {
            return Some(Ok(guard));
        }
        wait::block(&mut self.owner().take_op(), deadline_after(timeout))
            .map(|died| self.took(died))
    }

    /// Takes the lock if it is free, its holder is dead, or this thread
    /// holds it already: `None` if another live thread or process holds
    /// it.
    ///
    /// # Errors
    ///
    /// As [`acquire_blocking`](RLock::acquire_blocking), inside the `Some`.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// let a = lock.try_acquire().unwrap().unwrap();
    /// let b = lock.try_acquire().unwrap().unwrap();
    /// std::thread::scope(|s| {
    ///     s.spawn(|| assert!(lock.try_acquire().is_none()));
    /// });
    /// drop((b, a));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_acquire(&self) -> Option<LockResult<RLockGuard<'_>>> {
        if let Some(guard) = self.reenter() {
            return Some(Ok(guard));
        }
        self.owner().try_take().map(|died| self.took(died))
    }

    fn release(&self) {
        let body = self.body();
        let depth = body.depth.load(Ordering::Relaxed);
        if depth > 1 {
            body.depth.store(depth - 1, Ordering::Relaxed);
            return;
        }
        body.depth.store(0, Ordering::Relaxed);
        // Cleared before the word is given back (module docs); the give
        // back's SeqCst swap publishes both.
        body.thread.store(0, Ordering::Relaxed);
        self.owner().give_back();
    }
}

fn meta() -> Meta {
    Meta {
        kind: Kind::RLock,
        layout: LAYOUT,
        body_size: size_of::<Body>(),
        creator_pid: std::process::id(),
        params: [SLOTS as u64, 0, 0, 0],
    }
}

impl Drop for RLock {
    fn drop(&mut self) {
        roster::release(&self.body().slots, &self.claim);
    }
}

segment_handle!(RLock, "rlock");

impl fmt::Debug for RLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body = self.body();
        // Relaxed: snapshots for display.
        let word = body.word.load(Ordering::Relaxed);
        let state = match word {
            0 => "unlocked",
            w if w & DIED != 0 => "locked by a dead process",
            _ if self.held_here() => "locked by this thread",
            w if w == self.claim.token => "locked by another thread of this handle",
            _ => "locked",
        };
        f.debug_struct("RLock")
            .field("name", &self.name())
            .field("state", &state)
            .field("depth", &body.depth.load(Ordering::Relaxed))
            .field("waiters", &body.sleepers.load(Ordering::Relaxed))
            .field("handles", &roster::claimed(&body.slots))
            .finish()
    }
}

impl RLockGuard<'_> {
    /// The lock this guard holds.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let lock = rallypoint::process::RLock::anonymous()?;
    /// let guard = lock.acquire_blocking().unwrap();
    /// assert!(std::ptr::eq(guard.lock(), &lock));
    /// # Ok(())
    /// # }
    /// ```
    pub fn lock(&self) -> &RLock {
        self.lock
    }
}

impl Drop for RLockGuard<'_> {
    fn drop(&mut self) {
        self.lock.release();
    }
}

impl fmt::Debug for RLockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RLockGuard")
            .field("lock", &self.lock.name())
            .finish()
    }
}
