//! The ring behind [`process::Queue`](super::Queue): a bounded MPMC ring of
//! fixed-size slots in the segment, lock-free, that a process killed at
//! any instruction cannot corrupt or wedge.
//!
//! # Layout
//!
//! The ring is `capacity` slots of `slot_words` 64-bit words each:
//!
//! ```text
//!  word 0      : the slot's state word (below)
//!  words 1..   : the item's bytes (postcard), 8 to a word, native order
//! ```
//!
//! Slots are packed, not padded to cache lines: small items share a line,
//! so a producer running ahead of its consumer fills several per line it
//! takes over (the line moves between the processes once per few items,
//! not once per item).
//!
//! Next to it, in the body: `head` (the next position to pop), `tail` (the
//! next position to push, with [`CLOSED`] in its top bit, which `closed`
//! repeats on a line the poppers may read without disturbing the
//! pushers), and two counts for `join`: positions `skipped` (never held an
//! item) and tasks `done`.
//! Position `pos` lives in slot `pos % capacity`.
//!
//! # The state word
//!
//! ```text
//!  bits 0..2   : EMPTY, WRITING, FULL or SKIP
//!  bits 2..24  : WRITING's writer, a short roster token (roster::short);
//!                FULL's item length in bytes
//!  bits 24..64 : the position the state is about, modulo 2^40
//! ```
//!
//! A slot goes `EMPTY(pos)` (first lap only) → `WRITING(pos, writer)` →
//! `FULL(pos)` → (popped, `head` moves past) → `WRITING(pos + capacity, …)`,
//! or `WRITING(pos, dead)` → `SKIP(pos)` → … when its writer died.
//! Positions modulo 2^40 are unambiguous unless one handle stalls between
//! two of its loads while 2^40 items (a day at 10 M/s) pass.
//!
//! # Push
//!
//! 1. Claim: compare-exchange the slot at `tail` from its free state —
//!    `EMPTY(tail)` on the first lap, else the previous lap's `FULL` or
//!    `SKIP` once `head` is past it — to `WRITING(tail, me)`. The claim
//!    names the writer *in the same atomic step*, so a writer that dies at
//!    any later point is known.
//! 2. Publish the claim: move `tail` past it. Anyone who finds a claimed
//!    slot at `tail` helps, so a writer that dies between 1 and 2 does not
//!    stop later pushes. If `tail` says closed first, the claim is undone
//!    and the push fails: a push either lands before `close` or not at all.
//! 3. Write the bytes, then `FULL(pos, length)`: only now can it be
//!    popped.
//!
//! # Pop
//!
//! 1. At `head`, a `FULL(head)` slot is copied out *before* anything
//!    changes: its bytes cannot be overwritten while `head` has not moved
//!    past it, since pushers reuse a slot only after that.
//! 2. Commit: compare-exchange `head` past it. Exactly one popper wins; the
//!    others drop their copy (which may be torn: it is never used).
//!
//! That is all: a popper writes `head` only, never a slot. The slot keeps
//! `FULL(pos)` until a pusher of `pos + capacity` finds `head` past `pos`
//! (through a per-handle cache of `head`, so that a pusher running ahead
//! reads the poppers' line once per many items) and claims it. So a popper
//! that dies at any point leaves nothing to repair.
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
pub(crate) const SLOT_HEADER_WORDS: usize = 1;

/// The largest item limit: a length must fit a state word's 22 bits.
pub(crate) const MAX_LIMIT: usize = (1 << 22) - 1;

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

/// The words a slot needs for items of up to `limit` bytes: the state
/// word plus the bytes.
pub(crate) fn slot_words(limit: usize) -> Option<usize> {
    if limit > MAX_LIMIT {
        return None;
    }
    Some(limit.div_ceil(8) + SLOT_HEADER_WORDS)
}

/// The state of a filled slot at `pos` holding `len` bytes.
fn full(pos: u64, len: usize) -> u64 {
    state(pos, len as u32, FULL)
}

/// Whether `word` is a filled slot at `pos`.
fn is_full_at(word: u64, pos: u64) -> bool {
    kind_of(word) == FULL && is_at(word, pos)
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

/// One side's wake-up: the futex word its waiters sleep on, their count
/// (wait.rs), and `pending`, set by the first waker after they last looked.
///
/// A waiter clears `pending` after counting itself and before its last
/// look at the ring; a waker that changed the ring and sees sleepers sets
/// it, and only the one that finds it clear changes the word and makes the
/// system call. So a pusher running while its popper has been woken but
/// not yet scheduled (one core: for a whole time slice) makes no system
/// call per item. No wake-up is lost: a waiter's clear comes before its
/// look (`SeqCst` both sides), so a waker either sees it clear or the
/// waiter sees the waker's item.
#[derive(Clone, Copy)]
pub(crate) struct Wake<'a> {
    pub(crate) word: &'a AtomicU32,
    pub(crate) sleepers: &'a AtomicU32,
    pub(crate) pending: &'a AtomicU32,
}

impl Wake<'_> {
    /// The waiter's side: called while counted, before looking.
    pub(crate) fn rearm(&self) {
        self.pending.store(0, Ordering::SeqCst);
    }
}

/// The ring's words in the segment, and what wakes the other side.
pub(crate) struct Ring<'a> {
    pub(crate) head: &'a AtomicU64,
    /// The largest `head` this handle has read: in the handle, not the
    /// segment, so no peer can make it run ahead of the `head` it read.
    pub(crate) head_seen: &'a AtomicU64,
    pub(crate) tail: &'a AtomicU64,
    /// Non-zero once closed (`tail`'s bit, on a line poppers read freely).
    pub(crate) closed: &'a AtomicU32,
    pub(crate) skipped: &'a AtomicU64,
    pub(crate) done: &'a AtomicU64,
    pub(crate) slots: &'a [AtomicU64],
    pub(crate) capacity: u64,
    pub(crate) slot_words: usize,
    /// The item size limit in bytes (at most the slot's room).
    pub(crate) limit: usize,
    /// Poppers' wake-up: bumped after a push when someone sleeps.
    pub(crate) pop_wake: Wake<'a>,
    /// Pushers': bumped after a pop.
    pub(crate) push_wake: Wake<'a>,
    /// `join`'s: bumped when the unfinished count reaches zero.
    pub(crate) join_wake: Wake<'a>,
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

    /// Changes the word and wakes its sleepers, if the count says there
    /// are any and no waker did since they last looked ([`Wake`]).
    fn notify(&self, side: Wake<'_>) {
        // SeqCst: the state change before these reads (wait.rs, `Wake`).
        if side.sleepers.load(Ordering::SeqCst) != 0
            && side.pending.load(Ordering::SeqCst) == 0
            && side.pending.swap(1, Ordering::SeqCst) == 0
        {
            side.word.fetch_add(1, Ordering::SeqCst);
            (self.wake)(side.word);
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
        self.closed.store(1, Ordering::SeqCst);
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
            // are one order (wait.rs), and a claim must see the pop that
            // freed its slot.
            let tail = self.tail.load(Ordering::SeqCst);
            if tail & CLOSED != 0 {
                return Push::Closed;
            }
            let pos = tail;
            let slot = self.slot(pos);
            let word = slot[0].load(Ordering::SeqCst);
            let prev = pos.wrapping_sub(self.capacity);
            let kind = kind_of(word);
            if kind == WRITING && is_at(word, pos) {
                // Claimed but not published (its writer may have died
                // there): publish it for them.
                let _ =
                    self.tail
                        .compare_exchange(pos, pos + 1, Ordering::SeqCst, Ordering::Relaxed);
                continue;
            }
            let free = if word == state(pos, 0, EMPTY) {
                true
            } else if is_at(word, prev) && (kind == FULL || kind == SKIP) {
                // The previous lap's item, free once popped: once `head`
                // is past it (poppers leave their slots as they are).
                prev < self.head_seen.load(Ordering::Acquire) || prev < self.reload_head()
            } else if is_at(word, prev) && kind == WRITING {
                false // the previous lap's item is still being written
            } else if self.tail.load(Ordering::SeqCst) != tail {
                continue; // a stale look
            } else {
                // A word no push or pop leaves here: scribbled on. The slot
                // stays unusable, so the queue looks full (a consistent state).
                false
            };
            if !free {
                return Push::Full;
            }
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
            slot[0].store(full(pos, bytes.len()), Ordering::SeqCst);
            self.notify(self.pop_wake);
            return Push::Done;
        }
    }

    /// Reads `head` and remembers it in `head_seen`, this process's cache
    /// of it (so that pushers read the poppers' line once per many items).
    fn reload_head(&self) -> u64 {
        let head = self.head.load(Ordering::SeqCst);
        // AcqRel: a pusher trusting the cache is ordered after the pops it
        // counts, through the thread that read them.
        self.head_seen.fetch_max(head, Ordering::AcqRel);
        head
    }

    fn write(&self, slot: &[AtomicU64], bytes: &[u8]) {
        // Relaxed: published by the `FULL` store that follows.
        for (word, chunk) in slot[SLOT_HEADER_WORDS..].iter().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            word.store(u64::from_ne_bytes(b), Ordering::Relaxed);
        }
    }

    /// Copies the item of a `FULL` slot whose state word is `word` out;
    /// `Err` with the length if it is over the limit.
    fn copy(&self, slot: &[AtomicU64], word: u64) -> Result<Buf, u64> {
        let len = writer_of(word) as usize;
        if len > self.limit {
            return Err(len as u64);
        }
        // Relaxed: ordered by the `Acquire` (SeqCst) load that saw `FULL`.
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
    /// was the scribbled `word`, for the next lap, and tells waiting
    /// pushers. (A popped item's slot needs nothing: pushers see `head`.)
    fn release(&self, slot: &[AtomicU64], word: u64, pos: u64) {
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
            // The common answers come from the slot alone, without reading
            // `tail` (the pushers' line): a claim comes before `tail` moves
            // past it, so an unclaimed slot at `head` means empty (unless
            // closed: then `tail` tells whether a push got in first), and a
            // live writer's claim means wait for it.
            let open = self.closed.load(Ordering::SeqCst) == 0;
            let prev = pos.wrapping_sub(self.capacity);
            let unclaimed = word == state(pos, 0, EMPTY)
                || (is_at(word, prev) && matches!(kind_of(word), FULL | SKIP));
            if unclaimed && open {
                return Pop::Empty;
            }
            let writing = kind_of(word) == WRITING && is_at(word, pos);
            // Closed, a claim may be one `close` caught before it was
            // published, which its writer undoes: `tail` tells.
            if writing && dead != Some(word) && open {
                return Pop::Writer {
                    word,
                    writer: writer_of(word),
                };
            }
            if !is_full_at(word, pos) {
                let tail = self.tail.load(Ordering::SeqCst);
                if tail & !CLOSED <= pos {
                    if writing && tail == pos {
                        // A dead writer's claim nobody published yet:
                        // publish it, as pushers do, to skip it next.
                        let _ = self.tail.compare_exchange(
                            pos,
                            pos + 1,
                            Ordering::SeqCst,
                            Ordering::Relaxed,
                        );
                        continue;
                    }
                    return if tail & CLOSED != 0 {
                        Pop::Closed
                    } else if writing && dead != Some(word) {
                        Pop::Writer {
                            word,
                            writer: writer_of(word),
                        }
                    } else {
                        Pop::Empty
                    };
                }
                // `tail` is past `pos`, so the slot has been claimed: look
                // again (the first look may predate the claim).
                word = slot[0].load(Ordering::SeqCst);
            }
            if is_full_at(word, pos) {
                let copy = self.copy(slot, word);
                if !self.commit(pos) {
                    continue;
                }
                self.notify(self.push_wake);
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
                    self.notify(self.push_wake);
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
            if !is_full_at(word, pos) {
                continue;
            }
            let Ok(buf) = self.copy(slot, word) else {
                continue;
            };
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
