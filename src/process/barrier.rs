//! `process::Barrier`: Python's `multiprocessing.Barrier`, one futex word
//! in a segment, broken for the others when a party dies.
//!
//! # The word
//!
//! ```text
//!  bits 0..12  : parties arrived in the current generation (≤ 4095)
//!  bits 12..14 : BROKEN — why the current generation broke: 0 it did not,
//!                1 abort, 2 a timeout, 3 a dead party
//!  bits 14..17 : ENDED — how the previous generation ended: TRIPPED (4) by
//!                a trip, else by a reset, with the BROKEN field it had
//!                then (0: reset while filling)
//!  bits 17..32 : the generation (15 bits, wrapping)
//! ```
//!
//! Arriving is one compare-exchange that counts the party in; the last
//! party's exchange starts the next generation with ENDED = TRIPPED, which
//! releases everyone. A break sets the BROKEN field once (the first reason
//! stays: a broken generation is never broken again), and a reset starts
//! the next generation with that field as its ENDED. So a waiter of
//! generation `g` that finds generation `g + 1` is told by ENDED whether
//! `g` tripped (`Ok`), was reset while filling (`Reset`) or broke before
//! its reset (that reason) — even if generation `g + 1` is already
//! filling, or broken. Whoever ends generation `g + 1` first copies that
//! code into `ends` (four bits per generation, at `g % 64`), so a waiter
//! that looks even later still gets the right answer, as long as fewer
//! than 63 further generations ended meanwhile — which takes 63 resets
//! while a released party has not run yet. Every bit pattern of the word
//! and of `ends` is some state: ENDED values 5 to 7 read as TRIPPED.
//!
//! The generation only tells a waiter's own generation from later ones
//! (and picks its `ends` entry), so 15 bits are plenty: a waiter would
//! mistake a later generation for its own only if a multiple of 32 768
//! generations ended while it did not look, and by then (more than 63)
//! `ends` no longer knows the answer anyway.
//!
//! The reasons are those of [`BrokenReason`]: BROKEN 1 is `Aborted`, 2
//! is `PartyTimedOut` (the party whose own timeout set it returns
//! `TimedOut`), 3 is `PartyDied`, and an ENDED of 0 is `Reset`. The
//! layout is revision 2 of the barrier body; revision 1 (one BROKEN bit,
//! one TRIPPED bit, an 18-bit generation and a one-bit history) is refused
//! by `open`, as the header check refuses every other revision.
//!
//! # A party that dies
//!
//! Each handle has a participant slot ([`roster`](super::roster)) and a
//! *mark* next to it: the generation it is arriving in or waiting in and
//! how many of its callers are. Before a waiter sleeps, it looks at every
//! other marked slot of its generation: a dead process there breaks the
//! barrier at once; a live one is watched by the process's reaper thread,
//! which breaks the barrier (if that generation is still filling) when it
//! exits. Every arrival wakes the sleepers, so each of them watches the
//! newcomers too. A process killed between marking its slot and counting
//! itself in breaks the barrier as well: it was arriving.
//!
//! A withdrawn party (a dropped async wait) is counted out again; the
//! ranks (`index()`) of the parties of that generation may then repeat —
//! unlike the in-process `Barrier`, which re-ranks them.

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::futex;
use super::layout::{Kind, Meta};
use super::reaper::{self, Watch};
use super::roster::{self, Claim, Peer, Slot};
use super::segment::{DEFAULT_MODE, Mapping, Segment, segment_handle};
use super::wait::{self, AsyncShm, Attempt, ShmOp};
use crate::engine::{deadline_after, named_future};
use crate::{BarrierWaitResult, BrokenBarrierError, BrokenReason};

/// The body's revision: 2 since the word carries the reason it broke for.
const LAYOUT: u32 = 2;
const SLOTS: usize = 64;
/// The most parties a process barrier can have.
pub(crate) const MAX_PARTIES: usize = COUNT as usize;
const COUNT: u32 = (1 << 12) - 1;
const BROKEN_SHIFT: u32 = 12;
/// The BROKEN field: non-zero while the current generation is broken.
const BROKEN: u32 = 0b11 << BROKEN_SHIFT;
/// BROKEN values (and the ENDED values of a generation reset after it broke).
const ABORTED: u32 = 1;
const TIMED_OUT: u32 = 2;
const DIED: u32 = 3;
const ENDED_SHIFT: u32 = 14;
/// The ENDED value of a generation that tripped (the others are BROKEN
/// values: 0 for a reset while filling).
const TRIPPED: u32 = 0b100;
const GEN_SHIFT: u32 = 17;
const GEN_MASK: u32 = (1 << 15) - 1;
/// How many watches (peer, generation) a handle keeps.
const KNOWN: usize = 16;

fn generation(word: u32) -> u32 {
    word >> GEN_SHIFT
}

fn count(word: u32) -> u32 {
    word & COUNT
}

fn is_broken(word: u32) -> bool {
    word & BROKEN != 0
}

/// The BROKEN field: why the current generation broke, 0 if it did not.
fn broken(word: u32) -> u32 {
    (word & BROKEN) >> BROKEN_SHIFT
}

/// The ENDED field: how the previous generation ended.
fn ended(word: u32) -> u32 {
    (word >> ENDED_SHIFT) & 0b111
}

/// The word of a fresh generation after `word`'s, which ended by a trip
/// or (`tripped == false`) by a reset.
fn next_generation(word: u32, tripped: bool) -> u32 {
    let generation = (generation(word) + 1) & GEN_MASK;
    let ended = if tripped { TRIPPED } else { broken(word) };
    (generation << GEN_SHIFT) | (ended << ENDED_SHIFT)
}

/// What a party told of a BROKEN value (or of the ENDED value of a
/// generation that did not trip) hears: `0` is a reset.
fn reason(code: u32) -> BrokenReason {
    match code & 0b11 {
        ABORTED => BrokenReason::Aborted,
        TIMED_OUT => BrokenReason::PartyTimedOut,
        DIED => BrokenReason::PartyDied,
        _ => BrokenReason::Reset,
    }
}

/// The outcome of a waiter of rank `index` in a generation that ended as
/// `ended` says.
fn ended_outcome(ended: u32, index: u32) -> Result<BarrierWaitResult, BrokenBarrierError> {
    if ended & TRIPPED != 0 {
        Ok(BarrierWaitResult::new(index as usize, false))
    } else {
        Err(reason(ended).into())
    }
}

#[repr(C, align(64))]
struct Body {
    word: AtomicU32,
    sleepers: AtomicU32,
    /// How generation `g` ended, its ENDED value (module docs): bits
    /// `4 * (g % 16)..` of `ends[g % 64 / 16]` (the fourth is unused).
    ends: [AtomicU64; 4],
    _pad: [AtomicU32; 6],
    slots: [Slot; SLOTS],
    /// Per slot: `generation << 12 | callers arriving or waiting in it`.
    marks: [AtomicU32; SLOTS],
}

const _: () = assert!(size_of::<Body>() == 64 + 16 * SLOTS + 4 * SLOTS);

/// A barrier shared between processes — Python's `multiprocessing.Barrier`
/// — with the four forms of every rallypoint wait.
///
/// Semantics are those of [`rallypoint::Barrier`](crate::Barrier)
/// (`index`, `is_leader`, `abort`, `reset`, a timeout breaks it, a dropped
/// async wait withdraws its party), across processes, with two
/// differences: there is no action (a closure cannot cross processes: the
/// party told [`is_leader`](BarrierWaitResult::is_leader) runs it, then
/// typically waits once more), and after a withdrawal the ranks of that
/// generation may repeat.
///
/// # A killed process
///
/// A party killed while it waits at the barrier, or while it arrives,
/// breaks it: the others get [`BrokenBarrierError`] with reason
/// [`PartyDied`](BrokenReason::PartyDied) at once (they are woken, not
/// polling), later waits get it too, and [`reset`](Barrier::reset)
/// repairs it. A process that only has the barrier open does not. Each
/// open handle takes one of 64 participant slots; a dead process's slot is
/// reclaimed.
///
/// # Example
///
/// ```
/// use rallypoint::process::Barrier;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-barrier-{}", std::process::id());
/// let barrier = Barrier::create(&name, 2)?;
/// let peer = Barrier::open(&name)?; // in another process, usually
/// let other = std::thread::spawn(move || peer.wait_blocking().unwrap().is_leader());
/// let here = barrier.wait_blocking().unwrap().is_leader();
/// assert!(here != other.join().unwrap(), "exactly one leader");
/// # Ok(())
/// # }
/// ```
pub struct Barrier {
    seg: Segment,
    claim: Claim,
    parties: u32,
    default_timeout: Option<Duration>,
    /// Other handles this one has seen alive and asked the reaper to
    /// watch: (slot, peer, watch), most recent last.
    known: Mutex<Vec<(usize, Peer, Option<Watch>)>>,
}

impl Barrier {
    /// Creates a barrier for `parties` parties under `name` in `/dev/shm`
    /// (mode `0o600`), removed when this handle is dropped unless
    /// [`persist`](Barrier::persist)ed.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `parties` is 0 or above 4095, or for a bad name;
    /// `AlreadyExists` if the name is taken; or the system's error.
    pub fn create(name: &str, parties: usize) -> io::Result<Barrier> {
        Barrier::create_with_mode(name, parties, DEFAULT_MODE)
    }

    /// [`create`](Barrier::create) with the file mode `mode` (subject to the
    /// umask).
    ///
    /// # Errors
    ///
    /// As [`create`](Barrier::create).
    pub fn create_with_mode(name: &str, parties: usize, mode: u32) -> io::Result<Barrier> {
        let meta = meta(parties)?;
        Barrier::with(Segment::create(name, mode, meta, |_| {})?)
    }

    /// Opens the barrier another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// a barrier of this version, or `Other` if all 64 participant slots
    /// are held by live handles.
    pub fn open(name: &str) -> io::Result<Barrier> {
        Barrier::with(Segment::open(
            name,
            Kind::Barrier,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    /// Creates a barrier with no name (a sealed memfd), shared by handing
    /// [`as_fd_owned`](Barrier::as_fd_owned) to a child, which calls
    /// [`from_fd`](Barrier::from_fd).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 or more than 4095 parties, or the system's error.
    pub fn anonymous(parties: usize) -> io::Result<Barrier> {
        Barrier::with(Segment::anonymous(meta(parties)?, |_| {})?)
    }

    /// Takes over a barrier segment's file descriptor, checking it as
    /// [`open`](Barrier::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](Barrier::open).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Barrier> {
        Barrier::with(Segment::adopt(
            fd,
            None,
            Kind::Barrier,
            LAYOUT,
            size_of::<Body>(),
        )?)
    }

    fn with(seg: Segment) -> io::Result<Barrier> {
        let parties = seg.meta().params[0];
        if parties == 0 || parties > MAX_PARTIES as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("barrier segment for {parties} parties"),
            ));
        }
        let claim = roster::claim_for(&seg.map().body::<Body>().slots, "barrier")?;
        let barrier = Barrier {
            seg,
            claim,
            parties: parties as u32,
            default_timeout: None,
            known: Mutex::new(Vec::new()),
        };
        // The slot may have been reclaimed from a dead process that was
        // waiting here: its mark is ours now, and its arrival is still
        // counted, so its generation can never trip. Break it.
        let body = barrier.body();
        let stale = body.marks[barrier.claim.index].swap(0, Ordering::SeqCst);
        if stale & COUNT != 0 {
            break_generation(&body.word, stale >> 12, DIED);
            barrier.wake();
        }
        Ok(barrier)
    }

    /// Sets the timeout that [`wait`](Barrier::wait) and
    /// [`wait_blocking`](Barrier::wait_blocking) of this handle use (like
    /// the in-process builder's; a timeout breaks the barrier).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Barrier {
        self.default_timeout = Some(timeout);
        self
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
    }

    /// The number of parties needed to trip the barrier.
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// The parties waiting now, in every process.
    pub fn n_waiting(&self) -> usize {
        count(self.body().word.load(Ordering::Relaxed)) as usize
    }

    /// Whether the barrier is broken (until [`reset`](Barrier::reset)).
    pub fn is_broken(&self) -> bool {
        is_broken(self.body().word.load(Ordering::Relaxed))
    }

    /// Breaks the barrier: current waiters and later waits, in every
    /// process, get [`BrokenBarrierError`] with reason
    /// [`Aborted`](BrokenReason::Aborted) until [`reset`](Barrier::reset).
    ///
    /// On a barrier that is broken already, `abort` changes nothing: later
    /// waits keep getting the reason it first broke for.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BrokenReason;
    /// let barrier = rallypoint::process::Barrier::anonymous(2)?;
    /// barrier.abort();
    /// assert_eq!(barrier.wait_blocking().unwrap_err(), BrokenReason::Aborted);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn abort(&self) {
        let word = &self.body().word;
        // SeqCst: a change sleepers may be about to sleep on (wait.rs). The
        // first reason stays.
        let _ = word.fetch_update(Ordering::SeqCst, Ordering::Relaxed, |w| {
            (!is_broken(w)).then_some(w | ABORTED << BROKEN_SHIFT)
        });
        self.wake();
    }

    /// Fails the parties waiting now — with reason
    /// [`Reset`](BrokenReason::Reset), or the reason the barrier broke for
    /// if it was broken before they found out — then leaves the barrier
    /// empty and unbroken.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = rallypoint::process::Barrier::anonymous(2)?;
    /// barrier.abort();
    /// barrier.reset();
    /// assert!(!barrier.is_broken());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn reset(&self) {
        let body = self.body();
        let mut word = body.word.load(Ordering::Relaxed);
        loop {
            if count(word) == 0 && !is_broken(word) {
                // Empty and unbroken already.
                return;
            }
            record_history(body, word);
            match body.word.compare_exchange_weak(
                word,
                next_generation(word, false),
                Ordering::SeqCst,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => word = actual,
            }
        }
        self.wake();
    }

    fn wake(&self) {
        let body = self.body();
        if body.sleepers.load(Ordering::SeqCst) != 0 {
            futex::wake_all(&body.word);
        }
    }

    fn op(&self) -> WaitOp<'_> {
        WaitOp {
            barrier: self,
            phase: Phase::Start,
        }
    }

    /// Waits until `parties` parties (in any processes) wait, then releases
    /// them all. Uses the handle's default timeout, if any.
    ///
    /// Returns [`BrokenBarrierError`] as
    /// [`wait_blocking`](Barrier::wait_blocking) does.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before its generation trips withdraws the
    /// party (the barrier does not break); after, it changes nothing.
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait::new(
            AsyncShm::new(self.op()),
            self.default_timeout.and_then(deadline_after),
        )
    }

    /// Blocks until the barrier trips (or breaks). Uses the handle's
    /// default timeout, if any. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// [`BrokenBarrierError`] if the barrier is or becomes broken or reset
    /// while waiting, or the timeout passes (which breaks it). Its
    /// [`reason`](BrokenBarrierError::reason):
    ///
    /// * [`Aborted`](BrokenReason::Aborted): [`abort`](Barrier::abort) was
    ///   called (in any process), before this wait or while it waited;
    /// * [`Reset`](BrokenReason::Reset): [`reset`](Barrier::reset) was
    ///   called while it waited;
    /// * [`TimedOut`](BrokenReason::TimedOut): this wait's timeout passed,
    ///   and broke the barrier;
    /// * [`PartyTimedOut`](BrokenReason::PartyTimedOut): another party's
    ///   timeout broke it, before this wait or while it waited;
    /// * [`PartyDied`](BrokenReason::PartyDied): the process of a party
    ///   arriving or waiting in this generation died (or had died in an
    ///   earlier one, which is broken since).
    ///
    /// A barrier broken before this wait reports the reason it first broke
    /// for, until [`reset`](Barrier::reset).
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::BrokenReason;
    /// use std::time::Duration;
    ///
    /// let barrier = rallypoint::process::Barrier::anonymous(2)?
    ///     .with_timeout(Duration::from_millis(10));
    /// let err = barrier.wait_blocking().unwrap_err();
    /// assert_eq!(err.reason(), BrokenReason::TimedOut);
    /// assert_eq!(barrier.wait_blocking().unwrap_err(), BrokenReason::PartyTimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait_blocking(&self) -> Result<BarrierWaitResult, BrokenBarrierError> {
        wait::block(
            &mut self.op(),
            self.default_timeout.and_then(deadline_after),
        )
    }

    /// [`wait`](Barrier::wait) with its own timeout, which breaks the
    /// barrier when it passes: this party then gets
    /// [`TimedOut`](BrokenReason::TimedOut), the others
    /// [`PartyTimedOut`](BrokenReason::PartyTimedOut) (other errors as for
    /// [`wait_blocking`](Barrier::wait_blocking)).
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Barrier::wait).
    pub fn wait_timeout(&self, timeout: Duration) -> BarrierWait<'_> {
        BarrierWait::new(AsyncShm::new(self.op()), deadline_after(timeout))
    }

    /// [`wait_blocking`](Barrier::wait_blocking) with its own timeout, which
    /// breaks the barrier when it passes (this party gets
    /// [`TimedOut`](BrokenReason::TimedOut), the others
    /// [`PartyTimedOut`](BrokenReason::PartyTimedOut)). Must not be called
    /// from async code.
    ///
    /// # Errors
    ///
    /// As [`wait_blocking`](Barrier::wait_blocking).
    pub fn wait_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        wait::block(&mut self.op(), deadline_after(timeout))
    }

    /// Counts one more of this handle's callers into generation `g`'s
    /// mark (before it counts itself into the word).
    fn mark(&self, g: u32, up: bool) {
        let mark = &self.body().marks[self.claim.index];
        let mut m = mark.load(Ordering::Relaxed);
        loop {
            let new = match (m >> 12 == g, up) {
                (true, true) => m + 1,
                (false, true) => (g << 12) | 1,
                (true, false) if m & COUNT > 0 => m - 1,
                _ => return,
            };
            // SeqCst: marked before the arrival (and unmarked after a
            // withdrawal), as the scans of `watch_parties` see them.
            match mark.compare_exchange_weak(m, new, Ordering::SeqCst, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => m = actual,
            }
        }
    }

    /// Before sleeping in generation `g`, and before tripping it: every
    /// other party arriving or waiting in `g` is alive and watched (so
    /// that its death breaks `g`); `false` if one is dead — the barrier is
    /// then broken.
    fn watch_parties(&self, g: u32) -> bool {
        let body = self.body();
        for (i, mark) in body.marks.iter().enumerate() {
            let m = mark.load(Ordering::SeqCst);
            if i == self.claim.index || m >> 12 != g || m & COUNT == 0 {
                continue;
            }
            if !self.watch(i) {
                break_generation(&body.word, g, DIED);
                self.wake();
                return false;
            }
        }
        true
    }

    /// Whether the handle in slot `i` is alive and watched by the reaper.
    fn watch(&self, i: usize) -> bool {
        let body = self.body();
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(token) = roster::token_at(&body.slots, i) else {
            return false;
        };
        // The cheap check first: a peer of this slot we watch already
        // (the roster lookup is the same claim if the token is).
        if let Some(at) = known.iter().position(|(slot, _, _)| *slot == i) {
            let (_, peer, watch) = &known[at];
            let same_claim = roster::holder_unchecked(&body.slots, token) == Some(*peer);
            if same_claim && watch.as_ref().is_some_and(|w| !w.has_exited()) {
                return true;
            }
            known.remove(at);
        }
        let Some(peer) = roster::holder(&body.slots, token) else {
            return false;
        };
        if peer == Peer::me() {
            return true;
        }
        match reaper::watch(peer, self.seg.map(), &body.word, (break_marked, i as u32)) {
            Err(()) => false,
            Ok(watch) => {
                if known.len() == KNOWN {
                    known.remove(0);
                }
                known.push((i, peer, watch));
                true
            }
        }
    }
}

/// An [`OnExit`](reaper::OnExit) for barrier words: the handle in slot
/// `slot` exited; if it was arriving or waiting in the current generation,
/// break it.
fn break_marked(map: &Mapping, word: &AtomicU32, slot: u32) {
    let Some(mark) = map.body::<Body>().marks.get(slot as usize) else {
        return;
    };
    let m = mark.load(Ordering::SeqCst);
    if m & COUNT != 0 {
        break_generation(word, m >> 12, DIED);
    }
}

/// Where generation `g`'s ENDED value lives in `ends`: the word and shift.
fn ends_at(body: &Body, g: u32) -> (&AtomicU64, u32) {
    let at = (g % 64) as usize;
    (&body.ends[at / 16], 4 * (at % 16) as u32)
}

/// Copies how the generation before `word`'s ended into `ends` (by
/// whoever ends `word`'s generation, before it does).
fn record_history(body: &Body, word: u32) {
    let previous = generation(word).wrapping_sub(1) & GEN_MASK;
    let (ends, shift) = ends_at(body, previous);
    let code = u64::from(ended(word)) << shift;
    // SeqCst: before the exchange that ends this generation. One
    // read-modify-write (not a clear, then a set): recorders racing for
    // the same generation write the same value, and a reader never sees
    // the field cleared in between.
    let _ = ends.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |e| {
        Some((e & !(0xf << shift)) | code)
    });
}

/// How generation `g` ended, as recorded in `ends`.
fn recorded_end(body: &Body, g: u32) -> u32 {
    let (ends, shift) = ends_at(body, g);
    ((ends.load(Ordering::SeqCst) >> shift) & 0b111) as u32
}

/// Breaks generation `g` for `why` (a BROKEN value) if it is still the
/// current one and unbroken (a broken one keeps its first reason);
/// returns whether this call broke it.
fn break_generation(word: &AtomicU32, g: u32, why: u32) -> bool {
    let mut w = word.load(Ordering::SeqCst);
    while generation(w) == g && !is_broken(w) {
        match word.compare_exchange_weak(
            w,
            w | why << BROKEN_SHIFT,
            Ordering::SeqCst,
            Ordering::Relaxed,
        ) {
            Ok(_) => return true,
            Err(actual) => w = actual,
        }
    }
    false
}

fn meta(parties: usize) -> io::Result<Meta> {
    if parties == 0 || parties > MAX_PARTIES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a process barrier needs 1 to {MAX_PARTIES} parties, not {parties}"),
        ));
    }
    Ok(Meta {
        kind: Kind::Barrier,
        layout: LAYOUT,
        body_size: size_of::<Body>(),
        creator_pid: std::process::id(),
        params: [parties as u64, 0, 0, 0],
    })
}

impl Drop for Barrier {
    fn drop(&mut self) {
        roster::release(&self.body().slots, &self.claim);
    }
}

segment_handle!(Barrier, "barrier");

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Relaxed: a snapshot for display.
        let word = self.body().word.load(Ordering::Relaxed);
        f.debug_struct("Barrier")
            .field("name", &self.name())
            .field("waiting", &format_args!("{}/{}", count(word), self.parties))
            .field("broken", &is_broken(word))
            .field("reason", &is_broken(word).then(|| reason(broken(word))))
            .field("handles", &roster::claimed(&self.body().slots))
            .finish()
    }
}

enum Phase {
    Start,
    Waiting { generation: u32, index: u32 },
    Done,
}

/// The state machine of one wait.
pub(crate) struct WaitOp<'a> {
    barrier: &'a Barrier,
    phase: Phase,
}

impl WaitOp<'_> {
    /// The outcome for a waiter of `g` once the word shows another
    /// generation (module docs).
    fn outcome(
        &self,
        g: u32,
        word: u32,
        index: u32,
    ) -> Result<BarrierWaitResult, BrokenBarrierError> {
        let later = generation(word).wrapping_sub(g) & GEN_MASK;
        let ended = if later == 1 {
            ended(word)
        } else {
            recorded_end(self.barrier.body(), g)
        };
        ended_outcome(ended, index)
    }

    fn finish(
        &mut self,
        out: Result<BarrierWaitResult, BrokenBarrierError>,
    ) -> Attempt<Result<BarrierWaitResult, BrokenBarrierError>> {
        self.phase = Phase::Done;
        Attempt::Done(out)
    }
}

impl ShmOp for WaitOp<'_> {
    type Output = Result<BarrierWaitResult, BrokenBarrierError>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.barrier.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.barrier.body().word
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.barrier.body().sleepers
    }

    fn attempt(&mut self) -> Attempt<Self::Output> {
        let barrier = self.barrier;
        let body = barrier.body();
        match self.phase {
            Phase::Done => unreachable!("polled after completion"),
            Phase::Start => {
                let mut word = body.word.load(Ordering::SeqCst);
                loop {
                    if is_broken(word) {
                        return self.finish(Err(reason(broken(word)).into()));
                    }
                    let g = generation(word);
                    let index = count(word);
                    barrier.mark(g, true);
                    let trips = index + 1 >= barrier.parties;
                    // A trip with a dead party in it breaks instead.
                    if trips && !barrier.watch_parties(g) {
                        barrier.mark(g, false);
                        // Broken by us, or just before by someone else.
                        let now = body.word.load(Ordering::SeqCst);
                        let why = if generation(now) == g && is_broken(now) {
                            reason(broken(now))
                        } else {
                            BrokenReason::PartyDied
                        };
                        return self.finish(Err(why.into()));
                    }
                    let new = if trips {
                        record_history(body, word);
                        next_generation(word, true)
                    } else {
                        word + 1
                    };
                    match body
                        .word
                        .compare_exchange(word, new, Ordering::SeqCst, Ordering::SeqCst)
                    {
                        Ok(_) => {
                            // Every arrival wakes the sleepers: released by
                            // a trip, or to watch the newcomer.
                            barrier.wake();
                            if trips {
                                return self
                                    .finish(Ok(BarrierWaitResult::new(index as usize, true)));
                            }
                            self.phase = Phase::Waiting {
                                generation: g,
                                index,
                            };
                            return Attempt::Sleep(new);
                        }
                        Err(actual) => {
                            barrier.mark(g, false);
                            word = actual;
                        }
                    }
                }
            }
            Phase::Waiting {
                generation: g,
                index,
            } => {
                // SeqCst: the look after being counted (wait.rs).
                let word = body.word.load(Ordering::SeqCst);
                if generation(word) != g {
                    let out = self.outcome(g, word, index);
                    return self.finish(out);
                }
                if is_broken(word) {
                    return self.finish(Err(reason(broken(word)).into()));
                }
                Attempt::Sleep(word)
            }
        }
    }

    fn timed_out(&mut self) -> Self::Output {
        let Phase::Waiting {
            generation: g,
            index,
        } = self.phase
        else {
            // Not reached: both drivers make an attempt, which leaves
            // `Start`, before they time out.
            return Err(BrokenReason::TimedOut.into());
        };
        self.phase = Phase::Done;
        let word = &self.barrier.body().word;
        // A timeout breaks the barrier (Python semantics): ours did, the
        // others are told another party's did.
        if break_generation(word, g, TIMED_OUT) {
            self.barrier.wake();
            return Err(BrokenReason::TimedOut.into());
        }
        let w = word.load(Ordering::SeqCst);
        if generation(w) != g {
            // Tripped (or reset) as the deadline passed.
            return self.outcome(g, w, index);
        }
        // Broken already, for that reason (a generation broken stays so).
        Err(reason(broken(w)).into())
    }

    fn prepare_sleep(&mut self, word: u32) -> bool {
        self.barrier.watch_parties(generation(word))
    }
}

impl Drop for WaitOp<'_> {
    fn drop(&mut self) {
        // A pending wait dropped (async cancellation): withdraw the party
        // if its generation is still filling.
        let Phase::Waiting { generation: g, .. } = self.phase else {
            return;
        };
        let body = self.barrier.body();
        let mut w = body.word.load(Ordering::SeqCst);
        while generation(w) == g && !is_broken(w) && count(w) > 0 {
            match body
                .word
                .compare_exchange_weak(w, w - 1, Ordering::SeqCst, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => w = actual,
            }
        }
        self.barrier.mark(g, false);
    }
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOp").finish_non_exhaustive()
    }
}

named_future! {
    /// Future returned by [`Barrier::wait`](crate::process::Barrier::wait)
    /// and [`Barrier::wait_timeout`](crate::process::Barrier::wait_timeout).
    pub struct BarrierWait<'a>(AsyncShm<WaitOp<'a>>) -> Result<BarrierWaitResult, BrokenBarrierError>;
    |out| out
}
