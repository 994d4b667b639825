//! The one place the crate takes its synchronisation building blocks from.
//!
//! Every primitive imports atomics and mutexes from here rather than from
//! `std` directly, so that a model checker can later swap them in one spot
//! without touching the primitives themselves.

pub(crate) use std::sync::atomic::{AtomicUsize, Ordering};
pub(crate) use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning.
///
/// The crate's internal mutexes guard plain counters that are updated in
/// single steps; no user code runs while one is held, so a poisoned lock can
/// only come from a panic in the crate itself, and the data is still
/// consistent. Propagating the poison would turn one panic into a cascade.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
