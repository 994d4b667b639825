//! The one place the crate takes its synchronisation building blocks from.
//!
//! Every primitive imports atomics and mutexes from here rather than from
//! `std` directly, so that the [loom] model checker can swap them in this one
//! spot: built with `RUSTFLAGS="--cfg loom"` and `--features loom`, they are
//! loom's (and event-listener, parking and async-lock switch to loom too,
//! through the feature), so `tests/loom.rs` explores every interleaving of
//! the primitives' own state machines.
//!
//! Outside loom and Miri the internal mutex is parking_lot's (see the
//! comment at its import for why), wrapped to stay
//! unwind-safe like std's.
//!
//! What stays on `std` under loom, and why:
//!
//! * `std::sync::Arc` in the public API (`Semaphore::acquire_arc` and its
//!   permit): it is a method receiver (`self: &Arc<Self>`), which only std's
//!   `Arc` can be; loom gains nothing from it (the crate never races on the
//!   reference count).
//! * [`ReentrantMutex`](crate::ReentrantMutex) is parking_lot's, which has
//!   no loom support: it still builds, but loom cannot see it, so no model
//!   uses it (it is a thin wrapper, with no state machine of its own).
//! * Timeouts: loom has no clock. The engine panics if a blocking wait with a
//!   deadline would have to park (parking has no `park_deadline` under loom),
//!   and async timeouts would start futures-timer's real helper thread; the
//!   models use the untimed front-ends only.
//!
//! [loom]: https://docs.rs/loom

use crate::engine::WakeSection;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
// parking_lot's mutex: it spins briefly before parking, which is what a
// lock held for a few counter updates wants when two threads contend for
// it (benches/queue_storage.rs and BENCHMARKS.md compare it with std's).
// Under Miri, std's: parking_lot_core casts integers to pointers when it
// parks, which Miri's strict-provenance mode (used in CI) rejects; the
// crate's own code does not depend on which mutex it gets, just as under
// loom.
#[cfg(all(not(loom), not(miri)))]
pub(crate) use parking_lot::MutexGuard;

/// parking_lot's mutex, unwind-safe like std's.
///
/// `parking_lot::Mutex` is not `RefUnwindSafe` (it does not poison), and
/// the primitives holding one would lose the auto trait that std's mutex
/// gave them (users could no longer use a `&Semaphore` inside
/// `catch_unwind`). The crate's locked sections leave the data consistent
/// even if they unwind (see [`lock`]), which is what std's impls assert
/// via poisoning.
#[cfg(all(not(loom), not(miri)))]
pub(crate) struct Mutex<T>(parking_lot::Mutex<T>);

#[cfg(all(not(loom), not(miri)))]
impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex(parking_lot::Mutex::new(value))
    }
}

#[cfg(all(not(loom), not(miri)))]
impl<T> std::panic::UnwindSafe for Mutex<T> {}
#[cfg(all(not(loom), not(miri)))]
impl<T> std::panic::RefUnwindSafe for Mutex<T> {}

#[cfg(all(not(loom), miri))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning (std's and loom's mutexes poison,
/// parking_lot's does not), inside a [`WakeSection`].
///
/// Poisoning: the crate's internal mutexes guard plain counters that are
/// updated in single steps; no user code runs while one is held, so a
/// poisoned lock can only come from a panic in the crate itself, and the
/// data is still consistent. Propagating the poison would turn one panic
/// into a cascade.
///
/// Wakes: every notification the holder sends is queued and delivered after
/// the lock is released (see [`WakeSection`]), so a waker that re-enters the
/// primitive cannot deadlock on this mutex.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> Locked<'_, T> {
    // The section is entered first and, as the later field, ends last.
    let wakes = WakeSection::enter();
    #[cfg(all(not(loom), not(miri)))]
    let guard = mutex.0.lock();
    #[cfg(any(loom, miri))]
    let guard = mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Locked {
        guard,
        _wakes: wakes,
    }
}

/// The data of a mutex nobody else can reach (construction-time set-up).
pub(crate) fn get_mut<T>(mutex: &mut Mutex<T>) -> &mut T {
    #[cfg(all(not(loom), not(miri)))]
    return mutex.0.get_mut();
    #[cfg(any(loom, miri))]
    return mutex
        .get_mut()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
}

/// A held internal mutex; wakes sent while holding it run after it is
/// released. Derefs to the protected data.
pub(crate) struct Locked<'a, T> {
    // Field order matters: fields drop in declaration order, so the guard
    // unlocks before the section delivers the queued wakes.
    guard: MutexGuard<'a, T>,
    _wakes: WakeSection,
}

impl<T> std::ops::Deref for Locked<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Locked<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// Declares a `const fn` that is `const` only when not under loom (loom's
/// atomics and mutexes, and event-listener's and async-lock's under loom,
/// have no `const` constructors).
///
/// ```ignore
/// loom_const_fn! {
///     /// Docs and attributes as usual.
///     pub const fn new() -> Self { .. }
/// }
/// ```
macro_rules! loom_const_fn {
    ($(#[$attr:meta])* $vis:vis const fn $($rest:tt)*) => {
        $(#[$attr])*
        #[cfg(not(loom))]
        $vis const fn $($rest)*

        $(#[$attr])*
        #[cfg(loom)]
        $vis fn $($rest)*
    };
}
pub(crate) use loom_const_fn;
