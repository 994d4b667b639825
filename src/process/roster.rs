//! Who is using a segment, and whether they are still alive.
//!
//! A primitive that can be *owned* by a process (a `Lock` held by it) has a
//! table of participant slots in its body. Every handle claims a slot when
//! it is opened and frees it when dropped; what it owns is recorded as its
//! **token** (slot index and the slot's epoch), which fits in a futex word
//! next to a flag or two. A token is *dead* once its slot no longer holds
//! that epoch as a live claim, or the process in the slot has exited:
//!
//! ```text
//!  slot word (u64): pid (bits 32..64) | epoch (bits 8..32) | state (bits 0..8)
//!  state: FREE = 0, CLAIMING = 1 (pid written, start time not yet), ALIVE = 2
//!  token (u32): epoch & 0x3F_FFFF (bits 8..30) | slot index + 1 (bits 0..8)
//! ```
//!
//! A process is identified by its pid *and* its start time (field 22 of
//! `/proc/<pid>/stat`, in clock ticks since boot), so a pid reused by a
//! later process is not mistaken for the one that claimed the slot. A
//! zombie counts as dead: it will never release anything.
//!
//! A dead claim is *reaped* by whoever finds it: one compare-exchange from
//! the claim to `FREE` with the same epoch, so exactly one reaper wins and
//! every token of that epoch stays dead (a later claim of the slot bumps
//! the epoch). Everything is a single compare-exchange, so a process
//! killed at any instruction leaves the table consistent: at worst a slot
//! stays claimed by a dead process until someone looks.
//!
//! Everything read from the table is checked: a slot index out of range,
//! a garbage state or a pid of 0 is a dead token, never an out-of-bounds
//! access.

use std::sync::atomic::{AtomicU64, Ordering};

const FREE: u64 = 0;
const CLAIMING: u64 = 1;
const ALIVE: u64 = 2;
const EPOCH_BITS: u32 = 22;
const EPOCH_MASK: u32 = (1 << EPOCH_BITS) - 1;

/// The most slots a table may have (slot index + 1 must fit in 8 bits).
pub(crate) const MAX_SLOTS: usize = 255;

/// One participant slot (16 bytes).
#[repr(C)]
pub(crate) struct Slot {
    word: AtomicU64,
    start: AtomicU64,
}

const _: () = assert!(size_of::<Slot>() == 16);

fn pack(pid: u32, epoch: u32, state: u64) -> u64 {
    (u64::from(pid) << 32) | (u64::from(epoch & 0xFF_FFFF) << 8) | state
}

fn unpack(word: u64) -> (u32, u32, u64) {
    (
        (word >> 32) as u32,
        ((word >> 8) & 0xFF_FFFF) as u32,
        word & 0xFF,
    )
}

/// A process: its pid and start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Peer {
    pub(crate) pid: u32,
    pub(crate) start: u64,
}

impl Peer {
    /// This process (its start time read once; a forked child has
    /// another pid, so it is read again there).
    pub(crate) fn me() -> Peer {
        static ME: std::sync::Mutex<Option<Peer>> = std::sync::Mutex::new(None);
        let pid = std::process::id();
        let mut me = ME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match *me {
            Some(peer) if peer.pid == pid => peer,
            _ => {
                let peer = Peer {
                    pid,
                    start: start_time(pid).unwrap_or(0),
                };
                *me = Some(peer);
                peer
            }
        }
    }

    /// Whether the process is still running (not exited, not a zombie, and
    /// its pid not reused by another process).
    pub(crate) fn is_alive(&self) -> bool {
        if self.pid == 0 {
            return false;
        }
        if self.pid == std::process::id() {
            // Us, or an earlier process that had our pid.
            return self.start == Peer::me().start;
        }
        start_time(self.pid).is_some_and(|start| start == self.start)
    }
}

/// The start time of process `pid` (clock ticks since boot), `None` if it
/// does not exist or is a zombie.
pub(crate) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so
    // the fields start after the *last* ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" || state == "x" {
        return None;
    }
    // `state` was field 3; the start time is field 22.
    fields.nth(22 - 4)?.parse().ok()
}

/// A claimed slot: this handle's token.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Claim {
    pub(crate) index: usize,
    pub(crate) token: u32,
    word: u64,
}

/// Claims a free slot of `slots` for this process (reaping dead claims if
/// every slot is taken). `None` if every slot belongs to a live process.
pub(crate) fn claim(slots: &[Slot]) -> Option<Claim> {
    for reap_first in [false, true] {
        for (index, slot) in slots.iter().enumerate() {
            // Acquire: pairs with the release that freed the slot.
            let mut word = slot.word.load(Ordering::Acquire);
            if reap_first && unpack(word).2 != FREE && !claim_is_alive(slot, word) {
                reap(slot, word);
                word = slot.word.load(Ordering::Acquire);
            }
            let (_, epoch, state) = unpack(word);
            if state != FREE {
                continue;
            }
            let me = Peer::me();
            let epoch = epoch.wrapping_add(1) & 0xFF_FFFF;
            let claiming = pack(me.pid, epoch, CLAIMING);
            if slot
                .word
                .compare_exchange(word, claiming, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            slot.start.store(me.start, Ordering::Relaxed);
            let alive = pack(me.pid, epoch, ALIVE);
            // Release: the start time is visible with the ALIVE state. A
            // failure means someone reaped our CLAIMING entry as dead,
            // which cannot happen while we run: try another slot.
            if slot
                .word
                .compare_exchange(claiming, alive, Ordering::Release, Ordering::Relaxed)
                .is_err()
            {
                continue;
            }
            return Some(Claim {
                index,
                token: token(index, epoch),
                word: alive,
            });
        }
    }
    None
}

/// [`claim`] for a new handle of `what`, or the error its constructor
/// returns when every slot belongs to a live handle.
pub(crate) fn claim_for(slots: &[Slot], what: &str) -> std::io::Result<Claim> {
    claim(slots).ok_or_else(|| {
        std::io::Error::other(format!(
            "all {} participant slots of the {what} are held by live handles",
            slots.len()
        ))
    })
}

/// Frees this handle's slot.
pub(crate) fn release(slots: &[Slot], claim: &Claim) {
    let (_, epoch, _) = unpack(claim.word);
    // Release: everything we did with the slot happens before its reuse.
    // Fails only if a peer corrupted the slot or wrongly reaped it: then
    // it is not ours to free.
    let _ = slots[claim.index].word.compare_exchange(
        claim.word,
        pack(0, epoch, FREE),
        Ordering::Release,
        Ordering::Relaxed,
    );
}

fn token(index: usize, epoch: u32) -> u32 {
    ((epoch & EPOCH_MASK) << 8) | (index as u32 + 1)
}

/// The process that holds `token`, if the token is still a live claim.
pub(crate) fn holder(slots: &[Slot], token: u32) -> Option<Peer> {
    let index = (token & 0xFF) as usize;
    let slot = slots.get(index.checked_sub(1)?)?;
    let word = slot.word.load(Ordering::Acquire);
    let (pid, epoch, state) = unpack(word);
    if state != ALIVE && state != CLAIMING || epoch & EPOCH_MASK != token >> 8 || pid == 0 {
        return None;
    }
    let peer = Peer {
        pid,
        start: slot.start.load(Ordering::Relaxed),
    };
    let alive = if state == CLAIMING {
        // The start time is not written yet: the pid alone.
        start_time(pid).is_some()
    } else {
        peer.is_alive()
    };
    if alive {
        Some(peer)
    } else {
        reap(slot, word);
        None
    }
}

/// A token in 22 bits, for words with no room for a whole one (a queue
/// slot's writer): the slot number (7 bits; at most 127 slots) and the low
/// 15 bits of the epoch. [`expand`] gives the whole token back while the
/// claim is the same.
pub(crate) fn short(token: u32) -> u32 {
    debug_assert!(
        token & 0xFF < 0x80,
        "short tokens need a roster of < 128 slots"
    );
    (token & 0x7F) | ((token >> 8) & 0x7FFF) << 7
}

/// The whole token of a [`short`] one, if its slot is still claimed with
/// an epoch that matches: `None` if the claim is gone (its holder was
/// reaped or released it), or the short token is garbage.
pub(crate) fn expand(slots: &[Slot], short: u32) -> Option<u32> {
    let index = ((short & 0x7F) as usize).checked_sub(1)?;
    let token = token_at(slots, index)?;
    ((token >> 8) & 0x7FFF == (short >> 7) & 0x7FFF).then_some(token)
}

/// The token of the claim in slot `index`, if it is claimed (alive or not).
pub(crate) fn token_at(slots: &[Slot], index: usize) -> Option<u32> {
    let (_, epoch, state) = unpack(slots.get(index)?.word.load(Ordering::Acquire));
    (state == ALIVE || state == CLAIMING).then(|| token(index, epoch))
}

/// The process in `token`'s claim, without checking that it is alive.
pub(crate) fn holder_unchecked(slots: &[Slot], token: u32) -> Option<Peer> {
    let index = (token & 0xFF) as usize;
    let slot = slots.get(index.checked_sub(1)?)?;
    let (pid, epoch, state) = unpack(slot.word.load(Ordering::Acquire));
    if state != ALIVE || epoch & EPOCH_MASK != token >> 8 || pid == 0 {
        return None;
    }
    Some(Peer {
        pid,
        start: slot.start.load(Ordering::Relaxed),
    })
}

/// Whether `token` belongs to a live process (see [`holder`]).
pub(crate) fn is_alive(slots: &[Slot], token: u32) -> bool {
    holder(slots, token).is_some()
}

fn claim_is_alive(slot: &Slot, word: u64) -> bool {
    let (pid, _, state) = unpack(word);
    match state {
        CLAIMING => start_time(pid).is_some(),
        ALIVE => Peer {
            pid,
            start: slot.start.load(Ordering::Relaxed),
        }
        .is_alive(),
        // A garbage state: free it.
        _ => false,
    }
}

fn reap(slot: &Slot, word: u64) {
    let (_, epoch, _) = unpack(word);
    // AcqRel: one winner; the epoch stays, so the dead tokens stay dead.
    let _ = slot.word.compare_exchange(
        word,
        pack(0, epoch, FREE),
        Ordering::AcqRel,
        Ordering::Relaxed,
    );
}

/// How many slots hold a live-looking claim (for `Debug`).
pub(crate) fn claimed(slots: &[Slot]) -> usize {
    slots
        .iter()
        .filter(|s| {
            let state = unpack(s.word.load(Ordering::Relaxed)).2;
            state == ALIVE || state == CLAIMING
        })
        .count()
}
