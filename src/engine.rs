//! The waiting engine: one state machine per operation, four front-ends.
//!
//! Every operation that can wait (`Event::wait`, `Barrier::wait`, …) is
//! written exactly once, as a type implementing [`Op`]:
//!
//! * [`Op::poll_op`] is the canonical loop — *try; register; try again;
//!   wait* — written against a [`Context`]. It returns `Pending` only after
//!   it has registered `cx`'s waker where it will be woken when trying again
//!   could succeed (for the primitives' own waiters, in a
//!   [`WaitList`](crate::waiters::WaitList)).
//! * [`Op::on_timeout`] settles the operation when its deadline passes: it
//!   checks one last time whether the operation completed (a notification
//!   may race with the deadline), and otherwise withdraws it and reports the
//!   timeout. It may also return `Pending`, once, when the op must finish
//!   something before it can return (a condvar waiter relocking its mutex);
//!   the op is then driven to completion by `poll_op`, with no deadline.
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
//! waiter still owns its registration when it settles (which is what lets a
//! barrier party that times out at the instant its generation trips still
//! report the right rank).
//!
//! # Timeouts: one rule
//!
//! A deadline is checked after every poll that returned `Pending`, so the
//! op has always been tried at least once. A zero timeout (or a deadline
//! that has already passed) therefore means **try once without waiting**,
//! for every primitive alike: the op is polled once, and if it could not
//! complete, [`Op::on_timeout`] settles it at once — whatever it had been
//! given meanwhile (a permit, an item, a notification) it keeps.
//!
//! Deadlines saturate: a duration too large to add to `Instant::now()`
//! (e.g. `Duration::MAX`) means "no deadline", never a panic.
//!
//! # Wakers are user code
//!
//! A waker's `wake`, `clone` and `drop` may do anything, including calling
//! back into the primitive that holds it, or panicking. None of them ever
//! runs while rallypoint holds a lock:
//!
//! * **clone**: an op clones the caller's waker *before* it takes a lock
//!   ([`NewWaker`](crate::waiters::NewWaker)), when it expects to register
//!   (a lock-free check or hint said it will wait) or the caller's waker
//!   has changed; an op that finds it must wait only under the lock takes
//!   its place in line without a waker and stores one in a second round.
//!   The blocking driver's own waker is the exception: it only unparks a
//!   thread, so it is cloned under the lock when needed;
//! * **wake** and **drop**: every code path that can wake or drop a stored
//!   waker runs inside a [`WakeSection`], entered before any lock is taken
//!   ([`lock`](crate::sync::lock) enters one). While a section is open on
//!   this thread, [`wake_deferred`] and [`drop_deferred`] only queue the
//!   waker; the outermost section runs the queue when it ends, after every
//!   lock has been released. A panicking waker then unwinds from a clean
//!   state: the others are still woken, and the first panic is resumed to
//!   the caller of the notifying method.
//!
//! A dependency that keeps listeners of its own is the one place where a
//! waker could be called under a lock that is not ours: a task locking a
//! busy [`Mutex`](crate::Mutex) (its `lock` forms, or a condvar waiter
//! relocking it) waits in async-lock's listener list, which clones, drops
//! and wakes the waker it is given under its list lock. So it is given a
//! [`Shield`] instead — a wrapper whose clone and drop are a reference
//! count — and the wrapper's wake is deferred:
//!
//! * from inside one of our sections (the unlock happened in rallypoint's
//!   code: a condvar wait releasing the mutex, a [`ConditionGuard`]
//!   dropped), like any other wake, on the same thread;
//! * from anywhere else, to the **wake thread**: one thread per process,
//!   started on first such wake, that runs these wakes with no lock held.
//!   Every guard of a rallypoint [`Mutex`](crate::Mutex) unlocks inside a
//!   section of its own (`mutex/guard.rs`), so this is a fallback: a guard
//!   dropped in a thread-local destructor, where the section's queue is
//!   gone. Only async waiters are shielded; the blocking driver's waker,
//!   which merely unparks a thread, is registered as it is.
//!
//! [`ConditionGuard`]: crate::ConditionGuard
//!
//! # Why not `event-listener-strategy`
//!
//! async-lock drives its state machines through event-listener-strategy's
//! `Strategy`, whose blocking strategy consumes the listener with
//! `Listener::wait()` and has no deadline. Timeouts need both a deadline and
//! a registration that survives the deadline (to settle races), so the
//! engine polls with a thread-unparking waker instead — the same
//! single-sourcing, plus deadlines.
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
//! With the `tokio` feature, a timeout first polled inside a tokio runtime
//! uses tokio's timer instead, so that tokio's paused and auto-advanced
//! clock (`start_paused`, `tokio::time::advance`) drives it like any tokio
//! timeout; the deadline itself is still taken on the real clock when the
//! future is created, and a deadline that really passed still times out.

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

    /// Settles the operation once its deadline has passed (see the module
    /// docs). `Pending` — with `cx`'s waker registered — means the op has
    /// settled its outcome but must finish a step before returning it; the
    /// driver then keeps polling [`poll_op`](Op::poll_op), without deadline.
    fn on_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output>;

    /// A first attempt that takes no lock and wakes nobody (so it needs no
    /// [`WakeSection`]): the output if it completed the op, else `None`
    /// with the op unchanged. Lets an uncontended wait skip the section's
    /// thread-local bookkeeping altogether.
    #[inline]
    fn poll_fast(&mut self) -> Option<Self::Output> {
        None
    }

    /// Whether the blocking driver should retry [`spin_try`](Op::spin_try)
    /// while it spins before registering (SPEC §0). (Unused under loom,
    /// whose blocking driver never spins.)
    #[cfg_attr(loom, allow(dead_code))]
    const SPINS: bool = false;

    /// A cheap retry of the first attempt, for the blocking driver's spin
    /// before it registers (only when [`SPINS`](Op::SPINS)): the output if
    /// it completed the op, else `None` with the op unchanged. It may take
    /// the op's lock (whose section defers any wake), but should look at a
    /// lock-free hint first, since it is called in a loop.
    #[inline]
    #[cfg_attr(loom, allow(dead_code))]
    fn spin_try(&mut self) -> Option<Self::Output> {
        None
    }

    /// Whether dropping the op now may wake another waiter (withdrawing a
    /// pending wait may pass a permit or an item on), so that the drop must
    /// run inside a [`WakeSection`]. (Stored wakers that a drop discards
    /// are deferred by the lock's own section.)
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

#[cfg(not(loom))]
thread_local! {
    /// The blocking driver's parker and the waker that unparks it: cached,
    /// one per thread. This waker runs no user code (see [`Shield`]).
    static PARKER: OwnParker = {
        let (parker, unparker) = parking::pair();
        let waker = Waker::from(unparker);
        OWN_WAKER.with(|own| own.set(raw_key(&waker)));
        OwnParker { parker, waker }
    };
    /// The data and vtable addresses of this thread's `PARKER` waker (zero
    /// until it exists): a `const` thread-local, so that recognising the
    /// blocking driver's waker costs two compares, not a lazy access.
    static OWN_WAKER: Cell<(usize, usize)> = const { Cell::new((0, 0)) };
}

/// The blocking driver's parker and waker (see `PARKER`).
#[cfg(not(loom))]
struct OwnParker {
    parker: Parker,
    waker: Waker,
}

#[cfg(not(loom))]
impl Drop for OwnParker {
    fn drop(&mut self) {
        // The waker's address may be reused once it is freed: forget it.
        let _ = OWN_WAKER.try_with(|own| own.set((0, 0)));
    }
}

/// The addresses `Waker::will_wake` compares.
#[cfg(not(loom))]
fn raw_key(waker: &Waker) -> (usize, usize) {
    (
        waker.data().addr(),
        std::ptr::from_ref(waker.vtable()).addr(),
    )
}

/// Whether `waker` is this thread's blocking-driver waker, whose clone,
/// wake and drop run no user code (they may run under a lock).
#[inline]
pub(crate) fn is_own_parker(waker: &Waker) -> bool {
    #[cfg(not(loom))]
    return OWN_WAKER
        .try_with(|own| own.get() == raw_key(waker))
        .unwrap_or(false);
    #[cfg(loom)]
    {
        let _ = waker;
        false
    }
}

/// Runs `f` with this thread's blocking-driver waker, for unit tests that
/// poll an op as a blocking wait would (so that it counts as a thread's).
/// The waker itself, not a clone: a clone's vtable may sit at another
/// address (Miri gives each use of a constant its own), and the driver's
/// waker is recognised by its addresses.
#[cfg(all(test, not(loom)))]
pub(crate) fn with_own_parker_waker<R>(f: impl FnOnce(&Waker) -> R) -> R {
    PARKER.with(|own| f(&own.waker))
}

/// Whether `waker` belongs to a blocking (`_blocking`) wait on this
/// thread, as opposed to an async task: a thread's wake-up is a trip
/// through the kernel scheduler, a task's an executor enqueue, and the
/// containers' fairness treats the two differently (see `queue.rs`).
/// Natively that is this thread's parker waker; under loom, whose blocking
/// driver makes a fresh parker per wait, a flag the driver sets while it
/// polls.
#[inline]
pub(crate) fn is_blocking_waker(waker: &Waker) -> bool {
    #[cfg(not(loom))]
    return is_own_parker(waker);
    #[cfg(loom)]
    {
        let _ = waker;
        IN_BLOCKING_POLL.with(Cell::get)
    }
}

#[cfg(loom)]
loom::thread_local! {
    /// Set while the loom blocking driver polls its op (see
    /// [`is_blocking_waker`]).
    static IN_BLOCKING_POLL: Cell<bool> = Cell::new(false);
}

/// An async timeout's timer (module docs, "The timer").
enum Timer {
    Agnostic(Delay),
    #[cfg(all(feature = "tokio", not(loom)))]
    Tokio(Pin<Box<tokio::time::Sleep>>),
}

impl Timer {
    fn new(left: Duration) -> Timer {
        #[cfg(all(feature = "tokio", not(loom)))]
        if tokio::runtime::Handle::try_current().is_ok() {
            return Timer::Tokio(Box::pin(tokio::time::sleep(left)));
        }
        Timer::Agnostic(Delay::new(left))
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            Timer::Agnostic(delay) => Pin::new(delay).poll(cx),
            #[cfg(all(feature = "tokio", not(loom)))]
            Timer::Tokio(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

/// Drives an [`Op`] to completion, asynchronously or by blocking, with an
/// optional deadline.
pub(crate) struct Timed<O> {
    /// Dropped by hand, inside a [`WakeSection`] (see `Drop`).
    op: ManuallyDrop<O>,
    /// Cleared once `on_timeout` has run (the op is then settling).
    deadline: Option<Instant>,
    /// Created on the first `Pending` of a timed async wait only.
    timer: Option<Timer>,
    done: bool,
    /// `O::may_wake_on_drop`, kept here because `Drop` cannot require
    /// `O: Op` (the named futures' ops have bounds of their own).
    may_wake_on_drop: fn(&O) -> bool,
}

impl<O> Timed<O> {
    /// The op, for `Debug` output.
    pub(crate) fn op(&self) -> &O {
        &self.op
    }

    /// Whether the future has returned `Ready` (`FusedFuture`).
    #[cfg(feature = "futures-core")]
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }
}

impl<O: Op> Timed<O> {
    pub(crate) fn new(op: O, deadline: Option<Instant>) -> Self {
        Timed {
            op: ManuallyDrop::new(op),
            deadline,
            timer: None,
            done: false,
            may_wake_on_drop: O::may_wake_on_drop,
        }
    }

    fn finish(&mut self, out: O::Output) -> Poll<O::Output> {
        self.done = true;
        Poll::Ready(out)
    }

    /// Settles the op at its deadline; afterwards it has none.
    fn time_out(&mut self, cx: &mut Context<'_>) -> Poll<O::Output> {
        self.deadline = None;
        self.timer = None;
        match self.op.on_timeout(cx) {
            Poll::Ready(out) => self.finish(out),
            Poll::Pending => Poll::Pending,
        }
    }

    /// The async driver.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<O::Output> {
        assert!(!self.done, "rallypoint future polled after completion");
        if let Some(out) = self.op.poll_fast() {
            return self.finish(out);
        }
        let _section = WakeSection::enter();
        if let Poll::Ready(out) = self.op.poll_op(cx) {
            return self.finish(out);
        }
        match self.deadline {
            Some(deadline) => self.poll_deadline(deadline, cx),
            None => Poll::Pending,
        }
    }

    /// The async driver's timer, once the op is pending: out of line, so
    /// that waits without a deadline (and ops that complete) do not carry
    /// its code and registers.
    #[inline(never)]
    fn poll_deadline(&mut self, deadline: Instant, cx: &mut Context<'_>) -> Poll<O::Output> {
        let now = Instant::now();
        if now >= deadline {
            return self.time_out(cx);
        }
        let timer = self.timer.get_or_insert_with(|| Timer::new(deadline - now));
        if timer.poll(cx).is_ready() {
            return self.time_out(cx);
        }
        Poll::Pending
    }

    /// The blocking driver: polls the op with a waker that unparks this
    /// thread, and parks in between.
    #[cfg(not(loom))]
    pub(crate) fn block(self) -> O::Output {
        self.block_from(false)
    }

    /// [`block`](Timed::block) for a front-end that has just made the op's
    /// first attempt itself, lock-free or under the op's lock, before
    /// building the op (so that an operation that does not wait costs no
    /// op and no driver): the driver then does not repeat it at once.
    /// The first attempt the front-end made must be the op's (its
    /// `poll_fast`, or its `spin_try`'s), so that skipping it here
    /// changes only the timing.
    pub(crate) fn block_after_try(self) -> O::Output {
        self.block_from(true)
    }

    #[cfg(not(loom))]
    fn block_from(mut self, tried: bool) -> O::Output {
        if !tried {
            if let Some(out) = self.op.poll_fast() {
                self.done = true;
                return out;
            }
        }
        // Spin on the first attempt before registering, unless the
        // deadline has passed (a zero timeout tries exactly once).
        if O::SPINS && self.deadline.is_none_or(|d| Instant::now() < d) {
            if let Some(out) = crate::spin::until_after(self.deadline, tried, || self.op.spin_try())
            {
                self.done = true;
                return out;
            }
        }
        PARKER
            .try_with(|own| self.block_with(&own.parker, &own.waker))
            .unwrap_or_else(|_| {
                // Called from a thread-local destructor: use a fresh pair.
                let (parker, unparker) = parking::pair();
                self.block_with(&parker, &Waker::from(unparker))
            })
    }

    /// The blocking driver under loom: a fresh parker per wait, since a
    /// cached one would outlive the model execution that created it.
    #[cfg(loom)]
    pub(crate) fn block(self) -> O::Output {
        self.block_from(false)
    }

    #[cfg(loom)]
    fn block_from(mut self, _tried: bool) -> O::Output {
        let (parker, unparker) = parking::pair();
        self.block_with(&parker, &Waker::from(unparker))
    }

    fn block_with(&mut self, parker: &Parker, waker: &Waker) -> O::Output {
        let mut cx = Context::from_waker(waker);
        // Set once the deadline has passed: the next step settles the op.
        let mut timed_out = false;
        loop {
            // The op may wake async waiters (passing a notification on):
            // not under a lock.
            let polled = {
                let _section = WakeSection::enter();
                #[cfg(loom)]
                IN_BLOCKING_POLL.with(|b| b.set(true));
                let polled = if std::mem::take(&mut timed_out) {
                    self.op.on_timeout(&mut cx)
                } else {
                    self.op.poll_op(&mut cx)
                };
                #[cfg(loom)]
                IN_BLOCKING_POLL.with(|b| b.set(false));
                polled
            };
            if let Poll::Ready(out) = polled {
                self.done = true;
                return out;
            }
            if let Some(deadline) = self.deadline {
                if Instant::now() >= deadline {
                    // Settle at once, without spinning or parking;
                    // afterwards (if the op still has to finish) there is
                    // no deadline.
                    self.deadline = None;
                    timed_out = true;
                    continue;
                }
            }
            // A handoff that arrives within the spin window costs neither
            // side a system call (see `spin.rs`); then poll again.
            if crate::spin::for_token(parker, self.deadline) {
                continue;
            }
            match self.deadline {
                None => parker.park(),
                Some(deadline) => {
                    // May also return early on a stale unpark token from an
                    // earlier wait on this thread: the op is simply polled
                    // again, which is harmless.
                    #[cfg(not(loom))]
                    parker.park_deadline(deadline);
                    // loom has no clock (and parking no `park_deadline`).
                    #[cfg(loom)]
                    {
                        let _ = deadline;
                        panic!("rallypoint: timeouts cannot be modelled under loom");
                    }
                }
            }
        }
    }
}

impl<O> Timed<O> {
    /// Drops an op that has not finished. Withdrawing it may pass a
    /// notification (an item, a permit) on to another waiter: it is woken
    /// after the op's locks are released, like every other notification.
    /// Out of line: the common drop is that of a finished op.
    #[inline(never)]
    fn drop_unfinished(&mut self) {
        let _section = (self.may_wake_on_drop)(&self.op).then(WakeSection::enter);
        // SAFETY: `op` is dropped exactly once, here (called only from
        // `Timed`'s destructor), and never used again.
        unsafe { ManuallyDrop::drop(&mut self.op) }
    }
}

impl<O> Drop for Timed<O> {
    #[inline]
    fn drop(&mut self) {
        if !self.done {
            return self.drop_unfinished();
        }
        // A finished op holds no registration (it completed or settled in
        // the poll that set `done`): no section, and no indirect call.
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
// Wakes and drops never run under a lock
// ---------------------------------------------------------------------------

/// How many [`WakeSection`]s are open on this thread, and whether wakes or
/// drops were queued meanwhile. No destructor and a `const` initialiser, so
/// reading it is a plain thread-local access with no registration or
/// "already destroyed" state: this runs on every wait, including the ones
/// that complete at once. The queues themselves live in `WAKES` and
/// `OTHERS`, which are only touched when something is actually deferred.
struct Sections {
    depth: Cell<usize>,
    /// Which queues have something queued: [`WAKES_PENDING`],
    /// [`OTHERS_PENDING`].
    pending: Cell<u8>,
    /// How many of `WAKES`' slots the runs in progress on this thread have
    /// claimed (see [`run_wakes`]).
    claimed: Cell<usize>,
}

const WAKES_PENDING: u8 = 1;
const OTHERS_PENDING: u8 = 2;

/// What the outermost section does with a waker other than a plain wake
/// (those, the common case, have a queue of their own: `WAKES`).
enum Deferred {
    Drop(Waker),
    /// A [`Shield`]ed waker, woken by reference (no clone of user code).
    WakeShielded(Arc<Shielded>),
}

#[cfg(not(loom))]
thread_local! {
    static SECTIONS: Sections = const {
        Sections { depth: Cell::new(0), pending: Cell::new(0), claimed: Cell::new(0) }
    };
    /// Wakes queued while a section is open.
    static WAKES: RefCell<Vec<Option<Waker>>> = const { RefCell::new(Vec::new()) };
    /// Drops and shielded wakes queued while a section is open.
    static OTHERS: RefCell<Vec<Deferred>> = const { RefCell::new(Vec::new()) };
}

// Loom runs its threads on one OS thread: its own thread-locals are needed.
#[cfg(loom)]
loom::thread_local! {
    static SECTIONS: Sections = Sections {
        depth: Cell::new(0),
        pending: Cell::new(0),
        claimed: Cell::new(0),
    };
    static WAKES: RefCell<Vec<Option<Waker>>> = RefCell::new(Vec::new());
    static OTHERS: RefCell<Vec<Deferred>> = RefCell::new(Vec::new());
}

/// While alive, wakes and waker drops on this thread are queued and run
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
        let pending = SECTIONS.with(|s| {
            let depth = s.depth.get() - 1;
            s.depth.set(depth);
            if depth == 0 { s.pending.replace(0) } else { 0 }
        });
        if pending != 0 {
            run_deferred(pending);
        }
    }
}

/// Runs the wakes and drops queued by the outermost section that just
/// ended (`pending` says which queues have some), each under
/// `catch_unwind`; resumes the first panic once all have run.
///
/// One pass is enough: nothing is queued outside a section, and a waker
/// that re-enters a primitive opens a section of its own, whose end runs
/// what it queued.
///
/// Not `#[cold]`: every async wait that is woken passes here.
#[inline(never)]
fn run_deferred(pending: u8) {
    let mut panic = None;
    if pending & WAKES_PENDING != 0 {
        run_wakes(&mut panic);
    }
    if pending & OTHERS_PENDING != 0 {
        // Taken out while they run (a re-entrant waker's own section queues
        // on a fresh buffer), and given back afterwards.
        if let Some(mut others) = take_queue(&OTHERS) {
            for deferred in others.drain(..) {
                let ran = catch_unwind(AssertUnwindSafe(|| match deferred {
                    Deferred::Drop(waker) => drop(waker),
                    Deferred::WakeShielded(shielded) => shielded.0.wake_by_ref(),
                }));
                if let Err(payload) = ran {
                    panic.get_or_insert(payload);
                }
            }
            give_back(&OTHERS, others);
        }
    }
    if let Some(payload) = panic {
        // Never start a second unwind while one is in progress.
        if !std::thread::panicking() {
            resume_unwind(payload);
        }
    }
}

/// Wakes the wakers queued by the section that just ended, in order,
/// each taken out of its slot just before it runs (so that it runs with no
/// borrow held); records the first panic in `panic` and goes on.
///
/// The queue stays where it is. Moving it out, as for `OTHERS`, copies its
/// buffer pointer and length (the length written by the last `push` with
/// a narrower store) with one wide load, and a `Drain` built field by field
/// is read back the same way: store-forwarding stalls that cost more than
/// the wake itself (perf annotate, bounded(1) queue between tasks).
///
/// A waker that re-enters a primitive ends a section of its own and runs
/// this again, nested: `Sections::claimed` tells it where this run's
/// wakers end, so that it wakes only those its own section queued after
/// them (as the outer run's are not its business: they run once it
/// returns), and it truncates the queue back to there when done.
fn run_wakes(panic: &mut Option<Box<dyn std::any::Any + Send>>) {
    let Ok(end) = WAKES.try_with(|q| q.borrow().len()) else {
        return;
    };
    let start = SECTIONS.with(|s| s.claimed.replace(end));
    let mut next = start;
    // One `catch_unwind` for the batch, entered again after a panic for
    // the wakers left (the one that panicked was consumed): one per waker
    // makes each go through the stack on its way to `wake`.
    while let Err(payload) = catch_unwind(AssertUnwindSafe(|| {
        while next < end {
            let waker = WAKES.try_with(|q| q.borrow_mut()[next].take());
            next += 1;
            if let Ok(Some(waker)) = waker {
                waker.wake();
            }
        }
    })) {
        panic.get_or_insert(payload);
    }
    let _ = WAKES.try_with(|q| q.borrow_mut().truncate(start));
    SECTIONS.with(|s| s.claimed.set(start));
}

type Queue<T> = RefCell<Vec<T>>;

#[cfg(not(loom))]
type QueueKey<T> = std::thread::LocalKey<Queue<T>>;
#[cfg(loom)]
type QueueKey<T> = loom::thread::LocalKey<Queue<T>>;

/// The queued items, if any (`try_with`: in a thread-local destructor the
/// queue may be gone).
fn take_queue<T: 'static>(key: &'static QueueKey<T>) -> Option<Vec<T>> {
    key.try_with(|q| {
        let mut q = q.borrow_mut();
        (!q.is_empty()).then(|| std::mem::take(&mut *q))
    })
    .unwrap_or_default()
}

/// Gives an emptied buffer back, so that the next deferral does not
/// allocate.
fn give_back<T: 'static>(key: &'static QueueKey<T>, mut buffer: Vec<T>) {
    let _ = key.try_with(|q| {
        let mut q = q.borrow_mut();
        if q.is_empty() {
            std::mem::swap(&mut *q, &mut buffer);
        }
    });
}

/// Whether a [`WakeSection`] is open on this thread.
#[inline]
fn in_section() -> bool {
    SECTIONS.with(|s| s.depth.get()) > 0
}

/// Queues `item` on `key` (whose bit in `Sections::pending` is `bit`) for
/// the open section; hands it back if the queue is gone (in a thread-local
/// destructor), for the caller to act at once.
#[inline]
fn push<T: 'static>(key: &'static QueueKey<T>, bit: u8, item: T) -> Option<T> {
    let mut slot = Some(item);
    let _ = key.try_with(|q| {
        if let Some(item) = slot.take() {
            q.borrow_mut().push(item);
        }
    });
    if slot.is_none() {
        SECTIONS.with(|s| s.pending.set(s.pending.get() | bit));
    }
    slot
}

/// [`push`] onto `OTHERS`.
fn push_other(item: Deferred) -> Option<Deferred> {
    push(&OTHERS, OTHERS_PENDING, item)
}

/// Wakes `waker` when the outermost open [`WakeSection`] of this thread
/// ends, or at once if none is open.
#[inline]
pub(crate) fn wake_deferred(waker: Waker) {
    if !in_section() {
        return waker.wake();
    }
    if let Some(Some(waker)) = push(&WAKES, WAKES_PENDING, Some(waker)) {
        waker.wake();
    }
}

/// Drops `waker` when the outermost open [`WakeSection`] of this thread
/// ends, or at once if none is open: a waker's destructor is user code.
#[inline]
pub(crate) fn drop_deferred(waker: Waker) {
    if in_section() {
        drop(push_other(Deferred::Drop(waker)));
    }
    // Otherwise `waker` drops here, with no lock held.
}

// ---------------------------------------------------------------------------
// The shield for dependencies' listener lists
// ---------------------------------------------------------------------------

/// The waker handed to a dependency that keeps its own listeners (see "Wakers
/// are user code"): a reference-counted wrapper around the caller's waker,
/// made (outside any lock) only when the dependency actually has to wait,
/// and reused while the caller's waker does not change. The blocking
/// driver's own waker needs no wrapper: it only unparks a thread.
#[derive(Default)]
pub(crate) struct Shield {
    wrapper: Option<Waker>,
    /// The caller's waker the wrapper wraps, to detect a change.
    inner: Option<Arc<Shielded>>,
}

impl Shield {
    /// A waker to register with a dependency on behalf of `cx`'s waker.
    pub(crate) fn waker<'w>(&'w mut self, cx: &'w Context<'_>) -> &'w Waker {
        if is_own_parker(cx.waker()) {
            return cx.waker();
        }
        let current = match &self.inner {
            Some(inner) => inner.0.will_wake(cx.waker()),
            None => false,
        };
        if !current {
            // Clone outside any lock (this is user code). The old wrapper,
            // if still registered somewhere, keeps the old waker alive until
            // the dependency replaces it; when the dependency drops its
            // last reference, that drop is deferred (see `Shielded`).
            let inner = Arc::new(Shielded(ManuallyDrop::new(cx.waker().clone())));
            self.wrapper = Some(Waker::from(inner.clone()));
            self.inner = Some(inner);
        }
        self.wrapper.as_ref().expect("set above")
    }
}

impl fmt::Debug for Shield {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shield")
            .field("armed", &self.inner.is_some())
            .finish()
    }
}

/// The caller's waker inside a [`Shield`].
struct Shielded(ManuallyDrop<Waker>);

impl Wake for Shielded {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // Inside one of our sections: queue a reference (our own count, no
        // user code); the section wakes it once it has ended, with no lock
        // held. Outside: the dependency calls us under its own lock
        // (async-lock waking a relocker from an unlock in user code), so
        // hand the wake to the wake thread.
        if !in_section() || push_other(Deferred::WakeShielded(self.clone())).is_some() {
            // (Or, in a thread-local destructor, the section's queue is gone.)
            wake_thread::wake_later(self.clone());
        }
    }
}

impl Drop for Shielded {
    fn drop(&mut self) {
        // SAFETY: taken exactly once, here, in the destructor.
        let waker = unsafe { ManuallyDrop::take(&mut self.0) };
        drop_deferred(waker);
    }
}

/// The one thread that runs wakes handed over by a dependency's listener
/// list from outside our sections (see [`Shielded`]): started on first
/// use, it sleeps until given a wake, so it costs nothing while no
/// dependency wakes a shielded waiter from an unlock of its own. (Under
/// loom, which cannot model a lazily started thread, and if no thread can
/// be started, such a wake runs inline.)
mod wake_thread;

/// The `named_future!` macro: every public future is a `Timed<Op>` under
/// a name of its own.
mod named;
pub(crate) use named::named_future;
