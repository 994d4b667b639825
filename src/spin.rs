//! Spin before sleeping (SPEC §0): the bounded wait a `_blocking` form
//! makes for its wake-up before it parks its thread.
//!
//! On a virtual machine a parked thread takes 10–60 µs to run again, and
//! whoever wakes it pays a system call. Most handoffs between running
//! threads (a producer and a consumer, a holder releasing a permit) arrive
//! much sooner than that, so a waiter that stays on its CPU a little longer
//! catches them with neither side entering the kernel: the waker's
//! `unpark` is then one atomic swap on the waiter's parker, and the waiter
//! sees it with one compare-exchange ([`Parker::park_timeout`] with a zero
//! timeout consumes a pending token and never blocks).
//!
//! The shape is parking_lot's `SpinWait` and crossbeam-utils' `Backoff`:
//! a couple of `spin_loop` hints (1 + 2), then a few `yield_now`s, then
//! park. The pure spin is kept that short on purpose: measured on this
//! project's 2-vCPU VMs (BENCHMARKS.md, "spin schedule"), crossbeam's
//! longer spin (1 + 2 + … + 64 hints) made a condition ping-pong
//! 2.2–3.5× slower than std's
//! whenever both threads shared a CPU: the waiter burned its time slice
//! while the thread it waited for could not run. A `yield_now` instead
//! hands the CPU to that thread at once when it is runnable here, and
//! costs one system call when it is not (it is running elsewhere), so the yield
//! rounds are the spin that works in both cases. The whole window is a few
//! microseconds: a wait that lasts longer costs little more than it did
//! without it, while threads that outnumber the cores stop convoying on
//! one sleep per handoff. Go's `sync.Mutex` bounds its spin the same way
//! (four short rounds, and only with other CPUs running).
//!
//! Spinning is off where it cannot help or cannot be modelled: on a single
//! CPU (the thread we wait for cannot run while we spin), under loom (whose
//! scheduler would explore every spin step) and under Miri (slow, and
//! nothing to measure). Async waits never spin: they return `Pending` to
//! their executor.

use std::time::Instant;

use parking::Parker;

/// Rounds of `spin_loop` hints: round `k` issues `2^k` of them.
const SPIN_ROUNDS: u32 = 2;
/// Rounds of `yield_now` after the spin rounds.
const YIELD_ROUNDS: u32 = 8;

/// Whether spinning can help here: more than one CPU, and not under a
/// model checker or interpreter. Computed once.
#[cfg(not(any(loom, miri)))]
fn enabled() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    // 0 = not computed yet, 1 = off, 2 = on. Relaxed: a cached pure
    // answer; two threads computing it at once store the same value.
    static ENABLED: AtomicU8 = AtomicU8::new(0);
    match ENABLED.load(Ordering::Relaxed) {
        0 => {
            let on = std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
            ENABLED.store(if on { 2 } else { 1 }, Ordering::Relaxed);
            on
        }
        v => v == 2,
    }
}

#[cfg(any(loom, miri))]
fn enabled() -> bool {
    false
}

/// Tries `attempt` at once, then again after each round of the spin
/// schedule (the spin rounds, then the yield rounds), until it returns
/// `Some`, the schedule is over, or `deadline` passes; `None` then (or when
/// spinning is disabled). The first try comes before any pause: on the
/// blocking driver's path it is the op's first attempt, which often
/// succeeds (a push into a queue with room), and pausing first made a
/// thread-to-thread queue measurably slower (BENCHMARKS.md, fourth
/// sitting).
///
/// Used twice by the blocking driver: before it registers, on the op's
/// first attempt (the way parking_lot's mutex spins on its lock word, so
/// that a resource freed within a few microseconds is taken without a
/// registration, a wake-up or a system call), and after it registered, on
/// its parker's token ([`for_token`]).
// Unused under loom, whose blocking driver never spins.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn until<T>(deadline: Option<Instant>, attempt: impl FnMut() -> Option<T>) -> Option<T> {
    until_after(deadline, false, attempt)
}

/// [`until`], for a caller that has just made the first attempt itself
/// (`tried`): the schedule then starts with its first pause. Trying again
/// at once would only repeat the failed attempt, and would shorten the
/// pure spin by that much: a bounded(1) handoff between two threads then
/// reaches the yield rounds (a system call each) far more often.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn until_after<T>(
    deadline: Option<Instant>,
    tried: bool,
    mut attempt: impl FnMut() -> Option<T>,
) -> Option<T> {
    if !enabled() {
        return None;
    }
    if !tried {
        if let Some(out) = attempt() {
            return Some(out);
        }
    }
    for round in 0..SPIN_ROUNDS + YIELD_ROUNDS {
        if round < SPIN_ROUNDS {
            for _ in 0..1u32 << round {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
            // A yield may take a while on a busy machine: respect the
            // deadline (the spin rounds together are far shorter than any
            // timeout worth giving).
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
        }
        if let Some(out) = attempt() {
            return Some(out);
        }
    }
    None
}

/// Waits a short, bounded time for `parker`'s token (an unpark from the
/// op's waker) without blocking the thread. Returns `true` if the token
/// arrived (and consumes it), `false` when the spin is over (or disabled,
/// or `deadline` passed) and the caller should park.
#[cfg(not(loom))]
pub(crate) fn for_token(parker: &Parker, deadline: Option<Instant>) -> bool {
    // A zero timeout never blocks: it takes a pending token with one
    // compare-exchange, or returns `false` at once.
    until(deadline, || {
        parker.park_timeout(std::time::Duration::ZERO).then_some(())
    })
    .is_some()
}

/// Under loom: never spins (and loom's parker has no timed park).
#[cfg(loom)]
pub(crate) fn for_token(_parker: &Parker, _deadline: Option<Instant>) -> bool {
    false
}
