//! `Queue::rendezvous()`: a queue with no buffer (crossbeam's `bounded(0)`).

use super::{Core, Items, Queue};
use crate::sync::loom_const_fn;

impl<T> Queue<T> {
    loom_const_fn! {
        /// Creates a **rendezvous** queue: no buffer, so a push completes
        /// only when a pop takes its item — crossbeam-channel's `bounded(0)`,
        /// Go's unbuffered channel. Every handoff is a meeting of one pusher
        /// and one popper, in both worlds (tasks and threads) at once.
        ///
        /// Not Python's `Queue(maxsize=0)`, which means *unbounded* there
        /// (that is [`Queue::unbounded`]).
        ///
        /// How each operation behaves:
        ///
        /// * `push` (all four forms) waits until a pop has taken the item:
        ///   `Ok` means a popper has it. Pushers meet poppers one at a time,
        ///   in the order they began waiting (the item of the pusher whose
        ///   turn it is waits in the queue, so [`len`](Queue::len) is 1 while
        ///   it does).
        /// * A push that times out, is cancelled (its future dropped) or
        ///   sees the queue closed before a pop took its item takes the item
        ///   back: `Err` hands it back, and a dropped future drops it. So a
        ///   push that did not return `Ok` never delivered its item. At the
        ///   deadline the outcome is settled under the lock: taken means
        ///   `Ok`. A zero timeout therefore succeeds only if a pop takes the
        ///   item at once; use [`try_push`](Queue::try_push) to hand an item
        ///   to a popper already waiting.
        /// * `try_push` succeeds only when a popper is waiting: the item is
        ///   offered to it and `try_push` returns at once. (If that popper is
        ///   an async task cancelled before it runs, the item stays in the
        ///   queue for the next pop, like an item of an ordinary queue:
        ///   nothing is lost.) Otherwise it fails with
        ///   [`TryPushError::Full`](crate::TryPushError::Full).
        /// * `pop` waits for a pusher; `try_pop` succeeds when a pusher is
        ///   waiting, and completes that push.
        /// * [`capacity`](Queue::capacity) is `Some(0)`, and
        ///   [`is_full`](Queue::is_full) is always `true`.
        /// * `close()` wakes every waiter: a pusher whose item was not taken
        ///   gets it back in `PushError::Closed`; pops fail with `Closed`.
        /// * `task_done`/`join` count a push once its item is in the queue;
        ///   an item taken back no longer counts.
        ///
        /// # Examples
        ///
        /// ```
        /// use rallypoint::Queue;
        /// use std::sync::Arc;
        /// use std::sync::atomic::{AtomicBool, Ordering};
        ///
        /// let q = Arc::new(Queue::rendezvous());
        /// let popped = Arc::new(AtomicBool::new(false));
        /// let pusher = {
        ///     let (q, popped) = (q.clone(), popped.clone());
        ///     std::thread::spawn(move || {
        ///         q.push_blocking("hello").unwrap();
        ///         // The push returned: the popper has the item.
        ///         assert!(popped.load(Ordering::SeqCst));
        ///     })
        /// };
        /// // Nobody pops yet: the pusher is still waiting.
        /// std::thread::sleep(std::time::Duration::from_millis(10));
        /// assert!(!pusher.is_finished());
        /// popped.store(true, Ordering::SeqCst);
        /// assert_eq!(q.pop_blocking(), Ok("hello"));
        /// pusher.join().unwrap();
        ///
        /// // No popper waiting: `try_push` cannot hand the item over.
        /// assert!(q.try_push("nobody").unwrap_err().is_full());
        /// assert_eq!(q.capacity(), Some(0));
        /// ```
        #[must_use]
        pub const fn rendezvous() -> Self {
            Queue {
                core: Core::rendezvous(Items::fifo()),
            }
        }
    }
}
