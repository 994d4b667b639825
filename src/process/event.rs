//! `process::Event`: Python's `multiprocessing.Event`, one futex word in a
//! segment.
//!
//! # The word
//!
//! ```text
//!  bit 0     : SET
//!  bits 1..  : the generation, bumped by every `set()` of an unset event
//! ```
//!
//! A waiter records the generation of its first look and completes once
//! the word shows `SET` *or another generation*: a `set()` that ran while
//! it waited releases it even if a `clear()` follows before it runs (SPEC
//! §2, CPython gh-57711), in every process. The generation has 31 bits: a
//! waiter that slept through exactly 2³¹ set/clear cycles would miss one,
//! which takes hours of nothing else.
//!
//! Every value of the word is a valid state, so a corrupted word is just
//! an event in some state; `sleepers` is only an optimisation (see
//! `wait.rs`): a wrong count costs a system call or, while it is wrongly
//! zero, a missed wake-up that a timed wait still survives.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::futex;
use super::layout::{Kind, Meta};
use super::segment::{DEFAULT_MODE, Mapping, Segment, segment_handle};
use super::wait::{self, AsyncShm, Attempt, ShmOp};
use crate::engine::{deadline_after, named_future};

const SET: u32 = 1;
/// The body's revision (bumped when `Body` changes).
const LAYOUT: u32 = 1;

/// The segment body: the word and its sleepers, on their own cache line.
#[repr(C, align(64))]
struct Body {
    state: AtomicU32,
    sleepers: AtomicU32,
}

/// A flag shared between processes, set by one and awaited by others —
/// Python's `multiprocessing.Event`, with the four forms of every
/// rallypoint wait.
///
/// The event lives in a shared-memory segment: [`create`](Event::create)
/// makes one under a name any process of this user can
/// [`open`](Event::open), or [`anonymous`](Event::anonymous) makes one
/// that is shared by handing its file descriptor to a child. Semantics are
/// those of [`rallypoint::Event`](crate::Event), across processes: `set()`
/// releases every current waiter, in every process, even if `clear()`
/// follows at once.
///
/// # A killed process
///
/// An event has no owner: a process killed at any instruction, while it
/// waits or sets, leaves a valid event behind (set or not), and the
/// others go on.
///
/// # Example
///
/// ```
/// use rallypoint::process::Event;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-event-{}", std::process::id());
/// let event = Event::create(&name)?; // unlinked when `event` is dropped
/// let peer = Event::open(&name)?;    // another process would do this
/// let waiter = std::thread::spawn(move || peer.wait_blocking());
/// event.set();
/// waiter.join().unwrap();
/// assert!(event.is_set());
/// # Ok(())
/// # }
/// ```
pub struct Event {
    seg: Segment,
}

impl Event {
    /// Creates an unset event under `name` in `/dev/shm`, readable and
    /// writable by its owner only (mode `0o600`). The name is removed when
    /// this handle is dropped unless [`persist`](Event::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a name that
    /// is not one path component of 1–255 bytes, or the system's error.
    pub fn create(name: &str) -> io::Result<Event> {
        Event::create_with_mode(name, DEFAULT_MODE)
    }

    /// [`create`](Event::create) with the file mode `mode` (e.g. `0o660`
    /// for a group; subject to the umask).
    ///
    /// # Errors
    ///
    /// As [`create`](Event::create); `InvalidInput` for bits beyond `0o777`.
    pub fn create_with_mode(name: &str, mode: u32) -> io::Result<Event> {
        Ok(Event {
            seg: Segment::create(name, mode, meta(), |_| {})?,
        })
    }

    /// Opens the event another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, or `InvalidData` if the segment is
    /// not an event of this version (too short, another kind, corrupted).
    pub fn open(name: &str) -> io::Result<Event> {
        Ok(Event {
            seg: Segment::open(name, Kind::Event, LAYOUT, size_of::<Body>())?,
        })
    }

    /// Creates an unset event with no name (a sealed memfd): share it with
    /// a child by passing [`as_fd_owned`](Event::as_fd_owned) (e.g. across `exec`,
    /// or as `/proc/<pid>/fd/<n>`) and [`from_fd`](Event::from_fd) there.
    ///
    /// ```
    /// use rallypoint::process::Event;
    /// # fn main() -> std::io::Result<()> {
    /// let event = Event::anonymous()?;
    /// let copy = Event::from_fd(event.as_fd_owned()?)?;
    /// copy.set();
    /// assert!(event.is_set());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The system's error.
    pub fn anonymous() -> io::Result<Event> {
        Ok(Event {
            seg: Segment::anonymous(meta(), |_| {})?,
        })
    }

    /// Takes over a segment file descriptor (from
    /// [`anonymous`](Event::anonymous) in another process, or a named
    /// segment's), checking it as [`open`](Event::open) does.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the file is not an event segment of this version.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Event> {
        Ok(Event {
            seg: Segment::adopt(fd, None, Kind::Event, LAYOUT, size_of::<Body>())?,
        })
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
    }

    /// Whether the event is set.
    pub fn is_set(&self) -> bool {
        self.body().state.load(Ordering::Acquire) & SET != 0
    }

    /// Sets the event, releasing every waiter in every process.
    pub fn set(&self) {
        let body = self.body();
        let mut state = body.state.load(Ordering::Relaxed);
        loop {
            if state & SET != 0 {
                return;
            }
            // A new generation, set. SeqCst: before the sleepers read.
            let new = state.wrapping_add(2) | SET;
            match body
                .state
                .compare_exchange_weak(state, new, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        if body.sleepers.load(Ordering::SeqCst) != 0 {
            futex::wake_all(&body.state);
        }
    }

    /// Clears the event; waiters released by an earlier `set()` still
    /// complete.
    pub fn clear(&self) {
        self.body().state.fetch_and(!SET, Ordering::SeqCst);
    }

    fn op(&self) -> WaitOp<'_> {
        WaitOp {
            event: self,
            start: None,
        }
    }

    /// Waits until the event is set.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future withdraws the wait and changes
    /// nothing.
    pub fn wait(&self) -> EventWait<'_> {
        EventWait::new(AsyncShm::new(self.op()), None)
    }

    /// Blocks the thread until the event is set. Must not be called from
    /// async code (use [`wait`](Event::wait)).
    pub fn wait_blocking(&self) {
        wait::block(&mut self.op(), None);
    }

    /// Waits until the event is set or `timeout` passes: `true` if set.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Event::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> EventWaitTimeout<'_> {
        EventWaitTimeout::new(AsyncShm::new(self.op()), deadline_after(timeout))
    }

    /// Blocks until the event is set (`true`) or `timeout` passes (`false`).
    /// Must not be called from async code.
    pub fn wait_timeout_blocking(&self, timeout: Duration) -> bool {
        wait::block(&mut self.op(), deadline_after(timeout))
    }
}

fn meta() -> Meta {
    Meta {
        kind: Kind::Event,
        layout: LAYOUT,
        body_size: size_of::<Body>(),
        creator_pid: std::process::id(),
        params: [0; 4],
    }
}

segment_handle!(Event, "event");

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "set" } else { "unset" };
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("state", &state)
            // Relaxed: a snapshot for display. Counts the waiters asleep
            // or registered in every process (a killed one stays counted).
            .field("waiters", &self.body().sleepers.load(Ordering::Relaxed))
            .finish()
    }
}

/// The state machine of one wait.
pub(crate) struct WaitOp<'a> {
    event: &'a Event,
    /// The generation of the first look.
    start: Option<u32>,
}

impl ShmOp for WaitOp<'_> {
    type Output = bool;

    fn mapping(&self) -> &Arc<Mapping> {
        self.event.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.event.body().state
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.event.body().sleepers
    }

    fn attempt(&mut self) -> Attempt<bool> {
        // SeqCst: the look after being counted (wait.rs); Acquire with it.
        let state = self.word().load(Ordering::SeqCst);
        let start = *self.start.get_or_insert(state >> 1);
        if state & SET != 0 || state >> 1 != start {
            Attempt::Done(true)
        } else {
            Attempt::Sleep(state)
        }
    }

    fn timed_out(&mut self) -> bool {
        false
    }
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOp")
            .field("start", &self.start)
            .finish()
    }
}

named_future! {
    /// Future returned by [`Event::wait`](crate::process::Event::wait).
    pub struct EventWait<'a>(AsyncShm<WaitOp<'a>>) -> ();
    |_set| ()
}

named_future! {
    /// Future returned by
    /// [`Event::wait_timeout`](crate::process::Event::wait_timeout):
    /// `true` if the event was set, `false` on timeout.
    pub struct EventWaitTimeout<'a>(AsyncShm<WaitOp<'a>>) -> bool;
    |set| set
}
