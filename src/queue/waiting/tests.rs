//! Eventual fairness as blocking waiters see it: a thread is woken *in
//! place* and running callers may take the freed resource first (barging),
//! until it has been passed over for longer than the bound. Async waiters
//! are handed the resource instead (tested in `tests/queue.rs`); here each
//! waiter is polled with this thread's blocking-driver waker, so that the
//! container files it as a thread, which makes the races deterministic.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::engine::with_own_parker_waker;
use crate::{Fairness, Queue, Stack, TryPopError};

const HOUR: Duration = Duration::from_secs(3600);

/// A bound that real time passes quickly; under Miri, whose clock runs
/// with the interpreted code, one poll can take milliseconds, so longer.
const SHORT: Duration = if cfg!(miri) {
    Duration::from_secs(2)
} else {
    Duration::from_millis(5)
};

fn poll<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    with_own_parker_waker(|waker| Pin::new(f).poll(&mut Context::from_waker(waker)))
}

/// Waiters not woken (the `Debug` output's count).
fn waiting(debug: String, side: &str) -> usize {
    let key = format!("{side}: ");
    let start = debug.find(&key).unwrap() + key.len();
    debug[start..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn thread_popper_is_woken_in_place_and_may_be_barged() {
    let q = Queue::unbounded().with_fairness(Fairness::Eventual(HOUR));
    let poppers = |q: &Queue<u32>| waiting(format!("{q:?}"), "waiting_poppers");
    let mut first = q.pop();
    let mut second = q.pop();
    assert!(poll(&mut first).is_pending());
    assert!(poll(&mut second).is_pending());
    assert_eq!(poppers(&q), 2);
    q.try_push(1).unwrap();
    assert_eq!(poppers(&q), 1, "only the oldest is woken, and in place");
    assert_eq!(q.try_pop(), Ok(1), "a running caller barges");
    assert!(poll(&mut first).is_pending(), "passed over: it waits on");
    assert_eq!(poppers(&q), 2);
    q.try_push(2).unwrap();
    assert_eq!(poppers(&q), 1);
    // Woken, then dropped: the wake passes to `second`.
    drop(first);
    assert_eq!(poppers(&q), 0, "a dropped woken popper passes its wake on");
    assert_eq!(poll(&mut second), Poll::Ready(Ok(2)));
}

#[test]
fn thread_popper_past_the_bound_is_served_next() {
    for bound in [Duration::ZERO, SHORT] {
        let q = Stack::unbounded().with_fairness(Fairness::Eventual(bound));
        let mut popper = q.pop();
        assert!(poll(&mut popper).is_pending());
        q.try_push(1).unwrap();
        assert_eq!(q.try_pop(), Ok(1), "barging before any pass-over");
        assert!(poll(&mut popper).is_pending());
        if !bound.is_zero() {
            std::thread::sleep(bound * 2);
            q.try_push(2).unwrap();
            assert_eq!(q.try_pop(), Ok(2), "still barging until it looks");
            assert!(poll(&mut popper).is_pending());
        }
        // Handoff: the next item is the popper's.
        q.try_push(3).unwrap();
        assert_eq!(q.try_pop(), Err(TryPopError::Empty), "{bound:?}");
        assert_eq!(poll(&mut popper), Poll::Ready(Ok(3)));
        // Nobody waits: running callers may take items again.
        q.try_push(4).unwrap();
        assert_eq!(q.try_pop(), Ok(4));
    }
}

#[test]
fn thread_pusher_is_woken_in_place_and_may_be_barged() {
    let q = Queue::bounded(1).with_fairness(Fairness::Eventual(HOUR));
    let pushers = |q: &Queue<u32>| waiting(format!("{q:?}"), "waiting_pushers");
    q.try_push(1).unwrap();
    let mut pusher = q.push(2);
    assert!(poll(&mut pusher).is_pending());
    assert_eq!(q.try_pop(), Ok(1));
    assert_eq!(pushers(&q), 0, "the pusher is woken in place");
    q.try_push(3).unwrap();
    assert!(
        poll(&mut pusher).is_pending(),
        "a running try_push took the slot"
    );
    assert_eq!(q.try_pop(), Ok(3));
    assert_eq!(poll(&mut pusher), Poll::Ready(Ok(())));
    assert_eq!(q.try_pop(), Ok(2));
}

#[test]
fn a_thread_item_may_be_barged_a_task_item_may_not() {
    // A thread, then a task wait: the first item wakes the thread in place,
    // the second is handed to the task. A running caller may take the
    // first, never the second.
    let q = Queue::unbounded().with_fairness(Fairness::Eventual(HOUR));
    let task_waker = std::task::Waker::noop();
    let mut task_cx = Context::from_waker(task_waker);
    let mut thread = q.pop();
    assert!(poll(&mut thread).is_pending());
    let mut task = q.pop();
    assert!(Pin::new(&mut task).poll(&mut task_cx).is_pending());
    q.try_push(1).unwrap();
    q.try_push(2).unwrap();
    assert_eq!(q.try_pop(), Ok(1), "the thread's item is free to race for");
    assert_eq!(q.try_pop(), Err(TryPopError::Empty), "the task's is not");
    assert_eq!(Pin::new(&mut task).poll(&mut task_cx), Poll::Ready(Ok(2)));
    assert!(poll(&mut thread).is_pending(), "passed over: it waits on");
    q.try_push(3).unwrap();
    assert_eq!(poll(&mut thread), Poll::Ready(Ok(3)));
}
