//! [`Fairness`]: who gets a freed resource, a sleeping waiter or a caller
//! that is running right now (SPEC §0).

use std::time::{Duration, Instant};

/// How a [`Semaphore`](crate::Semaphore) or a container
/// ([`Queue`](crate::Queue), [`Stack`](crate::Stack),
/// [`PriorityQueue`](crate::PriorityQueue)) hands a freed resource — a
/// permit, an item, a free slot — to its waiters. Chosen per instance at
/// construction, with `with_fairness`.
///
/// In both modes waiters are served among themselves in the order they
/// began waiting (FIFO); the modes differ in whether a caller that is
/// running right now (`try_*`, or the first attempt of a new wait) may take
/// a freed resource ahead of them.
///
/// * **[`Eventual`](Fairness::Eventual)** (the default, with a bound of
///   [`DEFAULT_BOUND`](Fairness::DEFAULT_BOUND) = 1 ms): the design of
///   parking_lot's locks and Go's `sync.Mutex`. A freed resource goes back
///   to the primitive and the oldest waiter is woken to try again; a
///   running caller may take it first (*barging*). This is what keeps
///   threads that outnumber the cores from queueing up behind one wake-up
///   per handoff (a thread woken on a busy 2-CPU machine takes 10–60 µs to
///   run). Once a waiter has been passed over for longer than the bound —
///   counted from the first time it was woken and found the resource taken
///   — freed resources are handed to waiters directly, oldest first, and
///   nobody barges until no waiter is past the bound. So no waiter is
///   overtaken for longer than the bound: a queued `acquire_many(n)` is
///   not starved by a stream of small acquires. The containers wake only
///   waiting *threads* (`*_blocking`) this way: an item or slot freed while
///   an async task is the oldest waiter not yet woken is handed to that
///   task, since a task runs as soon as its executor polls it (no thread
///   wake-up to wait for) and finding the item there saves it a second
///   lock round.
/// * **[`Strict`](Fairness::Strict)**: every freed resource is handed to the
///   oldest waiter at once, and nobody barges, ever (tokio's semaphore
///   semantics). Each handoff to a sleeping thread then waits for that
///   thread to wake; `BENCHMARKS.md` shows what that costs.
///
/// [`Event`](crate::Event), [`Barrier`](crate::Barrier) and
/// [`Condvar`](crate::Condvar) hand nothing over that a running caller could
/// take, so they have no fairness setting.
///
/// # Examples
///
/// ```
/// use rallypoint::{Fairness, Queue, Semaphore};
/// use std::time::Duration;
///
/// // Strict FIFO: a released permit always goes to the oldest waiter.
/// let sem = Semaphore::new(1).with_fairness(Fairness::Strict);
/// assert_eq!(sem.fairness(), Fairness::Strict);
///
/// // Eventually fair with a tighter bound than the default.
/// let q: Queue<u32> = Queue::bounded(8).with_fairness(Fairness::Eventual(Duration::from_micros(200)));
/// assert_eq!(q.fairness(), Fairness::Eventual(Duration::from_micros(200)));
///
/// assert_eq!(Fairness::default(), Fairness::Eventual(Fairness::DEFAULT_BOUND));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fairness {
    /// Barging allowed while no waiter has been passed over for longer
    /// than the given bound; direct handoff to waiters once one has.
    /// `Eventual(Duration::ZERO)` hands off as soon as a woken waiter
    /// finds its resource taken once.
    Eventual(Duration),
    /// Every freed resource goes to the oldest waiter; no barging.
    Strict,
}

impl Fairness {
    /// The default fairness bound: 1 ms, as parking_lot and Go use.
    pub const DEFAULT_BOUND: Duration = Duration::from_millis(1);

    /// Whether this is [`Fairness::Strict`].
    #[must_use]
    pub const fn is_strict(self) -> bool {
        matches!(self, Fairness::Strict)
    }

    /// Whether a waiter first passed over at `since` is past the bound.
    /// Strict mode never asks (it always hands off).
    pub(crate) fn past_bound(self, since: Instant) -> bool {
        match self {
            Fairness::Strict => true,
            Fairness::Eventual(bound) if bound.is_zero() => true,
            // loom has no meaningful clock: a model sees the bound as never
            // reached (pure barging), unless it asks for a zero bound,
            // which makes the switch to handoff deterministic.
            #[cfg(loom)]
            Fairness::Eventual(_) => {
                let _ = since;
                false
            }
            #[cfg(not(loom))]
            Fairness::Eventual(bound) => since.elapsed() > bound,
        }
    }
}

impl Default for Fairness {
    /// [`Fairness::Eventual`] with [`Fairness::DEFAULT_BOUND`].
    fn default() -> Self {
        Fairness::Eventual(Fairness::DEFAULT_BOUND)
    }
}
