#![cfg(not(loom))]

//! Fitting next to the crates a user already has (issue 14).

// `use rallypoint::*;` next to a crate named `futures` (futures-util under
// that name here) compiled only once the module of named futures stopped
// being called `futures` (E0659, "`futures` is ambiguous").
#[allow(unused_imports)]
use rallypoint::*;

#[test]
fn glob_import_next_to_a_futures_crate() {
    use futures::StreamExt;
    let items = futures::stream::iter([1, 2, 3]);
    let sum = futures_lite::future::block_on(items.fold(0, |a, b| async move { a + b }));
    assert_eq!(sum, 6);
    // And the named futures are where the docs say.
    let event = Event::new();
    event.set();
    let wait: rallypoint::future::EventWait<'_> = event.wait();
    futures_lite::future::block_on(wait);
}

// The synchronisation primitives are `UnwindSafe` and `RefUnwindSafe`
// (usable across `catch_unwind` without wrappers). The locks that hold a
// value — `Mutex<T>`, `ReentrantMutex<T>` and `Condition<T>` (a `Mutex<T>`
// inside) — are not, as in async-lock and parking_lot: they do not poison,
// so a panic while holding one may leave the value half-changed, which is
// what `RefUnwindSafe` would deny.
#[test]
fn primitives_are_unwind_safe() {
    fn check<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    check::<Barrier>();
    check::<Event>();
    check::<Condvar>();
    check::<Semaphore>();
    check::<Queue<u32>>();
    check::<Stack<u32>>();
    check::<PriorityQueue<u32>>();
    #[cfg(target_os = "linux")]
    {
        check::<rallypoint::process::Event>();
        check::<rallypoint::process::Semaphore>();
        check::<rallypoint::process::Queue<u32>>();
        check::<rallypoint::process::Condition>();
    }
}

// The containers share their error types; the messages fit all three.
#[test]
fn error_texts_fit_every_container() {
    let stack = Stack::bounded(1);
    stack.try_push(1).unwrap();
    let full = stack.try_push(2).unwrap_err().to_string();
    let timed_out = stack
        .push_timeout_blocking(3, std::time::Duration::ZERO)
        .unwrap_err()
        .to_string();
    stack.close();
    let closed = stack.try_push(4).unwrap_err().to_string();
    stack.try_pop().unwrap();
    let drained = stack.try_pop().unwrap_err().to_string();
    for text in [full, timed_out, closed, drained] {
        assert!(!text.contains("queue"), "{text:?}");
    }
}
