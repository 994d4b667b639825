//! The algorithm behind [`process::Semaphore`](super::Semaphore): the
//! in-process semaphore's (src/semaphore/raw.rs) with its queue moved into
//! shared memory, a robust internal mutex, and the repairs a killed process
//! can call for.
//!
//! # State
//!
//! One `AtomicU64` holds the permits and the flags:
//!
//! ```text
//!  bits 0..32  : available permits (at most MAX_PERMITS)
//!  bit 32      : HANDOFF  — permits go to the oldest waiter; lock-free
//!                acquires may not take them
//!  bit 33      : CLOSED   — set once by close(), never cleared
//!  bit 34      : QUEUED   — someone waits: a release must serve the queue
//!  bits 40..48 : GRANTING — index + 1 of the record a grant is being
//!                written to (the journal of the one two-step change)
//! ```
//!
//! The queue is a table of 128 *records* (32 bytes each) in the segment,
//! one per waiter, ordered by a ticket drawn from `next_ticket`:
//!
//! ```text
//!  word   (u32): state (bits 0..3: FREE, WAITING, GRANTED, CLOSED)
//!               | KICKED (bit 3) | seq (bits 8..32, bumped on each use)
//!  need   (u32): the permits it waits for
//!  owner  (u32): the roster token of the handle that waits
//!  sleeping (u32): set once the waiter has gone to sleep on the word
//!  ticket (u64): its place in line
//! ```
//!
//! The word is what its waiter sleeps on (futex, or the helper thread for
//! a task), so a grant wakes exactly that waiter — with a system call only
//! if `sleeping` is set: the waiter sets it (`SeqCst`) before its last
//! look at the word, and a changer reads it (`SeqCst`) after changing the
//! word, so either the look sees the change or the changer sees the flag.
//!
//! # The internal mutex
//!
//! Records change under a mutex in the segment, an owner word
//! ([`owner`](crate::process::owner)) like `process::Lock`: a holder that
//! dies is taken over by the next locker, which then *repairs*. Besides
//! that, only three record changes happen without it, each one
//! compare-exchange: a waiter consuming its own GRANTED or CLOSED record
//! (→ FREE), and a kick (setting KICKED on a WAITING record).
//!
//! # The algorithm (as in-process)
//!
//! * **Fast paths.** With `HANDOFF` and `CLOSED` clear, `try_acquire` and
//!   the first step of `acquire` are one compare-exchange taking permits;
//!   `release` is one compare-exchange adding them, followed by a *serve*
//!   under the mutex if `QUEUED` was set.
//! * **Queueing.** Under the mutex, an acquire takes its permits if the
//!   flags allow, else fills a free record, sets `QUEUED` (and, in strict
//!   mode, `HANDOFF`), and serves.
//! * **Serve**, under the mutex after anything that may let the front
//!   proceed: the front is the WAITING record with the lowest ticket. In
//!   handoff mode (strict, or eventual with the front at the front for
//!   longer than the bound) it is *granted* while its need fits: its
//!   permits are subtracted and `GRANTING` set in one exchange, its record
//!   set GRANTED, `GRANTING` cleared. In barging mode the front is only
//!   *kicked* when its need fits; it wakes, takes the mutex and tries to
//!   take its permits itself (a running caller may have taken them first:
//!   then it waits on, and the bound runs). With nobody waiting, serve
//!   clears `QUEUED` and `HANDOFF`.
//! * **Leaving.** A waiter whose future is dropped, or whose deadline
//!   passed, withdraws under the mutex: a WAITING record is freed and the
//!   queue served (the next waiter may fit now); a GRANTED one gives its
//!   permits back and serves, so they pass to the next waiter.
//! * **Close** sets `CLOSED`, then under the mutex marks every WAITING
//!   record CLOSED and wakes it.
//!
//! # A process that dies
//!
//! * **Holding permits**: they are gone, as in Python (a permit has no
//!   owner; `release` may come from anyone).
//! * **Waiting**: its record must not stay the front forever. Before a
//!   waiter sleeps, it asks this process's reaper (pidfd) to watch the
//!   processes of the records ahead of it; the exit of one sets its roster
//!   slot in the `dead` mask and kicks every waiter. The next locker reaps:
//!   each record whose owner the roster finds dead is freed, and a GRANTED
//!   one gives its permits back. A dead record nobody waits behind is reaped
//!   by the next acquire that has to wait.
//! * **Inside the mutex**: the next locker is told the owner died, and
//!   repairs: a `GRANTING` journal entry is completed (the permits were
//!   already subtracted, so the record is set GRANTED), every record is
//!   checked for a dead owner, and the queue is served. Every other change
//!   under the mutex is one atomic write that leaves the state consistent
//!   (a record is filled before its word says WAITING).
//!
//! # Memory ordering
//!
//! Every write to the state is a read-modify-write: lock-free acquires use
//! `Acquire` (they see what was done before the permits were released),
//! releases `Release`, and the exchanges under the mutex `AcqRel`. Record
//! words are changed with `SeqCst` exchanges and their waiter always woken
//! (the futex compares the value in the kernel, so no wake-up is lost);
//! a granted waiter's `Acquire` load of its word synchronises with the
//! grant, which had acquired the permits. Fields of a record are written
//! under the mutex before its word is published, and read under it.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::super::futex;
use super::super::owner::OwnerWord;
use super::super::roster::{self, Slot};
use super::super::segment::Mapping;

pub(super) const SLOTS: usize = 64;
pub(super) const RECORDS: usize = 128;

/// The most permits a semaphore may hold.
pub(super) const MAX_PERMITS: u64 = (1 << 31) - 1;

const AVAIL: u64 = 0xFFFF_FFFF;
const HANDOFF: u64 = 1 << 32;
pub(super) const CLOSED: u64 = 1 << 33;
const QUEUED: u64 = 1 << 34;
const GRANTING_SHIFT: u32 = 40;
const GRANTING: u64 = 0xFF << GRANTING_SHIFT;

pub(super) const FREE: u32 = 0;
pub(super) const WAITING: u32 = 1;
pub(super) const GRANTED: u32 = 2;
pub(super) const R_CLOSED: u32 = 3;
const R_STATE: u32 = 0x7;
pub(super) const KICKED: u32 = 1 << 3;
const SEQ_SHIFT: u32 = 8;

pub(super) fn rstate(word: u32) -> u32 {
    word & R_STATE
}

pub(super) fn seq(word: u32) -> u32 {
    word >> SEQ_SHIFT
}

pub(super) fn avail(state: u64) -> u64 {
    state & AVAIL
}

/// One waiter's record (32 bytes).
#[repr(C)]
pub(super) struct Record {
    pub(super) word: AtomicU32,
    need: AtomicU32,
    owner: AtomicU32,
    /// Set by the waiter before it first sleeps on `word` (after its spin):
    /// whoever changes the word wakes it only then.
    sleeping: AtomicU32,
    ticket: AtomicU64,
    _pad2: AtomicU64,
}

const _: () = assert!(size_of::<Record>() == 32);

#[repr(C, align(64))]
pub(super) struct Body {
    pub(super) state: AtomicU64,
    next_ticket: AtomicU64,
    /// The ticket (+ 1) of the front as serve last saw it, and since when (ns
    /// of `CLOCK_MONOTONIC`, which every process on the machine shares).
    front: AtomicU64,
    front_since: AtomicU64,
    /// Roster slots whose process exited with records here (set by the
    /// reapers of the watching processes).
    dead: AtomicU64,
    pub(super) mutex: AtomicU32,
    pub(super) mutex_sleepers: AtomicU32,
    /// Bumped when a record is freed; acquirers that found every record
    /// taken sleep on it (`overflow` counts them).
    pub(super) frees: AtomicU32,
    overflow: AtomicU32,
    /// The word the reaper's peer watches are registered on.
    pub(super) deaths: AtomicU32,
    /// How many records (from the start) have ever been used: every
    /// record at or above it is FREE, so scans stop there (written under
    /// the mutex; a corrupt value is clamped to the table).
    used: AtomicU32,
    pub(super) slots: [Slot; SLOTS],
    pub(super) records: [Record; RECORDS],
}

const _: () =
    assert!(size_of::<Body>() == 64 + 16 * SLOTS + 32 * RECORDS && SLOTS <= roster::MAX_SLOTS);

/// The fixed parameters of one semaphore, from its header.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// The most permits it may hold: its bound, or `MAX_PERMITS`.
    pub(super) max: u64,
    pub(super) bounded: bool,
    /// `None`: strict FIFO; else the fairness bound in ns.
    pub(super) bound_ns: Option<u64>,
}

/// The records that may be in use (see `Body::used`).
fn in_use(body: &Body) -> &[Record] {
    let used = body.used.load(Ordering::Acquire) as usize;
    &body.records[..used.min(RECORDS)]
}

/// Nanoseconds of `CLOCK_MONOTONIC`.
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

/// The outcome of a lock-free take.
pub(super) enum TryTake {
    Taken,
    NoPermits,
    Closed,
}

/// Lock-free attempt to take `n` permits; never jumps a handed-off queue.
pub(super) fn try_take(body: &Body, n: u64) -> TryTake {
    // Relaxed: only feeds the compare-exchange.
    let mut state = body.state.load(Ordering::Relaxed);
    loop {
        if state & CLOSED != 0 {
            return TryTake::Closed;
        }
        if n == 0 {
            return TryTake::Taken;
        }
        if state & HANDOFF != 0 || avail(state) < n {
            return TryTake::NoPermits;
        }
        // Acquire: pairs with the Release of whoever gave the permits back.
        match body.state.compare_exchange_weak(
            state,
            state - n,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => return TryTake::Taken,
            Err(actual) => state = actual,
        }
    }
}

/// Adds `n` permits lock-free (at most up to `max`; with `checked`, fails
/// instead of going past it). `Ok(true)` if the queue must be served.
pub(super) fn add(body: &Body, n: u64, max: u64, checked: bool) -> Result<bool, ()> {
    let mut state = body.state.load(Ordering::Relaxed);
    loop {
        let sum = avail(state).saturating_add(n);
        let new = if sum <= max {
            sum
        } else if checked {
            return Err(());
        } else {
            max.max(avail(state))
        };
        // Release: publishes what was done while the permits were held.
        match body.state.compare_exchange_weak(
            state,
            (state & !AVAIL) | new,
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => return Ok(state & QUEUED != 0),
            Err(actual) => state = actual,
        }
    }
}

/// What a kicked or timed-out waiter finds under the mutex.
pub(super) enum Mine {
    /// It has taken its permits (its record is free again).
    Taken,
    /// It still waits; its word now holds this.
    Waiting(u32),
    /// Its record is not WAITING any more (granted, closed, or lost):
    /// look at the word.
    Changed,
}

/// What an acquire finds under the mutex.
pub(super) enum Enqueue {
    Taken,
    Closed,
    /// Queued in record `index` at `word` (before serving; the word may
    /// have moved on since).
    Queued {
        index: usize,
        word: u32,
    },
    /// Every record is taken: wait for `frees` to change from this.
    Full(u32),
}

/// The internal mutex, held; gives it back (and wakes those it changed)
/// when dropped.
pub(super) struct Locked<'a> {
    pub(super) body: &'a Body,
    pub(super) params: Params,
    pub(super) me: u32,
    /// The mutex, to give back.
    owner: OwnerWord<'a>,
    /// Records to wake once the mutex is given back.
    wakes: Vec<&'a Record>,
}

impl<'a> Locked<'a> {
    /// Wraps a just-taken mutex: repairs what a dead holder left
    /// (`died`), reaps the records of processes found dead since.
    pub(super) fn new(
        body: &'a Body,
        params: Params,
        me: u32,
        owner: OwnerWord<'a>,
        died: bool,
    ) -> Locked<'a> {
        let mut locked = Locked {
            body,
            params,
            me,
            owner,
            wakes: Vec::new(),
        };
        // Relaxed: under the mutex, whose acquire ordered the last writes.
        let granting = body.state.load(Ordering::Relaxed) & GRANTING;
        if died || granting != 0 {
            locked.repair();
        } else if body.dead.load(Ordering::Relaxed) != 0 {
            // AcqRel: take the mask, see the exits it reports.
            let mask = body.dead.swap(0, Ordering::AcqRel);
            if locked.reap(Some(mask)) {
                locked.serve();
            }
        }
        locked
    }

    /// After a holder died inside the mutex: finish its grant, reap every
    /// dead record, serve.
    fn repair(&mut self) {
        let state = self.body.state.load(Ordering::Acquire);
        let index = ((state & GRANTING) >> GRANTING_SHIFT) as usize;
        if let Some(record) = index.checked_sub(1).and_then(|i| self.body.records.get(i)) {
            // Its permits were subtracted with the journal entry: the grant
            // stands. (A record that is not WAITING was granted already.)
            let mut word = record.word.load(Ordering::SeqCst);
            while rstate(word) == WAITING {
                let granted = (word & !(R_STATE | KICKED)) | GRANTED;
                match record.word.compare_exchange(
                    word,
                    granted,
                    Ordering::SeqCst,
                    Ordering::SeqCst,
                ) {
                    Ok(_) => {
                        self.wakes.push(record);
                        break;
                    }
                    Err(actual) => word = actual,
                }
            }
        }
        self.body.state.fetch_and(!GRANTING, Ordering::AcqRel);
        self.body.dead.store(0, Ordering::Relaxed);
        self.reap(None);
        self.serve();
    }

    /// Frees the records of dead owners among those whose slot is in
    /// `mask` (every record for `None`); a GRANTED one gives its permits
    /// back. `true` if any was freed.
    fn reap(&mut self, mask: Option<u64>) -> bool {
        let slots: &[Slot] = &self.body.slots;
        let mut freed = false;
        // After a death inside the mutex, look at the whole table.
        let records = if mask.is_none() {
            &self.body.records[..]
        } else {
            in_use(self.body)
        };
        for record in records {
            let word = record.word.load(Ordering::SeqCst);
            if rstate(word) == FREE {
                continue;
            }
            // Relaxed: written under the mutex before the word.
            let owner = record.owner.load(Ordering::Relaxed);
            let slot = (owner & 0xFF).wrapping_sub(1);
            // A token with no slot of the table (garbage) is checked
            // whenever any exit is reported: the roster finds it dead.
            if mask.is_some_and(|m| slot < 64 && m & (1 << slot) == 0)
                || owner == self.me
                || roster::is_alive(slots, owner)
            {
                continue;
            }
            if self.free(record, word) && rstate(word) == GRANTED {
                let need = u64::from(record.need.load(Ordering::Relaxed));
                let _ = add(self.body, need, self.params.max, false);
            }
            freed = true;
        }
        freed
    }

    /// Sets `record` (last seen holding `word`) FREE: `false` if its
    /// state or use changed first (a kick alone does not count).
    fn free(&mut self, record: &'a Record, mut word: u32) -> bool {
        loop {
            let free = (word & !(R_STATE | KICKED)) | FREE;
            match record
                .word
                .compare_exchange(word, free, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(actual) if (actual ^ word) & !KICKED == 0 => word = actual,
                Err(_) => return false,
            }
        }
        freed(self.body);
        true
    }

    /// The front: the WAITING record with the lowest ticket (index, word,
    /// need, ticket). A record with a need that can never be met is
    /// corrupt and freed.
    fn front(&mut self) -> Option<(usize, u32, u64, u64)> {
        let mut front: Option<(usize, u32, u64, u64)> = None;
        for (index, record) in in_use(self.body).iter().enumerate() {
            let word = record.word.load(Ordering::SeqCst);
            if rstate(word) != WAITING {
                continue;
            }
            let need = u64::from(record.need.load(Ordering::Relaxed));
            if need == 0 || need > self.params.max {
                self.free(record, word);
                continue;
            }
            let ticket = record.ticket.load(Ordering::Relaxed);
            if front.is_none_or(|(_, _, _, t)| ticket < t) {
                front = Some((index, word, need, ticket));
            }
        }
        front
    }

    fn handoff(&self, since: u64) -> bool {
        match self.params.bound_ns {
            None => true,
            Some(0) => true,
            Some(bound) => now_ns().saturating_sub(since) > bound,
        }
    }

    /// Serves the queue: grants (handoff mode) or kicks (barging mode) the
    /// front while its need fits; sets the flags to match the queue.
    pub(super) fn serve(&mut self) {
        loop {
            let state = self.body.state.load(Ordering::Acquire);
            let Some((index, word, need, ticket)) = self.front() else {
                if state & (QUEUED | HANDOFF) != 0
                    && self
                        .body
                        .state
                        .compare_exchange(
                            state,
                            state & !(QUEUED | HANDOFF),
                            Ordering::AcqRel,
                            Ordering::Relaxed,
                        )
                        .is_err()
                {
                    continue;
                }
                return;
            };
            // `front` holds the ticket + 1, so that a fresh segment's 0
            // is no ticket's.
            if self.body.front.load(Ordering::Relaxed) != ticket.wrapping_add(1) {
                self.body
                    .front
                    .store(ticket.wrapping_add(1), Ordering::Relaxed);
                self.body.front_since.store(now_ns(), Ordering::Relaxed);
            }
            let handoff = self.handoff(self.body.front_since.load(Ordering::Relaxed));
            let flags = if handoff { QUEUED | HANDOFF } else { QUEUED };
            let want = (state & !(QUEUED | HANDOFF)) | flags;
            if want != state
                && self
                    .body
                    .state
                    .compare_exchange(state, want, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            if need > avail(want) {
                return;
            }
            if !handoff {
                self.kick(index, word);
                return;
            }
            self.grant(index, need);
        }
    }

    /// Hands `need` permits to record `index` (the front).
    fn grant(&mut self, index: usize, need: u64) {
        let record = &self.body.records[index];
        let journal = (index as u64 + 1) << GRANTING_SHIFT;
        let mut state = self.body.state.load(Ordering::Relaxed);
        loop {
            if avail(state) < need {
                return;
            }
            // AcqRel: takes the permits for the waiter (acquiring their
            // releases) and journals the grant in the same write.
            match self.body.state.compare_exchange_weak(
                state,
                (state - need) | journal,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        let mut word = record.word.load(Ordering::SeqCst);
        let granted = loop {
            if rstate(word) != WAITING {
                break false;
            }
            let granted = (word & !(R_STATE | KICKED)) | GRANTED;
            match record
                .word
                .compare_exchange(word, granted, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break true,
                Err(actual) => word = actual,
            }
        };
        // Release: the record is written before the journal is cleared.
        self.body.state.fetch_and(!GRANTING, Ordering::AcqRel);
        if granted {
            self.wakes.push(record);
        } else {
            // Only a corrupt segment gets here: give the permits back.
            let _ = add(self.body, need, self.params.max, false);
        }
    }

    /// Wakes record `index` (holding `word`) to try for itself.
    fn kick(&mut self, index: usize, word: u32) {
        if word & KICKED != 0 {
            return;
        }
        let record = &self.body.records[index];
        if record
            .word
            .compare_exchange(word, word | KICKED, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            self.wakes.push(record);
        }
    }

    /// An acquire of `n` that failed lock-free: takes the permits if the
    /// flags allow, else joins the queue.
    pub(super) fn take_or_enqueue(&mut self, n: u64) -> Enqueue {
        let strict = self.params.bound_ns.is_none();
        let mut state = self.body.state.load(Ordering::Relaxed);
        loop {
            if state & CLOSED != 0 {
                return Enqueue::Closed;
            }
            if state & HANDOFF != 0 || avail(state) < n {
                break;
            }
            match self.body.state.compare_exchange_weak(
                state,
                state - n,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Enqueue::Taken,
                Err(actual) => state = actual,
            }
        }
        let used = in_use(self.body).len();
        let free = in_use(self.body)
            .iter()
            .enumerate()
            .find_map(|(i, r)| {
                let word = r.word.load(Ordering::SeqCst);
                (rstate(word) == FREE).then_some((i, r, word))
            })
            .or_else(|| {
                let record = self.body.records.get(used)?;
                // Release: pairs with `in_use`'s Acquire (the record is
                // filled under the mutex anyway).
                self.body.used.store(used as u32 + 1, Ordering::Release);
                Some((used, record, record.word.load(Ordering::SeqCst)))
            });
        let Some((index, record, old)) = free else {
            // SeqCst: counted before the look at `frees` (see `freed`).
            self.body.overflow.fetch_add(1, Ordering::SeqCst);
            return Enqueue::Full(self.body.frees.load(Ordering::SeqCst));
        };
        record.need.store(n as u32, Ordering::Relaxed);
        record.owner.store(self.me, Ordering::Relaxed);
        record.sleeping.store(0, Ordering::Relaxed);
        let ticket = self.body.next_ticket.fetch_add(1, Ordering::Relaxed);
        record.ticket.store(ticket, Ordering::Relaxed);
        let word = (seq(old).wrapping_add(1) << SEQ_SHIFT) | WAITING;
        if record
            .word
            .compare_exchange(old, word, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            // Only a peer corrupting the table changes a FREE record.
            return self.take_or_enqueue(n);
        }
        let flags = if strict { QUEUED | HANDOFF } else { QUEUED };
        self.body.state.fetch_or(flags, Ordering::AcqRel);
        self.serve();
        Enqueue::Queued { index, word }
    }

    /// Record `index` (at `seq`) was kicked: in barging mode, the front
    /// takes its permits if they are there.
    pub(super) fn retry(&mut self, index: usize, seq_: u32) -> Mine {
        let record = &self.body.records[index];
        let mut word = record.word.load(Ordering::SeqCst);
        loop {
            if rstate(word) != WAITING || seq(word) != seq_ {
                return Mine::Changed;
            }
            if word & KICKED == 0 {
                break;
            }
            match record.word.compare_exchange(
                word,
                word & !KICKED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    word &= !KICKED;
                    break;
                }
                Err(actual) => word = actual,
            }
        }
        let need = u64::from(record.need.load(Ordering::Relaxed));
        let front = self.front().is_some_and(|(i, ..)| i == index);
        if front && self.params.bound_ns.is_some() {
            let mut state = self.body.state.load(Ordering::Relaxed);
            while state & (HANDOFF | CLOSED) == 0 && avail(state) >= need {
                match self.body.state.compare_exchange_weak(
                    state,
                    state - need,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        if !self.free(record, word) {
                            // Changed under us (a corrupt table): undo.
                            let _ = add(self.body, need, self.params.max, false);
                            return Mine::Changed;
                        }
                        self.serve();
                        return Mine::Taken;
                    }
                    Err(actual) => state = actual,
                }
            }
        }
        self.serve();
        let now = record.word.load(Ordering::SeqCst);
        if rstate(now) == WAITING && seq(now) == seq_ {
            // Kicked again since (a peer's exit): the caller will find the
            // word changed from this and come back.
            Mine::Waiting(now & !KICKED)
        } else {
            Mine::Changed
        }
    }

    /// The waiter of record `index` (at `seq`) leaves: `Some(need)` if it
    /// had been granted (its permits are its caller's now), `None` if it
    /// had nothing.
    pub(super) fn withdraw(&mut self, index: usize, seq_: u32) -> Option<u64> {
        let record = &self.body.records[index];
        let word = record.word.load(Ordering::SeqCst);
        if seq(word) != seq_ || rstate(word) == FREE || !self.free(record, word) {
            return None;
        }
        let granted =
            (rstate(word) == GRANTED).then(|| u64::from(record.need.load(Ordering::Relaxed)));
        if rstate(word) == WAITING {
            self.serve();
        }
        granted
    }

    /// Leaves the overflow (every record was taken) count.
    pub(super) fn leave_overflow(body: &Body) {
        body.overflow.fetch_sub(1, Ordering::SeqCst);
    }

    /// Fails every waiter.
    pub(super) fn close(&mut self) {
        self.body.state.fetch_or(CLOSED, Ordering::AcqRel);
        for record in in_use(self.body) {
            let mut word = record.word.load(Ordering::SeqCst);
            while rstate(word) == WAITING {
                let closed = (word & !(R_STATE | KICKED)) | R_CLOSED;
                match record
                    .word
                    .compare_exchange(word, closed, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => {
                        self.wakes.push(record);
                        break;
                    }
                    Err(actual) => word = actual,
                }
            }
        }
        self.serve();
    }

    /// The records ahead of ticket-holder `index` owned by other handles
    /// (their tokens), for the reaper to watch.
    pub(super) fn owners_ahead(body: &Body, index: usize, me: u32) -> Vec<u32> {
        let mine = body.records[index].ticket.load(Ordering::Relaxed);
        let mut owners = Vec::new();
        for record in in_use(body) {
            let state = rstate(record.word.load(Ordering::SeqCst));
            if state != WAITING && state != GRANTED {
                continue;
            }
            let owner = record.owner.load(Ordering::Relaxed);
            if owner != me
                && record.ticket.load(Ordering::Relaxed) < mine
                && !owners.contains(&owner)
            {
                owners.push(owner);
            }
        }
        owners
    }
}

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        self.owner.give_back();
        for record in self.wakes.drain(..) {
            wake(record);
        }
    }
}

/// Wakes `record`'s waiter if it may be asleep (its word was just changed).
fn wake(record: &Record) {
    if record.sleeping.load(Ordering::SeqCst) != 0 {
        futex::wake_all(&record.word);
    }
}

/// Marks `record`'s waiter as about to sleep (see the module docs).
pub(super) fn will_sleep(body: &Body, index: usize) {
    body.records[index].sleeping.store(1, Ordering::SeqCst);
}

/// A record was freed: wake acquirers that found the table full.
pub(super) fn freed(body: &Body) {
    // SeqCst: the change before the count is read (a Dekker pair with
    // `take_or_enqueue`'s count-then-look).
    body.frees.fetch_add(1, Ordering::SeqCst);
    if body.overflow.load(Ordering::SeqCst) != 0 {
        futex::wake_all(&body.frees);
    }
}

/// The reaper's action when a process with records here exits (run in
/// every process that watched it): marks its roster slot dead and kicks
/// every waiter, so that one of them reaps.
pub(super) fn peer_exited(map: &Mapping, deaths: &AtomicU32, token: u32) {
    let body: &Body = map.body();
    let slot = (token & 0xFF).wrapping_sub(1);
    // SeqCst: set before the kicks below wake anyone. A token with no slot
    // (garbage) marks every slot: the next locker checks every owner.
    let bits = if slot < 64 { 1 << slot } else { u64::MAX };
    body.dead.fetch_or(bits, Ordering::SeqCst);
    deaths.fetch_add(1, Ordering::SeqCst);
    for record in in_use(body) {
        let mut word = record.word.load(Ordering::SeqCst);
        while rstate(word) == WAITING && word & KICKED == 0 {
            match record.word.compare_exchange(
                word,
                word | KICKED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => {
                    wake(record);
                    break;
                }
                Err(actual) => word = actual,
            }
        }
    }
}

/// How many records are WAITING (for `Debug`).
pub(super) fn waiting(body: &Body) -> usize {
    in_use(body)
        .iter()
        .filter(|r| rstate(r.word.load(Ordering::Relaxed)) == WAITING)
        .count()
}
