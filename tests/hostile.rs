//! Hostile input: wakers that panic or re-enter the primitive from `wake()`,
//! panicking actions and predicates, extreme counts and zero timeouts.
//! Each case either works or fails with a clear error, and leaves the
//! primitive usable (no corrupted state, no deadlock).

#![cfg(not(loom))]

mod common;

use common::*;
use rallypoint::{
    Barrier, Condition, Event, PopError, PushError, Queue, Semaphore, Stack, TryAcquireError,
};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

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
        assert!(t.elapsed() < Duration::from_secs(5));
        // Closed containers report Closed, not Timeout, even with zero time.
        q.close();
        assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Ok(1));
        assert!(matches!(q.push_blocking(3), Err(PushError::Closed(3))));
        assert_eq!(q.pop_blocking(), Err(PopError));
    });
}
