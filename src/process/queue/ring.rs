//! The ring behind [`process::Queue`](super::Queue): a bounded MPMC ring of
//! fixed-size slots in the segment, lock-free, that a process killed at
//! any instruction cannot corrupt or wedge.
//!
//! # Layout
//!
//! The ring is `capacity` slots of `slot_words` 64-bit words each (a whole
//! number of cache lines, so neighbours do not share one):
//!
//! ```text
//!  word 0      : the slot's state word (below)
//!  word 1      : the item's length in bytes
//!  words 2..   : the item's bytes (postcard), 8 to a word, native order
//! ```
//!
//! Next to it, in the body: `head` (the next position to pop), `tail` (the
//! next position to push, with [`CLOSED`] in its top bit), and two counts
//! for `join`: positions `skipped` (never held an item) and tasks `done`.
//! Position `pos` lives in slot `pos % capacity`.
//!
//! # The state word
//!
//! ```text
//!  bits 0..2   : EMPTY, WRITING, FULL or SKIP
//!  bits 2..24  : WRITING's writer, a short roster token (roster::short)
//!  bits 24..64 : the position the state is about, modulo 2^40
//! ```
//!
//! A slot goes `EMPTY(pos)` → `WRITING(pos, writer)` → `FULL(pos)` →
//! `EMPTY(pos + capacity)`, or `WRITING(pos, dead)` → `SKIP(pos)` →
//! `EMPTY(pos + capacity)` when its writer died. Positions modulo 2^40 are
//! unambiguous unless one handle stalls between two of its loads while
//! 2^40 items (a day at 10 M/s) pass.
//!
//! # Push
//!
//! 1. Claim: compare-exchange the slot at `tail` from `EMPTY(tail)` to
//!    `WRITING(tail, me)`. The claim names the writer *in the same atomic
//!    step*, so a writer that dies at any later point is known.
//! 2. Publish the claim: move `tail` past it. Anyone who finds a claimed
//!    slot at `tail` helps, so a writer that dies between 1 and 2 does not
//!    stop later pushes. If `tail` says closed first, the claim is undone
//!    and the push fails: a push either lands before `close` or not at all.
//! 3. Write length and bytes, then `FULL(pos)`: only now can it be popped.
//!
//! # Pop
//!
//! 1. At `head`, a `FULL(head)` slot is copied out *before* anything
//!    changes: its bytes cannot be overwritten while `head` has not moved
//!    past it, since a slot is emptied only after that.
//! 2. Commit: compare-exchange `head` past it. Exactly one popper wins; the
//!    others drop their copy (which may be torn: it is never used).
//! 3. Release: compare-exchange the slot to `EMPTY(head + capacity)`. A
//!    popper that dies between 2 and 3 leaves a slot that pushers release
//!    themselves once they see `head` past it.
//!
//! A popper that finds `WRITING(head, w)` waits for `w`; if `w`'s process
//! is dead (told by the caller, who asks the roster and the reaper), it
//! turns the slot into `SKIP(head)` and pops past it. So a killed producer
//! leaves no item, a killed consumer takes at most the one item it had
//! committed, and nothing is ever half-written or seen twice.
//!
//! # Bad input
//!
//! Every word here may have been scribbled on by a peer. Slot indices are
//! always `pos % capacity` with `capacity` from the checked header, so no
//! access is out of bounds; a length over the item limit, or a state word
//! no writer could have left at `head` while `tail` is past it, is
//! *corrupt*: the popper consumes the slot and reports it (the ring goes
//! on). A scribbled word at `tail` makes the queue look full.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// `tail`'s top bit: the queue is closed.
pub(crate) const CLOSED: u64 = 1 << 63;

const EMPTY: u64 = 0;
const WRITING: u64 = 1;
const FULL: u64 = 2;
const SKIP: u64 = 3;
const POS_MASK: u64 = (1 << 40) - 1;
const OWNER_MASK: u64 = (1 << 22) - 1;

/// Words before an item's bytes in a slot.
pub(crate) const SLOT_HEADER_WORDS: usize = 2;

fn state(pos: u64, owner: u32, kind: u64) -> u64 {
    ((pos & POS_MASK) << 24) | ((u64::from(owner) & OWNER_MASK) << 2) | kind
}

fn kind_of(word: u64) -> u64 {
    word & 3
}

fn is_at(word: u64, pos: u64) -> bool {
    word >> 24 == pos & POS_MASK
}

/// The writer named in a `WRITING` word.
pub(crate) fn writer_of(word: u64) -> u32 {
    ((word >> 2) & OWNER_MASK) as u32
}

/// The words a slot needs for items of up to `limit` bytes: the header
/// plus the bytes, rounded up to whole cache lines.
pub(crate) fn slot_words(limit: usize) -> Option<usize> {
    let words = limit.div_ceil(8).checked_add(SLOT_HEADER_WORDS)?;
    words.checked_next_multiple_of(8)
}

/// What a push found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Push {
    Done,
    Full,
    Closed,
}

/// What a pop found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pop<R> {
    /// An item, decoded.
    Item(R),
    /// A slot that held no valid item (its length or state word was
    /// corrupt): consumed, and counted as a finished task.
    Corrupt(String),
    Empty,
    Closed,
    /// The item at `head` is being written by `writer`; `word` is the
    /// slot's state word, to pass back as `dead` if `writer` is found dead.
    Writer {
        word: u64,
        writer: u32,
    },
}

/// The ring's words in the segment, and what wakes the other side.
pub(crate) struct Ring<'a> {
    pub(crate) head: &'a AtomicU64,
    pub(crate) tail: &'a AtomicU64,
    pub(crate) skipped: &'a AtomicU64,
    pub(crate) done: &'a AtomicU64,
    pub(crate) slots: &'a [AtomicU64],
    pub(crate) capacity: u64,
    pub(crate) slot_words: usize,
    /// The item size limit in bytes (at most the slot's room).
    pub(crate) limit: usize,
    /// Poppers' word and sleepers: bumped after a push when someone sleeps.
    pub(crate) pop_wake: (&'a AtomicU32, &'a AtomicU32),
    /// Pushers': bumped after a pop.
    pub(crate) push_wake: (&'a AtomicU32, &'a AtomicU32),
    /// `join`'s: bumped when the unfinished count reaches zero.
    pub(crate) join_wake: (&'a AtomicU32, &'a AtomicU32),
    /// Wakes every sleeper of a word (the futex; a no-op in unit tests).
    pub(crate) wake: fn(&AtomicU32),
}

/// A copy of an item's bytes, on the stack when small.
enum Buf {
    Inline([u8; 128], usize),
    Heap(Vec<u8>),
}

impl Buf {
    fn bytes(&self) -> &[u8] {
        match self {
            Buf::Inline(b, len) => &b[..*len],
            Buf::Heap(v) => v,
        }
    }
}

impl Ring<'_> {
    /// The slot holding position `pos`.
    fn slot(&self, pos: u64) -> &[AtomicU64] {
        // `capacity` comes from the checked header, is ≥ 1, and the ring
        // has `capacity * slot_words` words (checked when it was mapped).
        let start = (pos % self.capacity) as usize * self.slot_words;
        &self.slots[start..start + self.slot_words]
    }

    /// Writes a fresh ring's state words (the creator, before publishing).
    pub(crate) fn init(&self) {
        for pos in 0..self.capacity {
            // Relaxed: published by the header's `Release` store.
            self.slot(pos)[0].store(state(pos, 0, EMPTY), Ordering::Relaxed);
        }
    }

    /// Changes `word` and wakes its sleepers, if the count says there are any.
    fn notify(&self, (word, sleepers): (&AtomicU32, &AtomicU32)) {
        // SeqCst: the state change before this read of the count (wait.rs).
        if sleepers.load(Ordering::SeqCst) != 0 {
            word.fetch_add(1, Ordering::SeqCst);
            (self.wake)(word);
        }
    }

    /// Items in the ring (those being written included), a snapshot.
    pub(crate) fn len(&self) -> u64 {
        // Relaxed: a snapshot; clamped, as the words may be scribbled on.
        let tail = self.tail.load(Ordering::Relaxed) & !CLOSED;
        let head = self.head.load(Ordering::Relaxed);
        tail.saturating_sub(head).min(self.capacity)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tail.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Closes the ring: `true` if this call did.
    pub(crate) fn close(&self) -> bool {
        // SeqCst: before the sleepers reads in `notify`.
        let was = self.tail.fetch_or(CLOSED, Ordering::SeqCst);
        self.notify(self.pop_wake);
        self.notify(self.push_wake);
        was & CLOSED == 0
    }

    /// Tasks pushed (or being pushed) and not yet marked done.
    pub(crate) fn unfinished(&self) -> u64 {
        // SeqCst: `join`'s look after being counted (wait.rs).
        let pushed = self.tail.load(Ordering::SeqCst) & !CLOSED;
        let skipped = self.skipped.load(Ordering::SeqCst);
        let done = self.done.load(Ordering::SeqCst);
        pushed.saturating_sub(skipped).saturating_sub(done)
    }

    /// Marks one task done: `false` if none is unfinished.
    pub(crate) fn task_done(&self) -> bool {
        let mut done = self.done.load(Ordering::SeqCst);
        loop {
            let pushed = self.tail.load(Ordering::SeqCst) & !CLOSED;
            let skipped = self.skipped.load(Ordering::SeqCst);
            if pushed.saturating_sub(skipped) <= done {
                return false;
            }
            match self.done.compare_exchange_weak(
                done,
                done + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(now) => done = now,
            }
        }
        self.finished_one();
        true
    }

    fn finished_one(&self) {
        if self.unfinished() == 0 {
            self.notify(self.join_wake);
        }
    }

    /// One push of `bytes` (at most `limit` long) by the writer `me` (a
    /// short roster token): it never waits.
    pub(crate) fn try_push(&self, bytes: &[u8], me: u32) -> Push {
        debug_assert!(bytes.len() <= self.limit);
        loop {
            // SeqCst throughout: the pushes, pops and the sleepers counts
            // are one order (wait.rs), and claims must see releases.
            let tail = self.tail.load(Ordering::SeqCst);
            if tail & CLOSED != 0 {
                return Push::Closed;
            }
            let pos = tail;
            let slot = self.slot(pos);
            let word = slot[0].load(Ordering::SeqCst);
            if word == state(pos, 0, EMPTY) {
                let claimed = state(pos, me, WRITING);
                if slot[0]
                    .compare_exchange(word, claimed, Ordering::SeqCst, Ordering::Relaxed)
                    .is_err()
                {
                    continue;
                }
                match self
                    .tail
                    .compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::SeqCst)
                {
                    Ok(_) => {}
                    Err(now) if now == pos | CLOSED => {
                        // Closed before the claim was published: undo it.
                        // Nobody else touches a claim `tail` has not passed.
                        slot[0].store(word, Ordering::SeqCst);
                        return Push::Closed;
                    }
                    // A helper moved `tail` past the claim (or the word was
                    // scribbled on): the claim is ours either way.
                    Err(_) => {}
                }
                self.write(slot, bytes);
                slot[0].store(state(pos, 0, FULL), Ordering::SeqCst);
                self.notify(self.pop_wake);
                return Push::Done;
            }
            if kind_of(word) == WRITING && is_at(word, pos) {
                // Claimed but not published (its writer may have died
                // there): publish it for them.
                let _ =
                    self.tail
                        .compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::Relaxed);
                continue;
            }
            let prev = pos.wrapping_sub(self.capacity);
            let prev_kind = kind_of(word);
            if is_at(word, prev) && (prev_kind == FULL || prev_kind == SKIP) {
                if self.head.load(Ordering::SeqCst) > prev {
                    // Popped, not yet released (the popper may have died):
                    // release it for them.
                    let _ = slot[0].compare_exchange(
                        word,
                        state(pos, 0, EMPTY),
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    );
                    continue;
                }
                return Push::Full;
            }
            if is_at(word, prev) && prev_kind == WRITING {
                return Push::Full;
            }
            if self.tail.load(Ordering::SeqCst) != tail {
                continue; // a stale look
            }
            // A word no push or pop leaves here: scribbled on. The slot
            // stays unusable, so the queue looks full (a consistent state).
            return Push::Full;
        }
    }

    fn write(&self, slot: &[AtomicU64], bytes: &[u8]) {
        // Relaxed: published by the `FULL` store that follows.
        slot[1].store(bytes.len() as u64, Ordering::Relaxed);
        for (word, chunk) in slot[SLOT_HEADER_WORDS..].iter().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(b), Ordering::Relaxed);
        }
    }

    /// Copies the item of a `FULL` slot out; `Err` with the length if it is
    /// over the limit.
    fn copy(&self, slot: &[AtomicU64]) -> Result<Buf, u64> {
        // Relaxed: ordered by the `Acquire` (SeqCst) load that saw `FULL`.
        let len = slot[1].load(Ordering::Relaxed);
        if len > self.limit as u64 {
            return Err(len);
        }
        let len = len as usize;
        let words = &slot[SLOT_HEADER_WORDS..SLOT_HEADER_WORDS + len.div_ceil(8)];
        let fill = |out: &mut [u8]| {
            for (chunk, word) in out.chunks_mut(8).zip(words) {
                let b = word.load(Ordering::Relaxed).to_ne_bytes();
                chunk.copy_from_slice(&b[..chunk.len()]);
            }
        };
        if len <= 128 {
            let mut b = [0u8; 128];
            fill(&mut b[..len]);
            Ok(Buf::Inline(b, len))
        } else {
            let mut v = vec![0u8; len];
            fill(&mut v);
            Ok(Buf::Heap(v))
        }
    }

    /// Moves `head` past `pos` (the commit of a pop): `false` if another
    /// popper did first.
    fn commit(&self, pos: u64) -> bool {
        self.head
            .compare_exchange(
                pos,
                pos.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// Frees the slot of the committed position `pos`, whose state word
    /// was `word`, for the next lap, and tells waiting pushers.
    fn release(&self, slot: &[AtomicU64], word: u64, pos: u64) {
        // Fails only if a pusher released it for us.
        let _ = slot[0].compare_exchange(
            word,
            state(pos.wrapping_add(self.capacity), 0, EMPTY),
            Ordering::SeqCst,
            Ordering::Relaxed,
        );
        self.notify(self.push_wake);
    }

    /// One pop: it never waits. `dead` is a state word the caller found to
    /// name a dead writer (from an earlier `Pop::Writer`); `decode` turns
    /// the item's bytes into the result, once the pop is committed.
    pub(crate) fn try_pop<R>(&self, dead: Option<u64>, decode: impl FnOnce(&[u8]) -> R) -> Pop<R> {
        let mut decode = Some(decode);
        loop {
            let pos = self.head.load(Ordering::SeqCst);
            let slot = self.slot(pos);
            let mut word = slot[0].load(Ordering::SeqCst);
            if word != state(pos, 0, FULL) {
                let tail = self.tail.load(Ordering::SeqCst);
                if tail & !CLOSED <= pos {
                    return if tail & CLOSED != 0 {
                        Pop::Closed
                    } else {
                        Pop::Empty
                    };
                }
                // `tail` is past `pos`, so the slot has been claimed: look
                // again (the first look may predate the claim).
                word = slot[0].load(Ordering::SeqCst);
            }
            if word == state(pos, 0, FULL) {
                let copy = self.copy(slot);
                if !self.commit(pos) {
                    continue;
                }
                self.release(slot, word, pos);
                return match copy {
                    Ok(buf) => {
                        let decode = decode.take().expect("decoded once");
                        Pop::Item(decode(buf.bytes()))
                    }
                    Err(len) => {
                        self.corrupt_done();
                        Pop::Corrupt(format!(
                            "item length {len} in the queue's segment is over its limit of {} bytes",
                            self.limit
                        ))
                    }
                };
            }
            if word == state(pos, 0, SKIP) {
                if self.commit(pos) {
                    self.release(slot, word, pos);
                }
                continue;
            }
            if kind_of(word) == WRITING && is_at(word, pos) {
                if dead != Some(word) {
                    return Pop::Writer {
                        word,
                        writer: writer_of(word),
                    };
                }
                // Its writer died: nothing will ever be written there.
                if slot[0]
                    .compare_exchange(
                        word,
                        state(pos, 0, SKIP),
                        Ordering::SeqCst,
                        Ordering::Relaxed,
                    )
                    .is_ok()
                {
                    self.skipped.fetch_add(1, Ordering::SeqCst);
                    self.finished_one();
                }
                continue;
            }
            if self.head.load(Ordering::SeqCst) != pos {
                continue; // popped under us: the slot moved on
            }
            // `tail` is past `pos` and `head` is at it, yet the word is no
            // state a push leaves there: scribbled on. Consume it.
            if self.commit(pos) {
                self.release(slot, word, pos);
                self.corrupt_done();
                return Pop::Corrupt(format!(
                    "slot state {word:#x} in the queue's segment is not one a push leaves"
                ));
            }
        }
    }

    /// Calls `f` with the bytes of each item in the ring, oldest first,
    /// without removing any (for `Debug`): a snapshot, which skips items
    /// popped or still being written while it looks.
    pub(crate) fn peek(&self, mut f: impl FnMut(&[u8])) {
        let head = self.head.load(Ordering::SeqCst);
        for pos in head..head.saturating_add(self.len()) {
            let slot = self.slot(pos);
            let word = slot[0].load(Ordering::SeqCst);
            if word != state(pos, 0, FULL) {
                continue;
            }
            let Ok(buf) = self.copy(slot) else { continue };
            // The copy is whole if the slot still holds the same item.
            if slot[0].load(Ordering::SeqCst) == word && self.head.load(Ordering::SeqCst) <= pos {
                f(buf.bytes());
            }
        }
    }

    /// A corrupt slot, or an item that did not decode, was consumed: it
    /// counts as a finished task, so that `join` is not wedged by an item
    /// nobody can mark done.
    pub(crate) fn corrupt_done(&self) {
        self.done.fetch_add(1, Ordering::SeqCst);
        self.finished_one();
    }
}

#[cfg(test)]
mod tests;
