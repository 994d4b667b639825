//! The helper thread that lets async tasks wait on segment words.
//!
//! A task cannot sleep in `futex_wait`; something must sleep for it. Each
//! process starts, on its first async wait, one helper thread that sleeps
//! on *every* word a task of this process waits on, in one
//! `futex_waitv` call (Linux ≥ 5.16), plus a process-local control word
//! that is bumped when a registration arrives that the thread is not
//! already waiting for. When any word changes, the thread wakes, collects
//! the registrations whose word no longer holds their value, and wakes
//! their tasks — with its own mutex released, since a waker is user code.
//!
//! `futex_waitv` takes at most 128 words, so one thread watches at most
//! [`WORDS_PER_THREAD`] of them (the control word is the 128th); a process
//! with more distinct words in use at once starts another thread for the
//! next ones.
//!
//! On a kernel without `futex_waitv` (`ENOSYS`) the thread falls back to
//! looking every millisecond: correct, but not free, and documented.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Duration;

use rustix::io::Errno;
use rustix::thread::futex;

use super::segment::Mapping;

/// Distinct words one helper thread waits on (128 minus the control word).
const WORDS_PER_THREAD: usize = 127;

/// Every helper thread of this process.
static WATCHERS: Mutex<Vec<Arc<Watcher>>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing panics while these locks are held (no user code runs under
    // them), so a poisoned lock's data is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One helper thread and the registrations it watches.
struct Watcher {
    state: Mutex<State>,
    /// Process-local: bumped (and woken, privately) when the thread must
    /// rebuild its wait list.
    control: AtomicU32,
    /// Whether its thread runs (spawning can fail, e.g. at a thread limit).
    running: bool,
}

#[derive(Default)]
struct State {
    regs: Vec<Reg>,
    next_id: u64,
    /// The words and values the thread is sleeping on right now (set by
    /// the thread before it sleeps): a registration for one of them needs
    /// no kick.
    armed: Vec<(usize, u32)>,
}

/// One task waiting for a word to leave a value.
struct Reg {
    id: u64,
    /// Keeps the word mapped while the thread may touch it.
    _map: Arc<Mapping>,
    word: *const AtomicU32,
    val: u32,
    waker: Waker,
    fired: Arc<AtomicBool>,
}

// SAFETY: `word` points into `_map`, which the `Reg` keeps mapped; it is
// only read through the atomic.
unsafe impl Send for Reg {}

impl Reg {
    fn word(&self) -> &AtomicU32 {
        // SAFETY: see `unsafe impl Send for Reg`: the mapping outlives us.
        unsafe { &*self.word }
    }
}

/// A task's registration: cancel it (or let it fire) before the task
/// completes. Dropping it without `cancel` leaves it to fire.
#[derive(Debug)]
pub(crate) struct Registration {
    watcher: Arc<Watcher>,
    id: u64,
    val: u32,
    waker: Waker,
    fired: Arc<AtomicBool>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Registration {
    /// Whether this registration still stands for `val` and would wake
    /// `waker`'s task (so a re-poll need not register again).
    pub(crate) fn is_armed_for(&self, val: u32, waker: &Waker) -> bool {
        // Acquire: pairs with the thread's store, before it wakes us.
        self.val == val && !self.fired.load(Ordering::Acquire) && self.waker.will_wake(waker)
    }

    /// Withdraws the registration (if it has not fired).
    pub(crate) fn cancel(self) {
        let removed = {
            let mut state = lock(&self.watcher.state);
            state
                .regs
                .iter()
                .position(|r| r.id == self.id)
                .map(|i| state.regs.swap_remove(i))
        };
        // The waker clones (user code) are dropped here, unlocked.
        drop(removed);
    }
}

/// Registers `waker` to be woken once `word` (in `map`) no longer holds
/// `val`.
pub(crate) fn register(
    map: &Arc<Mapping>,
    word: &AtomicU32,
    val: u32,
    waker: &Waker,
) -> Registration {
    // Cloned before any lock is taken (user code).
    let (for_reg, for_us) = (waker.clone(), waker.clone());
    let fired = Arc::new(AtomicBool::new(false));
    let addr = word as *const AtomicU32 as usize;
    let watcher = pick(addr);
    let (id, kick) = {
        let mut state = lock(&watcher.state);
        let id = state.next_id;
        state.next_id += 1;
        state.regs.push(Reg {
            id,
            _map: Arc::clone(map),
            word,
            val,
            waker: for_reg,
            fired: Arc::clone(&fired),
        });
        (id, !state.armed.contains(&(addr, val)))
    };
    if !watcher.running {
        // No helper thread could be started: wake the task at once, so it
        // looks again when next polled (a busy wait, never a hang).
        waker.wake_by_ref();
    } else if kick {
        // Release: the thread's Acquire load of the control word sees the
        // registration (which is under the mutex anyway).
        watcher.control.fetch_add(1, Ordering::Release);
        let _ = futex::wake(&watcher.control, futex::Flags::PRIVATE, 1);
    }
    Registration {
        watcher,
        id,
        val,
        waker: for_us,
        fired,
    }
}

/// The watcher already watching `addr`, or one with room, or a new one.
fn pick(addr: usize) -> Arc<Watcher> {
    let mut all = lock(&WATCHERS);
    let mut roomy = None;
    for w in all.iter() {
        let state = lock(&w.state);
        if state.regs.iter().any(|r| r.word as usize == addr) {
            return Arc::clone(w);
        }
        if roomy.is_none() && distinct_words(&state) < WORDS_PER_THREAD {
            roomy = Some(Arc::clone(w));
        }
    }
    if let Some(w) = roomy {
        return w;
    }
    let new = |running| {
        Arc::new(Watcher {
            state: Mutex::new(State::default()),
            control: AtomicU32::new(0),
            running,
        })
    };
    let w = new(true);
    let for_thread = Arc::clone(&w);
    let spawned = std::thread::Builder::new()
        .name("rallypoint-watcher".into())
        .spawn(move || run(&for_thread));
    if spawned.is_err() {
        // Not kept: the next registration tries to start a thread again.
        return new(false);
    }
    all.push(Arc::clone(&w));
    w
}

fn distinct_words(state: &State) -> usize {
    let mut words: Vec<usize> = state.regs.iter().map(|r| r.word as usize).collect();
    words.sort_unstable();
    words.dedup();
    words.len()
}

/// The helper thread's loop.
fn run(w: &Watcher) {
    let mut no_waitv = false;
    loop {
        // Acquire: pairs with `register`'s Release bump.
        let control = w.control.load(Ordering::Acquire);
        let mut fired = Vec::new();
        let mut waits = Vec::new();
        {
            let mut state = lock(&w.state);
            let mut i = 0;
            while i < state.regs.len() {
                // SeqCst: like any waiter, look after being counted (the
                // task counted itself before registering).
                if state.regs[i].word().load(Ordering::SeqCst) != state.regs[i].val {
                    let reg = state.regs.swap_remove(i);
                    // Release: before the wake, for `is_armed_for`.
                    reg.fired.store(true, Ordering::Release);
                    fired.push(reg);
                } else {
                    i += 1;
                }
            }
            state.armed.clear();
            if fired.is_empty() {
                let mut control_wait = futex::Wait::new();
                control_wait.val = u64::from(control);
                control_wait.uaddr = futex::WaitPtr::new(w.control.as_ptr().cast());
                control_wait.flags = futex::WaitFlags::SIZE_U32 | futex::WaitFlags::PRIVATE;
                waits.push(control_wait);
                let State { regs, armed, .. } = &mut *state;
                for reg in regs.iter() {
                    let addr = reg.word as usize;
                    if !armed.iter().any(|&(a, _)| a == addr) {
                        armed.push((addr, reg.val));
                        let mut wait = futex::Wait::new();
                        wait.val = u64::from(reg.val);
                        wait.uaddr = futex::WaitPtr::new(reg.word.cast_mut().cast());
                        // Shared: the word's wakers are other processes.
                        wait.flags = futex::WaitFlags::SIZE_U32;
                        waits.push(wait);
                    }
                }
            }
        }
        if !fired.is_empty() {
            // Wakers are user code: run them unlocked, then drop them.
            for reg in fired {
                reg.waker.wake_by_ref();
            }
            continue;
        }
        if no_waitv {
            std::thread::sleep(Duration::from_millis(1));
            continue;
        }
        match futex::waitv(
            &waits,
            futex::WaitvFlags::empty(),
            None,
            futex::ClockId::Monotonic,
        ) {
            Ok(_) | Err(Errno::AGAIN | Errno::INTR) => {}
            Err(Errno::NOSYS) => no_waitv = true,
            // Anything else (a word unmapped under us cannot happen: the
            // registrations keep their segments mapped): look again soon.
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}
