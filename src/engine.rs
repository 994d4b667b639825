//! The waiting engine: one state machine per operation, four front-ends.
//!
//! Every operation that can wait (`Event::wait`, `Barrier::wait`, …) is
//! written exactly once, as a type implementing [`Op`]:
//!
//! * [`Op::poll_op`] is the canonical event-listener loop — *try; register a
//!   listener; try again; wait* — written against a [`Context`]. It returns
//!   `Pending` only after it has registered `cx`'s waker with a listener that
//!   will be notified when trying again could succeed.
//! * [`Op::on_timeout`] settles the operation when its deadline passes: it
//!   checks one last time whether the operation completed (a notification may
//!   race with the deadline), and otherwise withdraws it and reports the
//!   timeout. After it returns, dropping the op must do nothing more.
//! * `Drop` on the op undoes a pending registration (cancellation).
//!
//! [`Timed`] then drives an op in both worlds:
//!
//! | front-end                  | driver                                     |
//! |----------------------------|--------------------------------------------|
//! | `op().await`               | `Timed::poll` without deadline             |
//! | `op_timeout(d).await`      | `Timed::poll` with a deadline and a timer  |
//! | `op_blocking()`            | [`Timed::block`]: park the thread          |
//! | `op_timeout_blocking(d)`   | [`Timed::block`] with `park_deadline`      |
//!
//! The blocking driver polls the very same state machine with a waker that
//! unparks the calling thread (a cached [`parking`] pair per thread), so the
//! async and blocking paths cannot drift apart, and a timed-out blocking
//! waiter still owns its listener when it settles (which is what lets a
//! barrier party that times out at the instant its generation trips still
//! report the right rank).
//!
//! # Who keeps the wakers
//!
//! Where a primitive already keeps its waiters in order under its own lock
//! (the semaphore's queue, the queues' poppers and pushers, the barrier's
//! arrived parties, the event's sleepers), the waker is stored right there
//! ([`Op::OWN_WAKERS`]) and woken through [`wake_deferred`]. Measured on the
//! benches, this removed one heap-allocated listener and one waker wrapper
//! per wait, and a second lock per notification, which had made those waits
//! 1.3–5× slower than tokio's or async-lock's. `Condvar`/`Condition` and
//! the queues' `join` still wait on `event_listener::Event`s, through the
//! [`Deferring`] wrapper described below.
//!
//! # Why not `event-listener-strategy`
//!
//! async-lock drives its state machines through event-listener-strategy's
//! `Strategy`, whose blocking strategy consumes the listener with
//! `Listener::wait()` and has no deadline. Timeouts need both a deadline and
//! a listener that survives the deadline (to settle races), so the engine
//! polls with a thread-unparking waker instead — the same single-sourcing,
//! plus deadlines.
//!
//! # The timer
//!
//! Async timeouts use [`futures_timer::Delay`]: it needs no runtime (one
//! lazily started helper thread drives all delays), so `_timeout` futures
//! behave the same under tokio, smol, `futures_lite::future::block_on` or any
//! other executor, with no runtime feature to enable. It is small (no
//! dependencies on Linux) and works under Miri, unlike reactor-based timers
//! such as `async-io`'s or tokio's (which panics outside a tokio runtime).
//!
//! Deadlines saturate: a duration too large to add to `Instant::now()`
//! (e.g. `Duration::MAX`) means "no deadline", never a panic.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_timer::Delay;
use parking::Parker;

/// One waiting operation, written once and driven by [`Timed`].
pub(crate) trait Op {
    /// What the operation produces, including a timed-out outcome.
    type Output;

    /// Makes progress; returns `Pending` only with `cx`'s waker registered.
    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output>;

    /// Settles the operation once its deadline has passed (see module docs).
    fn on_timeout(&mut self) -> Self::Output;

    /// `true` if the op keeps the wakers it is given itself (rather than in
    /// event-listener listeners) and only ever wakes them through
    /// [`wake_deferred`]. Its wakes are then deferred past its locks
    /// without the [`Deferring`] wrapper, so [`Timed`] registers the
    /// caller's waker directly and saves the wrapper's allocation and the
    /// extra poll.
    const OWN_WAKERS: bool = false;

    /// A first attempt that takes no lock and wakes nobody (so it needs no
    /// [`WakeSection`]): the output if it completed the op, else `None`
    /// with the op unchanged. Lets an uncontended wait skip the section's
    /// thread-local bookkeeping altogether.
    #[inline]
    fn poll_fast(&mut self) -> Option<Self::Output> {
        None
    }

    /// Whether dropping the op now may notify another waiter (withdrawing
    /// a pending wait), so that the drop must run inside a [`WakeSection`].
    #[inline]
    fn may_wake_on_drop(&self) -> bool {
        true
    }
}

/// The deadline `timeout` from now, or `None` when it is too far away to be
/// represented (saturating: `Duration::MAX` waits forever).
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Drives an [`Op`] to completion, asynchronously or by blocking, with an
/// optional deadline.
pub(crate) struct Timed<O> {
    /// Dropped by hand, inside a [`WakeSection`] (see `Drop`).
    op: ManuallyDrop<O>,
    deadline: Option<Instant>,
    /// Created on the first `Pending` of a timed async wait only.
    timer: Option<Delay>,
    /// The waker registered with listeners on the caller's behalf (see
    /// "Wakes never run under a lock"), and the caller's waker it wraps.
    deferring: Option<(Arc<Deferring>, Waker)>,
    done: bool,
    /// `O::may_wake_on_drop`, kept here because `Drop` cannot require
    /// `O: Op` (the named futures' ops have bounds of their own).
    may_wake_on_drop: fn(&O) -> bool,
}

impl<O: Op> Timed<O> {
    pub(crate) fn new(op: O, deadline: Option<Instant>) -> Self {
        Timed {
            op: ManuallyDrop::new(op),
            deadline,
            timer: None,
            deferring: None,
            done: false,
            may_wake_on_drop: O::may_wake_on_drop,
        }
    }

    fn finish(&mut self, out: O::Output) -> Poll<O::Output> {
        self.done = true;
        Poll::Ready(out)
    }

    /// The async driver.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<O::Output> {
        assert!(!self.done, "rallypoint future polled after completion");
        if let Some(out) = self.op.poll_fast() {
            return self.finish(out);
        }
        let _section = WakeSection::enter();
        if let Poll::Ready(out) = self.poll_deferring(cx) {
            return self.finish(out);
        }
        if let Some(deadline) = self.deadline {
            let now = Instant::now();
            if now >= deadline {
                let out = self.op.on_timeout();
                return self.finish(out);
            }
            let timer = self.timer.get_or_insert_with(|| Delay::new(deadline - now));
            if Pin::new(timer).poll(cx).is_ready() {
                let out = self.op.on_timeout();
                return self.finish(out);
            }
        }
        Poll::Pending
    }

    /// Polls the op so that only a [`Deferring`] wrapper of the caller's
    /// waker is ever registered with a listener.
    fn poll_deferring(&mut self, cx: &mut Context<'_>) -> Poll<O::Output> {
        if O::OWN_WAKERS {
            return self.op.poll_op(cx);
        }
        if let Some((inner, waker)) = &self.deferring {
            if inner.0.will_wake(cx.waker()) {
                return self.op.poll_op(&mut Context::from_waker(waker));
            }
        }
        // First poll (or a new caller waker): try with a no-op waker, so the
        // common case — completing at once — allocates nothing.
        if let Poll::Ready(out) = self.op.poll_op(&mut Context::from_waker(Waker::noop())) {
            return Poll::Ready(out);
        }
        // The op registered the no-op waker; poll again with the wrapper,
        // which replaces it. A notification that arrived in between is kept
        // by the listener and seen by this second poll.
        let inner = Arc::new(Deferring(cx.waker().clone()));
        let waker = Waker::from(inner.clone());
        let polled = self.op.poll_op(&mut Context::from_waker(&waker));
        self.deferring = Some((inner, waker));
        polled
    }

    /// The blocking driver: polls the op with a waker that unparks this
    /// thread, and parks in between.
    #[cfg(not(loom))]
    pub(crate) fn block(mut self) -> O::Output {
        if let Some(out) = self.op.poll_fast() {
            self.done = true;
            return out;
        }
        thread_local! {
            static PARKER: (Parker, Waker) = {
                let (parker, unparker) = parking::pair();
                (parker, Waker::from(unparker))
            };
        }
        PARKER
            .try_with(|(parker, waker)| self.block_with(parker, waker))
            .unwrap_or_else(|_| {
                // Called from a thread-local destructor: use a fresh pair.
                let (parker, unparker) = parking::pair();
                self.block_with(&parker, &Waker::from(unparker))
            })
    }

    /// The blocking driver under loom: a fresh parker per wait, since a
    /// cached one would outlive the model execution that created it.
    #[cfg(loom)]
    pub(crate) fn block(mut self) -> O::Output {
        let (parker, unparker) = parking::pair();
        self.block_with(&parker, &Waker::from(unparker))
    }

    fn block_with(&mut self, parker: &Parker, waker: &Waker) -> O::Output {
        let mut cx = Context::from_waker(waker);
        loop {
            // Our own waker is harmless under locks, but the op may wake
            // async waiters (passing a notification on): not under a lock.
            let polled = {
                let _section = WakeSection::enter();
                self.op.poll_op(&mut cx)
            };
            if let Poll::Ready(out) = polled {
                self.done = true;
                return out;
            }
            match self.deadline {
                None => parker.park(),
                Some(deadline) => {
                    if Instant::now() >= deadline {
                        self.done = true;
                        let _section = WakeSection::enter();
                        return self.op.on_timeout();
                    }
                    // May also return early on a stale unpark token from an
                    // earlier wait on this thread: the op is simply polled
                    // again, which is harmless.
                    #[cfg(not(loom))]
                    parker.park_deadline(deadline);
                    // loom has no clock (and parking no `park_deadline`).
                    #[cfg(loom)]
                    panic!("rallypoint: timeouts cannot be modelled under loom");
                }
            }
        }
    }
}

impl<O> Drop for Timed<O> {
    fn drop(&mut self) {
        // Dropping a pending op withdraws it, which may pass a notification
        // (an item, a permit) on to another waiter: wake it after the op's
        // locks are released, like every other notification.
        let _section = (self.may_wake_on_drop)(&self.op).then(WakeSection::enter);
        // SAFETY: `op` is dropped exactly once, here, and never used again:
        // this is `Timed`'s destructor.
        unsafe { ManuallyDrop::drop(&mut self.op) }
    }
}

impl<O: fmt::Debug> fmt::Debug for Timed<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timed")
            .field("op", &*self.op)
            .field("deadline", &self.deadline)
            .field("done", &self.done)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Wakes never run under a lock
// ---------------------------------------------------------------------------
//
// event-listener calls a waiter's `Waker` while it holds its list lock, and
// the primitives notify while holding their own state lock (that is what
// keeps their listener lists in step with their state). A waker is user
// code: one that re-enters the primitive from `wake()` would deadlock on
// those locks, and one that panics would unwind out of event-listener's
// `notify` half-way through its bookkeeping (its notified count skips the
// entry, and a later removal underflows it).
//
// So the async driver never hands the caller's waker to a listener. It
// registers a `Deferring` waker instead, and every code path that can
// notify runs inside a [`WakeSection`], entered *before* any lock is taken.
// While a section is open on this thread, `Deferring::wake` only queues the
// caller's waker; the outermost section runs the queue when it ends, after
// every lock of the primitive has been released. A panicking waker then
// unwinds from a clean state: the others are still woken, and the first
// panic is resumed to the caller of the notifying method.
//
// Blocking waiters keep their own waker (it only unparks a thread, cannot
// panic and cannot re-enter), and the common case pays nothing: the first
// poll runs with a no-op waker, and the `Deferring` wrapper is only
// allocated (once per future) if that poll comes back `Pending`.
//
// Ops that keep wakers themselves instead of in listeners (the semaphore's
// waiter queue; `Op::OWN_WAKERS`) hand them to `wake_deferred`, which queues
// them the same way: they get the caller's waker directly, with no wrapper
// to allocate and no second poll.

/// How many [`WakeSection`]s are open on this thread, and whether wakes
/// were queued meanwhile. No destructor and a `const` initialiser, so
/// reading it is a plain thread-local access with no registration or
/// "already destroyed" state: this runs on every wait, including the ones
/// that complete at once. The queued wakes themselves live in `DEFERRED`,
/// which is only touched when something is actually deferred.
struct Sections {
    depth: Cell<usize>,
    pending: Cell<bool>,
}

#[cfg(not(loom))]
thread_local! {
    static SECTIONS: Sections = const {
        Sections { depth: Cell::new(0), pending: Cell::new(false) }
    };
    /// Wakes queued while a section is open.
    static DEFERRED: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

// Loom runs its threads on one OS thread: its own thread-locals are needed.
#[cfg(loom)]
loom::thread_local! {
    static SECTIONS: Sections = Sections {
        depth: Cell::new(0),
        pending: Cell::new(false),
    };
    static DEFERRED: RefCell<Vec<Waker>> = RefCell::new(Vec::new());
}

/// While alive, wakes of async waiters on this thread are queued and run
/// when the outermost section ends. Enter it before taking any lock.
#[must_use]
pub(crate) struct WakeSection(());

impl WakeSection {
    #[inline]
    pub(crate) fn enter() -> WakeSection {
        SECTIONS.with(|s| s.depth.set(s.depth.get() + 1));
        WakeSection(())
    }
}

impl Drop for WakeSection {
    #[inline]
    fn drop(&mut self) {
        let run = SECTIONS.with(|s| {
            let depth = s.depth.get() - 1;
            s.depth.set(depth);
            depth == 0 && s.pending.replace(false)
        });
        if run {
            run_deferred();
        }
    }
}

/// Runs the wakes queued by the outermost section that just ended, each
/// under `catch_unwind`; resumes the first panic once all have run.
#[cold]
fn run_deferred() {
    let mut panic = None;
    loop {
        // Taken out while the wakers run: a waker may re-enter a primitive,
        // whose own section then queues (and runs) its wakes.
        let taken = DEFERRED.try_with(|q| {
            let mut q = q.borrow_mut();
            (!q.is_empty()).then(|| std::mem::take(&mut *q))
        });
        let Ok(Some(mut wakers)) = taken else {
            break;
        };
        for waker in wakers.drain(..) {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
                panic.get_or_insert(payload);
            }
        }
        // Give the buffer back, so that the next deferral does not allocate.
        let _ = DEFERRED.try_with(|q| {
            let mut q = q.borrow_mut();
            if q.is_empty() {
                std::mem::swap(&mut *q, &mut wakers);
            }
        });
    }
    if let Some(payload) = panic {
        // Never start a second unwind while one is in progress.
        if !std::thread::panicking() {
            resume_unwind(payload);
        }
    }
}

/// Wakes `waker` when the outermost open [`WakeSection`] of this thread
/// ends, or at once if none is open. For primitives that keep wakers
/// themselves (see [`Op::OWN_WAKERS`]) and wake them under their lock.
pub(crate) fn wake_deferred(waker: Waker) {
    if SECTIONS.with(|s| s.depth.get()) > 0 {
        let mut slot = Some(waker);
        // `try_with`: in a thread-local destructor the queue may be gone;
        // then wake at once (below).
        let _ = DEFERRED.try_with(|q| {
            if let Some(waker) = slot.take() {
                q.borrow_mut().push(waker);
            }
        });
        match slot {
            None => SECTIONS.with(|s| s.pending.set(true)),
            Some(waker) => waker.wake(),
        }
    } else {
        waker.wake();
    }
}

/// The waker the async driver registers in place of the caller's.
struct Deferring(Waker);

impl Wake for Deferring {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Outside one of our notifying sections (e.g. async-lock waking a
        // relocking Condvar waiter) this wakes directly.
        wake_deferred(self.0.clone());
    }
}

/// Declares a public named future around a `Timed<Op>`, mapping the op's
/// output to the front-end's output.
macro_rules! named_future {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<$lt:lifetime $(, $gen:ident)*>($op:ty) -> $out:ty
        $(where [$($bounds:tt)*])?
        ;
        |$o:ident| $map:expr
    ) => {
        $(#[$meta])*
        ///
        /// # Panics
        ///
        /// Polling the future again after it returned `Ready` panics, as for
        /// most futures.
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct $name<$lt $(, $gen)*> $(where $($bounds)*)? {
            inner: $crate::engine::Timed<$op>,
        }

        impl<$lt $(, $gen)*> $name<$lt $(, $gen)*> $(where $($bounds)*)? {
            #[inline]
            #[allow(dead_code)]
            pub(crate) fn new(op: $op, deadline: Option<std::time::Instant>) -> Self {
                $name { inner: $crate::engine::Timed::new(op, deadline) }
            }

            #[inline]
            #[allow(dead_code)]
            pub(crate) fn block(self) -> $out {
                let $o = self.inner.block();
                $map
            }
        }

        impl<$lt $(, $gen)*> std::future::Future for $name<$lt $(, $gen)*>
        $(where $($bounds)*)?
        {
            type Output = $out;

            #[inline]
            fn poll(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$out> {
                self.inner.poll(cx).map(|$o| $map)
            }
        }

        impl<$lt $(, $gen)*> std::fmt::Debug for $name<$lt $(, $gen)*>
        $(where $($bounds)*)?
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use named_future;
