//! Waiting on a segment word, written once for every process primitive
//! and every front-end (SPEC §0).
//!
//! A primitive describes one wait as a [`ShmOp`]: an `attempt` that either
//! completes or names the value its futex word holds while it cannot. Two
//! drivers run it:
//!
//! * [`block`], for the `_blocking` forms: §0's short spin on the attempt,
//!   then `futex_wait` on the word itself, so a cross-process wake-up is
//!   one system call on each side.
//! * [`AsyncShm`], an [`engine::Op`](crate::engine::Op), for the async
//!   forms: it registers the word and value with this process's helper
//!   thread ([`super::watcher`]), which sleeps on every registered word at
//!   once and wakes the task when its word changes. The in-process engine's
//!   `Timed` driver and `named_future!` then give the async and
//!   `_timeout` futures exactly as for the in-process primitives.
//!
//! # No lost wake-up
//!
//! Each body has a `sleepers` count next to its word, so that a change
//! with nobody waiting costs no system call. A waiter increments it
//! *before* the attempt that decides to sleep (which reads the word, then
//! the state it stands for); a waker changes the state, and the word,
//! *before* it reads the count; all these accesses are `SeqCst`. So either
//! the waker sees the count (and changes the word and wakes), or the
//! waiter's attempt sees the new state (and does not sleep). The word need
//! not *be* the state: a queue's word is a counter its pushers bump only
//! when they see sleepers. A process killed while counted leaves the count
//! too high, which only costs later wakers a system call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use super::futex;
use super::segment::Mapping;
use super::watcher::{self, Registration};
use crate::engine::Op;

/// One step of a wait: done, or must sleep while the word holds the value.
pub(crate) enum Attempt<T> {
    Done(T),
    Sleep(u32),
}

/// One wait on a segment word.
pub(crate) trait ShmOp {
    type Output;

    /// The segment holding the word (kept mapped while the helper thread
    /// waits on it).
    fn mapping(&self) -> &Arc<Mapping>;

    /// The futex word this wait sleeps on.
    fn word(&self) -> &AtomicU32;

    /// The count of sleepers on [`word`](ShmOp::word) (module docs).
    fn sleepers(&self) -> &AtomicU32;

    /// Tries to complete; `Sleep(v)` when it must wait while the word is `v`.
    fn attempt(&mut self) -> Attempt<Self::Output>;

    /// A first attempt that takes no lock and changes nothing unless it
    /// completes (the engine's `poll_fast`).
    fn attempt_fast(&mut self) -> Option<Self::Output> {
        match self.attempt() {
            Attempt::Done(out) => Some(out),
            Attempt::Sleep(_) => None,
        }
    }

    /// The outcome once the deadline passed without completing.
    fn timed_out(&mut self) -> Self::Output;

    /// Called while counted in [`sleepers`](ShmOp::sleepers), before each
    /// attempt that may decide to sleep (a queue re-arms its wake-up flag
    /// here: see `queue/ring.rs`).
    fn counted(&mut self) {}

    /// Extra `spin_loop` hints the blocking driver's spin inserts after a
    /// failed attempt (SPEC §0's spin), for ops whose attempt reads lines a
    /// peer is writing: polling them back to back takes them from the peer
    /// once per poll (a queue's popper behind its pusher).
    fn spin_pause(&self) -> u32 {
        0
    }

    /// Called before sleeping while the word is `val`: `false` to attempt
    /// again instead (the op found out something the word does not show,
    /// e.g. that the process holding a lock died).
    fn prepare_sleep(&mut self, _val: u32) -> bool {
        true
    }
}

/// The blocking driver: spins briefly, then sleeps on the word, until the
/// attempt completes or `deadline` passes.
pub(crate) fn block<S: ShmOp>(op: &mut S, deadline: Option<Instant>) -> S::Output {
    let attempt = |op: &mut S| match op.attempt() {
        Attempt::Done(out) => Some(out),
        Attempt::Sleep(_) => {
            for _ in 0..op.spin_pause() {
                std::hint::spin_loop();
            }
            None
        }
    };
    // One attempt before anything else, even where spinning is off (one
    // CPU): most waits are not waits (a pop from a queue with items), and
    // the counted path below costs three read-modify-writes.
    if let Some(out) = attempt(op) {
        return out;
    }
    let spun = crate::spin::until(deadline, || attempt(op));
    if let Some(out) = spun {
        return out;
    }
    loop {
        // SeqCst: counted before the attempt that decides to sleep (module
        // docs), so a waker that changes the state after that look sees us.
        op.sleepers().fetch_add(1, Ordering::SeqCst);
        op.counted();
        let val = match op.attempt() {
            Attempt::Done(out) => {
                op.sleepers().fetch_sub(1, Ordering::SeqCst);
                return out;
            }
            Attempt::Sleep(val) => val,
        };
        if deadline.is_some_and(|d| Instant::now() >= d) {
            op.sleepers().fetch_sub(1, Ordering::SeqCst);
            return op.timed_out();
        }
        if op.prepare_sleep(val) && op.word().load(Ordering::SeqCst) == val {
            futex::wait(op.word(), val, deadline);
        }
        op.sleepers().fetch_sub(1, Ordering::SeqCst);
    }
}

/// The async driver's op: [`ShmOp`] plus this waiter's registration with
/// the helper thread.
pub(crate) struct AsyncShm<S: ShmOp> {
    op: S,
    /// Whether we are counted in the body's `sleepers`.
    counted: bool,
    registration: Option<Registration>,
}

impl<S: ShmOp> AsyncShm<S> {
    pub(crate) fn new(op: S) -> Self {
        AsyncShm {
            op,
            counted: false,
            registration: None,
        }
    }

    /// The op inside.
    pub(crate) fn op(&self) -> &S {
        &self.op
    }

    /// Leaves the helper thread's watch and the sleepers count.
    fn settle(&mut self) {
        if let Some(registration) = self.registration.take() {
            registration.cancel();
        }
        if std::mem::take(&mut self.counted) {
            self.op.sleepers().fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl<S: ShmOp> Op for AsyncShm<S> {
    type Output = S::Output;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<S::Output> {
        if !self.counted {
            // SeqCst: counted before the look below (module docs).
            self.op.sleepers().fetch_add(1, Ordering::SeqCst);
            self.counted = true;
        }
        self.op.counted();
        let val = loop {
            match self.op.attempt() {
                Attempt::Done(out) => {
                    self.settle();
                    return Poll::Ready(out);
                }
                Attempt::Sleep(val) if self.op.prepare_sleep(val) => break val,
                Attempt::Sleep(_) => {}
            }
        };
        let keep = self
            .registration
            .as_ref()
            .is_some_and(|r| r.is_armed_for(val, cx.waker()));
        if !keep {
            if let Some(old) = self.registration.take() {
                old.cancel();
            }
            self.registration = Some(watcher::register(
                self.op.mapping(),
                self.op.word(),
                val,
                cx.waker(),
            ));
        }
        Poll::Pending
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<S::Output> {
        self.settle();
        // A last look: completing beats timing out when both are true.
        Poll::Ready(match self.op.attempt() {
            Attempt::Done(out) => out,
            Attempt::Sleep(_) => self.op.timed_out(),
        })
    }

    fn poll_fast(&mut self) -> Option<S::Output> {
        if self.counted {
            return None;
        }
        self.op.attempt_fast()
    }

    fn may_wake_on_drop(&self) -> bool {
        false
    }
}

impl<S: ShmOp> Drop for AsyncShm<S> {
    fn drop(&mut self) {
        self.settle();
    }
}

impl<S: ShmOp> std::fmt::Debug for AsyncShm<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncShm")
            .field("registered", &self.registration.is_some())
            .finish_non_exhaustive()
    }
}
