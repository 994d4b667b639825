//! Shared helpers for the poll-schedule model tests (`tests/schedule_*.rs`).
//!
//! * [`Counter`]: a counting waker — an `Arc<AtomicUsize>` bumped by every
//!   `wake`/`wake_by_ref`, turned into a [`Waker`] through [`std::task::Wake`].
//! * [`Pool`]: a handful of pinned, boxed futures indexed by `k`, each
//!   polled by hand with its own counting waker, remembering how many wakes
//!   it has received since its last poll.
//!
//! Everything runs on the test's one thread: the tests decide the schedule.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

/// A waker that only counts how often it was woken.
#[derive(Debug, Default)]
pub struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Counter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One hand-driven future and its counting waker.
pub struct Slot<'a, O> {
    fut: Pin<Box<dyn Future<Output = O> + 'a>>,
    counter: Arc<Counter>,
    waker: Waker,
    /// The wake count seen at the last poll.
    seen: usize,
    /// Number of times polled.
    pub polls: usize,
}

impl<'a, O> Slot<'a, O> {
    pub fn new(fut: impl Future<Output = O> + 'a) -> Self {
        let counter = Arc::new(Counter::default());
        let waker = Waker::from(counter.clone());
        Slot {
            fut: Box::pin(fut),
            counter,
            waker,
            seen: 0,
            polls: 0,
        }
    }

    /// Polls the future once with its counting waker.
    pub fn poll(&mut self) -> Poll<O> {
        self.seen = self.counter.count();
        self.polls += 1;
        let mut cx = Context::from_waker(&self.waker);
        self.fut.as_mut().poll(&mut cx)
    }

    /// Whether the waker was called since the last poll.
    pub fn woken(&self) -> bool {
        self.counter.count() > self.seen
    }
}

/// Up to `N` live futures, slot `k` empty or holding waiter `k`.
pub struct Pool<'a, O> {
    slots: Vec<Option<Slot<'a, O>>>,
}

impl<'a, O> Pool<'a, O> {
    pub fn new(n: usize) -> Self {
        Pool {
            slots: (0..n).map(|_| None).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_live(&self, k: usize) -> bool {
        self.slots[k].is_some()
    }

    /// Installs a new future in slot `k` (which must be empty).
    pub fn insert(&mut self, k: usize, fut: impl Future<Output = O> + 'a) {
        assert!(self.slots[k].is_none(), "slot {k} is occupied");
        self.slots[k] = Some(Slot::new(fut));
    }

    /// Polls slot `k`; a `Ready` empties the slot (the future is done).
    pub fn poll(&mut self, k: usize) -> Poll<O> {
        let slot = self.slots[k].as_mut().expect("polling an empty slot");
        let out = slot.poll();
        if out.is_ready() {
            self.slots[k] = None;
        }
        out
    }

    /// Drops the future in slot `k` (cancellation).
    pub fn drop_slot(&mut self, k: usize) {
        let slot = self.slots[k].take().expect("dropping an empty slot");
        drop(slot);
    }

    /// Whether slot `k`'s waker was called since its last poll.
    pub fn woken(&self, k: usize) -> bool {
        self.slots[k].as_ref().expect("empty slot").woken()
    }

    pub fn polls(&self, k: usize) -> usize {
        self.slots[k].as_ref().expect("empty slot").polls
    }

    /// Drops every live future, in slot order.
    pub fn clear(&mut self) {
        for slot in &mut self.slots {
            *slot = None;
        }
    }
}

/// The proptest configuration of these tests: `default_cases` cases unless
/// the `PROPTEST_CASES` environment variable says otherwise (proptest reads
/// it only into `Config::default()`, which `with_cases` would override), and
/// no regression files written into `tests/` (a failure prints its shrunk
/// case; keep it as a plain `#[test]`).
pub fn config(default_cases: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
