//! [`Queue`], [`Stack`] and [`PriorityQueue`]: waiting containers for tasks
//! and threads (Python's `queue.Queue`, `LifoQueue` and `PriorityQueue`).
//!
//! # One engine, three orders
//!
//! The three containers are one engine (`waiting::Core<T>`) over one of
//! three buffers (`items::Items<T>`): a `VecDeque` (FIFO), a `Vec` (LIFO)
//! or a binary max-heap (greatest first). They share their futures
//! ([`Push`], [`Pop`], [`Join`], …) and their errors.
//!
//! All of a container's state lives under **one mutex**: the buffer, the
//! capacity, the closed flag, the unfinished-task count, the queues of
//! waiting poppers and pushers (id and waker each, in arrival order) and
//! the counts of reserved and woken ones. `join` waiters wait in a
//! third list. Wakers are woken through the engine's
//! deferral, after the mutex is released. The mutex is held only for a few counter updates and
//! one buffer operation, never while anyone sleeps. No `T` is dropped under
//! it (items are moved out first); the only user code that runs under it is
//! `T`'s `Ord` (priority order) and `Debug` (in the container's `Debug`),
//! which must not call back into the same container. A panicking `Ord`
//! leaves the priority order unspecified but loses no item (the heap only
//! swaps).
//!
//! ## Fairness: wake in place, or reserve
//!
//! Waiting poppers and pushers each wait in the crate's waiter list
//! (`pop.waiting`, `push.waiting`, under the lock, so in arrival order),
//! which also carries the container's [`Fairness`](crate::Fairness). How a
//! freed resource (an item for poppers, a slot for pushers) reaches them
//! depends on the mode of that side:
//!
//! * **Barging** (eventual fairness, the default, while no waiter is past
//!   the bound): a push that adds an item while poppers wait goes to the
//!   oldest popper not yet woken — one per free item. If that popper is a
//!   *thread* (a `_blocking` wait), it is *woken in place* and nothing is
//!   reserved: it takes the lock and removes an item if one is free; a
//!   running `pop` or `try_pop` may have taken it first, and then the woken
//!   popper was *passed over* and waits on, keeping its place. Threads that
//!   outnumber the CPUs thus keep running instead of waiting for one
//!   wake-up per item. If it is a *task*, the item is handed to it as in
//!   handoff mode: its executor polls it without a thread wake-up to wait
//!   for, and finding the item reserved spares it a second critical
//!   section (measured: in-place wakes made async rows up to 1.6× slower).
//! * **Handoff** (always under [`Fairness::Strict`](crate::Fairness::Strict);
//!   under eventual fairness once a waiter has been passed over for longer
//!   than the bound, until nobody is): the push removes the oldest popper
//!   from the queue, counts it in `pop.reserved` and wakes it: that item is
//!   now promised to it, and neither a later `pop` nor a `try_pop` can take
//!   it. The woken popper takes the lock and removes an item.
//!
//! Either way an item leaves the container only inside the call that
//! returns it. Because a waiter leaves the queue only under the lock — by
//! its own withdrawal, by taking a free item, or by being given a
//! reservation — looking itself up (also under the lock) tells a cancelled
//! or timed-out waiter exactly where it stands:
//!
//! * a **dropped** popper that held a reservation gives it back and offers
//!   the item to the next waiting popper; one that had been woken in place
//!   passes the wake on; one that was merely waiting just leaves the queue;
//! * a popper whose **deadline** passes after it was promised an item takes
//!   the item and returns `Ok` (the race is settled in favour of completion).
//!
//! Pushers on a full bounded container do the same with free slots
//! (`push.waiting` / `push.reserved`), and a dropped push future never
//! inserted its item (the item is inserted only inside the poll that
//! returns `Ok`).
//!
//! **What is guaranteed:** waiting poppers are woken, or promised items,
//! in the order they began waiting. If several woken or promised poppers
//! run at about the same time, they remove items in the order they get the
//! lock, so two of them may swap items with each other (which one of two
//! items a woken waiter gets is the scheduler's choice). In strict mode
//! nobody outside the promised set can take them, at a price: `try_pop`
//! may report `Empty` while `len() > 0` when every buffered item is
//! promised to a woken waiter that has not run yet (and `try_push` may
//! report `Full` for the same reason with free slots).
//!
//! # Rendezvous
//!
//! [`Queue::rendezvous`] is the same engine with a one-item slot (capacity
//! 1 inside, `Some(0)` outside) and a second wait for its pushers: once its
//! item is in the slot, a push waits in its own line until a pop removes
//! it, and one that gives up first takes the item back out (see
//! `waiting/rendezvous.rs`). A popper that had been promised that item
//! finds the slot empty and queues up again.
//!
//! # Close
//!
//! [`close`](Queue::close) is Python 3.13's `shutdown(immediate=False)`:
//! later pushes fail and hand their item back; pops drain what is buffered
//! and then fail with `Closed`; nothing buffered is ever dropped by
//! `close`. Every waiter wakes: `close` turns each waiting popper and
//! pusher into a reserved one, so each re-checks once. A woken pusher fails
//! with [`PushError::Closed`]; a woken popper takes an item if one is left,
//! else fails. A pop on a closed container fails once every remaining item
//! is taken or promised to another popper, so the buffered items are always
//! drained by someone.
//!
//! # Join
//!
//! Every successful push adds one unfinished task; [`task_done`](Queue::task_done)
//! removes one (failing if there are none: Python's `ValueError`), and
//! [`join`](Queue::join) waits until the count is 0. `close` does not change
//! the count. Like [`Event`](crate::Event), a join waiter remembers a
//! generation bumped whenever the count reaches 0, so a waiter released by
//! the last `task_done` completes even if a new push raises the count
//! before it runs.
//!
//! # Memory ordering
//!
//! There are no atomics of our own: every access to the state is under the
//! mutex, whose lock/unlock pair orders everything. So everything a thread
//! did before pushing an item happens-before the pop that returns it, and
//! everything done before the last `task_done` happens-before the return of
//! `join`. Reservations are made under the same mutex, and a woken waiter
//! re-takes it before looking at the state.
//!
//! # Storage
//!
//! One mutex over a plain `VecDeque` / `Vec` / heap, rather than a
//! lock-free buffer such as `concurrent-queue` (what async-channel uses):
//! the engine's bookkeeping (reservations, waiters, unfinished tasks,
//! closed) must change *atomically with* the buffer, and with a lock-free
//! buffer it would need its own synchronisation on top, paying twice.
//! `benches/queue_storage.rs` measures the alternatives (figures in
//! BENCHMARKS.md). Waiters are only woken when the state says someone
//! waits, so a push with nobody waiting makes no system call.
//!
//! # Python names
//!
//! | Python | rallypoint |
//! |---|---|
//! | `put(item)` / `put(item, timeout=t)` / `put_nowait` | `push`, `push_blocking` / `push_timeout(_blocking)` / `try_push` |
//! | `get()` / `get(timeout=t)` / `get_nowait` | `pop`, `pop_blocking` / `pop_timeout(_blocking)` / `try_pop` |
//! | `qsize`, `empty`, `full`, `maxsize` | `len`, `is_empty`, `is_full`, `capacity` |
//! | `Queue(maxsize=0)` (no limit) | [`Queue::unbounded`] (not [`Queue::rendezvous`], which has no buffer at all) |
//! | `task_done`, `join`, `unfinished_tasks` | same names (`join` in four forms) |
//! | `shutdown(immediate=False)` | `close` |
//! | `Full`, `Empty`, `ShutDown` | [`TryPushError::Full`], [`TryPopError::Empty`], the `Closed` variants |

mod channel;
mod error;
mod items;
mod rendezvous;
mod stream;
mod task;
mod waiting;

use std::fmt;
use std::time::Duration;

pub use channel::{Consumer, Producer};
pub use error::{
    PopError, PopTimeoutError, PushError, PushTimeoutError, TaskDoneError, TryPopError,
    TryPushError,
};
pub use stream::{IterBlocking, NextItem, PopStream, PopStreamArc};
#[cfg(all(target_os = "linux", feature = "process", not(loom)))]
pub(crate) use task::MarkDone;
pub use task::{PopTask, PopTaskTimeout, TaskFuture, TaskGuard};
pub use waiting::{Join, JoinTimeout, Pop, PopTimeout, Push, PushTimeout};

use crate::engine::deadline_after;
use crate::sync::loom_const_fn;
use items::Items;
use waiting::Core;

/// Defines one of the three containers; they differ only in their buffer
/// (and `PriorityQueue`'s `T: Ord` on its constructors).
macro_rules! container {
    (
        $(#[$meta:meta])*
        $name:ident, $items:expr, [$($bound:tt)*]
    ) => {
        $(#[$meta])*
        #[doc = ""]
        // The user-facing part of the design notes, shared by the three containers.
        #[doc = include_str!("queue/shared_docs.md")]
        pub struct $name<T> {
            core: Core<T>,
        }

        impl<T> $name<T>
        where
            $($bound)*
        {
            loom_const_fn! {
                #[doc = concat!("Creates an empty `", stringify!($name), "` with no capacity limit: `push` never waits.")]
                ///
                /// # Examples
                ///
                /// ```
                #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
                /// q.try_push(1).unwrap();
                /// assert_eq!(q.capacity(), None);
                /// ```
                #[must_use]
                pub const fn unbounded() -> Self {
                    $name {
                        core: Core::new($items, None),
                    }
                }
            }

            loom_const_fn! {
                #[doc = concat!("Creates an empty `", stringify!($name), "` holding at most `capacity` items: `push` waits while it is full.")]
                ///
                /// # Panics
                ///
                /// Panics if `capacity` is 0 (use `unbounded()` for no limit).
                ///
                /// # Examples
                ///
                /// ```
                #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
                /// q.try_push(1).unwrap();
                /// assert!(q.is_full());
                /// assert!(q.try_push(2).unwrap_err().is_full());
                /// ```
                #[must_use]
                #[track_caller]
                pub const fn bounded(capacity: usize) -> Self {
                    assert!(
                        capacity > 0,
                        concat!(
                            "a bounded ",
                            stringify!($name),
                            " needs a capacity of at least 1 (got 0); use ",
                            stringify!($name),
                            "::unbounded() for no limit"
                        )
                    );
                    $name {
                        core: Core::new($items, Some(capacity)),
                    }
                }
            }
        }

        impl<T> $name<T> {
            /// Sets how freed items and slots are shared between waiters and
            /// running callers (see [`Fairness`](crate::Fairness)); the
            /// default is [`Fairness::Eventual`](crate::Fairness::Eventual)
            /// with a 1 ms bound. Call it when building the container,
            /// before it is shared.
            ///
            /// With [`Fairness::Strict`](crate::Fairness::Strict), an item
            /// pushed while poppers wait is promised to the oldest of them at
            /// once, and no `try_pop` or new `pop` can take it (likewise for
            /// free slots and waiting pushers).
            ///
            /// # Examples
            ///
            /// ```
            /// use rallypoint::Fairness;
            ///
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<u8>::bounded(4).with_fairness(Fairness::Strict);")]
            /// assert_eq!(q.fairness(), Fairness::Strict);
            /// ```
            #[must_use]
            pub fn with_fairness(mut self, fairness: crate::Fairness) -> Self {
                self.core.set_fairness(fairness);
                self
            }

            /// The fairness policy this container was built with.
            #[must_use]
            pub fn fairness(&self) -> crate::Fairness {
                self.core.fairness()
            }

            /// Pushes `item`, waiting while the container is full. Fails,
            /// handing the item back, if the container is or becomes closed.
            ///
            /// Pushers waiting on a full container get free slots in the
            /// order they began waiting.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe. If the future is dropped before it completes, the
            /// item was **not** inserted (it is dropped with the future); an
            /// item is inserted only in the poll that returns `Ok`. If a slot
            /// had just been promised to this pusher, the drop passes it on
            /// to the next waiting pusher.
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
            /// q.push("a").await.unwrap();
            /// assert_eq!(q.pop().await, Ok("a"));
            /// # });
            /// ```
            #[doc(alias = "put")]
            pub fn push(&self, item: T) -> Push<'_, T> {
                Push::new(self.core.push_op(item), None)
            }

            /// Pushes `item`, blocking the thread while the container is
            /// full; see [`push`](Self::push).
            ///
            /// This must not be called from async code: it blocks the
            /// executor's thread. Use [`push`](Self::push) there.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push_blocking(1).unwrap();
            /// q.close();
            /// assert_eq!(q.push_blocking(2).unwrap_err().into_inner(), 2);
            /// ```
            #[doc(alias = "put")]
            pub fn push_blocking(&self, item: T) -> Result<(), PushError<T>> {
                match self.core.push_at_once(item) {
                    Ok(()) => Ok(()),
                    Err(item) => Push::new(self.core.push_op(item), None).block_after_try(),
                }
            }

            /// Like [`push`](Self::push), giving up after `timeout`:
            /// [`PushTimeoutError::Timeout`] hands the item back.
            /// `Duration::ZERO` tries without waiting; `Duration::MAX` waits
            /// forever. If a slot is promised to this pusher just as the
            /// deadline passes, the push completes.
            ///
            /// # Cancel safety
            ///
            /// As for [`push`](Self::push): a dropped future never inserted
            /// its item, and passes a promised slot on.
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
            /// q.push_timeout(1, Duration::from_millis(5)).await.unwrap();
            /// let err = q.push_timeout(2, Duration::from_millis(5)).await.unwrap_err();
            /// assert!(err.is_timeout());
            /// assert_eq!(err.into_inner(), 2);
            /// # });
            /// ```
            ///
            /// The deadline is kept by [the timer](crate#timers) that runs where the
            /// future is first polled (tokio's inside tokio with the `tokio` feature).
            pub fn push_timeout(&self, item: T, timeout: Duration) -> PushTimeout<'_, T> {
                PushTimeout::new(self.core.push_op(item), deadline_after(timeout))
            }

            /// Blocking form of [`push_timeout`](Self::push_timeout).
            ///
            /// This must not be called from async code.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
            /// q.push_timeout_blocking(1, Duration::ZERO).unwrap();
            /// let err = q.push_timeout_blocking(2, Duration::from_millis(5)).unwrap_err();
            /// assert_eq!(err.into_inner(), 2);
            /// ```
            pub fn push_timeout_blocking(
                &self,
                item: T,
                timeout: Duration,
            ) -> Result<(), PushTimeoutError<T>> {
                match self.core.push_at_once(item) {
                    Ok(()) => Ok(()),
                    Err(item) => {
                        PushTimeout::new(self.core.push_op(item), deadline_after(timeout)).block_after_try()
                    }
                }
            }

            /// Pushes `item` if there is room right now (Python's
            /// `put_nowait`).
            ///
            /// Fails with [`TryPushError::Full`] when the container is full
            /// or its free slots are promised to pushers already waiting, and
            /// with [`TryPushError::Closed`] when it is closed; both hand the
            /// item back.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
            /// assert!(q.try_push(1).is_ok());
            /// assert_eq!(q.try_push(2).unwrap_err().into_inner(), 2);
            /// ```
            #[doc(alias = "put_nowait")]
            pub fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
                self.core.try_push(item)
            }

            /// Pops the next item, waiting while the container is empty.
            /// Fails with [`PopError`] once the container is closed and
            /// drained.
            ///
            /// Waiting poppers are served in the order they began waiting;
            /// see [the waiting order](Self#waiting-order-and-fairness) for the exact guarantee.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: an item leaves the container only inside the
            /// poll that returns it, so dropping the future loses nothing. If
            /// an item had just been promised to this popper, the drop
            /// offers it to the next waiting popper (or leaves it for the
            /// next `pop`).
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(7).await.unwrap();
            /// assert_eq!(q.pop().await, Ok(7));
            /// # });
            /// ```
            #[doc(alias = "get")]
            pub fn pop(&self) -> Pop<'_, T> {
                Pop::new(self.core.pop_op(), None)
            }

            /// Pops the next item, blocking the thread while the container
            /// is empty; see [`pop`](Self::pop).
            ///
            /// This must not be called from async code: it blocks the
            /// executor's thread. Use [`pop`](Self::pop) there.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            #[doc = concat!("let q = Arc::new(rallypoint::", stringify!($name), "::unbounded());")]
            /// let producer = {
            ///     let q = q.clone();
            ///     std::thread::spawn(move || q.push_blocking("Hello World").unwrap())
            /// };
            /// assert_eq!(q.pop_blocking(), Ok("Hello World"));
            /// producer.join().unwrap();
            /// ```
            #[doc(alias = "get")]
            pub fn pop_blocking(&self) -> Result<T, PopError> {
                match self.core.pop_at_once() {
                    Some(item) => Ok(item),
                    None => Pop::new(self.core.pop_op(), None).block_after_try(),
                }
            }

            /// Like [`pop`](Self::pop), giving up after `timeout` with
            /// [`PopTimeoutError::Timeout`]. `Duration::ZERO` tries without
            /// waiting; `Duration::MAX` waits forever. If an item is promised
            /// to this popper just as the deadline passes, it is returned.
            ///
            /// # Cancel safety
            ///
            /// As for [`pop`](Self::pop): dropping the future loses nothing
            /// and passes a promised item on.
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<u8>::unbounded();")]
            /// let err = q.pop_timeout(Duration::from_millis(5)).await.unwrap_err();
            /// assert!(err.is_timeout());
            /// # });
            /// ```
            ///
            /// The deadline is kept by [the timer](crate#timers) that runs where the
            /// future is first polled (tokio's inside tokio with the `tokio` feature).
            pub fn pop_timeout(&self, timeout: Duration) -> PopTimeout<'_, T> {
                PopTimeout::new(self.core.pop_op(), deadline_after(timeout))
            }

            /// Blocking form of [`pop_timeout`](Self::pop_timeout).
            ///
            /// This must not be called from async code.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push_blocking(1).unwrap();
            /// assert_eq!(q.pop_timeout_blocking(Duration::ZERO), Ok(1));
            /// assert!(q.pop_timeout_blocking(Duration::from_millis(5)).is_err());
            /// ```
            pub fn pop_timeout_blocking(&self, timeout: Duration) -> Result<T, PopTimeoutError> {
                match self.core.pop_at_once() {
                    Some(item) => Ok(item),
                    None => PopTimeout::new(self.core.pop_op(), deadline_after(timeout)).block_after_try(),
                }
            }

            /// Pops the next item if one is available right now (Python's
            /// `get_nowait`).
            ///
            /// Fails with [`TryPopError::Empty`] when nothing can be taken —
            /// including when every buffered item is promised to a popper
            /// that was already waiting — and with [`TryPopError::Closed`]
            /// when the container is closed and drained.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// assert!(q.try_pop().unwrap_err().is_empty());
            /// q.try_push(3).unwrap();
            /// assert_eq!(q.try_pop(), Ok(3));
            /// ```
            #[doc(alias = "get_nowait")]
            pub fn try_pop(&self) -> Result<T, TryPopError> {
                self.core.try_pop()
            }

            /// The number of items inside (including items already promised
            /// to woken poppers). Python's `qsize()`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push('a').unwrap();
            /// assert_eq!(q.len(), 1);
            /// ```
            #[doc(alias = "qsize")]
            #[must_use]
            pub fn len(&self) -> usize {
                self.core.len()
            }

            /// `true` if there are no items inside. Python's `empty()`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<()>::unbounded();")]
            /// assert!(q.is_empty());
            /// ```
            #[must_use]
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// `true` if a bounded container holds `capacity` items (never for
            /// an unbounded one). Python's `full()`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::bounded(1);")]
            /// assert!(!q.is_full());
            /// q.try_push(0).unwrap();
            /// assert!(q.is_full());
            /// ```
            #[must_use]
            pub fn is_full(&self) -> bool {
                self.core.is_full()
            }

            /// The capacity of a bounded container, `None` if unbounded.
            /// Python's `maxsize`.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("assert_eq!(rallypoint::", stringify!($name), "::<u8>::bounded(4).capacity(), Some(4));")]
            #[doc = concat!("assert_eq!(rallypoint::", stringify!($name), "::<u8>::unbounded().capacity(), None);")]
            /// ```
            #[doc(alias = "maxsize")]
            #[must_use]
            pub fn capacity(&self) -> Option<usize> {
                self.core.capacity()
            }

            /// Closes the container (Python 3.13's `shutdown(immediate=False)`):
            /// later pushes fail and hand their item back; pops drain what is
            /// buffered, then fail with `Closed`; every waiting pusher and
            /// popper wakes. Nothing buffered is dropped.
            ///
            /// Returns `true` if this call closed it, `false` if it was
            /// already closed.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// assert!(q.close());
            /// assert!(!q.close());
            /// assert!(q.try_push(2).unwrap_err().is_closed());
            /// assert_eq!(q.try_pop(), Ok(1));
            /// assert!(q.try_pop().unwrap_err().is_closed());
            /// ```
            #[doc(alias = "shutdown")]
            pub fn close(&self) -> bool {
                self.core.close()
            }

            /// `true` once [`close`](Self::close) has been called.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<u8>::unbounded();")]
            /// assert!(!q.is_closed());
            /// q.close();
            /// assert!(q.is_closed());
            /// ```
            #[must_use]
            pub fn is_closed(&self) -> bool {
                self.core.is_closed()
            }

            /// Marks one popped item as processed (Python's `task_done()`).
            /// When every pushed item has been marked, [`join`](Self::join)
            /// waiters are released.
            ///
            /// Fails with [`TaskDoneError`] if called more times than items
            /// were pushed.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// q.try_pop().unwrap();
            /// assert_eq!(q.task_done(), Ok(()));
            /// assert!(q.task_done().is_err());
            /// ```
            pub fn task_done(&self) -> Result<(), TaskDoneError> {
                self.core.task_done()
            }

            /// The number of pushed items not yet matched by a
            /// [`task_done`](Self::task_done) (Python's `unfinished_tasks`).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// q.try_push(2).unwrap();
            /// q.task_done().unwrap();
            /// assert_eq!(q.unfinished_tasks(), 1);
            /// ```
            #[must_use]
            pub fn unfinished_tasks(&self) -> usize {
                self.core.unfinished_tasks()
            }

            /// Waits until every pushed item has been matched by a
            /// [`task_done`](Self::task_done) (Python's `join()`); returns at
            /// once if there are no unfinished tasks. Closing the container
            /// does not release it.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: dropping the future only removes its listener.
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(1).await.unwrap();
            /// let item = q.pop().await.unwrap();
            /// q.task_done().unwrap();
            /// q.join().await;
            /// # let _ = item;
            /// # });
            /// ```
            pub fn join(&self) -> Join<'_, T> {
                Join::new(self.core.join_op(), None)
            }

            /// Blocks until every pushed item has been matched by a
            /// [`task_done`](Self::task_done); see [`join`](Self::join).
            ///
            /// This must not be called from async code.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            #[doc = concat!("let q = Arc::new(rallypoint::", stringify!($name), "::unbounded());")]
            /// let worker = {
            ///     let q = q.clone();
            ///     std::thread::spawn(move || {
            ///         while let Ok(n) = q.pop_blocking() {
            ///             let _ = n * 2;
            ///             q.task_done().unwrap();
            ///         }
            ///     })
            /// };
            /// for n in 0..10 {
            ///     q.push_blocking(n).unwrap();
            /// }
            /// q.join_blocking(); // all ten processed
            /// q.close();
            /// worker.join().unwrap();
            /// ```
            pub fn join_blocking(&self) {
                Join::new(self.core.join_op(), None).block();
            }

            /// Like [`join`](Self::join), giving up after `timeout`: `true`
            /// if every task was done, `false` on timeout. `Duration::ZERO`
            /// checks without waiting.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe, like [`join`](Self::join).
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(1).await.unwrap();
            /// assert!(!q.join_timeout(Duration::from_millis(5)).await);
            /// q.task_done().unwrap();
            /// assert!(q.join_timeout(Duration::from_millis(5)).await);
            /// # });
            /// ```
            ///
            /// The deadline is kept by [the timer](crate#timers) that runs where the
            /// future is first polled (tokio's inside tokio with the `tokio` feature).
            pub fn join_timeout(&self, timeout: Duration) -> JoinTimeout<'_, T> {
                JoinTimeout::new(self.core.join_op(), deadline_after(timeout))
            }

            /// Blocking form of [`join_timeout`](Self::join_timeout).
            ///
            /// This must not be called from async code.
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// assert!(q.join_timeout_blocking(Duration::ZERO));
            /// q.try_push(1).unwrap();
            /// assert!(!q.join_timeout_blocking(Duration::from_millis(5)));
            /// ```
            pub fn join_timeout_blocking(&self, timeout: Duration) -> bool {
                JoinTimeout::new(self.core.join_op(), deadline_after(timeout)).block()
            }
        }

        impl<T> Default for $name<T>
        where
            $($bound)*
        {
            /// An unbounded, empty container.
            fn default() -> Self {
                Self::unbounded()
            }
        }

        /// Shows the items in pop order, the capacity, whether it is closed,
        /// the unfinished tasks and how many poppers and pushers wait, e.g.
        #[doc = concat!("`", stringify!($name), " { items: [\"Task1\"], capacity: None, closed: false, unfinished_tasks: 1, waiting_poppers: 0, waiting_pushers: 0 }`.")]
        ///
        /// Requires `T: Debug`, like the std collections: Rust cannot choose
        /// a different output for payloads without `Debug`. For those, read
        /// the state through [`len`](Self::len),
        /// [`capacity`](Self::capacity), [`is_closed`](Self::is_closed) and
        /// [`unfinished_tasks`](Self::unfinished_tasks).
        ///
        /// The container's lock is held while the items are formatted.
        impl<T: fmt::Debug> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.core.debug(f, stringify!($name))
            }
        }
    };
}

container! {
    /// A first-in, first-out waiting queue for tasks and threads: Python's
    /// `queue.Queue`.
    ///
    /// `pop` waits while the queue is empty; on a [bounded](Queue::bounded)
    /// queue, `push` waits while it is full; on a
    /// [rendezvous](Queue::rendezvous) queue (no buffer), `push` waits until
    /// a pop takes its item. The same queue can be used by
    /// async tasks (under any executor) and by threads at the same time.
    /// [`Stack`] and [`PriorityQueue`] have the same methods in another
    /// order.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Queue;
    /// use std::sync::Arc;
    ///
    /// let q = Arc::new(Queue::unbounded());
    /// for n in [111, 333, 222] {
    ///     q.push_blocking(n).unwrap();
    /// }
    /// // A thread and an async task drain the same queue, in FIFO order.
    /// let t = { let q = q.clone(); std::thread::spawn(move || q.pop_blocking().unwrap()) };
    /// assert_eq!(t.join().unwrap(), 111);
    /// futures_lite::future::block_on(async {
    ///     assert_eq!(q.pop().await, Ok(333));
    ///     assert_eq!(q.pop().await, Ok(222));
    /// });
    /// ```
    Queue, Items::fifo(), []
}

container! {
    /// A last-in, first-out waiting stack for tasks and threads: Python's
    /// `queue.LifoQueue`, and the seed's concurrent-stack exercise.
    ///
    /// `pop` waits while the stack is empty and returns the most recently
    /// pushed item; on a [bounded](Stack::bounded) stack, `push` waits while
    /// it is full. Threads and async tasks can share one stack.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Stack;
    ///
    /// let stack = Stack::unbounded();
    /// for n in [111, 333, 222] {
    ///     stack.push_blocking(n).unwrap();
    /// }
    /// assert_eq!(format!("{stack:?}").split(", capacity").next(), Some("Stack { items: [222, 333, 111]"));
    /// assert_eq!(stack.pop_blocking(), Ok(222));
    /// assert_eq!(stack.pop_blocking(), Ok(333));
    /// assert_eq!(stack.pop_blocking(), Ok(111));
    /// ```
    Stack, Items::lifo(), []
}

container! {
    /// A greatest-first waiting priority queue for tasks and threads:
    /// Python's `queue.PriorityQueue`, ordered like
    /// [`BinaryHeap`](std::collections::BinaryHeap).
    ///
    /// `pop` returns the greatest item (by `Ord`) and waits while the queue
    /// is empty; wrap items in [`Reverse`](std::cmp::Reverse) for Python's
    /// lowest-first order. Items that compare equal come out in an
    /// unspecified order. `T: Ord` is required to build one; the other
    /// methods are shared with [`Queue`] and [`Stack`].
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::PriorityQueue;
    /// use std::cmp::Reverse;
    ///
    /// let pq = PriorityQueue::unbounded();
    /// for n in [111, 333, 222] {
    ///     pq.push_blocking(n).unwrap();
    /// }
    /// assert_eq!(pq.pop_blocking(), Ok(333));
    /// assert_eq!(pq.pop_blocking(), Ok(222));
    ///
    /// // Python's lowest-first order, with (priority, payload) pairs:
    /// let jobs = PriorityQueue::unbounded();
    /// jobs.push_blocking(Reverse((2, "later"))).unwrap();
    /// jobs.push_blocking(Reverse((1, "first"))).unwrap();
    /// assert_eq!(jobs.pop_blocking().unwrap().0, (1, "first"));
    /// ```
    PriorityQueue, Items::heap(), [T: Ord]
}
