//! Waking the waiters of a process that died.
//!
//! A waiter that sleeps until another process releases something (a
//! `Lock` held by it) would sleep forever if that process were killed:
//! nobody would touch the word. So before it sleeps, it asks this
//! process's *reaper* thread to watch the holder ([`watch`]): the thread
//! keeps a pidfd per watched process and sleeps in `poll` on all of them
//! (a pidfd becomes readable when its process exits — no polling loop,
//! no signal), plus an eventfd to learn of new watches. When a watched
//! process exits, the thread marks and wakes every word its watchers sleep
//! on; they look again, find the holder's token marked dead, and take over
//! (`OwnerDied`). The mark is what makes this race-free: a waiter about to
//! sleep on the word's old value finds it changed, whether the exit came
//! just before its futex wait (the wait returns at once) or during it (the
//! wake).
//!
//! A pidfd pins the process it was opened for, so once open it cannot be
//! fooled by pid reuse; the start time is compared right after opening it
//! to close the window before. Watches are shared by every waiter of this
//! process interested in the same peer and dropped with the last
//! [`Watch`] guard.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use rustix::event::{EventfdFlags, PollFd, PollFlags, eventfd, poll};
use rustix::process::{Pid, PidfdFlags, pidfd_open};

use super::futex;
use super::roster::{Peer, start_time};
use super::segment::Mapping;

struct Reaper {
    state: Mutex<State>,
    /// Written to when the set of watched processes changes.
    kick: OwnedFd,
}

#[derive(Default)]
struct State {
    peers: Vec<Watched>,
    next_id: u64,
}

/// One watched process and the words to wake when it exits.
struct Watched {
    peer: Peer,
    pidfd: Arc<OwnedFd>,
    words: Vec<Word>,
    /// Set (before the words are marked) once the process has exited.
    exited: Arc<AtomicBool>,
}

struct Word {
    id: u64,
    map: Arc<Mapping>,
    word: *const AtomicU32,
    /// What the watched process's exit does to the word (before it is
    /// woken), with its argument.
    on_exit: OnExit,
}

/// What a watched process's exit does to a word: `(segment, word,
/// argument)`. It
/// must *change* the word when the exit matters to its waiters — a waiter
/// about to sleep on the old value then cannot sleep through the news —
/// with one compare-exchange (it runs in any process that watches).
pub(crate) type OnExit = (fn(&Mapping, &AtomicU32, u32), u32);

/// Set in an owner word by [`mark_died`]: the owner exited.
pub(crate) const DIED: u32 = 1 << 31;

/// An [`OnExit`] for owner words: marks the word [`DIED`] if it still holds
/// `owned` (the exited process's token). If the word changed, the owner
/// had released it, and its waiters were woken by that.
pub(crate) fn mark_died(_map: &Mapping, word: &AtomicU32, owned: u32) {
    // SeqCst, like every change of a futex word a waiter may be about to
    // sleep on (wait.rs).
    let _ = word.compare_exchange(owned, owned | DIED, Ordering::SeqCst, Ordering::Relaxed);
}

// SAFETY: `word` points into `map`, which the entry keeps mapped; it is
// only used as a futex address.
unsafe impl Send for Word {}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // No user code and no panics run under this lock.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// This process's reaper, started on first use; `None` if it could not
/// be started (then waiters fall back to timed sleeps, see `Watch`).
fn reaper() -> Option<&'static Reaper> {
    static REAPER: OnceLock<Option<&'static Reaper>> = OnceLock::new();
    *REAPER.get_or_init(|| {
        let kick = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK).ok()?;
        let reaper: &'static Reaper = Box::leak(Box::new(Reaper {
            state: Mutex::new(State::default()),
            kick,
        }));
        std::thread::Builder::new()
            .name("rallypoint-reaper".into())
            .spawn(move || run(reaper))
            .ok()?;
        Some(reaper)
    })
}

/// While alive, `peer`'s exit wakes `word`.
#[derive(Debug)]
pub(crate) struct Watch {
    peer: Peer,
    id: u64,
    exited: Arc<AtomicBool>,
}

impl Watch {
    /// Whether the watched process has exited (its words were marked).
    pub(crate) fn has_exited(&self) -> bool {
        // Acquire: pairs with the reaper's store, before it marks.
        self.exited.load(Ordering::Acquire)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let Some(reaper) = reaper() else { return };
        let removed = {
            let mut state = lock(&reaper.state);
            let Some(i) = state.peers.iter().position(|w| w.peer == self.peer) else {
                return;
            };
            state.peers[i].words.retain(|w| w.id != self.id);
            state.peers[i]
                .words
                .is_empty()
                .then(|| state.peers.swap_remove(i))
        };
        if removed.is_some() {
            kick(reaper);
        }
    }
}

fn kick(reaper: &Reaper) {
    let _ = rustix::io::write(&reaper.kick, &1u64.to_ne_bytes());
}

/// Asks the reaper to run `on_exit` on `word` (in `map`) and wake its
/// waiters when `peer` exits. `Err(())`
/// if `peer` has exited already (or its pid is someone else's now);
/// `Ok(None)` if no reaper could be started (the caller must then not
/// sleep without a timeout).
pub(crate) fn watch(
    peer: Peer,
    map: &Arc<Mapping>,
    word: &AtomicU32,
    on_exit: OnExit,
) -> Result<Option<Watch>, ()> {
    let Some(reaper) = reaper() else {
        return Ok(None);
    };
    let mut state = lock(&reaper.state);
    let id = state.next_id;
    state.next_id += 1;
    let entry = Word {
        id,
        map: Arc::clone(map),
        word,
        on_exit,
    };
    if let Some(watched) = state.peers.iter_mut().find(|w| w.peer == peer) {
        watched.words.push(entry);
        let exited = Arc::clone(&watched.exited);
        return Ok(Some(Watch { peer, id, exited }));
    }
    let pid = Pid::from_raw(peer.pid as i32).ok_or(())?;
    let pidfd = pidfd_open(pid, PidfdFlags::empty()).map_err(|_| ())?;
    // The pidfd now pins a process; make sure it is the one of the claim.
    if start_time(peer.pid) != Some(peer.start) {
        return Err(());
    }
    let exited = Arc::new(AtomicBool::new(false));
    state.peers.push(Watched {
        peer,
        pidfd: Arc::new(pidfd),
        words: vec![entry],
        exited: Arc::clone(&exited),
    });
    drop(state);
    kick(reaper);
    Ok(Some(Watch { peer, id, exited }))
}

fn run(reaper: &'static Reaper) {
    loop {
        let watched: Vec<(Peer, Arc<OwnedFd>)> = lock(&reaper.state)
            .peers
            .iter()
            .map(|w| (w.peer, Arc::clone(&w.pidfd)))
            .collect();
        let mut fds: Vec<PollFd<'_>> = Vec::with_capacity(watched.len() + 1);
        fds.push(PollFd::new(&reaper.kick, PollFlags::IN));
        for (_, pidfd) in &watched {
            fds.push(PollFd::new(&**pidfd, PollFlags::IN));
        }
        if poll(&mut fds, None).is_err() {
            // EINTR (or out of memory): look again.
            continue;
        }
        if !fds[0].revents().is_empty() {
            let mut buf = [0u8; 8];
            let _ = rustix::io::read(&reaper.kick, &mut buf);
        }
        let exited: Vec<Peer> = fds[1..]
            .iter()
            .zip(&watched)
            .filter(|(fd, _)| !fd.revents().is_empty())
            .map(|(_, (peer, _))| *peer)
            .collect();
        drop(fds);
        for peer in exited {
            let gone = {
                let mut state = lock(&reaper.state);
                state
                    .peers
                    .iter()
                    .position(|w| w.peer == peer)
                    .map(|i| state.peers.swap_remove(i))
            };
            // Wake every waiter of the dead process's words; they look
            // again and find its token dead. (Their `Watch` guards then
            // find nothing to remove.)
            if let Some(gone) = gone {
                // Release: pairs with `has_exited`.
                gone.exited.store(true, Ordering::Release);
                for entry in &gone.words {
                    // SAFETY: `map` keeps the word mapped.
                    let word = unsafe { &*entry.word };
                    let (action, arg) = entry.on_exit;
                    action(&entry.map, word, arg);
                    futex::wake_all(word);
                }
            }
        }
    }
}
