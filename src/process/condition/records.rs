//! `process::Condition`'s waiter records: their layout and every change
//! made to them (the protocol in `condition.rs`'s module docs).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::Condition;
use crate::process::futex;
use crate::process::lock;
use crate::process::roster;
use crate::process::segment::Mapping;

/// Waiter records: waits at once, in all processes together.
pub(super) const RECORDS: usize = 128;
pub(super) const FREE: u32 = 0;
pub(super) const RESERVED: u32 = 1;
pub(super) const WAITING: u32 = 2;
pub(super) const NOTIFIED: u32 = 3;
pub(super) const OWNER_MASK: u32 = (1 << 22) - 1;

pub(super) fn record_word(state: u32, owner: u32, seq: u32) -> u32 {
    state | (owner & OWNER_MASK) << 2 | seq << 24
}

pub(super) fn state_of(word: u32) -> u32 {
    word & 3
}

pub(super) fn owner_of(word: u32) -> u32 {
    (word >> 2) & OWNER_MASK
}

/// The same record freed: `FREE` with the next seq.
pub(super) fn freed(word: u32) -> u32 {
    record_word(FREE, 0, (word >> 24).wrapping_add(1))
}

#[repr(C)]
pub(super) struct Record {
    pub(super) word: AtomicU32,
    pub(super) _pad: AtomicU32,
    pub(super) ticket: AtomicU64,
}

#[repr(C, align(64))]
pub(super) struct Tickets {
    pub(super) next: AtomicU64,
    /// One past the highest record ever used (bounds the scans).
    pub(super) used: AtomicU32,
    /// A count for `wait.rs` (notifiers always wake: it is not read).
    pub(super) sleepers: AtomicU32,
}

#[repr(C)]
pub(super) struct Body {
    pub(super) lock: lock::Body,
    pub(super) tickets: Tickets,
    pub(super) records: [Record; RECORDS],
}

const _: () = assert!(size_of::<Body>() % 64 == 0 && size_of::<Record>() == 16);

impl Condition {
    /// Takes a free record for a wait, as this handle's: its index and
    /// state word, or `None` if all are taken.
    pub(super) fn register(&self) -> Option<(usize, u32)> {
        self.register_free()
            .or_else(|| self.reclaim_dead().then(|| self.register_free()).flatten())
    }

    /// Frees the records of dead processes (a waiter killed while waiting
    /// or registering): whether any was.
    pub(super) fn reclaim_dead(&self) -> bool {
        let mut any = false;
        for rec in &self.body().records {
            let word = rec.word.load(Ordering::Acquire);
            let state = state_of(word);
            if (state == WAITING || state == RESERVED) && !self.owner_alive(owner_of(word)) {
                any |= rec
                    .word
                    .compare_exchange(word, freed(word), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok();
            }
        }
        any
    }

    pub(super) fn register_free(&self) -> Option<(usize, u32)> {
        let body = self.body();
        for (i, rec) in body.records.iter().enumerate() {
            // Acquire: a record freed by another process is seen whole.
            let word = rec.word.load(Ordering::Acquire);
            if state_of(word) != FREE {
                continue;
            }
            let seq = word >> 24;
            let reserved = record_word(RESERVED, self.me, seq);
            if rec
                .word
                .compare_exchange(word, reserved, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            body.tickets.used.fetch_max(i as u32 + 1, Ordering::AcqRel);
            let ticket = body.tickets.next.fetch_add(1, Ordering::Relaxed);
            // Relaxed: published by the `Release` store of WAITING.
            rec.ticket.store(ticket, Ordering::Relaxed);
            let waiting = record_word(WAITING, self.me, seq);
            rec.word.store(waiting, Ordering::Release);
            return Some((i, waiting));
        }
        None
    }

    /// Whether the owner of a record is alive (and watched).
    pub(super) fn owner_alive(&self, owner: u32) -> bool {
        if owner == self.me {
            return true;
        }
        let body = self.body();
        let Some(token) = roster::expand(body.lock_slots(), owner) else {
            return false;
        };
        self.known.watch(
            self.map(),
            body.lock_slots(),
            token,
            &body.tickets.sleepers,
            (nothing_to_do, 0),
            8,
        )
    }

    /// Marks up to `n` of the oldest waiting records notified and wakes
    /// them (the protocol in the module docs): how many.
    pub(super) fn notify_records(&self, n: usize) -> usize {
        let body = self.body();
        let used = (body.tickets.used.load(Ordering::Acquire) as usize).min(RECORDS);
        let records = &body.records[..used];
        let mut tried = [false; RECORDS];
        let mut woken = 0;
        while woken < n {
            // The oldest waiting record not tried yet.
            let mut oldest: Option<(u64, usize, u32)> = None;
            for (i, rec) in records.iter().enumerate() {
                // Acquire: pairs with the `Release` of WAITING (ticket).
                let word = rec.word.load(Ordering::Acquire);
                if tried[i] || state_of(word) != WAITING {
                    continue;
                }
                let ticket = rec.ticket.load(Ordering::Relaxed);
                if oldest.is_none_or(|(t, _, _)| ticket < t) {
                    oldest = Some((ticket, i, word));
                }
            }
            let Some((_, i, word)) = oldest else { break };
            tried[i] = true;
            let rec = &records[i];
            if !self.owner_alive(owner_of(word)) {
                // A dead waiter: reclaim its record, count nobody.
                let _ = rec.word.compare_exchange(
                    word,
                    freed(word),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
                continue;
            }
            let notified = record_word(NOTIFIED, owner_of(word), word >> 24);
            // SeqCst: before the waiter's look after it counted itself.
            if rec
                .word
                .compare_exchange(word, notified, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                futex::wake_all(&rec.word);
                woken += 1;
            }
        }
        woken
    }

    /// Withdraws the wait of record `index` (state word `word`): `true` if
    /// it had been notified (the record is freed either way).
    pub(super) fn withdraw(&self, index: usize, word: u32) -> bool {
        let rec = &self.body().records[index];
        match rec
            .word
            .compare_exchange(word, freed(word), Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => false,
            Err(now) => {
                let notified = state_of(now) == NOTIFIED && now >> 24 == word >> 24;
                if notified {
                    rec.word.store(freed(now), Ordering::Release);
                }
                notified
            }
        }
    }
}

pub(super) fn nothing_to_do(_map: &Mapping, _word: &AtomicU32, _arg: u32) {}

impl Body {
    pub(super) fn lock_slots(&self) -> &[roster::Slot] {
        self.lock.slots()
    }
}
