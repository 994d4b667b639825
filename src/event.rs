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
//! Waiters sleep on an [`event_listener::Event`]. `set()` changes the state,
//! then notifies every listener; a waiter registers its listener, then checks
//! the state again before sleeping. event-listener emits a `SeqCst` fence
//! after registering a listener and before notifying, so either the waiter's
//! re-check sees the new state or `set()`'s notification finds the listener:
//! no wakeup is lost.

use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};
use std::time::Duration;

use event_listener::{EventListener, Listener};

use crate::engine::{Op, WakeSection, deadline_after, named_future};
use crate::sync::{AtomicUsize, Ordering, loom_const_fn};

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
    waiters: event_listener::Event,
    /// Waits that have registered a listener and not finished: shown by
    /// `Debug`, so a caller can see that a thread is parked on the event.
    registered: AtomicUsize,
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
                waiters: event_listener::Event::new(),
                registered: AtomicUsize::new(0),
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
        // Wakers run after event-listener's list lock is released.
        let _wakes = WakeSection::enter();
        // `notify` emits a SeqCst fence first (see the module docs).
        self.waiters.notify(usize::MAX);
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
            listener: None,
        }
    }

    /// Waits until the flag is set; returns at once if it already is.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe. Dropping the future before it completes removes its
    /// listener and has no other effect: there is nothing to lose, and other
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
        EventWait::new(self.wait_op(), None).block();
    }

    /// Waits until the flag is set or `timeout` elapses. Resolves to `true`
    /// if the flag was set (or a `set()` happened while waiting), `false` on
    /// timeout. `Duration::ZERO` returns [`is_set`](Event::is_set) without
    /// waiting; `Duration::MAX` waits forever.
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
        if timeout.is_zero() {
            return self.is_set();
        }
        EventWaitTimeout::new(self.wait_op(), deadline_after(timeout)).block()
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
            .field("waiters", &self.registered.load(Ordering::Relaxed))
            .finish()
    }
}

/// The state machine behind every `Event` wait.
pub(crate) struct WaitOp<'a> {
    event: &'a Event,
    /// The generation seen on the first poll.
    start: Option<usize>,
    listener: Option<EventListener>,
}

impl WaitOp<'_> {
    fn drop_listener(&mut self) {
        if let Some(listener) = self.listener.take() {
            // `discard` rather than a plain drop: a notification from `set()`
            // is meant for everyone, so there is nothing to pass on.
            listener.discard();
            self.event.registered.fetch_sub(1, Ordering::Relaxed);
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
        loop {
            // Acquire: pairs with `set()`'s Release (see `is_set`).
            if self.released(self.event.state.load(Ordering::Acquire)) {
                self.drop_listener();
                return Poll::Ready(true);
            }
            match &mut self.listener {
                // Register, then loop to check again before sleeping.
                None => {
                    self.listener = Some(self.event.waiters.listen());
                    // Relaxed: a display counter, ordered by nothing.
                    self.event.registered.fetch_add(1, Ordering::Relaxed);
                }
                Some(listener) => {
                    if std::pin::Pin::new(listener).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    // Notified: the listener is spent. The notification may be
                    // stale (from a `set()` older than our start); the loop's
                    // check decides.
                    self.drop_listener();
                }
            }
        }
    }

    fn on_timeout(&mut self) -> bool {
        self.drop_listener();
        self.released(self.event.state.load(Ordering::Acquire))
    }
}

impl Drop for WaitOp<'_> {
    fn drop(&mut self) {
        self.drop_listener();
    }
}

impl fmt::Debug for WaitOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOp")
            .field("start", &self.start)
            .field("listening", &self.listener.is_some())
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
