//! Hostile input: wakers that panic or re-enter the primitive from `wake()`
//! (and, in the last section, from `clone()` and `drop()` as well),
//! panicking actions and predicates, extreme counts and zero timeouts.
//! Each case either works or fails with a clear error, and leaves the
//! primitive usable (no corrupted state, no deadlock).

#![cfg(not(loom))]

mod common;

use common::*;
use rallypoint::future::{BarrierWait, EventWait};
use rallypoint::{
    AcquireTimeoutError, Barrier, BarrierWaitResult, BrokenBarrierError, BrokenReason, Condition,
    Condvar, Event, Mutex as AsyncMutex, PopError, PriorityQueue, PushError, Queue, Semaphore,
    SemaphorePermit, SemaphorePermitArc, Stack, TryAcquireError,
};
use std::cell::Cell;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Wake, Waker};
use std::time::{Duration, Instant};

/// A waker that runs a closure on every wake.
struct FnWaker(Mutex<Box<dyn FnMut() + Send>>);

impl Wake for FnWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        (self.0.lock().unwrap_or_else(|e| e.into_inner()))();
    }
}

fn waker(f: impl FnMut() + Send + 'static) -> Waker {
    Waker::from(Arc::new(FnWaker(Mutex::new(Box::new(f)))))
}

fn poll_with<F: Future + Unpin>(f: &mut F, w: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(w))
}

/// Runs `f` under the watchdog: a deadlock fails the test instead of hanging.
fn guarded(f: impl FnOnce() + Send + 'static) {
    blocking(f);
}

// ---- wakers that panic ----------------------------------------------------

#[test]
fn panicking_waker_event() {
    guarded(|| {
        let event = Arc::new(Event::new());
        let mut bad = event.wait();
        let mut good = event.wait();
        assert!(poll_with(&mut bad, &waker(|| panic!("waker exploded"))).is_pending());
        assert!(poll_once(&mut good).is_pending());
        // The panic reaches the caller of set()…
        let err = catch_unwind(AssertUnwindSafe(|| event.set())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"waker exploded"));
        // …after the state change, and every other waiter still completes.
        assert!(event.is_set());
        assert_eq!(poll_once(&mut good), Poll::Ready(()));
        assert_eq!(poll_once(&mut bad), Poll::Ready(()));
        drop((bad, good));
        // The event keeps working.
        event.clear();
        let mut again = event.wait();
        assert!(poll_once(&mut again).is_pending());
        event.set();
        assert_eq!(poll_once(&mut again), Poll::Ready(()));
        event.wait_blocking();
    });
}

/// Several wakes sent in one critical section, the first and third of
/// which panic: every waker after each panicking one is still woken, once,
/// and the first panic is the one the caller sees.
#[test]
fn panicking_wakers_do_not_stop_the_wakes_after_them() {
    guarded(|| {
        let event = Arc::new(Event::new());
        let woken = Arc::new(AtomicUsize::new(0));
        let mut waits: Vec<EventWait<'_>> = (0..5).map(|_| event.wait()).collect();
        for (i, wait) in waits.iter_mut().enumerate() {
            let woken = woken.clone();
            let w = match i {
                0 => waker(|| panic!("first")),
                2 => waker(|| panic!("third")),
                _ => waker(move || {
                    woken.fetch_add(1, Ordering::SeqCst);
                }),
            };
            assert!(poll_with(wait, &w).is_pending());
        }
        let err = catch_unwind(AssertUnwindSafe(|| event.set())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"first"));
        assert_eq!(
            woken.load(Ordering::SeqCst),
            3,
            "each non-panicking waker once"
        );
        for wait in &mut waits {
            assert_eq!(poll_once(wait), Poll::Ready(()));
        }
    });
}

/// A waker whose `wake` re-enters another primitive and wakes a waiter
/// there runs that wake inside its own call, and only that one: the wakers
/// queued after it by the same `set()` run once it has returned, in order.
#[test]
fn a_reentrant_wake_runs_only_what_it_queued() {
    guarded(|| {
        let first = Arc::new(Event::new());
        let second = Arc::new(Event::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let note = |what: &'static str| {
            let log = log.clone();
            move || log.lock().unwrap().push(what)
        };
        // Waits on `second`, woken from inside the first waker below.
        let mut inner = second.wait();
        assert!(poll_with(&mut inner, &waker(note("inner"))).is_pending());
        let mut waits: Vec<EventWait<'_>> = (0..3).map(|_| first.wait()).collect();
        let (log2, second2) = (log.clone(), second.clone());
        let wakers = [
            waker(move || {
                log2.lock().unwrap().push("a begins");
                second2.set();
                log2.lock().unwrap().push("a ends");
            }),
            waker(note("b")),
            waker(note("c")),
        ];
        for (wait, w) in waits.iter_mut().zip(&wakers) {
            assert!(poll_with(wait, w).is_pending());
        }
        first.set();
        assert_eq!(
            *log.lock().unwrap(),
            ["a begins", "inner", "a ends", "b", "c"]
        );
        for wait in &mut waits {
            assert_eq!(poll_once(wait), Poll::Ready(()));
        }
        assert_eq!(poll_once(&mut inner), Poll::Ready(()));
    });
}

#[test]
fn panicking_waker_semaphore() {
    guarded(|| {
        let sem = Semaphore::new(0);
        let mut bad = sem.acquire();
        let mut next = sem.acquire();
        assert!(poll_with(&mut bad, &waker(|| panic!("waker exploded"))).is_pending());
        assert!(poll_once(&mut next).is_pending());
        let err = catch_unwind(AssertUnwindSafe(|| sem.release(1).unwrap())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"waker exploded"));
        // The permit was granted to `bad` all the same; dropping it passes
        // the permit to `next`. Nothing is lost or duplicated.
        drop(bad);
        let Poll::Ready(Ok(permit)) = poll_once(&mut next) else {
            panic!("permit lost")
        };
        drop(permit);
        drop(next);
        assert_eq!(sem.available_permits(), 1);
        assert!(sem.try_acquire().is_ok());
    });
}

#[test]
fn panicking_waker_queue() {
    guarded(|| {
        let q = Queue::unbounded();
        let mut bad = q.pop();
        let mut next = q.pop();
        assert!(poll_with(&mut bad, &waker(|| panic!("waker exploded"))).is_pending());
        assert!(poll_once(&mut next).is_pending());
        let err = catch_unwind(AssertUnwindSafe(|| q.push_blocking(1).unwrap())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"waker exploded"));
        // The item is in (set aside for `bad`); dropping `bad` passes it on.
        drop(bad);
        assert_eq!(poll_once(&mut next), Poll::Ready(Ok(1)));
        drop(next);
        q.push_blocking(2).unwrap();
        assert_eq!(q.try_pop(), Ok(2));
        assert!(q.is_empty());
    });
}

#[test]
fn panicking_waker_barrier() {
    guarded(|| {
        let barrier = Barrier::new(2);
        let mut bad = barrier.wait();
        assert!(poll_with(&mut bad, &waker(|| panic!("waker exploded"))).is_pending());
        let err = catch_unwind(AssertUnwindSafe(|| barrier.wait_blocking())).unwrap_err();
        assert_eq!(err.downcast_ref::<&str>(), Some(&"waker exploded"));
        // The generation tripped: the other party is released with its rank.
        assert!(matches!(poll_once(&mut bad), Poll::Ready(Ok(r)) if r.index() == 0));
        assert_eq!(barrier.n_waiting(), 0);
        assert!(!barrier.is_broken());
        let mut a = barrier.wait();
        assert!(poll_once(&mut a).is_pending());
        assert!(barrier.wait_blocking().unwrap().is_leader());
        assert!(poll_once(&mut a).is_ready());
    });
}

// ---- wakers that re-enter the primitive -----------------------------------

#[test]
fn reentrant_waker_event() {
    guarded(|| {
        let event = Arc::new(Event::new());
        let seen = Arc::new(AtomicUsize::new(0));
        let w = {
            let (event, seen) = (event.clone(), seen.clone());
            waker(move || {
                // Every method, from inside wake().
                if event.is_set() {
                    seen.fetch_add(1, Ordering::SeqCst);
                }
                event.clear();
                event.set();
                let _ = format!("{event:?}");
                let mut w = event.wait();
                let _ = poll_once(&mut w);
            })
        };
        let mut f = event.wait();
        assert!(poll_with(&mut f, &w).is_pending());
        event.set();
        assert_eq!(seen.load(Ordering::SeqCst), 1);
        assert_eq!(poll_with(&mut f, &w), Poll::Ready(()));
    });
}

#[test]
fn reentrant_waker_barrier() {
    guarded(|| {
        let barrier = Arc::new(Barrier::new(2));
        let seen = Arc::new(Mutex::new(None));
        let w = {
            let (barrier, seen) = (barrier.clone(), seen.clone());
            waker(move || {
                *seen.lock().unwrap() = Some((barrier.n_waiting(), barrier.is_broken()));
                let _ = format!("{barrier:?}");
            })
        };
        let mut f = barrier.wait();
        assert!(poll_with(&mut f, &w).is_pending());
        assert!(barrier.wait_blocking().unwrap().is_leader());
        assert_eq!(*seen.lock().unwrap(), Some((0, false)));
        assert!(matches!(poll_with(&mut f, &w), Poll::Ready(Ok(_))));
        // A waker that aborts the barrier it is woken by.
        let w = {
            let barrier = barrier.clone();
            waker(move || barrier.abort())
        };
        let mut f = barrier.wait();
        assert!(poll_with(&mut f, &w).is_pending());
        barrier.reset();
        assert!(barrier.is_broken(), "the waker aborted the barrier");
        assert!(matches!(poll_with(&mut f, &w), Poll::Ready(Err(_))));
    });
}

#[test]
fn reentrant_waker_semaphore() {
    guarded(|| {
        let sem = Arc::new(Semaphore::new(0));
        let w = {
            let sem = sem.clone();
            waker(move || {
                let _ = sem.available_permits();
                let _ = format!("{sem:?}");
                // Releasing from inside wake() hands a permit to the next waiter.
                sem.release(1).unwrap();
            })
        };
        let mut first = sem.acquire();
        let mut second = sem.acquire();
        assert!(poll_with(&mut first, &w).is_pending());
        assert!(poll_once(&mut second).is_pending());
        sem.release(1).unwrap();
        let Poll::Ready(Ok(p1)) = poll_once(&mut first) else {
            panic!()
        };
        let Poll::Ready(Ok(p2)) = poll_once(&mut second) else {
            panic!()
        };
        drop((p1, p2));
        assert_eq!(sem.available_permits(), 2);
    });
}

#[test]
fn reentrant_waker_queue() {
    guarded(|| {
        let q = Arc::new(Queue::bounded(4));
        let w = {
            let q = q.clone();
            waker(move || {
                let _ = q.len();
                let _ = format!("{q:?}");
                let _ = q.try_push(100);
            })
        };
        let mut pop = q.pop();
        assert!(poll_with(&mut pop, &w).is_pending());
        q.push_blocking(1).unwrap();
        assert_eq!(poll_with(&mut pop, &w), Poll::Ready(Ok(1)));
        assert_eq!(q.try_pop(), Ok(100));
    });
}

#[test]
fn reentrant_waker_condition() {
    guarded(|| {
        let cond = Arc::new(Condition::new(0u32));
        let w = {
            let cond = cond.clone();
            waker(move || {
                let _ = cond.notify_all();
                let _ = format!("{cond:?}");
            })
        };
        let guard = cond.lock_blocking();
        let mut wait = guard.wait();
        assert!(poll_with(&mut wait, &w).is_pending());
        assert!(cond.notify_one());
        let Poll::Ready(guard) = poll_with(&mut wait, &w) else {
            panic!("not woken")
        };
        drop(guard);
        assert!(cond.try_lock().is_some());
    });
}

// ---- panics in user code ---------------------------------------------------

#[test]
fn panic_holding_condition_guard_leaves_it_usable() {
    let cond = Arc::new(Condition::new(vec![1]));
    let c = cond.clone();
    let r = std::thread::spawn(move || {
        let mut g = c.lock_blocking();
        g.push(2);
        panic!("while holding the guard");
    })
    .join();
    assert!(r.is_err());
    // No poisoning (async-lock's Mutex has none): the guard was released and
    // the data is as the panicking thread left it.
    assert_eq!(*cond.lock_blocking(), vec![1, 2]);
}

#[test]
fn panicking_predicate_releases_the_lock() {
    let cond = Condition::new(0);
    let r = catch_unwind(AssertUnwindSafe(|| {
        let g = cond.lock_blocking();
        let _g = g.wait_while_blocking(|_| panic!("predicate"));
    }));
    assert!(r.is_err());
    assert!(cond.try_lock().is_some());
}

// ---- extreme counts and zero timeouts --------------------------------------

#[test]
fn huge_counts() {
    // A capacity of usize::MAX must not allocate it up front.
    let q: Queue<u8> = Queue::bounded(usize::MAX);
    assert_eq!(q.capacity(), Some(usize::MAX));
    q.try_push(1).unwrap();
    assert_eq!(q.try_pop(), Ok(1));
    let s: Stack<u8> = Stack::bounded(usize::MAX);
    assert!(!s.is_full());
    // The largest semaphore; release beyond it is an error, not an overflow.
    let sem = Semaphore::new(Semaphore::MAX_PERMITS);
    assert!(sem.release(1).is_err());
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    let p = sem.try_acquire_many(Semaphore::MAX_PERMITS).unwrap();
    assert!(matches!(sem.try_acquire(), Err(TryAcquireError::NoPermits)));
    drop(p);
    assert_eq!(sem.available_permits(), Semaphore::MAX_PERMITS);
    // More than could ever exist: fails at once, never waits forever.
    let small = Semaphore::bounded(3);
    assert!(small.acquire_many_blocking(usize::MAX).is_err());
    // A barrier of usize::MAX parties is fine to build and to abort.
    let b = Barrier::new(usize::MAX);
    let mut w = b.wait();
    assert!(poll_once(&mut w).is_pending());
    b.abort();
    assert!(poll_once(&mut w).is_ready());
    // notify(usize::MAX) is notify_all.
    let cond = Condition::new(());
    assert_eq!(cond.notify(usize::MAX), 0);
}

#[test]
#[should_panic(expected = "MAX_PERMITS")]
fn semaphore_beyond_max_panics_clearly() {
    let _ = Semaphore::new(usize::MAX);
}

#[test]
fn zero_timeouts_never_wait() {
    guarded(|| {
        let t = std::time::Instant::now();
        let e = Event::new();
        assert!(!e.wait_timeout_blocking(Duration::ZERO));
        let sem = Semaphore::new(0);
        assert!(sem.acquire_timeout_blocking(Duration::ZERO).is_err());
        let q: Queue<u8> = Queue::bounded(1);
        assert!(q.pop_timeout_blocking(Duration::ZERO).is_err());
        q.try_push(1).unwrap();
        assert!(q.push_timeout_blocking(2, Duration::ZERO).is_err());
        assert!(!q.join_timeout_blocking(Duration::ZERO));
        let cond = Condition::new(());
        let (_g, r) = cond.lock_blocking().wait_timeout_blocking(Duration::ZERO);
        assert!(r.timed_out());
        let mutex = Arc::new(AsyncMutex::new(()));
        let _held = mutex.lock_blocking();
        assert!(mutex.lock_timeout_blocking(Duration::ZERO).is_none());
        assert!(mutex.lock_arc_timeout_blocking(Duration::ZERO).is_none());
        assert!(t.elapsed() < Duration::from_secs(5));
        // Closed containers report Closed, not Timeout, even with zero time.
        q.close();
        assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Ok(1));
        assert!(matches!(q.push_blocking(3), Err(PushError::Closed(3))));
        assert_eq!(q.pop_blocking(), Err(PopError));
    });
}

// ---- wakers whose clone, wake or drop re-enter the primitive ---------------
//
// SPEC: "A waker's `wake`, `clone` and `drop` are all user code: none of
// them may run while rallypoint (or a dependency) holds a lock. A waker
// whose `drop` re-enters the primitive (releases a permit, pushes, sets the
// event) must work."
//
// `Hostile` makes wakers on a hand-written `RawWakerVTable` (the `Wake`
// trait cannot hook `clone`) that run a hook on every clone, every wake or
// wake_by_ref, and every drop of any copy, and count them. The hooks
// re-enter the very primitive instance the waker is registered with.
//
// Scenarios, for each waiting operation:
// (a) `register`: the first poll that returns Pending keeps a clone;
// (b) `repoll_old` / `repoll_new`: a re-poll with a new waker replaces the
//     stored one, dropping the old (`repoll_old_*`: the old waker's drop
//     re-enters) and cloning the new (`repoll_new_*`: its clone re-enters);
// (c) `cancel`: dropping the pending future drops the stored waker;
// (d) `expire`: a `_timeout` future's deadline (20 ms) passes while pending;
// (e) `wake`: another party completes the wait while the waker is stored.
//
// Hooks are armed only around the step under test (`Hostile::arm` and
// `disarm`), so a failure names the step that ran user code under a lock.
// They run only on the test's own thread (see `guarded_for`): futures-timer's
// shared helper thread also wakes and drops copies (those registered with a
// `_timeout` future's timer), and a hook blocked there behind a deadlocked
// test would stall the timers of every later test.
//
// Where an implementation may legitimately go either way (a permit released
// by a hook may complete the wait at once or on a later poll), both are
// accepted; what is always checked is conservation afterwards (permits
// returned, every item popped exactly once or still inside, the barrier and
// the event usable, the condition unlocked), that the wait completes when it
// should, and that every copy of every hostile waker was dropped exactly once.

/// Seconds a hostile-waker test may run before it counts as deadlocked.
const HOOK_WATCHDOG_SECS: u64 = 10;
/// How long a wait that must complete is polled before the test fails.
const HOOK_PATIENCE: Duration = Duration::from_secs(5);
/// A deadline that is never meant to pass (the `_timeout` form of a wait,
/// in the scenarios other than `expire`).
const LONG: Duration = Duration::from_secs(60);
/// The deadline of the `expire` scenario.
const SHORT: Duration = Duration::from_millis(20);

thread_local! {
    /// Set on the thread running a test body under [`guarded_for`]: hooks run
    /// there only.
    static HOOK_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on its own thread and fails the test if it has not finished
/// after `secs` seconds (like `common::with_watchdog`, with a short limit so
/// that a deadlock fails fast; the hung thread is leaked).
fn guarded_for(secs: u64, f: impl FnOnce() + Send + 'static) {
    let limit = if MIRI {
        WATCHDOG
    } else {
        Duration::from_secs(secs)
    };
    let name = std::thread::current()
        .name()
        .unwrap_or("hostile waker test")
        .to_string();
    with_watchdog_for(
        &name,
        limit,
        "a deadlock (a waker hook re-entered the primitive while a lock was held)",
        move || {
            HOOK_THREAD.with(|home| home.set(true));
            f();
        },
    );
}

/// Declares `#[test]`s, each running its body under [`guarded_for`].
macro_rules! hook_tests {
    ($($name:ident => $body:expr;)*) => {
        $(
            #[test]
            fn $name() {
                guarded_for(HOOK_WATCHDOG_SECS, move || $body);
            }
        )*
    };
}

type Hook = Box<dyn Fn() + Send + Sync>;

/// What a hostile waker shares between all its copies.
struct Hooks {
    on_clone: Hook,
    on_wake: Hook,
    on_drop: Hook,
    armed: AtomicBool,
    /// Wakers made by [`Hostile::waker`] (each an original, not a clone).
    created: AtomicUsize,
    clones: AtomicUsize,
    wakes: AtomicUsize,
    drops: AtomicUsize,
}

// Copies of a waker may be used, cloned and dropped on any thread.
const _: fn() = || {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Hooks>();
};

impl Hooks {
    fn fire(&self, hook: &Hook) {
        let home = HOOK_THREAD.try_with(Cell::get).unwrap_or(false);
        if home && self.armed.load(Ordering::SeqCst) {
            hook();
        }
    }
}

// The four functions below share one contract: `data` is a pointer returned
// by `Arc::<Hooks>::into_raw`, and every waker (every `RawWaker` with this
// vtable) owns exactly one strong count of that `Arc`. `clone` makes a new
// count for the new waker, `wake` and `drop` give the waker's count back,
// and `wake_by_ref` leaves it alone.
static HOSTILE_VTABLE: RawWakerVTable = RawWakerVTable::new(
    hostile_clone,
    hostile_wake,
    hostile_wake_by_ref,
    hostile_drop,
);

unsafe fn hostile_clone(data: *const ()) -> RawWaker {
    let ptr = data.cast::<Hooks>();
    // SAFETY: the waker being cloned is borrowed for the whole call and owns
    // a strong count (the contract above), so the `Hooks` are alive.
    let hooks = unsafe { &*ptr };
    hooks.fire(&hooks.on_clone);
    // SAFETY: as above, the count is at least one while we run; the new
    // count belongs to the returned `RawWaker`. (Taken after the hook, so a
    // panicking hook leaks nothing.)
    unsafe { Arc::increment_strong_count(ptr) };
    hooks.clones.fetch_add(1, Ordering::SeqCst);
    RawWaker::new(data, &HOSTILE_VTABLE)
}

unsafe fn hostile_wake(data: *const ()) {
    // SAFETY: `wake` consumes the waker: its strong count is taken back into
    // this `Arc` and released when it goes out of scope, after both hooks
    // (even if one panics).
    let hooks = unsafe { Arc::from_raw(data.cast::<Hooks>()) };
    hooks.fire(&hooks.on_wake);
    hooks.wakes.fetch_add(1, Ordering::SeqCst);
    hooks.fire(&hooks.on_drop);
    hooks.drops.fetch_add(1, Ordering::SeqCst);
}

unsafe fn hostile_wake_by_ref(data: *const ()) {
    // SAFETY: the waker is borrowed for the whole call and owns a strong
    // count, so the `Hooks` are alive; the count is left as it is.
    let hooks = unsafe { &*data.cast::<Hooks>() };
    hooks.fire(&hooks.on_wake);
    hooks.wakes.fetch_add(1, Ordering::SeqCst);
}

unsafe fn hostile_drop(data: *const ()) {
    // SAFETY: the waker being dropped owns one strong count; taking it back
    // into an `Arc` releases it exactly once, at the end of this function,
    // after the hook (which may still read the `Hooks`).
    let hooks = unsafe { Arc::from_raw(data.cast::<Hooks>()) };
    hooks.fire(&hooks.on_drop);
    hooks.drops.fetch_add(1, Ordering::SeqCst);
}

/// A handle on a set of hooks: makes wakers that run them, arms and disarms
/// them, and reads the counters. Holds no waker itself.
#[derive(Clone)]
struct Hostile(Arc<Hooks>);

struct HostileBuilder {
    on_clone: Hook,
    on_wake: Hook,
    on_drop: Hook,
    armed: bool,
}

impl HostileBuilder {
    fn on_clone(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_clone = Box::new(hook);
        self
    }

    fn on_wake(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_wake = Box::new(hook);
        self
    }

    fn on_drop(mut self, hook: impl Fn() + Send + Sync + 'static) -> Self {
        self.on_drop = Box::new(hook);
        self
    }

    /// Starts disarmed: the hooks do nothing until [`Hostile::arm`].
    fn disarmed(mut self) -> Self {
        self.armed = false;
        self
    }

    fn build(self) -> Hostile {
        Hostile(Arc::new(Hooks {
            on_clone: self.on_clone,
            on_wake: self.on_wake,
            on_drop: self.on_drop,
            armed: AtomicBool::new(self.armed),
            created: AtomicUsize::new(0),
            clones: AtomicUsize::new(0),
            wakes: AtomicUsize::new(0),
            drops: AtomicUsize::new(0),
        }))
    }
}

impl Hostile {
    /// Hooks that do nothing until set; armed unless built `disarmed()`.
    fn builder() -> HostileBuilder {
        HostileBuilder {
            on_clone: Box::new(|| {}),
            on_wake: Box::new(|| {}),
            on_drop: Box::new(|| {}),
            armed: true,
        }
    }

    /// A new waker (an original, not a clone) running these hooks.
    fn waker(&self) -> Waker {
        self.0.created.fetch_add(1, Ordering::SeqCst);
        let data = Arc::into_raw(self.0.clone()).cast::<()>();
        // SAFETY: `data` comes from `Arc::into_raw` and its strong count is
        // handed to the new waker, as HOSTILE_VTABLE's contract requires;
        // `Hooks` is `Send + Sync`, so the waker may be used, cloned and
        // dropped on any thread.
        unsafe { Waker::from_raw(RawWaker::new(data, &HOSTILE_VTABLE)) }
    }

    fn arm(&self) {
        self.0.armed.store(true, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.0.armed.store(false, Ordering::SeqCst);
    }

    fn clones(&self) -> usize {
        self.0.clones.load(Ordering::SeqCst)
    }

    fn wakes(&self) -> usize {
        self.0.wakes.load(Ordering::SeqCst)
    }

    /// Copies (originals and clones) made and not dropped yet.
    fn live(&self) -> usize {
        let made = self.0.created.load(Ordering::SeqCst) + self.clones();
        let dropped = self.0.drops.load(Ordering::SeqCst);
        assert!(
            dropped <= made,
            "{dropped} copies dropped, only {made} ever made"
        );
        made - dropped
    }

    /// Waits until every copy ever made has been dropped exactly once (a
    /// copy registered with futures-timer is dropped by its helper thread,
    /// a moment later). Call after dropping the futures and the originals.
    fn assert_all_dropped(&self) {
        let start = Instant::now();
        while self.live() > 0 {
            assert!(
                start.elapsed() < HOOK_PATIENCE,
                "{} copies of the waker leaked ({} made, {} clones)",
                self.live(),
                self.0.created.load(Ordering::SeqCst),
                self.clones()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Waits until the waker has been woken at least once.
    fn assert_woken(&self) {
        let start = Instant::now();
        while self.wakes() == 0 {
            assert!(
                start.elapsed() < HOOK_PATIENCE,
                "the stored waker was never woken"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// Counts what hooks did (permits they released, ...).
#[derive(Clone, Default)]
struct Tally(Arc<AtomicUsize>);

impl Tally {
    fn add(&self, n: usize) {
        self.0.fetch_add(n, Ordering::SeqCst);
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `fut` with `w` until it completes, calling `help` after every
/// Pending (to supply what the wait needs, if nothing else did), and fails
/// after [`HOOK_PATIENCE`]. Polls in a loop, so it does not depend on the
/// waker being woken.
fn drive<F: Future + Unpin>(fut: &mut F, w: &Waker, mut help: impl FnMut()) -> F::Output {
    let start = Instant::now();
    loop {
        if let Poll::Ready(out) = poll_with(fut, w) {
            return out;
        }
        assert!(start.elapsed() < HOOK_PATIENCE, "the wait never completed");
        help();
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// [`drive`] with no help.
fn poll_until_ready<F: Future + Unpin>(fut: &mut F, w: &Waker) -> F::Output {
    drive(fut, w, || {})
}

/// The output of a first poll, or of driving on if it was Pending.
fn first_or_drive<F: Future + Unpin>(
    first: Poll<F::Output>,
    fut: &mut F,
    w: &Waker,
    help: impl FnMut(),
) -> F::Output {
    match first {
        Poll::Ready(out) => out,
        Poll::Pending => drive(fut, w, help),
    }
}

/// (d) Settles a `_timeout` future (deadline [`SHORT`]) that was made
/// before `made` and first polled with the result `polled`: lets the
/// deadline pass *without polling*, then polls once, which must settle it
/// (the engine checks the deadline before it polls its timer again).
///
/// Not polled meanwhile because futures-timer's `AtomicWaker::register`
/// clones the new waker and drops the previous copy on every poll (no
/// `will_wake` check): outside any lock, so harmless, but it would run the
/// drop hook long before the deadline, and the hook's effect (a release, a
/// `set()`) would complete the wait early, so the wait would not time out.
fn settle_after_deadline<F: Future + Unpin>(
    polled: Poll<F::Output>,
    fut: &mut F,
    w: &Waker,
    made: Instant,
) -> F::Output {
    if let Poll::Ready(out) = polled {
        return out; // a slow first poll already saw the deadline pass
    }
    let deadline = made + SHORT;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        std::thread::sleep(left);
    }
    match poll_with(fut, w) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("polled after its deadline, the wait is still pending"),
    }
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Why a wait failed, for every primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failed {
    Closed,
    Timeout,
}

#[test]
fn hostile_waker_counts_every_copy() {
    guarded_for(HOOK_WATCHDOG_SECS, || {
        let (clones, wakes, drops) = (Tally::default(), Tally::default(), Tally::default());
        let h = {
            let (c, w, d) = (clones.clone(), wakes.clone(), drops.clone());
            Hostile::builder()
                .on_clone(move || c.add(1))
                .on_wake(move || w.add(1))
                .on_drop(move || d.add(1))
                .build()
        };
        let w = h.waker();
        let copies: Vec<Waker> = (0..3).map(|_| w.clone()).collect();
        copies[0].wake_by_ref();
        let mut copies = copies.into_iter();
        copies.next().unwrap().wake(); // a wake that consumes: also a drop
        assert_eq!((clones.get(), wakes.get(), drops.get()), (3, 2, 1));
        assert_eq!(h.live(), 3);
        drop(copies);
        h.disarm();
        drop(w.clone());
        assert_eq!((clones.get(), drops.get()), (3, 3));
        drop(w);
        h.assert_all_dropped();
        assert_eq!((h.clones(), h.wakes()), (4, 2));
        // Hooks run on the test's thread only.
        h.arm();
        let w = h.waker();
        std::thread::spawn(move || drop(w.clone())).join().unwrap();
        assert_eq!((clones.get(), drops.get()), (3, 3));
        h.assert_all_dropped();
    });
}

/// Runs `a`, then `b`.
fn both(
    a: impl Fn() + Send + Sync + 'static,
    b: impl Fn() + Send + Sync + 'static,
) -> impl Fn() + Send + Sync + 'static {
    move || {
        a();
        b();
    }
}

// ---- ... on a Semaphore -------------------------------------------------

/// The permits a completed acquire holds, whichever front-end made it.
#[derive(Debug)]
enum Held<'a> {
    Ref(SemaphorePermit<'a>),
    Arc(SemaphorePermitArc),
}

impl Held<'_> {
    fn permits(&self) -> usize {
        match self {
            Held::Ref(p) => p.num_permits(),
            Held::Arc(p) => p.num_permits(),
        }
    }
}

/// Which acquire front-end a test drives (and its `_timeout` form).
#[derive(Clone, Copy, Debug)]
enum Acquire {
    /// `acquire()` / `acquire_timeout(d)`.
    One,
    /// `acquire_many(2)` / `acquire_many_timeout(2, d)`.
    Many,
    /// `acquire_arc()` / `acquire_arc_timeout(d)`.
    Arc,
}

fn acquire_failure(e: AcquireTimeoutError) -> Failed {
    if e.is_timeout() {
        Failed::Timeout
    } else {
        Failed::Closed
    }
}

impl Acquire {
    fn n(self) -> usize {
        match self {
            Acquire::Many => 2,
            Acquire::One | Acquire::Arc => 1,
        }
    }

    fn start(
        self,
        sem: &Arc<Semaphore>,
        timeout: Option<Duration>,
    ) -> BoxFut<'_, Result<Held<'_>, Failed>> {
        let closed = |_| Failed::Closed;
        match (self, timeout) {
            (Acquire::One, None) => {
                let f = sem.acquire();
                Box::pin(async move { f.await.map(Held::Ref).map_err(closed) })
            }
            (Acquire::Many, None) => {
                let f = sem.acquire_many(2);
                Box::pin(async move { f.await.map(Held::Ref).map_err(closed) })
            }
            (Acquire::Arc, None) => {
                let f = sem.acquire_arc();
                Box::pin(async move { f.await.map(Held::Arc).map_err(closed) })
            }
            (Acquire::One, Some(d)) => {
                let f = sem.acquire_timeout(d);
                Box::pin(async move { f.await.map(Held::Ref).map_err(acquire_failure) })
            }
            (Acquire::Many, Some(d)) => {
                let f = sem.acquire_many_timeout(2, d);
                Box::pin(async move { f.await.map(Held::Ref).map_err(acquire_failure) })
            }
            (Acquire::Arc, Some(d)) => {
                let f = sem.acquire_arc_timeout(d);
                Box::pin(async move { f.await.map(Held::Arc).map_err(acquire_failure) })
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum SemHook {
    /// `release(1)`, counted in the tally when it succeeds.
    Release,
    /// `try_acquire()`; a permit it gets is given back at once (dropped).
    TryAcquire,
    Close,
}

fn sem_hook(
    sem: &Arc<Semaphore>,
    released: &Tally,
    hook: SemHook,
) -> impl Fn() + Send + Sync + 'static {
    let (sem, released) = (sem.clone(), released.clone());
    move || match hook {
        SemHook::Release => {
            if sem.release(1).is_ok() {
                released.add(1);
            }
        }
        SemHook::TryAcquire => drop(sem.try_acquire()),
        SemHook::Close => sem.close(),
    }
}

/// Help for a waiting acquire of `n`: release what is missing, counted in
/// `by_test`.
fn top_up(sem: &Semaphore, n: usize, by_test: &Tally) {
    let have = sem.available_permits();
    if have < n && !sem.is_closed() {
        sem.release(n - have).unwrap();
        by_test.add(n - have);
    }
}

/// Conservation: with every future and permit gone, the semaphore (made
/// with 0 permits) holds exactly the permits released since.
fn assert_permits(sem: &Semaphore, released: &Tally, by_test: &Tally) {
    assert_eq!(
        sem.available_permits(),
        released.get() + by_test.get(),
        "permits lost or duplicated"
    );
}

/// (a) The first poll queues the waiter with a clone of the waker.
fn sem_register(kind: Acquire, hook: SemHook) {
    let sem = Arc::new(Semaphore::new(0));
    let (released, by_test) = (Tally::default(), Tally::default());
    let h = Hostile::builder()
        .on_clone(sem_hook(&sem, &released, hook))
        .build();
    let w = h.waker();
    let mut fut = kind.start(&sem, None);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(
            h.clones() > 0,
            "a pending acquire keeps a clone of the waker"
        );
    }
    let out = first_or_drive(polled, &mut fut, &w, || top_up(&sem, kind.n(), &by_test));
    match hook {
        SemHook::Close => {
            assert_eq!(out.unwrap_err(), Failed::Closed);
            assert!(sem.is_closed());
        }
        SemHook::Release | SemHook::TryAcquire => {
            assert_eq!(out.expect("granted").permits(), kind.n());
        }
    }
    drop(fut);
    drop(w);
    h.assert_all_dropped();
    assert_permits(&sem, &released, &by_test);
}

/// (b) Re-polling with another waker: `old_drop` runs when the stored
/// clone of the first waker is dropped, `new_clone` when the second waker
/// is cloned in its place.
fn sem_repoll(kind: Acquire, old_drop: Option<SemHook>, new_clone: Option<SemHook>) {
    let sem = Arc::new(Semaphore::new(0));
    let (released, by_test) = (Tally::default(), Tally::default());
    let mut a = Hostile::builder().disarmed();
    if let Some(hook) = old_drop {
        a = a.on_drop(sem_hook(&sem, &released, hook));
    }
    let a = a.build();
    let mut b = Hostile::builder();
    if let Some(hook) = new_clone {
        b = b.on_clone(sem_hook(&sem, &released, hook));
    }
    let b = b.build();
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = kind.start(&sem, None);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    let out = first_or_drive(polled, &mut fut, &wb, || top_up(&sem, kind.n(), &by_test));
    assert_eq!(out.expect("granted").permits(), kind.n());
    drop(fut);
    drop(wb);
    a.assert_all_dropped();
    b.assert_all_dropped();
    assert_permits(&sem, &released, &by_test);
}

/// (c) Dropping the queued acquire drops the stored waker; a second waiter
/// queued behind it sees what the drop hook did.
fn sem_cancel(kind: Acquire, hook: SemHook) {
    let sem = Arc::new(Semaphore::new(0));
    let (released, by_test) = (Tally::default(), Tally::default());
    let h = Hostile::builder()
        .on_drop(sem_hook(&sem, &released, hook))
        .build();
    let w = h.waker();
    let mut fut = kind.start(&sem, None);
    assert!(poll_with(&mut fut, &w).is_pending());
    let mut next = sem.acquire();
    assert!(poll_once(&mut next).is_pending());
    drop(fut);
    h.disarm();
    match hook {
        SemHook::Close => {
            assert!(
                sem.is_closed(),
                "the stored waker was dropped by the cancel"
            );
            assert!(poll_until_ready(&mut next, Waker::noop()).is_err());
        }
        SemHook::Release | SemHook::TryAcquire => {
            assert!(
                released.get() > 0,
                "the stored waker was dropped by the cancel"
            );
            // The permit released by the drop goes to the next waiter.
            let permit = poll_until_ready(&mut next, Waker::noop()).expect("granted");
            assert_eq!(permit.num_permits(), 1);
        }
    }
    drop(next);
    drop(w);
    h.assert_all_dropped();
    assert_permits(&sem, &released, &by_test);
}

/// (d) The deadline passes while queued: withdrawing drops the stored waker.
fn sem_expire(kind: Acquire, hook: SemHook) {
    let sem = Arc::new(Semaphore::new(0));
    let released = Tally::default();
    let h = Hostile::builder()
        .on_drop(sem_hook(&sem, &released, hook))
        .build();
    let w = h.waker();
    let mut fut = kind.start(&sem, Some(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    let out = settle_after_deadline(polled, &mut fut, &w, made);
    h.disarm();
    match (hook, &out) {
        (_, Err(Failed::Timeout)) | (SemHook::Close, Err(Failed::Closed)) => {}
        // A permit released by a hook raced with the deadline.
        (SemHook::Release, Ok(held)) => assert_eq!(held.permits(), kind.n()),
        _ => panic!("unexpected outcome {out:?}"),
    }
    drop(out);
    drop(fut);
    drop(w);
    h.assert_all_dropped();
    assert_permits(&sem, &released, &Tally::default());
}

/// (e) A release (or close) serves the queued waiter while its waker is
/// stored: the wake and the drop of the woken copy re-enter.
fn sem_wake(kind: Acquire, close: bool) {
    let sem = Arc::new(Semaphore::new(0));
    let (released, by_test) = (Tally::default(), Tally::default());
    let h = Hostile::builder()
        .on_wake(both(
            sem_hook(&sem, &released, SemHook::TryAcquire),
            sem_hook(&sem, &released, SemHook::Release),
        ))
        .on_drop(sem_hook(&sem, &released, SemHook::Release))
        .disarmed()
        .build();
    let w = h.waker();
    let mut fut = kind.start(&sem, None);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    if close {
        sem.close();
    } else {
        sem.release(kind.n()).unwrap();
        by_test.add(kind.n());
    }
    h.assert_woken();
    h.disarm();
    let out = drive(&mut fut, &w, || top_up(&sem, kind.n(), &by_test));
    if close {
        assert_eq!(out.unwrap_err(), Failed::Closed);
    } else {
        assert_eq!(out.expect("granted").permits(), kind.n());
    }
    drop(fut);
    drop(w);
    h.assert_all_dropped();
    assert_permits(&sem, &released, &by_test);
}

mod semaphore_hooks {
    use super::*;

    hook_tests! {
        acquire_register_clone_releases => sem_register(Acquire::One, SemHook::Release);
        acquire_register_clone_try_acquires => sem_register(Acquire::One, SemHook::TryAcquire);
        acquire_register_clone_closes => sem_register(Acquire::One, SemHook::Close);
        acquire_repoll_old_drop_releases => sem_repoll(Acquire::One, Some(SemHook::Release), None);
        acquire_repoll_new_clone_releases => sem_repoll(Acquire::One, None, Some(SemHook::Release));
        acquire_cancel_drop_releases => sem_cancel(Acquire::One, SemHook::Release);
        acquire_cancel_drop_closes => sem_cancel(Acquire::One, SemHook::Close);
        acquire_timeout_expire_drop_releases => sem_expire(Acquire::One, SemHook::Release);
        acquire_timeout_expire_drop_closes => sem_expire(Acquire::One, SemHook::Close);
        acquire_wake_by_release => sem_wake(Acquire::One, false);
        acquire_wake_by_close => sem_wake(Acquire::One, true);

        acquire_many_register_clone_releases => sem_register(Acquire::Many, SemHook::Release);
        acquire_many_register_clone_try_acquires => sem_register(Acquire::Many, SemHook::TryAcquire);
        acquire_many_register_clone_closes => sem_register(Acquire::Many, SemHook::Close);
        acquire_many_repoll_old_drop_releases => sem_repoll(Acquire::Many, Some(SemHook::Release), None);
        acquire_many_repoll_new_clone_releases => sem_repoll(Acquire::Many, None, Some(SemHook::Release));
        acquire_many_cancel_drop_releases => sem_cancel(Acquire::Many, SemHook::Release);
        acquire_many_cancel_drop_closes => sem_cancel(Acquire::Many, SemHook::Close);
        acquire_many_timeout_expire_drop_releases => sem_expire(Acquire::Many, SemHook::Release);
        acquire_many_timeout_expire_drop_closes => sem_expire(Acquire::Many, SemHook::Close);
        acquire_many_wake_by_release => sem_wake(Acquire::Many, false);
        acquire_many_wake_by_close => sem_wake(Acquire::Many, true);

        acquire_arc_register_clone_releases => sem_register(Acquire::Arc, SemHook::Release);
        acquire_arc_register_clone_try_acquires => sem_register(Acquire::Arc, SemHook::TryAcquire);
        acquire_arc_register_clone_closes => sem_register(Acquire::Arc, SemHook::Close);
        acquire_arc_repoll_old_drop_releases => sem_repoll(Acquire::Arc, Some(SemHook::Release), None);
        acquire_arc_repoll_new_clone_releases => sem_repoll(Acquire::Arc, None, Some(SemHook::Release));
        acquire_arc_cancel_drop_releases => sem_cancel(Acquire::Arc, SemHook::Release);
        acquire_arc_cancel_drop_closes => sem_cancel(Acquire::Arc, SemHook::Close);
        acquire_arc_timeout_expire_drop_releases => sem_expire(Acquire::Arc, SemHook::Release);
        acquire_arc_timeout_expire_drop_closes => sem_expire(Acquire::Arc, SemHook::Close);
        acquire_arc_wake_by_release => sem_wake(Acquire::Arc, false);
        acquire_arc_wake_by_close => sem_wake(Acquire::Arc, true);
    }
}

/// A `Wake`-trait waker that runs a closure when its last copy is dropped
/// (the waker of the issue report).
struct OnDrop<F: Fn() + Send + Sync>(F);

impl<F: Fn() + Send + Sync> Wake for OnDrop<F> {
    fn wake(self: Arc<Self>) {}
}

impl<F: Fn() + Send + Sync> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

#[test]
fn issue_example_semaphore_drop_reenters() {
    guarded_for(HOOK_WATCHDOG_SECS, || {
        let sem = Arc::new(Semaphore::new(0));
        let s2 = sem.clone();
        let w = Waker::from(Arc::new(OnDrop(move || {
            let _ = s2.release(1);
        })));
        let mut fut = Box::pin(sem.acquire());
        assert!(fut.as_mut().poll(&mut Context::from_waker(&w)).is_pending());
        drop(w);
        // Re-polling with another waker replaces (drops) the stored one under the lock:
        let _ = fut.as_mut().poll(&mut Context::from_waker(Waker::noop())); // deadlock

        // The permit the drop released went to this (only) waiter. If that
        // poll did not already return it (and drop it, through `let _`),
        // the next one does.
        if sem.available_permits() == 0 {
            let permit = poll_until_ready(&mut fut, Waker::noop()).expect("granted");
            assert_eq!(sem.available_permits(), 0);
            drop(permit);
        }
        drop(fut);
        assert_eq!(sem.available_permits(), 1);
    });
}

/// A waker owning a permit, given back when its last copy is dropped.
struct ReleaseOnDrop {
    _permit: Option<SemaphorePermitArc>,
}

impl Wake for ReleaseOnDrop {
    fn wake(self: Arc<Self>) {}
}

/// tokio's `release_permits_at_drop` (tokio/src/sync/tests/semaphore_batch.rs),
/// ported: replacing the stored waker drops it, which releases a permit.
#[test]
fn tokio_release_permits_at_drop() {
    guarded_for(HOOK_WATCHDOG_SECS, || {
        let sem = Arc::new(Semaphore::new(1));
        let mut fut = Box::pin(async {
            let _permit = sem.acquire().await.unwrap();
        });
        let mut done = false;
        // Second iteration shouldn't deadlock.
        for i in 0..=1 {
            let waker = Waker::from(Arc::new(ReleaseOnDrop {
                _permit: sem.try_acquire_arc().ok(),
            }));
            let mut cx = Context::from_waker(&waker);
            let polled = fut.as_mut().poll(&mut cx);
            // tokio asserts Pending twice; the second poll may as well
            // return Ready here, if the permit the replaced waker released
            // reached the waiter before the poll returned.
            if i == 0 {
                assert!(polled.is_pending());
            } else {
                done = polled.is_ready();
            }
        }
        if !done {
            poll_until_ready(&mut fut, Waker::noop());
        }
        drop(fut);
        assert_eq!(sem.available_permits(), 1);
    });
}

// ---- ... on an Event ----------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum EvWait {
    Wait,
    WaitTimeout(Duration),
}

/// Starts a wait; its output is `true` when released by `set()`.
fn ev_start(ev: &Event, kind: EvWait) -> BoxFut<'_, bool> {
    match kind {
        EvWait::Wait => {
            let f = ev.wait();
            Box::pin(async move {
                f.await;
                true
            })
        }
        EvWait::WaitTimeout(d) => Box::pin(ev.wait_timeout(d)),
    }
}

#[derive(Clone, Copy, Debug)]
enum EvHook {
    Set,
    Clear,
    /// `is_set()` and `Debug`.
    Reads,
    /// Starts a wait of its own on the same event, polls it once and drops it.
    OtherWait,
}

fn ev_hook(ev: &Arc<Event>, hook: EvHook) -> impl Fn() + Send + Sync + 'static {
    let ev = ev.clone();
    move || match hook {
        EvHook::Set => ev.set(),
        EvHook::Clear => ev.clear(),
        EvHook::Reads => {
            let _ = ev.is_set();
            let _ = format!("{ev:?}");
        }
        EvHook::OtherWait => {
            let mut other = ev.wait();
            let _ = poll_once(&mut other);
        }
    }
}

/// A waiter with a no-op waker, queued first so that a `set()` has someone
/// to wake and must take the event's lock.
fn ev_queued(ev: &Event) -> EventWait<'_> {
    let mut first = ev.wait();
    assert!(poll_once(&mut first).is_pending());
    first
}

fn assert_event_usable(ev: &Event) {
    ev.clear();
    assert!(!ev.is_set());
    let mut w = ev.wait();
    assert!(poll_once(&mut w).is_pending());
    ev.set();
    assert!(ev.is_set());
    assert_eq!(poll_once(&mut w), Poll::Ready(()));
    assert!(ev.wait_timeout_blocking(Duration::from_secs(1)));
}

/// (a) The first poll queues the waiter with a clone of the waker.
fn ev_register(kind: EvWait, hook: EvHook) {
    let ev = Arc::new(Event::new());
    let mut first = ev_queued(&ev);
    let h = Hostile::builder().on_clone(ev_hook(&ev, hook)).build();
    let w = h.waker();
    let mut fut = ev_start(&ev, kind);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending wait keeps a clone of the waker");
    }
    assert!(
        first_or_drive(polled, &mut fut, &w, || ev.set()),
        "released by set(), not timed out"
    );
    assert_eq!(poll_once(&mut first), Poll::Ready(()));
    drop((fut, first, w));
    h.assert_all_dropped();
    assert_event_usable(&ev);
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn ev_repoll(kind: EvWait, old_drop: Option<EvHook>, new_clone: Option<EvHook>) {
    let ev = Arc::new(Event::new());
    let mut first = ev_queued(&ev);
    let mut a = Hostile::builder().disarmed();
    if let Some(hook) = old_drop {
        a = a.on_drop(ev_hook(&ev, hook));
    }
    let a = a.build();
    let mut b = Hostile::builder();
    if let Some(hook) = new_clone {
        b = b.on_clone(ev_hook(&ev, hook));
    }
    let b = b.build();
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = ev_start(&ev, kind);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    assert!(first_or_drive(polled, &mut fut, &wb, || ev.set()));
    assert_eq!(poll_once(&mut first), Poll::Ready(()));
    drop((fut, first, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    assert_event_usable(&ev);
}

/// (c) Dropping the pending wait drops the stored waker.
fn ev_cancel(kind: EvWait, hook: EvHook) {
    let ev = Arc::new(Event::new());
    let mut first = ev_queued(&ev);
    let h = Hostile::builder().on_drop(ev_hook(&ev, hook)).build();
    let w = h.waker();
    let mut fut = ev_start(&ev, kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    drop(fut);
    h.disarm();
    if matches!(hook, EvHook::Set) {
        assert!(ev.is_set(), "the stored waker was dropped by the cancel");
    } else {
        ev.set();
    }
    assert_eq!(poll_once(&mut first), Poll::Ready(()));
    drop((first, w));
    h.assert_all_dropped();
    assert_event_usable(&ev);
}

/// (d) The deadline passes: the waiter is dequeued and its waker dropped.
fn ev_expire(hook: EvHook) {
    let ev = Arc::new(Event::new());
    let mut first = ev_queued(&ev);
    let h = Hostile::builder().on_drop(ev_hook(&ev, hook)).build();
    let w = h.waker();
    let mut fut = ev_start(&ev, EvWait::WaitTimeout(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    let set = settle_after_deadline(polled, &mut fut, &w, made);
    drop(fut);
    h.disarm();
    match hook {
        // `set` may be either: the drop hook's set() may land before the
        // wait's last check. Either way the stored waker was dropped.
        EvHook::Set => assert!(ev.is_set(), "the stored waker was dropped"),
        _ => assert!(!set, "nobody set the event: the wait timed out"),
    }
    ev.set();
    assert_eq!(poll_once(&mut first), Poll::Ready(()));
    drop((first, w));
    h.assert_all_dropped();
    assert_event_usable(&ev);
}

/// (e) `set()` releases the waiter while its waker is stored; the wake
/// clears the event and starts another wait, the drop sets it again.
fn ev_wake(kind: EvWait) {
    let ev = Arc::new(Event::new());
    let h = Hostile::builder()
        .on_wake(both(
            ev_hook(&ev, EvHook::Clear),
            ev_hook(&ev, EvHook::OtherWait),
        ))
        .on_drop(both(ev_hook(&ev, EvHook::Reads), ev_hook(&ev, EvHook::Set)))
        .disarmed()
        .build();
    let w = h.waker();
    let mut fut = ev_start(&ev, kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    ev.set();
    h.assert_woken();
    h.disarm();
    // Released by that set() even if a hook cleared the event since.
    assert!(poll_until_ready(&mut fut, &w));
    drop((fut, w));
    h.assert_all_dropped();
    assert_event_usable(&ev);
}

mod event_hooks {
    use super::*;

    const TIMED: EvWait = EvWait::WaitTimeout(LONG);

    hook_tests! {
        wait_register_clone_sets => ev_register(EvWait::Wait, EvHook::Set);
        wait_register_clone_waits => ev_register(EvWait::Wait, EvHook::OtherWait);
        wait_register_clone_reads => ev_register(EvWait::Wait, EvHook::Reads);
        wait_repoll_old_drop_sets => ev_repoll(EvWait::Wait, Some(EvHook::Set), None);
        wait_repoll_old_drop_waits => ev_repoll(EvWait::Wait, Some(EvHook::OtherWait), None);
        wait_repoll_new_clone_sets => ev_repoll(EvWait::Wait, None, Some(EvHook::Set));
        wait_repoll_new_clone_waits => ev_repoll(EvWait::Wait, None, Some(EvHook::OtherWait));
        wait_cancel_drop_sets => ev_cancel(EvWait::Wait, EvHook::Set);
        wait_cancel_drop_waits => ev_cancel(EvWait::Wait, EvHook::OtherWait);
        wait_wake_hooks_clear_wait_and_set => ev_wake(EvWait::Wait);

        wait_timeout_register_clone_sets => ev_register(TIMED, EvHook::Set);
        wait_timeout_register_clone_waits => ev_register(TIMED, EvHook::OtherWait);
        wait_timeout_register_clone_reads => ev_register(TIMED, EvHook::Reads);
        wait_timeout_repoll_old_drop_sets => ev_repoll(TIMED, Some(EvHook::Set), None);
        wait_timeout_repoll_old_drop_waits => ev_repoll(TIMED, Some(EvHook::OtherWait), None);
        wait_timeout_repoll_new_clone_sets => ev_repoll(TIMED, None, Some(EvHook::Set));
        wait_timeout_repoll_new_clone_waits => ev_repoll(TIMED, None, Some(EvHook::OtherWait));
        wait_timeout_cancel_drop_sets => ev_cancel(TIMED, EvHook::Set);
        wait_timeout_cancel_drop_waits => ev_cancel(TIMED, EvHook::OtherWait);
        wait_timeout_wake_hooks_clear_wait_and_set => ev_wake(TIMED);
        wait_timeout_expire_drop_sets => ev_expire(EvHook::Set);
        wait_timeout_expire_drop_waits => ev_expire(EvHook::OtherWait);
    }
}

// ---- ... on a Barrier ---------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum BarWait {
    Wait,
    WaitTimeout(Duration),
}

fn bar_start(b: &Barrier, kind: BarWait) -> BarrierWait<'_> {
    match kind {
        BarWait::Wait => b.wait(),
        BarWait::WaitTimeout(d) => b.wait_timeout(d),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BarHook {
    /// `n_waiting()`, `is_broken()` and `Debug`: reads, which lock.
    Reads,
    Abort,
    Reset,
}

fn bar_hook(b: &Arc<Barrier>, hook: BarHook) -> impl Fn() + Send + Sync + 'static {
    let b = b.clone();
    move || match hook {
        BarHook::Reads => {
            let _ = (b.n_waiting(), b.is_broken());
            let _ = format!("{b:?}");
        }
        BarHook::Abort => b.abort(),
        BarHook::Reset => b.reset(),
    }
}

type BarOut = Result<BarrierWaitResult, BrokenBarrierError>;

impl BarHook {
    /// What the parties waiting when the hook ran are told.
    fn reason(self) -> BrokenReason {
        match self {
            BarHook::Reads => unreachable!("reads break nothing"),
            BarHook::Abort => BrokenReason::Aborted,
            BarHook::Reset => BrokenReason::Reset,
        }
    }
}

/// A fresh party arrives last: it trips the barrier, as its leader.
fn arrive_last(b: &Barrier) {
    let mut last = b.wait();
    match poll_once(&mut last) {
        Poll::Ready(Ok(r)) => assert!(r.is_leader()),
        other => panic!("the last party did not trip the barrier: {other:?}"),
    }
}

/// The barrier is empty, unbroken, and a full generation trips normally.
fn assert_barrier_usable(b: &Barrier) {
    assert!(!b.is_broken());
    assert_eq!(b.n_waiting(), 0);
    let mut waits: Vec<BarrierWait<'_>> = (1..b.parties()).map(|_| b.wait()).collect();
    for (i, w) in waits.iter_mut().enumerate() {
        assert!(poll_once(w).is_pending());
        assert_eq!(b.n_waiting(), i + 1);
    }
    arrive_last(b);
    for (i, w) in waits.iter_mut().enumerate() {
        match poll_once(w) {
            Poll::Ready(Ok(r)) => assert_eq!((r.index(), r.is_leader()), (i, false)),
            other => panic!("party {i} not released: {other:?}"),
        }
    }
    assert_eq!(b.n_waiting(), 0);
}

/// Finishes a lone party of a 2-party barrier after `hook` ran while it
/// waited: `Reads` changed nothing, so the barrier trips when the other
/// party arrives; `Abort` and `Reset` broke its generation.
fn bar_finish(
    b: &Barrier,
    hook: BarHook,
    polled: Poll<BarOut>,
    fut: &mut BarrierWait<'_>,
    w: &Waker,
) {
    match hook {
        BarHook::Reads => {
            assert!(polled.is_pending(), "one party of two: {polled:?}");
            arrive_last(b);
            let r = poll_until_ready(fut, w).expect("released by the trip");
            assert_eq!((r.index(), r.is_leader()), (0, false));
        }
        BarHook::Abort | BarHook::Reset => {
            assert_eq!(
                first_or_drive(polled, fut, w, || {}),
                Err(hook.reason().into())
            );
            assert_eq!(b.is_broken(), hook == BarHook::Abort);
            b.reset();
        }
    }
}

/// (a) The first poll records the arrival with a clone of the waker.
fn bar_register(kind: BarWait, hook: BarHook) {
    let b = Arc::new(Barrier::new(2));
    let h = Hostile::builder().on_clone(bar_hook(&b, hook)).build();
    let w = h.waker();
    let mut fut = bar_start(&b, kind);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending wait keeps a clone of the waker");
    }
    bar_finish(&b, hook, polled, &mut fut, &w);
    drop((fut, w));
    h.assert_all_dropped();
    assert_barrier_usable(&b);
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn bar_repoll(kind: BarWait, old_drop: Option<BarHook>, new_clone: Option<BarHook>) {
    let b = Arc::new(Barrier::new(2));
    let mut a = Hostile::builder().disarmed();
    if let Some(hook) = old_drop {
        a = a.on_drop(bar_hook(&b, hook));
    }
    let a = a.build();
    let mut nb = Hostile::builder();
    if let Some(hook) = new_clone {
        nb = nb.on_clone(bar_hook(&b, hook));
    }
    let nb = nb.build();
    let (wa, wb) = (a.waker(), nb.waker());
    let mut fut = bar_start(&b, kind);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    nb.disarm();
    let hook = old_drop.or(new_clone).unwrap_or(BarHook::Reads);
    bar_finish(&b, hook, polled, &mut fut, &wb);
    drop((fut, wb));
    a.assert_all_dropped();
    nb.assert_all_dropped();
    assert_barrier_usable(&b);
}

/// (c) Dropping the pending wait withdraws the party and drops its waker.
fn bar_cancel(kind: BarWait, hook: BarHook) {
    let b = Arc::new(Barrier::new(3));
    let mut other = b.wait();
    assert!(poll_once(&mut other).is_pending());
    let h = Hostile::builder().on_drop(bar_hook(&b, hook)).build();
    let w = h.waker();
    let mut fut = bar_start(&b, kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    assert_eq!(b.n_waiting(), 2);
    drop(fut);
    h.disarm();
    match hook {
        BarHook::Reads => {
            assert_eq!(b.n_waiting(), 1, "the cancelled party withdrew");
            assert!(!b.is_broken());
            let mut second = b.wait();
            assert!(poll_once(&mut second).is_pending());
            arrive_last(&b);
            assert!(matches!(poll_once(&mut other), Poll::Ready(Ok(r)) if r.index() == 0));
            assert!(matches!(poll_once(&mut second), Poll::Ready(Ok(r)) if r.index() == 1));
        }
        BarHook::Abort | BarHook::Reset => {
            // The drop hook broke the other party's generation.
            assert_eq!(
                poll_once(&mut other),
                Poll::Ready(Err(hook.reason().into()))
            );
            assert_eq!(b.is_broken(), hook == BarHook::Abort);
            b.reset();
        }
    }
    drop((other, w));
    h.assert_all_dropped();
    assert_barrier_usable(&b);
}

/// (d) The deadline passes: the party withdraws (dropping its waker) and
/// breaks the barrier.
fn bar_expire(hook: BarHook) {
    let b = Arc::new(Barrier::new(2));
    let h = Hostile::builder().on_drop(bar_hook(&b, hook)).build();
    let w = h.waker();
    let mut fut = b.wait_timeout(SHORT);
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    assert_eq!(
        settle_after_deadline(polled, &mut fut, &w, made),
        Err(BrokenReason::TimedOut.into())
    );
    drop(fut);
    h.disarm();
    assert!(b.is_broken(), "a timed-out wait breaks the barrier");
    // Later waits are told another party timed out, even where the
    // waker's drop then aborted the broken barrier: the first reason stays.
    assert_eq!(b.wait_blocking(), Err(BrokenReason::PartyTimedOut.into()));
    b.reset();
    drop(w);
    h.assert_all_dropped();
    assert_barrier_usable(&b);
}

/// (d), the other side: a second party's deadline passes and breaks the
/// generation, which settles (and wakes) the hostile party.
fn bar_other_expires(kind: BarWait) {
    let b = Arc::new(Barrier::new(3));
    let h = Hostile::builder()
        .on_clone(bar_hook(&b, BarHook::Reads))
        .on_drop(bar_hook(&b, BarHook::Reads))
        .disarmed()
        .build();
    let w = h.waker();
    let mut fut = bar_start(&b, kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    let mut timed = b.wait_timeout(SHORT);
    assert_eq!(
        poll_until_ready(&mut timed, Waker::noop()),
        Err(BrokenReason::TimedOut.into())
    );
    h.assert_woken();
    assert_eq!(
        poll_until_ready(&mut fut, &w),
        Err(BrokenReason::PartyTimedOut.into())
    );
    h.disarm();
    assert!(b.is_broken());
    b.reset();
    drop((fut, timed, w));
    h.assert_all_dropped();
    assert_barrier_usable(&b);
}

#[derive(Clone, Copy, Debug)]
enum Step {
    Clone,
    Wake,
    Drop,
}

/// (e) The last party arrives while the hostile party's waker is stored;
/// the hook runs on that `step` (clone and drop: reads; wake: abort).
fn bar_wake(kind: BarWait, step: Step) {
    let b = Arc::new(Barrier::new(2));
    let builder = Hostile::builder().disarmed();
    let h = match step {
        Step::Clone => builder.on_clone(bar_hook(&b, BarHook::Reads)),
        Step::Wake => builder.on_wake(bar_hook(&b, BarHook::Abort)),
        Step::Drop => builder.on_drop(bar_hook(&b, BarHook::Reads)),
    }
    .build();
    let w = h.waker();
    let mut fut = bar_start(&b, kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    arrive_last(&b);
    h.assert_woken();
    // Released by the trip (even if the wake hook aborted the next generation).
    let r = poll_until_ready(&mut fut, &w).expect("released by the trip");
    h.disarm();
    assert_eq!((r.index(), r.is_leader()), (0, false));
    if matches!(step, Step::Wake) {
        assert!(b.is_broken(), "the wake hook aborted the barrier");
        b.reset();
    }
    drop((fut, w));
    h.assert_all_dropped();
    assert_barrier_usable(&b);
}

/// A party that arrives while the barrier's action runs waits to enter the
/// next generation (a separate list of wakers): its clone re-enters.
fn bar_entering_during_action() {
    let cell: Arc<OnceLock<&'static Barrier>> = Arc::default();
    let slot: Arc<Mutex<Option<BarrierWait<'static>>>> = Arc::default();
    let h = {
        let cell = cell.clone();
        Hostile::builder()
            .on_clone(move || {
                if let Some(b) = cell.get() {
                    let _ = (b.n_waiting(), b.is_broken());
                }
            })
            .disarmed()
            .build()
    };
    let action = {
        let (cell, slot, h) = (cell.clone(), slot.clone(), h.clone());
        let started = AtomicBool::new(false);
        move || {
            if started.swap(true, Ordering::SeqCst) {
                return;
            }
            let b = cell.get().expect("barrier built");
            let mut entering = b.wait();
            let w = h.waker();
            h.arm();
            assert!(poll_with(&mut entering, &w).is_pending());
            h.disarm();
            *slot.lock().unwrap() = Some(entering);
        }
    };
    // Leaked: the action (which holds a handle on the hooks, not a waker)
    // needs the barrier for `'static`.
    let b: &'static Barrier = Box::leak(Box::new(Barrier::builder(2).action(action).build()));
    assert!(cell.set(b).is_ok());
    let mut first = b.wait();
    assert!(poll_once(&mut first).is_pending());
    arrive_last(b);
    assert!(matches!(poll_once(&mut first), Poll::Ready(Ok(r)) if r.index() == 0));
    let mut entering = slot
        .lock()
        .unwrap()
        .take()
        .expect("the action started a wait");
    h.assert_woken();
    let w = h.waker();
    // Now the first party of the next generation.
    assert!(poll_with(&mut entering, &w).is_pending());
    assert_eq!(b.n_waiting(), 1);
    arrive_last(b);
    assert!(matches!(poll_until_ready(&mut entering, &w), Ok(r) if r.index() == 0));
    drop((first, entering, w));
    h.assert_all_dropped();
    assert_barrier_usable(b);
}

mod barrier_hooks {
    use super::*;

    const TIMED: BarWait = BarWait::WaitTimeout(LONG);

    hook_tests! {
        wait_register_clone_reads => bar_register(BarWait::Wait, BarHook::Reads);
        wait_register_clone_aborts => bar_register(BarWait::Wait, BarHook::Abort);
        wait_repoll_old_drop_reads => bar_repoll(BarWait::Wait, Some(BarHook::Reads), None);
        wait_repoll_old_drop_aborts => bar_repoll(BarWait::Wait, Some(BarHook::Abort), None);
        wait_repoll_new_clone_reads => bar_repoll(BarWait::Wait, None, Some(BarHook::Reads));
        wait_repoll_new_clone_resets => bar_repoll(BarWait::Wait, None, Some(BarHook::Reset));
        wait_cancel_drop_reads => bar_cancel(BarWait::Wait, BarHook::Reads);
        wait_cancel_drop_aborts => bar_cancel(BarWait::Wait, BarHook::Abort);
        wait_cancel_drop_resets => bar_cancel(BarWait::Wait, BarHook::Reset);
        wait_other_party_expires_clone_and_drop_read => bar_other_expires(BarWait::Wait);
        wait_wake_clone_reads => bar_wake(BarWait::Wait, Step::Clone);
        wait_wake_wake_aborts => bar_wake(BarWait::Wait, Step::Wake);
        wait_wake_drop_reads => bar_wake(BarWait::Wait, Step::Drop);
        wait_entering_during_action_clone_reads => bar_entering_during_action();

        wait_timeout_register_clone_reads => bar_register(TIMED, BarHook::Reads);
        wait_timeout_register_clone_aborts => bar_register(TIMED, BarHook::Abort);
        wait_timeout_repoll_old_drop_reads => bar_repoll(TIMED, Some(BarHook::Reads), None);
        wait_timeout_repoll_old_drop_aborts => bar_repoll(TIMED, Some(BarHook::Abort), None);
        wait_timeout_repoll_new_clone_reads => bar_repoll(TIMED, None, Some(BarHook::Reads));
        wait_timeout_repoll_new_clone_resets => bar_repoll(TIMED, None, Some(BarHook::Reset));
        wait_timeout_cancel_drop_reads => bar_cancel(TIMED, BarHook::Reads);
        wait_timeout_cancel_drop_aborts => bar_cancel(TIMED, BarHook::Abort);
        wait_timeout_cancel_drop_resets => bar_cancel(TIMED, BarHook::Reset);
        wait_timeout_other_party_expires_clone_and_drop_read => bar_other_expires(TIMED);
        wait_timeout_wake_clone_reads => bar_wake(TIMED, Step::Clone);
        wait_timeout_wake_wake_aborts => bar_wake(TIMED, Step::Wake);
        wait_timeout_wake_drop_reads => bar_wake(TIMED, Step::Drop);
        wait_timeout_expire_drop_reads => bar_expire(BarHook::Reads);
        wait_timeout_expire_drop_aborts => bar_expire(BarHook::Abort);
    }
}

// ---- ... on a Queue, Stack or PriorityQueue ------------------------------

/// The container API the tests need, for the three containers.
trait Container: Send + Sync + Sized + 'static {
    fn with_capacity(capacity: usize) -> Self;
    fn try_push_item(&self, item: u32) -> bool;
    fn try_pop_item(&self) -> Option<u32>;
    fn close_now(&self);
    fn len_now(&self) -> usize;
    fn task_done_now(&self) -> bool;
    fn unfinished(&self) -> usize;
    /// `pop()`, or `pop_timeout(d)`.
    fn pop_fut(&self, timeout: Option<Duration>) -> BoxFut<'_, Result<u32, Failed>>;
    /// `push(item)`, or `push_timeout(item, d)`; a failed push hands the item back.
    fn push_fut(
        &self,
        item: u32,
        timeout: Option<Duration>,
    ) -> BoxFut<'_, Result<(), (Failed, u32)>>;
    /// `join()` (output `true`), or `join_timeout(d)`.
    fn join_fut(&self, timeout: Option<Duration>) -> BoxFut<'_, bool>;
}

macro_rules! impl_container {
    ($($c:ident),*) => {$(
        impl Container for $c<u32> {
            fn with_capacity(capacity: usize) -> Self {
                $c::bounded(capacity)
            }
            fn try_push_item(&self, item: u32) -> bool {
                self.try_push(item).is_ok()
            }
            fn try_pop_item(&self) -> Option<u32> {
                self.try_pop().ok()
            }
            fn close_now(&self) {
                self.close();
            }
            fn len_now(&self) -> usize {
                self.len()
            }
            fn task_done_now(&self) -> bool {
                self.task_done().is_ok()
            }
            fn unfinished(&self) -> usize {
                self.unfinished_tasks()
            }
            fn pop_fut(&self, timeout: Option<Duration>) -> BoxFut<'_, Result<u32, Failed>> {
                match timeout {
                    None => {
                        let f = self.pop();
                        Box::pin(async move { f.await.map_err(|_| Failed::Closed) })
                    }
                    Some(d) => {
                        let f = self.pop_timeout(d);
                        Box::pin(async move {
                            f.await.map_err(|e| {
                                if e.is_timeout() { Failed::Timeout } else { Failed::Closed }
                            })
                        })
                    }
                }
            }
            fn push_fut(
                &self,
                item: u32,
                timeout: Option<Duration>,
            ) -> BoxFut<'_, Result<(), (Failed, u32)>> {
                match timeout {
                    None => {
                        let f = self.push(item);
                        Box::pin(async move { f.await.map_err(|e| (Failed::Closed, e.into_inner())) })
                    }
                    Some(d) => {
                        let f = self.push_timeout(item, d);
                        Box::pin(async move {
                            f.await.map_err(|e| {
                                let why = if e.is_timeout() { Failed::Timeout } else { Failed::Closed };
                                (why, e.into_inner())
                            })
                        })
                    }
                }
            }
            fn join_fut(&self, timeout: Option<Duration>) -> BoxFut<'_, bool> {
                match timeout {
                    None => {
                        let f = self.join();
                        Box::pin(async move {
                            f.await;
                            true
                        })
                    }
                    Some(d) => Box::pin(self.join_timeout(d)),
                }
            }
        }
    )*};
}

impl_container!(Queue, Stack, PriorityQueue);

/// Every item pushed into a container and every item taken out, by the test
/// or by a hook: at the end, every pushed item was popped exactly once.
#[derive(Clone, Default)]
struct Ledger(Arc<LedgerInner>);

#[derive(Default)]
struct LedgerInner {
    next: AtomicU32,
    pushed: Mutex<Vec<u32>>,
    popped: Mutex<Vec<u32>>,
}

impl Ledger {
    /// A new item, never pushed before.
    fn fresh(&self) -> u32 {
        self.0.next.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn pushed(&self, item: u32) {
        self.0.pushed.lock().unwrap().push(item);
    }

    fn popped(&self, item: u32) {
        self.0.popped.lock().unwrap().push(item);
    }

    /// `try_push`es a fresh item, recorded if it went in.
    fn push<C: Container>(&self, c: &C) -> bool {
        let item = self.fresh();
        let pushed = c.try_push_item(item);
        if pushed {
            self.pushed(item);
        }
        pushed
    }

    /// `try_pop`s an item, recorded if there was one.
    fn pop<C: Container>(&self, c: &C) -> Option<u32> {
        let item = c.try_pop_item()?;
        self.popped(item);
        Some(item)
    }

    /// Records a push future's outcome: `Ok` means its item went in; a
    /// failed push hands its own item back.
    fn settle_push(&self, item: u32, out: Result<(), (Failed, u32)>) -> Result<(), Failed> {
        match out {
            Ok(()) => {
                self.pushed(item);
                Ok(())
            }
            Err((why, back)) => {
                assert_eq!(back, item, "a failed push hands its own item back");
                Err(why)
            }
        }
    }

    /// Drains `c` (once every future is gone), then checks conservation.
    fn check<C: Container>(&self, c: &C) {
        while self.pop(c).is_some() {}
        assert_eq!(c.len_now(), 0, "items left that try_pop cannot reach");
        let mut pushed = self.0.pushed.lock().unwrap().clone();
        let mut popped = self.0.popped.lock().unwrap().clone();
        pushed.sort_unstable();
        popped.sort_unstable();
        assert_eq!(pushed, popped, "an item was lost or popped twice");
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CHook {
    /// `try_push` of a fresh item.
    Push,
    /// `try_pop`.
    Pop,
    Close,
    /// `len()`, which locks.
    Len,
    /// `task_done()`.
    TaskDone,
}

fn c_hook<C: Container>(
    c: &Arc<C>,
    ledger: &Ledger,
    hook: CHook,
) -> impl Fn() + Send + Sync + 'static {
    let (c, ledger) = (c.clone(), ledger.clone());
    move || match hook {
        CHook::Push => {
            ledger.push(&*c);
        }
        CHook::Pop => {
            ledger.pop(&*c);
        }
        CHook::Close => c.close_now(),
        CHook::Len => {
            let _ = c.len_now();
        }
        CHook::TaskDone => {
            let _ = c.task_done_now();
        }
    }
}

/// Help for a waiting pop: push an item if there is none.
fn feed<C: Container>(c: &C, ledger: &Ledger) {
    if c.len_now() == 0 {
        ledger.push(c);
    }
}

/// Help for a waiting push into a bounded(1) container: pop if it is full.
fn make_room<C: Container>(c: &C, ledger: &Ledger) {
    if c.len_now() > 0 {
        ledger.pop(c);
    }
}

/// Help for a waiting join: take every item out and mark every task done.
fn finish_tasks<C: Container>(c: &C, ledger: &Ledger) {
    while ledger.pop(c).is_some() {}
    while c.task_done_now() {}
}

/// A bounded(1) container, full.
fn full<C: Container>(ledger: &Ledger) -> Arc<C> {
    let c = Arc::new(C::with_capacity(1));
    assert!(ledger.push(&*c));
    c
}

/// A container with `n` unfinished tasks (`n` items pushed, then popped).
fn with_tasks<C: Container>(ledger: &Ledger, n: usize) -> Arc<C> {
    let c = Arc::new(C::with_capacity(8));
    for _ in 0..n {
        assert!(ledger.push(&*c));
    }
    for _ in 0..n {
        ledger.pop(&*c).expect("pushed");
    }
    assert_eq!(c.unfinished(), n);
    c
}

/// Hooks for a re-poll: `old_drop` on the first waker (armed once it was
/// stored), `new_clone` on the second.
fn repoll_pair(old_drop: Option<Hook>, new_clone: Option<Hook>) -> (Hostile, Hostile) {
    let mut a = Hostile::builder().disarmed();
    if let Some(hook) = old_drop {
        a.on_drop = hook;
    }
    let mut b = Hostile::builder();
    if let Some(hook) = new_clone {
        b.on_clone = hook;
    }
    (a.build(), b.build())
}

fn boxed(hook: impl Fn() + Send + Sync + 'static) -> Hook {
    Box::new(hook)
}

// pop

/// (a) The first poll queues the popper with a clone of the waker.
fn pop_register<C: Container>(timeout: Option<Duration>, hook: CHook) {
    let ledger = Ledger::default();
    let c = Arc::new(C::with_capacity(4));
    let h = Hostile::builder()
        .on_clone(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let mut fut = c.pop_fut(timeout);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending pop keeps a clone of the waker");
    }
    let out = first_or_drive(polled, &mut fut, &w, || feed(&*c, &ledger));
    if hook == CHook::Close {
        assert_eq!(out, Err(Failed::Closed));
    } else {
        ledger.popped(out.expect("an item"));
    }
    drop((fut, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn pop_repoll<C: Container>(
    timeout: Option<Duration>,
    old_drop: Option<CHook>,
    new_clone: Option<CHook>,
) {
    let ledger = Ledger::default();
    let c = Arc::new(C::with_capacity(4));
    let hook = |h: CHook| boxed(c_hook(&c, &ledger, h));
    let (a, b) = repoll_pair(old_drop.map(hook), new_clone.map(hook));
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = c.pop_fut(timeout);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    let out = first_or_drive(polled, &mut fut, &wb, || feed(&*c, &ledger));
    ledger.popped(out.expect("an item"));
    drop((fut, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    ledger.check(&*c);
}

/// (c) Dropping the pending pop drops the stored waker; a second popper
/// queued behind it gets what the drop hook did.
fn pop_cancel<C: Container>(timeout: Option<Duration>, hook: CHook) {
    let ledger = Ledger::default();
    let c = Arc::new(C::with_capacity(4));
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let mut fut = c.pop_fut(timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    let mut next = c.pop_fut(None);
    assert!(poll_once(&mut next).is_pending());
    drop(fut);
    h.disarm();
    // The item the drop hook pushed goes to the next popper; after a close
    // it finds the container closed.
    let out = poll_until_ready(&mut next, Waker::noop());
    if hook == CHook::Close {
        assert_eq!(out, Err(Failed::Closed));
    } else {
        ledger.popped(out.expect("the item pushed by the drop hook"));
    }
    drop((next, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (d) The deadline passes: the popper withdraws, dropping its waker.
fn pop_expire<C: Container>(hook: CHook) {
    let ledger = Ledger::default();
    let c = Arc::new(C::with_capacity(4));
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let mut fut = c.pop_fut(Some(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    match settle_after_deadline(polled, &mut fut, &w, made) {
        Err(Failed::Timeout) => {}
        // An item pushed by the hook raced with the deadline.
        Ok(item) => ledger.popped(item),
        Err(e) => panic!("unexpected {e:?}"),
    }
    drop(fut);
    h.disarm();
    drop(w);
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (e) A push serves the waiting popper while its waker is stored; the
/// wake tries to pop (barging) and reads the length, the drop pushes.
fn pop_wake<C: Container>(timeout: Option<Duration>) {
    let ledger = Ledger::default();
    let c = Arc::new(C::with_capacity(4));
    let h = Hostile::builder()
        .on_wake(both(
            c_hook(&c, &ledger, CHook::Pop),
            c_hook(&c, &ledger, CHook::Len),
        ))
        .on_drop(c_hook(&c, &ledger, CHook::Push))
        .disarmed()
        .build();
    let w = h.waker();
    let mut fut = c.pop_fut(timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    assert!(ledger.push(&*c));
    h.assert_woken();
    h.disarm();
    let out = drive(&mut fut, &w, || feed(&*c, &ledger));
    ledger.popped(out.expect("an item"));
    drop((fut, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

// push (into a full bounded(1) container)

/// (a) The first poll queues the pusher with a clone of the waker.
fn push_register<C: Container>(timeout: Option<Duration>, hook: CHook) {
    let ledger = Ledger::default();
    let c = full::<C>(&ledger);
    let h = Hostile::builder()
        .on_clone(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let item = ledger.fresh();
    let mut fut = c.push_fut(item, timeout);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending push keeps a clone of the waker");
    }
    let out = first_or_drive(polled, &mut fut, &w, || make_room(&*c, &ledger));
    let out = ledger.settle_push(item, out);
    if hook == CHook::Close {
        assert_eq!(out, Err(Failed::Closed));
    } else {
        assert_eq!(out, Ok(()));
    }
    drop((fut, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn push_repoll<C: Container>(
    timeout: Option<Duration>,
    old_drop: Option<CHook>,
    new_clone: Option<CHook>,
) {
    let ledger = Ledger::default();
    let c = full::<C>(&ledger);
    let hook = |h: CHook| boxed(c_hook(&c, &ledger, h));
    let (a, b) = repoll_pair(old_drop.map(hook), new_clone.map(hook));
    let (wa, wb) = (a.waker(), b.waker());
    let item = ledger.fresh();
    let mut fut = c.push_fut(item, timeout);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    let out = first_or_drive(polled, &mut fut, &wb, || make_room(&*c, &ledger));
    assert_eq!(ledger.settle_push(item, out), Ok(()));
    drop((fut, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    ledger.check(&*c);
}

/// (c) Dropping the pending push drops the stored waker (and its item,
/// never inserted); a second pusher queued behind it sees what the drop
/// hook did.
fn push_cancel<C: Container>(timeout: Option<Duration>, hook: CHook) {
    let ledger = Ledger::default();
    let c = full::<C>(&ledger);
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let mut fut = c.push_fut(ledger.fresh(), timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    let item = ledger.fresh();
    let mut next = c.push_fut(item, None);
    assert!(poll_once(&mut next).is_pending());
    drop(fut);
    h.disarm();
    // The slot the drop hook freed goes to the next pusher; after a close it
    // gets its item back.
    let out = ledger.settle_push(item, poll_until_ready(&mut next, Waker::noop()));
    if hook == CHook::Close {
        assert_eq!(out, Err(Failed::Closed));
    } else {
        assert_eq!(out, Ok(()));
    }
    drop((next, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (d) The deadline passes: the pusher withdraws, dropping its waker.
fn push_expire<C: Container>(hook: CHook) {
    let ledger = Ledger::default();
    let c = full::<C>(&ledger);
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let item = ledger.fresh();
    let mut fut = c.push_fut(item, Some(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    let out = ledger.settle_push(item, settle_after_deadline(polled, &mut fut, &w, made));
    // Ok only if a slot freed by the hook raced with the deadline.
    assert!(matches!(out, Ok(()) | Err(Failed::Timeout)), "{out:?}");
    drop(fut);
    h.disarm();
    drop(w);
    h.assert_all_dropped();
    ledger.check(&*c);
}

/// (e) A pop frees a slot for the waiting pusher while its waker is stored;
/// the wake tries to push (barging) and reads the length, the drop pops.
fn push_wake<C: Container>(timeout: Option<Duration>) {
    let ledger = Ledger::default();
    let c = full::<C>(&ledger);
    let h = Hostile::builder()
        .on_wake(both(
            c_hook(&c, &ledger, CHook::Push),
            c_hook(&c, &ledger, CHook::Len),
        ))
        .on_drop(c_hook(&c, &ledger, CHook::Pop))
        .disarmed()
        .build();
    let w = h.waker();
    let item = ledger.fresh();
    let mut fut = c.push_fut(item, timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    assert!(ledger.pop(&*c).is_some());
    h.assert_woken();
    h.disarm();
    let out = drive(&mut fut, &w, || make_room(&*c, &ledger));
    assert_eq!(ledger.settle_push(item, out), Ok(()));
    drop((fut, w));
    h.assert_all_dropped();
    ledger.check(&*c);
}

// join

/// Conservation after a join test: every task can still be finished, and
/// every item was popped exactly once.
fn join_check<C: Container>(c: &C, ledger: &Ledger) {
    finish_tasks(c, ledger);
    assert_eq!(c.unfinished(), 0);
    let mut join = c.join_fut(None);
    assert_eq!(poll_once(&mut join), Poll::Ready(true));
    drop(join);
    ledger.check(c);
}

/// (a) The first poll registers the join with a clone of the waker.
fn join_register<C: Container>(timeout: Option<Duration>, hook: CHook) {
    let ledger = Ledger::default();
    let c = with_tasks::<C>(&ledger, 1);
    let h = Hostile::builder()
        .on_clone(c_hook(&c, &ledger, hook))
        .build();
    let w = h.waker();
    let mut fut = c.join_fut(timeout);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending join keeps a clone of the waker");
    }
    assert!(first_or_drive(polled, &mut fut, &w, || finish_tasks(
        &*c, &ledger
    )));
    drop((fut, w));
    h.assert_all_dropped();
    join_check(&*c, &ledger);
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn join_repoll<C: Container>(
    timeout: Option<Duration>,
    old_drop: Option<CHook>,
    new_clone: Option<CHook>,
) {
    let ledger = Ledger::default();
    let c = with_tasks::<C>(&ledger, 1);
    let hook = |h: CHook| boxed(c_hook(&c, &ledger, h));
    let (a, b) = repoll_pair(old_drop.map(hook), new_clone.map(hook));
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = c.join_fut(timeout);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    assert!(first_or_drive(polled, &mut fut, &wb, || finish_tasks(
        &*c, &ledger
    )));
    drop((fut, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    join_check(&*c, &ledger);
}

/// (c) Dropping the pending join drops the stored waker, whose drop hook
/// marks the last task done.
fn join_cancel<C: Container>(timeout: Option<Duration>) {
    let ledger = Ledger::default();
    let c = with_tasks::<C>(&ledger, 1);
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, CHook::TaskDone))
        .build();
    let w = h.waker();
    let mut fut = c.join_fut(timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    drop(fut);
    h.disarm();
    assert_eq!(
        c.unfinished(),
        0,
        "the stored waker was dropped by the cancel"
    );
    drop(w);
    h.assert_all_dropped();
    join_check(&*c, &ledger);
}

/// (d) The deadline passes while tasks are unfinished.
fn join_expire<C: Container>() {
    let ledger = Ledger::default();
    let c = with_tasks::<C>(&ledger, 1);
    let h = Hostile::builder()
        .on_drop(c_hook(&c, &ledger, CHook::TaskDone))
        .build();
    let w = h.waker();
    let mut fut = c.join_fut(Some(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    // `true` only if a drop hook's task_done raced with the deadline.
    let _done = settle_after_deadline(polled, &mut fut, &w, made);
    drop(fut);
    h.disarm();
    drop(w);
    h.assert_all_dropped();
    join_check(&*c, &ledger);
}

/// (e) The last `task_done()` releases the join while its waker is stored:
/// the hook runs on that `step` (clone: `hook`; wake: task_done and push;
/// drop: task_done).
fn join_wake<C: Container>(timeout: Option<Duration>, step: Step, hook: CHook) {
    let ledger = Ledger::default();
    let c = with_tasks::<C>(&ledger, 2);
    let builder = Hostile::builder().disarmed();
    let h = match step {
        Step::Clone => builder.on_clone(c_hook(&c, &ledger, hook)),
        Step::Wake => builder.on_wake(both(
            c_hook(&c, &ledger, CHook::TaskDone),
            c_hook(&c, &ledger, CHook::Push),
        )),
        Step::Drop => builder.on_drop(c_hook(&c, &ledger, CHook::TaskDone)),
    }
    .build();
    let w = h.waker();
    let mut fut = c.join_fut(timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    assert!(c.task_done_now());
    assert!(c.task_done_now());
    h.assert_woken();
    h.disarm();
    // Released by the last task_done even if a hook pushed again since.
    assert!(poll_until_ready(&mut fut, &w));
    drop((fut, w));
    h.assert_all_dropped();
    join_check(&*c, &ledger);
}

macro_rules! container_hook_tests {
    ($module:ident, $c:ty) => {
        mod $module {
            use super::*;

            const TIMED: Option<Duration> = Some(LONG);

            hook_tests! {
                pop_register_clone_pushes => pop_register::<$c>(None, CHook::Push);
                pop_register_clone_reads_len => pop_register::<$c>(None, CHook::Len);
                pop_register_clone_closes => pop_register::<$c>(None, CHook::Close);
                pop_repoll_old_drop_pushes => pop_repoll::<$c>(None, Some(CHook::Push), None);
                pop_repoll_new_clone_reads_len => pop_repoll::<$c>(None, None, Some(CHook::Len));
                pop_cancel_drop_pushes => pop_cancel::<$c>(None, CHook::Push);
                pop_cancel_drop_closes => pop_cancel::<$c>(None, CHook::Close);
                pop_wake_hooks_pop_and_push => pop_wake::<$c>(None);

                pop_timeout_register_clone_pushes => pop_register::<$c>(TIMED, CHook::Push);
                pop_timeout_register_clone_reads_len => pop_register::<$c>(TIMED, CHook::Len);
                pop_timeout_register_clone_closes => pop_register::<$c>(TIMED, CHook::Close);
                pop_timeout_repoll_old_drop_pushes => pop_repoll::<$c>(TIMED, Some(CHook::Push), None);
                pop_timeout_repoll_new_clone_reads_len => pop_repoll::<$c>(TIMED, None, Some(CHook::Len));
                pop_timeout_cancel_drop_pushes => pop_cancel::<$c>(TIMED, CHook::Push);
                pop_timeout_cancel_drop_closes => pop_cancel::<$c>(TIMED, CHook::Close);
                pop_timeout_wake_hooks_pop_and_push => pop_wake::<$c>(TIMED);
                pop_timeout_expire_drop_pushes => pop_expire::<$c>(CHook::Push);

                push_register_clone_pops => push_register::<$c>(None, CHook::Pop);
                push_register_clone_reads_len => push_register::<$c>(None, CHook::Len);
                push_register_clone_closes => push_register::<$c>(None, CHook::Close);
                push_repoll_old_drop_pops => push_repoll::<$c>(None, Some(CHook::Pop), None);
                push_repoll_new_clone_reads_len => push_repoll::<$c>(None, None, Some(CHook::Len));
                push_cancel_drop_pops => push_cancel::<$c>(None, CHook::Pop);
                push_cancel_drop_closes => push_cancel::<$c>(None, CHook::Close);
                push_wake_hooks_push_and_pop => push_wake::<$c>(None);

                push_timeout_register_clone_pops => push_register::<$c>(TIMED, CHook::Pop);
                push_timeout_register_clone_reads_len => push_register::<$c>(TIMED, CHook::Len);
                push_timeout_register_clone_closes => push_register::<$c>(TIMED, CHook::Close);
                push_timeout_repoll_old_drop_pops => push_repoll::<$c>(TIMED, Some(CHook::Pop), None);
                push_timeout_repoll_new_clone_reads_len => push_repoll::<$c>(TIMED, None, Some(CHook::Len));
                push_timeout_cancel_drop_pops => push_cancel::<$c>(TIMED, CHook::Pop);
                push_timeout_cancel_drop_closes => push_cancel::<$c>(TIMED, CHook::Close);
                push_timeout_wake_hooks_push_and_pop => push_wake::<$c>(TIMED);
                push_timeout_expire_drop_pops => push_expire::<$c>(CHook::Pop);
            }
        }
    };
}

container_hook_tests!(queue_hooks, Queue<u32>);
container_hook_tests!(stack_hooks, Stack<u32>);
container_hook_tests!(priority_queue_hooks, PriorityQueue<u32>);

mod queue_join_hooks {
    use super::*;

    type Q = Queue<u32>;
    const TIMED: Option<Duration> = Some(LONG);

    hook_tests! {
        join_register_clone_task_done => join_register::<Q>(None, CHook::TaskDone);
        join_register_clone_pushes => join_register::<Q>(None, CHook::Push);
        join_repoll_old_drop_task_done => join_repoll::<Q>(None, Some(CHook::TaskDone), None);
        join_repoll_new_clone_pushes => join_repoll::<Q>(None, None, Some(CHook::Push));
        join_cancel_drop_task_done => join_cancel::<Q>(None);
        join_wake_clone_task_done => join_wake::<Q>(None, Step::Clone, CHook::TaskDone);
        join_wake_clone_pushes => join_wake::<Q>(None, Step::Clone, CHook::Push);
        join_wake_wake_task_done_and_push => join_wake::<Q>(None, Step::Wake, CHook::TaskDone);
        join_wake_drop_task_done => join_wake::<Q>(None, Step::Drop, CHook::TaskDone);

        join_timeout_register_clone_task_done => join_register::<Q>(TIMED, CHook::TaskDone);
        join_timeout_register_clone_pushes => join_register::<Q>(TIMED, CHook::Push);
        join_timeout_repoll_old_drop_task_done => join_repoll::<Q>(TIMED, Some(CHook::TaskDone), None);
        join_timeout_repoll_new_clone_pushes => join_repoll::<Q>(TIMED, None, Some(CHook::Push));
        join_timeout_cancel_drop_task_done => join_cancel::<Q>(TIMED);
        join_timeout_wake_clone_task_done => join_wake::<Q>(TIMED, Step::Clone, CHook::TaskDone);
        join_timeout_wake_clone_pushes => join_wake::<Q>(TIMED, Step::Clone, CHook::Push);
        join_timeout_wake_wake_task_done_and_push => join_wake::<Q>(TIMED, Step::Wake, CHook::TaskDone);
        join_timeout_wake_drop_task_done => join_wake::<Q>(TIMED, Step::Drop, CHook::TaskDone);
        join_timeout_expire_drop_task_done => join_expire::<Q>();
    }
}

// ---- ... on a Condvar (with rallypoint::Mutex) or a Condition ------------

/// A condition variable with its lock, in either form.
enum Cv {
    Condition(Condition<u32>),
    Condvar(AsyncMutex<u32>, Condvar),
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Condition,
    Condvar,
}

/// Which wait a test drives. The `While` forms wait while the value is 0.
#[derive(Clone, Copy, Debug)]
enum CvWait {
    Wait,
    WaitWhile,
    WaitTimeout(Duration),
    WaitWhileTimeout(Duration),
}

fn keep_waiting(value: &mut u32) -> bool {
    *value == 0
}

impl Cv {
    fn new(flavour: Flavour) -> Arc<Cv> {
        Arc::new(match flavour {
            Flavour::Condition => Cv::Condition(Condition::new(0)),
            Flavour::Condvar => Cv::Condvar(AsyncMutex::new(0), Condvar::new()),
        })
    }

    fn notify_one(&self) -> bool {
        match self {
            Cv::Condition(c) => c.notify_one(),
            Cv::Condvar(_, cv) => cv.notify_one(),
        }
    }

    fn notify_all(&self) -> usize {
        match self {
            Cv::Condition(c) => c.notify_all(),
            Cv::Condvar(_, cv) => cv.notify_all(),
        }
    }

    /// Whether the lock is free: takes it and releases it at once (the
    /// release wakes a waiter queued for the lock).
    fn is_unlocked(&self) -> bool {
        match self {
            Cv::Condition(c) => c.try_lock().is_some(),
            Cv::Condvar(m, _) => m.try_lock().is_some(),
        }
    }

    /// Takes the lock (blocking), stores `value`, and keeps the lock.
    fn hold(&self, value: u32) -> Box<dyn Send + '_> {
        match self {
            Cv::Condition(c) => {
                let mut guard = c.lock_blocking();
                *guard = value;
                Box::new(guard)
            }
            Cv::Condvar(m, _) => {
                let mut guard = m.lock_blocking();
                *guard = value;
                Box::new(guard)
            }
        }
    }

    /// Lets every waiter finish: the value no longer keeps `wait_while`
    /// waiting, and everybody is notified.
    fn finish(&self) {
        drop(self.hold(1));
        self.notify_all();
    }

    /// Takes the lock and starts a wait with it (the first poll releases
    /// it). The output is whether the wait timed out; the guard it gets back
    /// is dropped at once.
    fn start(&self, kind: CvWait) -> BoxFut<'_, bool> {
        match self {
            Cv::Condition(c) => {
                let guard = c.lock_blocking();
                match kind {
                    CvWait::Wait => {
                        let f = guard.wait();
                        Box::pin(async move {
                            drop(f.await);
                            false
                        })
                    }
                    CvWait::WaitWhile => {
                        let f = guard.wait_while(keep_waiting);
                        Box::pin(async move {
                            drop(f.await);
                            false
                        })
                    }
                    CvWait::WaitTimeout(d) => {
                        let f = guard.wait_timeout(d);
                        Box::pin(async move { f.await.1.timed_out() })
                    }
                    CvWait::WaitWhileTimeout(d) => {
                        let f = guard.wait_while_timeout(keep_waiting, d);
                        Box::pin(async move { f.await.1.timed_out() })
                    }
                }
            }
            Cv::Condvar(m, cv) => {
                let guard = m.lock_blocking();
                match kind {
                    CvWait::Wait => {
                        let f = cv.wait(guard);
                        Box::pin(async move {
                            drop(f.await);
                            false
                        })
                    }
                    CvWait::WaitWhile => {
                        let f = cv.wait_while(guard, keep_waiting);
                        Box::pin(async move {
                            drop(f.await);
                            false
                        })
                    }
                    CvWait::WaitTimeout(d) => {
                        let f = cv.wait_timeout(guard, d);
                        Box::pin(async move { f.await.1.timed_out() })
                    }
                    CvWait::WaitWhileTimeout(d) => {
                        let f = cv.wait_while_timeout(guard, keep_waiting, d);
                        Box::pin(async move { f.await.1.timed_out() })
                    }
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum CvHook {
    NotifyOne,
    NotifyAll,
    /// Takes the lock if it is free and releases it (see `Cv::is_unlocked`).
    Relock,
}

fn cv_hook(cv: &Arc<Cv>, hook: CvHook) -> impl Fn() + Send + Sync + 'static {
    let cv = cv.clone();
    move || match hook {
        CvHook::NotifyOne => {
            let _ = cv.notify_one();
        }
        CvHook::NotifyAll => {
            let _ = cv.notify_all();
        }
        CvHook::Relock => {
            let _ = cv.is_unlocked();
        }
    }
}

/// (a) The first poll registers the waiter with a clone of the waker.
fn cv_register(flavour: Flavour, kind: CvWait, hook: CvHook) {
    let cv = Cv::new(flavour);
    let h = Hostile::builder().on_clone(cv_hook(&cv, hook)).build();
    let w = h.waker();
    let mut fut = cv.start(kind);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending wait keeps a clone of the waker");
    }
    // A plain wait may complete at once: notified by its own clone hook.
    assert!(
        !first_or_drive(polled, &mut fut, &w, || cv.finish()),
        "timed out"
    );
    drop((fut, w));
    h.assert_all_dropped();
    assert!(cv.is_unlocked());
}

/// (b) Re-polling with another waker (see `sem_repoll`).
fn cv_repoll(flavour: Flavour, kind: CvWait, old_drop: Option<CvHook>, new_clone: Option<CvHook>) {
    let cv = Cv::new(flavour);
    let hook = |h: CvHook| boxed(cv_hook(&cv, h));
    let (a, b) = repoll_pair(old_drop.map(hook), new_clone.map(hook));
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = cv.start(kind);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    assert!(
        !first_or_drive(polled, &mut fut, &wb, || cv.finish()),
        "timed out"
    );
    drop((fut, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    assert!(cv.is_unlocked());
}

/// (c) Dropping the pending wait drops the stored waker, whose drop hook
/// notifies the other waiter.
fn cv_cancel(flavour: Flavour, kind: CvWait) {
    let cv = Cv::new(flavour);
    let mut other = cv.start(CvWait::Wait);
    assert!(poll_once(&mut other).is_pending());
    let h = Hostile::builder()
        .on_drop(cv_hook(&cv, CvHook::NotifyAll))
        .build();
    let w = h.waker();
    let mut fut = cv.start(kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    drop(fut);
    h.disarm();
    // Notified by the drop hook (a plain wait returns only once notified).
    assert!(!poll_until_ready(&mut other, Waker::noop()));
    drop((other, w));
    h.assert_all_dropped();
    assert!(cv.is_unlocked());
}

/// (d) The deadline passes: the waiter withdraws and relocks.
fn cv_expire(flavour: Flavour, kind: CvWait) {
    let cv = Cv::new(flavour);
    let h = Hostile::builder()
        .on_drop(cv_hook(&cv, CvHook::NotifyAll))
        .build();
    let w = h.waker();
    let mut fut = cv.start(kind);
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    let timed_out = settle_after_deadline(polled, &mut fut, &w, made);
    if matches!(kind, CvWait::WaitWhileTimeout(_)) {
        assert!(timed_out, "the value never changed: the time ran out");
    }
    drop(fut);
    h.disarm();
    drop(w);
    h.assert_all_dropped();
    assert!(cv.is_unlocked());
}

/// (e) A notification releases the waiter while its waker is stored: the
/// hook runs on that `step`.
fn cv_wake(flavour: Flavour, kind: CvWait, step: Step, hook: CvHook) {
    let cv = Cv::new(flavour);
    let builder = Hostile::builder().disarmed();
    let h = match step {
        Step::Clone => builder.on_clone(cv_hook(&cv, hook)),
        Step::Wake => builder.on_wake(cv_hook(&cv, hook)),
        Step::Drop => builder.on_drop(cv_hook(&cv, hook)),
    }
    .build();
    let w = h.waker();
    let mut fut = cv.start(kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    cv.finish();
    h.assert_woken();
    h.disarm();
    assert!(!poll_until_ready(&mut fut, &w), "notified, not timed out");
    drop((fut, w));
    h.assert_all_dropped();
    assert!(cv.is_unlocked());
}

/// (e), relocking: notified while the test holds the lock, the waiter
/// queues for the lock; the unlock wakes it, and its wake takes and
/// releases the lock.
fn cv_relock(flavour: Flavour, kind: CvWait) {
    let cv = Cv::new(flavour);
    let h = Hostile::builder()
        .on_wake(cv_hook(&cv, CvHook::Relock))
        .disarmed()
        .build();
    let w = h.waker();
    let mut fut = cv.start(kind);
    assert!(poll_with(&mut fut, &w).is_pending());
    let guard = cv.hold(1);
    assert_eq!(cv.notify_all(), 1);
    assert!(
        poll_with(&mut fut, &w).is_pending(),
        "notified, but the lock is held"
    );
    let wakes = h.wakes();
    h.arm();
    drop(guard);
    let start = Instant::now();
    while h.wakes() == wakes {
        assert!(start.elapsed() < HOOK_PATIENCE, "the unlock woke nobody");
        std::thread::sleep(Duration::from_millis(1));
    }
    h.disarm();
    assert!(!poll_until_ready(&mut fut, &w), "notified, not timed out");
    drop((fut, w));
    h.assert_all_dropped();
    assert!(cv.is_unlocked());
}

macro_rules! cv_hook_tests {
    ($module:ident, $flavour:expr) => {
        mod $module {
            use super::*;

            const F: Flavour = $flavour;
            const TIMED: CvWait = CvWait::WaitTimeout(LONG);

            hook_tests! {
                wait_register_clone_notifies => cv_register(F, CvWait::Wait, CvHook::NotifyOne);
                wait_repoll_old_drop_notifies => cv_repoll(F, CvWait::Wait, Some(CvHook::NotifyAll), None);
                wait_repoll_new_clone_notifies => cv_repoll(F, CvWait::Wait, None, Some(CvHook::NotifyOne));
                wait_cancel_drop_notifies => cv_cancel(F, CvWait::Wait);
                wait_wake_clone_notifies_one => cv_wake(F, CvWait::Wait, Step::Clone, CvHook::NotifyOne);
                wait_wake_clone_notifies_all => cv_wake(F, CvWait::Wait, Step::Clone, CvHook::NotifyAll);
                wait_wake_wake_notifies_all => cv_wake(F, CvWait::Wait, Step::Wake, CvHook::NotifyAll);
                wait_wake_drop_notifies_all => cv_wake(F, CvWait::Wait, Step::Drop, CvHook::NotifyAll);
                wait_relock_wake_relocks => cv_relock(F, CvWait::Wait);

                wait_while_register_clone_notifies => cv_register(F, CvWait::WaitWhile, CvHook::NotifyOne);
                wait_while_repoll_old_drop_notifies => cv_repoll(F, CvWait::WaitWhile, Some(CvHook::NotifyAll), None);
                wait_while_repoll_new_clone_notifies => cv_repoll(F, CvWait::WaitWhile, None, Some(CvHook::NotifyOne));
                wait_while_cancel_drop_notifies => cv_cancel(F, CvWait::WaitWhile);
                wait_while_wake_clone_notifies_one => cv_wake(F, CvWait::WaitWhile, Step::Clone, CvHook::NotifyOne);
                wait_while_wake_clone_notifies_all => cv_wake(F, CvWait::WaitWhile, Step::Clone, CvHook::NotifyAll);
                wait_while_wake_wake_notifies_all => cv_wake(F, CvWait::WaitWhile, Step::Wake, CvHook::NotifyAll);
                wait_while_wake_drop_notifies_all => cv_wake(F, CvWait::WaitWhile, Step::Drop, CvHook::NotifyAll);
                wait_while_relock_wake_relocks => cv_relock(F, CvWait::WaitWhile);

                wait_timeout_register_clone_notifies => cv_register(F, TIMED, CvHook::NotifyOne);
                wait_timeout_repoll_old_drop_notifies => cv_repoll(F, TIMED, Some(CvHook::NotifyAll), None);
                wait_timeout_repoll_new_clone_notifies => cv_repoll(F, TIMED, None, Some(CvHook::NotifyOne));
                wait_timeout_cancel_drop_notifies => cv_cancel(F, TIMED);
                wait_timeout_wake_clone_notifies_one => cv_wake(F, TIMED, Step::Clone, CvHook::NotifyOne);
                wait_timeout_wake_clone_notifies_all => cv_wake(F, TIMED, Step::Clone, CvHook::NotifyAll);
                wait_timeout_wake_wake_notifies_all => cv_wake(F, TIMED, Step::Wake, CvHook::NotifyAll);
                wait_timeout_wake_drop_notifies_all => cv_wake(F, TIMED, Step::Drop, CvHook::NotifyAll);
                wait_timeout_relock_wake_relocks => cv_relock(F, TIMED);
                wait_timeout_expire_drop_notifies => cv_expire(F, CvWait::WaitTimeout(SHORT));
                wait_while_timeout_expire_drop_notifies => cv_expire(F, CvWait::WaitWhileTimeout(SHORT));
            }
        }
    };
}

cv_hook_tests!(condition_hooks, Flavour::Condition);
cv_hook_tests!(condvar_hooks, Flavour::Condvar);

// ---- ... on a rendezvous Queue --------------------------------------------
//
// A rendezvous push waits twice: for the slot (like any bounded push), then
// in its own line until a pop takes its item. These cover the second wait:
// each hook re-enters the queue (pops the pusher's own item, pushes, closes,
// reads) from the waker's clone, drop or wake, and the push still settles
// exactly once: `Ok` iff its item was popped.

/// What a hook does to the rendezvous queue.
#[derive(Clone, Copy, Debug)]
enum RvHook {
    /// Pops (the pusher's own item, if it is in), recording it.
    Pop,
    /// Closes the queue.
    Close,
    /// Reads `len` and `Debug`, and tries a push.
    Poke,
}

struct Rv {
    q: Arc<Queue<u32>>,
    popped: Arc<Mutex<Vec<u32>>>,
}

impl Rv {
    fn new() -> Rv {
        Rv {
            q: Arc::new(Queue::rendezvous()),
            popped: Arc::default(),
        }
    }

    fn hook(&self, what: RvHook) -> impl Fn() + Send + Sync + 'static {
        let (q, popped) = (self.q.clone(), self.popped.clone());
        move || match what {
            RvHook::Pop => {
                if let Ok(item) = q.try_pop() {
                    popped.lock().unwrap().push(item);
                }
            }
            RvHook::Close => {
                q.close();
            }
            RvHook::Poke => {
                let _ = (q.len(), format!("{q:?}"));
                let _ = q.try_push(99);
            }
        }
    }

    /// The push's outcome is consistent with what was popped: `Ok` iff item
    /// 1 was popped (by a hook or here), else the item came back.
    fn check(&self, outcome: Option<Result<(), u32>>) {
        let hooked = self.popped.lock().unwrap().contains(&1);
        match outcome {
            Some(Ok(())) => assert!(hooked, "push returned Ok, but nobody popped its item"),
            Some(Err(item)) => {
                assert_eq!(item, 1);
                assert!(!hooked, "push failed, but its item was popped");
            }
            // Cancelled: either it was popped, or it is gone with the future.
            None => {}
        }
        assert_ne!(self.q.try_pop(), Ok(1), "the pusher's item is still inside");
    }
}

/// Polls a rendezvous push with a hostile waker until it is in its second
/// wait, then `then` decides how it ends.
fn rv_push(timeout: Option<Duration>, on: Step, what: RvHook, then: RvEnd) {
    let rv = Rv::new();
    let hook = rv.hook(what);
    let hostile = match on {
        Step::Clone => Hostile::builder().on_clone(hook),
        Step::Wake => Hostile::builder().on_wake(hook),
        Step::Drop => Hostile::builder().on_drop(hook),
    }
    .disarmed()
    .build();
    let q = rv.q.clone();
    let mut push: BoxFut<'_, Result<(), u32>> = match timeout {
        None => Box::pin(async move { q.push(1).await.map_err(|e| e.into_inner()) }),
        Some(d) => Box::pin(async move { q.push_timeout(1, d).await.map_err(|e| e.into_inner()) }),
    };
    let first = hostile.waker();
    // Into the slot, registered in the second wait (with the hooks off).
    assert!(poll_with(&mut push, &first).is_pending());
    assert_eq!(rv.q.len(), 1);
    hostile.arm();
    let outcome = match then {
        RvEnd::Repoll => {
            // A new waker: the first is replaced (dropped), the second cloned.
            let second = hostile.waker();
            let polled = poll_with(&mut push, &second);
            drop((first, second));
            match polled {
                Poll::Ready(out) => Some(out),
                Poll::Pending => {
                    // Finish it off: a pop takes the item, with hooks on.
                    if let Ok(item) = rv.q.try_pop() {
                        rv.popped.lock().unwrap().push(item);
                    }
                    rv.q.close();
                    Some(block_on_noop(&mut push))
                }
            }
        }
        RvEnd::Cancel => {
            drop(push);
            drop(first);
            None
        }
        RvEnd::Taken => {
            // A pop takes the item and wakes the pusher (hooks run then).
            if let Ok(item) = rv.q.try_pop() {
                rv.popped.lock().unwrap().push(item);
            }
            drop(first);
            rv.q.close();
            Some(block_on_noop(&mut push))
        }
        RvEnd::Expire => {
            std::thread::sleep(Duration::from_millis(30));
            drop(first);
            rv.q.close();
            Some(block_on_noop(&mut push))
        }
    };
    hostile.disarm();
    rv.check(outcome);
}

#[derive(Clone, Copy, Debug)]
enum RvEnd {
    Repoll,
    Cancel,
    Taken,
    Expire,
}

/// Polls to completion with a no-op waker (the queue is closed or the
/// deadline passed, so it is due).
fn block_on_noop<F: Future + Unpin>(f: &mut F) -> F::Output {
    futures_lite::future::block_on(f)
}

mod rendezvous_hooks {
    use super::*;
    const SHORT: Option<Duration> = Some(Duration::from_millis(10));

    hook_tests! {
        push_repoll_clone_pops => rv_push(None, Step::Clone, RvHook::Pop, RvEnd::Repoll);
        push_repoll_drop_pops => rv_push(None, Step::Drop, RvHook::Pop, RvEnd::Repoll);
        push_repoll_drop_closes => rv_push(None, Step::Drop, RvHook::Close, RvEnd::Repoll);
        push_repoll_clone_pokes => rv_push(None, Step::Clone, RvHook::Poke, RvEnd::Repoll);
        push_cancel_drop_pops => rv_push(None, Step::Drop, RvHook::Pop, RvEnd::Cancel);
        push_cancel_drop_closes => rv_push(None, Step::Drop, RvHook::Close, RvEnd::Cancel);
        push_cancel_drop_pokes => rv_push(None, Step::Drop, RvHook::Poke, RvEnd::Cancel);
        push_taken_wake_pokes => rv_push(None, Step::Wake, RvHook::Poke, RvEnd::Taken);
        push_taken_wake_closes => rv_push(None, Step::Wake, RvHook::Close, RvEnd::Taken);
        push_taken_drop_pokes => rv_push(None, Step::Drop, RvHook::Poke, RvEnd::Taken);
        push_timeout_repoll_drop_pops => rv_push(SHORT, Step::Drop, RvHook::Pop, RvEnd::Repoll);
        push_timeout_cancel_drop_pops => rv_push(SHORT, Step::Drop, RvHook::Pop, RvEnd::Cancel);
        push_timeout_taken_wake_pokes => rv_push(SHORT, Step::Wake, RvHook::Poke, RvEnd::Taken);
        push_timeout_expire_drop_pops => rv_push(SHORT, Step::Drop, RvHook::Pop, RvEnd::Expire);
        push_timeout_expire_clone_pokes => rv_push(SHORT, Step::Clone, RvHook::Poke, RvEnd::Expire);
    }
}

// ---- ... on a Mutex ---------------------------------------------------------
//
// A waiter for a busy `Mutex` queues in async-lock's listener list, which
// clones, wakes and drops the waker it holds under that list's lock; and
// every unlock takes that lock (to notify). So a hook that unlocks the
// mutex (drops a guard) would deadlock if it ran there: rallypoint gives
// async-lock a wrapper instead of the waker (see `src/mutex/lock.rs`).

/// Which lock front-end a test drives (each with its `_timeout` form).
#[derive(Clone, Copy, Debug)]
enum LockForm {
    /// `lock()` / `lock_timeout(d)`.
    Ref,
    /// `lock_arc()` / `lock_arc_timeout(d)`.
    Arc,
}

/// A mutex, and the guard the test holds on it (in a slot a hook can empty).
struct Locked {
    mutex: Arc<AsyncMutex<u32>>,
    held: Arc<Mutex<Option<rallypoint::MutexGuardArc<u32>>>>,
}

impl Locked {
    /// A mutex holding 0, locked by the test.
    fn new() -> Locked {
        let mutex = Arc::new(AsyncMutex::new(0));
        let guard = mutex.try_lock_arc().expect("new");
        Locked {
            mutex,
            held: Arc::new(Mutex::new(Some(guard))),
        }
    }

    /// Drops the test's guard, if it still holds it: the unlock notifies
    /// async-lock's listeners. (Taken out of the slot first: no lock of
    /// ours is held while it unlocks.)
    fn release(&self) {
        let guard = self.held.lock().unwrap().take();
        drop(guard);
    }

    fn is_held_by_test(&self) -> bool {
        self.held.lock().unwrap().is_some()
    }

    /// Starts a lock; its output is whether it got the lock (the guard is
    /// dropped at once, unlocking from inside the future's poll).
    fn start(&self, form: LockForm, timeout: Option<Duration>) -> BoxFut<'_, bool> {
        let m = &self.mutex;
        match (form, timeout) {
            (LockForm::Ref, None) => {
                let f = m.lock();
                Box::pin(async move {
                    drop(f.await);
                    true
                })
            }
            (LockForm::Arc, None) => {
                let f = m.lock_arc();
                Box::pin(async move {
                    drop(f.await);
                    true
                })
            }
            (LockForm::Ref, Some(d)) => {
                let f = m.lock_timeout(d);
                Box::pin(async move { f.await.is_some() })
            }
            (LockForm::Arc, Some(d)) => {
                let f = m.lock_arc_timeout(d);
                Box::pin(async move { f.await.is_some() })
            }
        }
    }

    /// Afterwards (with every future gone): once the test's own guard is
    /// dropped, if a hook did not drop it, the lock is free.
    fn assert_free(&self) {
        self.release();
        assert!(self.mutex.try_lock().is_some(), "the mutex was left locked");
    }
}

#[derive(Clone, Copy, Debug)]
enum LockHook {
    /// Drops the test's guard (unlocks: async-lock notifies, under its
    /// list lock).
    Release,
    /// `try_lock()`, unlocking again at once if it got the lock.
    TryLock,
}

fn lock_hook(l: &Locked, hook: LockHook) -> impl Fn() + Send + Sync + 'static {
    let (mutex, held) = (l.mutex.clone(), l.held.clone());
    move || match hook {
        LockHook::Release => {
            let guard = held.lock().unwrap().take();
            drop(guard);
        }
        LockHook::TryLock => drop(mutex.try_lock()),
    }
}

/// (a) The first poll queues the lock with (a wrapper of) a clone of the
/// waker; the clone hook re-enters.
fn lock_register(form: LockForm, timeout: Option<Duration>, hook: LockHook) {
    let l = Locked::new();
    let h = Hostile::builder().on_clone(lock_hook(&l, hook)).build();
    let w = h.waker();
    let mut fut = l.start(form, timeout);
    let polled = poll_with(&mut fut, &w);
    h.disarm();
    if polled.is_pending() {
        assert!(h.clones() > 0, "a pending lock keeps a clone of the waker");
    }
    assert!(
        first_or_drive(polled, &mut fut, &w, || l.release()),
        "timed out"
    );
    drop((fut, w));
    h.assert_all_dropped();
    l.assert_free();
}

/// (b) Re-polling with another waker: `old_drop` runs when the stored copy
/// of the first waker is dropped, `new_clone` when the second is cloned.
fn lock_repoll(
    form: LockForm,
    timeout: Option<Duration>,
    old_drop: Option<LockHook>,
    new_clone: Option<LockHook>,
) {
    let l = Locked::new();
    let hook = |h: LockHook| boxed(lock_hook(&l, h));
    let (a, b) = repoll_pair(old_drop.map(hook), new_clone.map(hook));
    let (wa, wb) = (a.waker(), b.waker());
    let mut fut = l.start(form, timeout);
    assert!(poll_with(&mut fut, &wa).is_pending());
    drop(wa);
    a.arm();
    let polled = poll_with(&mut fut, &wb);
    a.disarm();
    b.disarm();
    assert!(
        first_or_drive(polled, &mut fut, &wb, || l.release()),
        "timed out"
    );
    drop((fut, wb));
    a.assert_all_dropped();
    b.assert_all_dropped();
    l.assert_free();
}

/// (c) Dropping the queued lock drops the stored waker, whose drop hook
/// unlocks: a waiter queued behind it is served.
fn lock_cancel(form: LockForm, timeout: Option<Duration>) {
    let l = Locked::new();
    let h = Hostile::builder()
        .on_drop(lock_hook(&l, LockHook::Release))
        .build();
    let w = h.waker();
    let mut fut = l.start(form, timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    let mut next = l.start(LockForm::Ref, None);
    assert!(poll_once(&mut next).is_pending());
    drop(fut);
    h.disarm();
    if timeout.is_none() {
        // (A timed lock's timer keeps a copy, dropped by futures-timer's
        // own thread, where hooks do not run.)
        assert!(
            !l.is_held_by_test(),
            "the stored waker was dropped by the cancel"
        );
    }
    assert!(poll_until_ready(&mut next, Waker::noop()));
    drop((next, w));
    h.assert_all_dropped();
    l.assert_free();
}

/// (d) The deadline passes while queued: the lock withdraws; the drop of
/// the stored waker unlocks.
fn lock_expire(form: LockForm) {
    let l = Locked::new();
    let h = Hostile::builder()
        .on_drop(lock_hook(&l, LockHook::Release))
        .build();
    let w = h.waker();
    let mut fut = l.start(form, Some(SHORT));
    let made = Instant::now();
    let polled = poll_with(&mut fut, &w);
    // Either outcome: a release by the hook may race with the deadline.
    let _got = settle_after_deadline(polled, &mut fut, &w, made);
    drop(fut);
    h.disarm();
    drop(w);
    h.assert_all_dropped();
    l.assert_free();
}

/// (e) An unlock serves the queued lock while its waker is stored. With
/// `by_condvar`, the unlock is a `Condvar` wait releasing the mutex (inside
/// rallypoint: the wake runs on this thread once every lock is released);
/// otherwise the test drops its guard (outside rallypoint: the wake runs
/// on rallypoint's wake thread). The wake and the drop of the woken copy
/// re-enter with `try_lock`.
fn lock_wake(form: LockForm, timeout: Option<Duration>, by_condvar: bool) {
    let l = Locked::new();
    let h = Hostile::builder()
        .on_wake(lock_hook(&l, LockHook::TryLock))
        .on_drop(lock_hook(&l, LockHook::TryLock))
        .disarmed()
        .build();
    let w = h.waker();
    let condvar = Condvar::new();
    // For the condvar, the test holds a plain guard instead (nobody is
    // waiting yet, so trading one for the other wakes nobody).
    let plain = by_condvar.then(|| {
        l.release();
        l.mutex.try_lock().expect("free")
    });
    let mut fut = l.start(form, timeout);
    assert!(poll_with(&mut fut, &w).is_pending());
    h.arm();
    let wait = match plain {
        Some(guard) => {
            let mut wait = condvar.wait_timeout(guard, LONG);
            // Registers, then unlocks: the unlock wakes `fut`.
            assert!(poll_once(&mut wait).is_pending());
            Some(wait)
        }
        None => {
            l.release();
            None
        }
    };
    h.assert_woken();
    h.disarm();
    assert!(poll_until_ready(&mut fut, &w), "served, not timed out");
    drop(fut);
    // (The condvar waiter would relock the free mutex once notified or
    // timed out; here it is simply dropped.)
    drop(wait);
    drop(w);
    h.assert_all_dropped();
    l.assert_free();
}

mod mutex_hooks {
    use super::*;

    const TIMED: Option<Duration> = Some(LONG);

    hook_tests! {
        lock_register_clone_releases => lock_register(LockForm::Ref, None, LockHook::Release);
        lock_register_clone_try_locks => lock_register(LockForm::Ref, None, LockHook::TryLock);
        lock_repoll_old_drop_releases => lock_repoll(LockForm::Ref, None, Some(LockHook::Release), None);
        lock_repoll_new_clone_releases => lock_repoll(LockForm::Ref, None, None, Some(LockHook::Release));
        lock_cancel_drop_releases => lock_cancel(LockForm::Ref, None);
        lock_wake_by_unlock => lock_wake(LockForm::Ref, None, false);
        lock_wake_by_condvar_wait => lock_wake(LockForm::Ref, None, true);

        lock_timeout_register_clone_releases => lock_register(LockForm::Ref, TIMED, LockHook::Release);
        lock_timeout_register_clone_try_locks => lock_register(LockForm::Ref, TIMED, LockHook::TryLock);
        lock_timeout_repoll_old_drop_releases => lock_repoll(LockForm::Ref, TIMED, Some(LockHook::Release), None);
        lock_timeout_repoll_new_clone_releases => lock_repoll(LockForm::Ref, TIMED, None, Some(LockHook::Release));
        lock_timeout_cancel_drop_releases => lock_cancel(LockForm::Ref, TIMED);
        lock_timeout_expire_drop_releases => lock_expire(LockForm::Ref);
        lock_timeout_wake_by_unlock => lock_wake(LockForm::Ref, TIMED, false);
        lock_timeout_wake_by_condvar_wait => lock_wake(LockForm::Ref, TIMED, true);

        lock_arc_register_clone_releases => lock_register(LockForm::Arc, None, LockHook::Release);
        lock_arc_register_clone_try_locks => lock_register(LockForm::Arc, None, LockHook::TryLock);
        lock_arc_repoll_old_drop_releases => lock_repoll(LockForm::Arc, None, Some(LockHook::Release), None);
        lock_arc_repoll_new_clone_releases => lock_repoll(LockForm::Arc, None, None, Some(LockHook::Release));
        lock_arc_cancel_drop_releases => lock_cancel(LockForm::Arc, None);
        lock_arc_wake_by_unlock => lock_wake(LockForm::Arc, None, false);
        lock_arc_wake_by_condvar_wait => lock_wake(LockForm::Arc, None, true);

        lock_arc_timeout_register_clone_releases => lock_register(LockForm::Arc, TIMED, LockHook::Release);
        lock_arc_timeout_cancel_drop_releases => lock_cancel(LockForm::Arc, TIMED);
        lock_arc_timeout_expire_drop_releases => lock_expire(LockForm::Arc);
        lock_arc_timeout_wake_by_unlock => lock_wake(LockForm::Arc, TIMED, false);
    }
}

/// A lock waiter whose waker panics: the unlock's wake runs on the
/// unlocking thread, after async-lock has released its list lock, so the
/// panic reaches the code that dropped the guard (as a panicking waker's
/// does from every notifying method) with the mutex unlocked and nothing
/// wedged; the panicking waiter's wake-up is not lost for the next one.
#[test]
fn panicking_waker_mutex() {
    guarded(|| {
        let mutex = AsyncMutex::new(0u32);
        let guard = mutex.lock_blocking();
        let mut bad = mutex.lock();
        let mut next = mutex.lock_timeout(LONG);
        let woke = Arc::new(AtomicBool::new(false));
        let bad_waker = {
            let woke = woke.clone();
            waker(move || {
                woke.store(true, Ordering::SeqCst);
                panic!("waker exploded")
            })
        };
        assert!(poll_with(&mut bad, &bad_waker).is_pending());
        assert!(poll_once(&mut next).is_pending());
        let unlocked = catch_unwind(AssertUnwindSafe(move || drop(guard)));
        let panic = unlocked.expect_err("the waker's panic reaches the unlocker");
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"waker exploded"));
        assert!(woke.load(Ordering::SeqCst), "woken on the unlocking thread");
        // `bad` was handed the wake-up; dropping it passes it on.
        drop(bad);
        assert!(poll_until_ready(&mut next, Waker::noop()).is_some());
        drop(next);
        // And the next unlock wakes the next waiter at once, on this thread.
        let guard = mutex.lock_blocking();
        let mut again = mutex.lock();
        let (flag, flagged) = flag_waker();
        assert!(poll_with(&mut again, &flag).is_pending());
        drop(guard);
        assert!(flagged.take(), "woken by the unlock itself");
        assert!(poll_once(&mut again).is_ready());
    });
}
