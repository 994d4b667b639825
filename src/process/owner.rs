//! An *owner word*: a futex word that holds the roster token of the handle
//! that owns it, and is taken over when that handle's process dies.
//! [`Lock`](super::Lock) is one; the semaphore's internal mutex is another.
//!
//! # The word
//!
//! ```text
//!  0                      : free
//!  token                  : owned by the handle whose roster token it is
//!  token | DIED (bit 31)  : owned by a process that has exited
//! ```
//!
//! Taking is one compare-exchange from 0 to the handle's token
//! ([`roster`](super::roster)); giving back swaps 0 in and wakes the
//! sleepers, if the count next to the word says there are any (wait.rs).
//!
//! # An owner that dies
//!
//! A waiter that is about to sleep on an owned word first makes sure it
//! will hear of the owner's death: it looks the token up in the roster (a
//! dead or reaped token means the owner is gone) and asks the process's
//! reaper thread to watch the owner's pidfd ([`reaper`](super::reaper)). If
//! the owner exits, the reaper sets `DIED` in the word — if the word still
//! holds that token — and wakes it. Whoever then finds `DIED` (or a token
//! the roster says is dead) takes the word over with one compare-exchange
//! and is told that the owner died: exactly one waiter wins, the others go
//! on waiting for it. Without waiters nothing needs to watch: the next
//! taker finds the dead token itself.
//!
//! Every value of the word is a state: a garbage token is looked up in the
//! roster, found dead, and taken over.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::futex;
use super::reaper::{self, DIED, OnExit, Watch};
use super::roster::{self, Slot};
use super::segment::Mapping;
use super::wait::{Attempt, ShmOp};

/// How many peers' watches a [`Known`] keeps for reuse.
const KNOWN: usize = 8;

/// The peers a handle has seen alive and asked the reaper to watch (token
/// and watch), most recent last: watching the same peer again costs
/// nothing.
#[derive(Default)]
pub(crate) struct Known {
    watches: Mutex<Vec<(u32, Option<Watch>)>>,
}

impl Known {
    /// Makes sure `on_exit` runs on `word` if `token`'s process dies:
    /// `false` if it is dead already. `capacity` bounds how many watches
    /// are kept (the oldest is dropped first).
    pub(crate) fn watch(
        &self,
        map: &Arc<Mapping>,
        slots: &[Slot],
        token: u32,
        word: &AtomicU32,
        on_exit: OnExit,
        capacity: usize,
    ) -> bool {
        let mut known = self.watches.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = known.iter().position(|(t, _)| *t == token) {
            return !known[i].1.as_ref().is_some_and(Watch::has_exited);
        }
        let Some(peer) = roster::holder(slots, token) else {
            return false;
        };
        match reaper::watch(peer, map, word, on_exit) {
            Err(()) => false,
            Ok(watch) => {
                if known.len() >= capacity.max(1) {
                    known.remove(0);
                }
                known.push((token, watch));
                true
            }
        }
    }
}

/// One owner word and what taking it needs: the segment, the sleepers
/// count next to the word, the roster, this handle's token and its
/// [`Known`] peers.
#[derive(Clone, Copy)]
pub(crate) struct OwnerWord<'a> {
    pub(crate) map: &'a Arc<Mapping>,
    pub(crate) word: &'a AtomicU32,
    pub(crate) sleepers: &'a AtomicU32,
    pub(crate) slots: &'a [Slot],
    pub(crate) me: u32,
    pub(crate) known: &'a Known,
}

impl<'a> OwnerWord<'a> {
    /// The state machine of one take.
    pub(crate) fn take_op(self) -> TakeOp<'a> {
        TakeOp {
            owner: self,
            dead: None,
        }
    }

    /// Takes the word if it is free (or its owner is dead): `Some(died)`,
    /// `None` if a live handle owns it.
    pub(crate) fn try_take(self) -> Option<bool> {
        let mut op = self.take_op();
        loop {
            match op.attempt() {
                Attempt::Done(out) => return out,
                // Owned, and not marked dead: by a live process?
                Attempt::Sleep(word) if self.owner_alive(word) => return None,
                Attempt::Sleep(word) => op.dead = Some(word),
            }
        }
    }

    /// Whether the handle owning `token` is alive (this process counts).
    fn owner_alive(self, token: u32) -> bool {
        token == self.me || roster::is_alive(self.slots, token)
    }

    /// Makes sure the reaper will mark the word if `token`'s process dies;
    /// `false` if it is dead already.
    fn watch_owner(self, token: u32) -> bool {
        if token == self.me {
            // Another thread of ours: no need to watch ourselves.
            return true;
        }
        self.known.watch(
            self.map,
            self.slots,
            token,
            self.word,
            (reaper::mark_died, token),
            KNOWN,
        )
    }

    /// Gives the word back (it must be owned by this handle).
    pub(crate) fn give_back(self) {
        // SeqCst: before the sleepers read (wait.rs); Release for the
        // next owner.
        self.word.swap(0, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) != 0 {
            futex::wake_all(self.word);
        }
    }
}

/// The state machine of one take: `Some(died)` once taken (`died`: the
/// previous owner's process had died owning it), `None` on timeout.
pub(crate) struct TakeOp<'a> {
    owner: OwnerWord<'a>,
    /// A word value whose owner was found dead: take it over.
    dead: Option<u32>,
}

impl ShmOp for TakeOp<'_> {
    type Output = Option<bool>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.owner.map
    }

    fn word(&self) -> &AtomicU32 {
        self.owner.word
    }

    fn sleepers(&self) -> &AtomicU32 {
        self.owner.sleepers
    }

    fn attempt(&mut self) -> Attempt<Option<bool>> {
        let me = self.owner.me;
        loop {
            // SeqCst: the look after being counted (wait.rs).
            let word = self.owner.word.load(Ordering::SeqCst);
            let died = word & DIED != 0 || self.dead == Some(word);
            if word != 0 && !died {
                return Attempt::Sleep(word);
            }
            // Acquire on success: what the last owner did happens before.
            if self
                .owner
                .word
                .compare_exchange(word, me, Ordering::SeqCst, Ordering::Relaxed)
                .is_ok()
            {
                return Attempt::Done(Some(died));
            }
            self.dead = None;
        }
    }

    fn timed_out(&mut self) -> Option<bool> {
        None
    }

    fn prepare_sleep(&mut self, word: u32) -> bool {
        if self.owner.watch_owner(word) {
            true
        } else {
            self.dead = Some(word);
            false
        }
    }
}
