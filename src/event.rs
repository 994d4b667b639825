//! [`Event`]: a flag that tasks and threads wait on (Python's `threading.Event`).
//!
//! # State machine
//!
//! One `AtomicUsize` holds the whole state:
//!
//! ```text
//!  bit 0       : SET — the flag
//!  bits 1..    : generation — bumped by every unset → set transition of `set()`
//! ```
//!
//! A waiter remembers the generation it saw when it first polled. It
//! completes when the flag is set **or** the generation has moved on: the
//! second condition is what makes a waiter that was waiting when `set()` ran
//! complete even if `clear()` runs before it is scheduled (CPython gh-57711).
//! The generation wraps after 2^63 `set()`s on 64-bit targets, which cannot
//! be mistaken for "no change" in practice.
//!
//! # Waiters
//!
//! Sleeping waiters are the crate's [`WaitList`] under a mutex, with their
//! number mirrored in the atomic `queued`. `set()` changes the state, then,
//! if `queued` is not 0, takes the mutex, empties the list and wakes every
//! waker (deferred until the mutex is released, see `engine.rs`). A waiter
//! takes the mutex, adds itself and increments `queued`, then checks the
//! state again before sleeping. Both sides put a `SeqCst` fence between
//! their write and their read (the store-buffering pattern): in the fences'
//! single total order, either the waiter's fence comes second, and its
//! re-check sees `set()`'s exchange, or `set()`'s fence comes second, and
//! its load of `queued` sees the increment (and `set()` empties the list,
//! which by then holds the waiter): no wakeup is lost. (Fences rather than
//! `SeqCst` accesses: loom checks the former, not the latter, and it is
//! what event-listener does.)
//!
//! A waiter whose entry was removed by a `set()` that does not release it
//! (one that ran before its start generation was recorded, followed by a
//! `clear()`) simply queues again. A dropped waiter removes its entry and
//! wakes nobody: a `set()` is meant for everyone, so there is nothing to
//! pass on.

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::engine::{Op, deadline_after, named_future};
use crate::sync::{AtomicUsize, Mutex, Ordering, fence, lock, loom_const_fn};
use crate::waiters::{NewWaker, Ticket, WaitList};

const SET: usize = 1;
const GENERATION_ONE: usize = 2;

/// A flag that tasks and threads can wait on: Python's `threading.Event`.
///
/// The flag starts unset. [`set`](Event::set) raises it and releases every
/// waiter; [`clear`](Event::clear) lowers it again; waiting on a set event
/// returns at once. The same `Event` can be awaited by async tasks (under any
/// executor) and waited on by threads at the same time.
///
/// # Memory ordering
///
/// Everything a thread did before `set()` is visible to a waiter once its
/// wait returns, and to anyone who sees `is_set()` return `true`.
///
/// # Examples
///
/// ```
/// use rallypoint::Event;
/// use std::sync::Arc;
///
/// let event = Arc::new(Event::new());
/// let setter = {
///     let event = event.clone();
///     std::thread::spawn(move || event.set())
/// };
/// // Async waiter, on any executor…
/// futures_lite::future::block_on(event.wait());
/// // …and a blocking one, on the same instance.
/// event.wait_blocking();
/// assert!(event.is_set());
/// setter.join().unwrap();
/// ```
pub struct Event {
    state: AtomicUsize,
    /// Sleeping waiters (see the module docs).
    waiters: Mutex<WaitList<()>>,
    /// The length of `waiters.list`, readable without the mutex: `set()`
    /// skips the mutex when it is 0, and `Debug` shows it, so a caller can
    /// see that a thread is parked on the event. Written only under the
    /// mutex.
    queued: AtomicUsize,
}

impl Event {
    loom_const_fn! {
        /// Creates a new, unset event.
        ///
        /// # Examples
        ///
        /// ```
        /// static READY: rallypoint::Event = rallypoint::Event::new();
        /// assert!(!READY.is_set());
        /// ```
        #[must_use]
        pub const fn new() -> Event {
            Event {
                state: AtomicUsize::new(0),
                waiters: Mutex::new(WaitList::new()),
                queued: AtomicUsize::new(0),
            }
        }
    }

    /// Returns `true` if the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = rallypoint::Event::new();
    /// assert!(!event.is_set());
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    #[must_use]
    pub fn is_set(&self) -> bool {
        // Acquire: pairs with the Release in `set()`, so a caller that sees
        // `true` also sees what the setter wrote before setting.
        self.state.load(Ordering::Acquire) & SET != 0
    }

    /// Sets the flag and releases every task and thread waiting on it.
    ///
    /// Does nothing if the flag is already set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = rallypoint::Event::new();
    /// event.set();
    /// event.set(); // idempotent
    /// assert!(event.is_set());
    /// ```
    pub fn set(&self) {
        // Acquire on the first load is not needed: the CAS below re-reads.
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & SET != 0 {
                return;
            }
            let next = state.wrapping_add(GENERATION_ONE) | SET;
            // Release on success: publishes everything before `set()` to
            // waiters, which load the state with Acquire. Failure reloads
            // only to retry, so Relaxed.
            match self.state.compare_exchange_weak(
                state,
                next,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => state = actual,
            }
        }
        // The fence orders the exchange before the load (module docs);
        // Relaxed: the fence does the work.
        fence(Ordering::SeqCst);
        if self.queued.load(Ordering::Relaxed) == 0 {
            return;
        }
        // `lock` defers the wakes until the mutex is released.
        let mut waiters = lock(&self.waiters);
        // Relaxed: written only under the mutex we hold.
        self.queued.store(0, Ordering::Relaxed);
        waiters.wake_all();
    }

    /// Clears the flag. Later waits block until [`set`](Event::set) runs
    /// again; waiters that were already released by an earlier `set()` still
    /// complete.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = rallypoint::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        // Relaxed: `clear` publishes nothing, and as a read-modify-write it
        // continues the release sequence headed by `set()`, so a waiter that
        // acquires the cleared state still synchronizes with that `set()`.
        self.state.fetch_and(!SET, Ordering::Relaxed);
    }

    fn wait_op(&self) -> WaitOp<'_> {
        WaitOp {
            event: self,
            start: None,
            ticket: None,
        }
    }

    /// Waits until the flag is set; returns at once if it already is.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes removes it from
    /// the event's waiters and has no other effect: there is nothing to lose, and other
    /// waiters are unaffected.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// let event = rallypoint::Event::new();
    /// event.set();
    /// event.wait().await;
    /// # });
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait::new(self.wait_op(), None)
    }

    /// Blocks the current thread until the flag is set.
    ///
    /// This must not be called from async code: it blocks the executor's
    /// thread. Use [`wait`](Event::wait) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = rallypoint::Event::new();
    /// event.set();
    /// event.wait_blocking();
    /// ```
    pub fn wait_blocking(&self) {
        // A set flag returns before any op or driver exists (the check the
        // op's `poll_fast` makes first), so waiting on a set event costs
        // one load.
        if !self.is_set() {
            EventWait::new(self.wait_op(), None).block();
        }
    }

    /// Waits until the flag is set or `timeout` elapses. Resolves to `true`
    /// if the flag was set (or a `set()` happened while waiting), `false` on
    /// timeout. `Duration::ZERO` returns [`is_set`](Event::is_set) without
    /// waiting; `Duration::MAX` waits forever.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, exactly like [`wait`](Event::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use std::time::Duration;
    /// let event = rallypoint::Event::new();
    /// assert!(!event.wait_timeout(Duration::from_millis(10)).await);
    /// event.set();
    /// assert!(event.wait_timeout(Duration::from_millis(10)).await);
    /// # });
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> EventWaitTimeout<'_> {
        EventWaitTimeout::new(self.wait_op(), deadline_after(timeout))
    }

    /// Blocks until the flag is set or `timeout` elapses; `true` if set.
    ///
    /// This must not be called from async code. `Duration::ZERO` returns
    /// [`is_set`](Event::is_set) without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let event = rallypoint::Event::new();
    /// assert!(!event.wait_timeout_blocking(Duration::ZERO));
    /// ```
    pub fn wait_timeout_blocking(&self, timeout: Duration) -> bool {
        // As in `wait_blocking`.
        self.is_set() || EventWaitTimeout::new(self.wait_op(), deadline_after(timeout)).block()
    }
}

impl Default for Event {
    fn default() -> Self {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = if self.is_set() { "set" } else { "unset" };
        f.debug_struct("Event")
            .field("state", &state)
            // Relaxed: a snapshot for display only.
            .field("waiters", &self.queued.load(Ordering::Relaxed))
            .finish()
    }
}

/// The state machine behind every `Event` wait.
pub(crate) struct WaitOp<'a> {
    event: &'a Event,
    /// The generation seen on the first poll.
    start: Option<usize>,
    /// Our place in the waiter list, once we have queued.
    ticket: Option<Ticket>,
}

impl WaitOp<'_> {
    /// Removes our entry from the waiter list, if it is still there.
    fn dequeue(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            let mut waiters = lock(&self.event.waiters);
            // Its waker is dropped after the mutex is released.
            if waiters.remove(&ticket).is_some() {
                // Relaxed: written only under the mutex we hold.
                self.event.queued.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    /// Whether a waiter that started at `self.start` may return, given `state`.
    fn released(&mut self, state: usize) -> bool {
        let generation = state >> 1;
        state & SET != 0 || *self.start.get_or_insert(generation) != generation
    }
}

impl Op for WaitOp<'_> {
    type Output = bool;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<bool> {
        // Acquire: pairs with `set()`'s release (see `is_set`).
        if self.released(self.event.state.load(Ordering::Acquire)) {
            self.dequeue();
            return Poll::Ready(true);
        }
        let event = self.event;
        let waiters = match &mut self.ticket {
            None => {
                // Cloned before the mutex is taken (user code).
                let new = NewWaker::of(cx);
                let mut waiters = lock(&event.waiters);
                self.ticket = Some(waiters.push(Some(new), cx, ()));
                // Relaxed: the fence below orders it before the re-check.
                event.queued.fetch_add(1, Ordering::Relaxed);
                waiters
            }
            Some(ticket) => {
                // A new waker, if it changed, cloned before the mutex too.
                let fresh = ticket.fresh(cx);
                let mut waiters = lock(&event.waiters);
                if !waiters.still_waiting(ticket, fresh, cx) {
                    // Removed by a `set()` that did not release us (module
                    // docs): queue again, as a first wait.
                    drop(waiters);
                    self.ticket = None;
                    return self.poll_op(cx);
                }
                waiters
            }
        };
        // The re-check of the module docs, after the fence; Acquire pairs
        // with `set()`'s release.
        fence(Ordering::SeqCst);
        if self.released(event.state.load(Ordering::Acquire)) {
            drop(waiters);
            self.dequeue();
            return Poll::Ready(true);
        }
        drop(waiters);
        Poll::Pending
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<bool> {
        self.dequeue();
        Poll::Ready(self.released(self.event.state.load(Ordering::Acquire)))
    }

    #[inline]
    fn poll_fast(&mut self) -> Option<bool> {
        // Acquire: pairs with `set()`'s release. Leaves any queued entry to
        // `Drop`, which removes it.
        self.released(self.event.state.load(Ordering::Acquire))
            .then_some(true)
    }

    fn may_wake_on_drop(&self) -> bool {
        // Dropping only removes our own entry: it wakes nobody (the lock's
        // own section defers the drop of the entry's waker).
        false
    }
}

impl Drop for WaitOp<'_> {
    fn drop(&mut self) {
        self.dequeue();
    }
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOp")
            .field("start", &self.start)
            .field("queued", &self.ticket.is_some())
            .finish()
    }
}

named_future! {
    /// Future returned by [`Event::wait`]; resolves once the event is set.
    pub struct EventWait<'a>(WaitOp<'a>) -> ();
    |_set| ()
}

named_future! {
    /// Future returned by [`Event::wait_timeout`]; resolves to `true` if the
    /// event was set, `false` on timeout.
    pub struct EventWaitTimeout<'a>(WaitOp<'a>) -> bool;
    |set| set
}
