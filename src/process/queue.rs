//! `process::Queue<T>`: Python's `multiprocessing.Queue` and
//! `JoinableQueue`, a bounded ring of items in a shared segment.
//!
//! The ring's algorithm, and why a killed process never leaves a torn item
//! or a wedged queue, is in [`ring`]; this file is the public API, the
//! encoding (postcard) and the waits (one [`ShmOp`] per wait, driven by
//! `wait.rs` like every process primitive).

mod builder;
mod error;
mod layout;
mod ops;
mod ring;
mod task;

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::OwnedFd;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use error::{
    ItemError, ItemErrorKind, PopError, PopTimeoutError, PushError, PushTimeoutError, TryPopError,
    TryPushError,
};

pub use self::builder::QueueBuilder;
pub use self::layout::DEFAULT_ITEM_SIZE_LIMIT;
use self::layout::{
    Body, Encoded, LAYOUT, Shape, body_size, decode, encode, ring_of, writer_exited,
};
use self::ops::{
    JoinOp, PopEnd, PopOp, PushEnd, PushOp, pop_result, pop_timeout_result, push_result,
    push_timeout_result,
};
pub use self::ops::{
    QueueJoin, QueueJoinTimeout, QueuePop, QueuePopTimeout, QueuePush, QueuePushTimeout,
};
use self::ring::Ring;
pub use self::task::{QueuePopTask, QueuePopTaskTimeout};
use super::layout::{BodySize, Kind};
use super::owner::Known;
use super::roster::{self, Claim};
use super::segment::{DEFAULT_MODE, Segment, segment_handle};
use super::wait::{self, AsyncShm, Attempt, ShmOp};
use crate::TaskDoneError;
use crate::engine::deadline_after;

/// A bounded queue of `T`s shared between processes — Python's
/// `multiprocessing.Queue` and `JoinableQueue` in one, with the four forms
/// of every rallypoint wait (SPEC §6, §8).
///
/// Items cross the boundary as bytes: `T` is encoded with
/// [postcard](https://docs.rs/postcard) by `push` and decoded by `pop`, so
/// any `T: Serialize + DeserializeOwned` works, and every process must push
/// and pop the same `T`. An item is in the shared ring when `push` returns
/// (no feeder thread, unlike Python), and whole: a process killed while
/// pushing leaves no item, one killed while popping takes at most the item
/// it had already removed. The ring holds `capacity` items of at most
/// [`item_size_limit`](Queue::item_size_limit) encoded bytes each (1 KiB
/// unless the [builder](Queue::builder) says otherwise); a larger item is
/// handed back in [`PushError::Invalid`]. The segment is about
/// `capacity × limit` bytes.
///
/// `close` (Python's `shutdown`), `task_done`/`join` (`JoinableQueue`) and
/// the error types follow the in-process [`Queue`](crate::Queue).
///
/// # A killed process
///
/// * A producer killed at any point of a push: the item is either wholly
///   in the queue or not at all. If it died after taking a slot, the first
///   popper to reach that slot finds out (through the roster and the
///   reaper thread, without polling) and skips it.
/// * A consumer killed at any point of a pop: the item is still in the
///   queue, or it was removed by the dead process (then it is gone, as in
///   Python). Nobody waits on its behalf.
/// * `join` counts an item a killed consumer removed but never marked done
///   as unfinished, as Python does: use `join_timeout` where that matters.
///
/// # Order and fairness
///
/// With one producer and one consumer the order is exact (FIFO). Waiters
/// of several processes are woken together and the first to retry wins:
/// unlike the in-process queue, there is no FIFO order among waiting
/// poppers (or pushers) across processes.
///
/// # Example
///
/// ```
/// use rallypoint::process::Queue;
///
/// # fn main() -> std::io::Result<()> {
/// let name = format!("doc-queue-{}", std::process::id());
/// let queue = Queue::<String>::create(&name, 16)?; // unlinked on drop
/// let peer = Queue::<String>::open(&name)?;        // another process would do this
/// let worker = std::thread::spawn(move || {
///     peer.push_blocking("Hello World".to_string()).unwrap();
/// });
/// assert_eq!(queue.pop_blocking().unwrap(), "Hello World");
/// worker.join().unwrap();
/// # Ok(())
/// # }
/// ```
pub struct Queue<T> {
    seg: Segment,
    shape: Shape,
    claim: Claim,
    /// This handle's short roster token, the writer named in its claims.
    me: u32,
    /// Writers this handle has seen and watches (a dead one is skipped).
    known: Known,
    /// The largest `head` this handle has read (ring.rs).
    head_seen: AtomicU64,
    _items: PhantomData<fn(T) -> T>,
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A builder for a queue of `capacity` items (item size limit, mode).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u64>::builder(1024).item_size_limit(16).anonymous()?;
    /// q.try_push(7).unwrap();
    /// assert_eq!(q.try_pop().unwrap(), 7);
    /// # Ok(())
    /// # }
    /// ```
    pub fn builder(capacity: usize) -> QueueBuilder<T> {
        QueueBuilder {
            capacity,
            limit: DEFAULT_ITEM_SIZE_LIMIT,
            budget: None,
            mode: DEFAULT_MODE,
            _items: PhantomData,
        }
    }

    /// Creates an empty queue of `capacity` items under `name` in
    /// `/dev/shm`, owner-only (mode `0o600`); the name is removed when this
    /// handle is dropped unless [`persist`](Queue::persist)ed.
    ///
    /// # Errors
    ///
    /// As [`QueueBuilder::create`].
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let name = format!("doc-queue-create-{}", std::process::id());
    /// let q = Queue::<u32>::create(&name, 4)?;
    /// assert_eq!(q.name(), Some(name.as_str()));
    /// assert!(Queue::<u32>::create(&name, 4).is_err()); // taken
    /// assert!(Queue::<u32>::create("other", 0).is_err()); // capacity 0
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(name: &str, capacity: usize) -> io::Result<Queue<T>> {
        Queue::builder(capacity).create(name)
    }

    /// Creates an empty queue with no name (see [`QueueBuilder::anonymous`]).
    ///
    /// # Errors
    ///
    /// As [`QueueBuilder::anonymous`].
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u32>::anonymous(4)?;
    /// assert_eq!(q.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous(capacity: usize) -> io::Result<Queue<T>> {
        Queue::builder(capacity).anonymous()
    }

    /// Opens the queue another process created under `name`.
    ///
    /// # Errors
    ///
    /// `NotFound`, `PermissionDenied`, `InvalidData` if the segment is not
    /// a queue of this version (too short, another kind, corrupted), or
    /// `Other` if all 64 participant slots are held by live handles.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let name = format!("doc-queue-open-{}", std::process::id());
    /// let q = Queue::<u32>::create(&name, 4)?;
    /// let peer = Queue::<u32>::open(&name)?;
    /// peer.try_push(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn open(name: &str) -> io::Result<Queue<T>> {
        Queue::with(Segment::open(
            name,
            Kind::Queue,
            LAYOUT,
            BodySize::FromParams(body_size),
        )?)
    }

    /// Takes over a queue segment's file descriptor, checking it as
    /// [`open`](Queue::open) does.
    ///
    /// # Errors
    ///
    /// As [`open`](Queue::open).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u32>::anonymous(4)?;
    /// let same = Queue::<u32>::from_fd(q.as_fd_owned()?)?;
    /// same.try_push(5).unwrap();
    /// assert_eq!(q.try_pop().unwrap(), 5);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_fd(fd: OwnedFd) -> io::Result<Queue<T>> {
        Queue::with(Segment::adopt(
            fd,
            None,
            Kind::Queue,
            LAYOUT,
            BodySize::FromParams(body_size),
        )?)
    }
}

impl<T> Queue<T> {
    fn with(seg: Segment) -> io::Result<Queue<T>> {
        let shape = Shape::from_params(&seg.meta().params).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "queue segment with bad parameters",
            )
        })?;
        let claim = roster::claim_for(&seg.map().body::<Body>().slots, "queue")?;
        Ok(Queue {
            me: roster::short(claim.token),
            seg,
            shape,
            claim,
            known: Known::default(),
            head_seen: AtomicU64::new(0),
            _items: PhantomData,
        })
    }

    fn body(&self) -> &Body {
        self.seg.map().body()
    }

    fn ring(&self) -> Ring<'_> {
        ring_of(self.seg.map(), self.shape, &self.head_seen)
    }

    /// Whether the writer of a slot the poppers wait on is alive; if so,
    /// makes sure its death will wake them (the reaper changes the poppers'
    /// word). The token is short (ring.rs); `false` if its claim is gone.
    fn writer_alive(&self, writer: u32) -> bool {
        if writer == self.me {
            return true;
        }
        let Some(token) = roster::expand(&self.body().slots, writer) else {
            return false;
        };
        self.known.watch(
            self.seg.map(),
            &self.body().slots,
            token,
            &self.body().waits.0.pop,
            (writer_exited, 0),
            8,
        )
    }

    /// The number of items in the queue (those being pushed included).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.len(), 1);
    /// assert!(!q.is_empty() && !q.is_full());
    /// # Ok(())
    /// # }
    /// ```
    pub fn len(&self) -> usize {
        self.ring().len() as usize
    }

    /// Whether the queue holds no item.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(1)?;
    /// assert!(q.is_empty());
    /// q.try_push(1).unwrap();
    /// assert!(!q.is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `capacity` items.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(1)?;
    /// q.try_push(1).unwrap();
    /// assert!(q.is_full());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_full(&self) -> bool {
        self.len() as u64 >= self.shape.capacity
    }

    /// The capacity, always `Some` (a queue across processes is bounded;
    /// the `Option` keeps the in-process queue's signature).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// assert_eq!(Queue::<u8>::anonymous(3)?.capacity(), Some(3));
    /// # Ok(())
    /// # }
    /// ```
    pub fn capacity(&self) -> Option<usize> {
        Some(self.shape.capacity as usize)
    }

    /// The largest encoded item the queue takes, in bytes.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<String>::builder(4).item_size_limit(64).anonymous()?;
    /// assert_eq!(q.item_size_limit(), 64);
    /// # Ok(())
    /// # }
    /// ```
    pub fn item_size_limit(&self) -> usize {
        self.shape.limit
    }

    /// The ring's size in the segment, in bytes: `capacity` slots of the
    /// item size limit plus an 8-byte state word, rounded up to 8 bytes.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u64>::builder(10).item_size_limit(16).anonymous()?;
    /// assert_eq!(q.ring_bytes(), 10 * 24);
    /// # Ok(())
    /// # }
    /// ```
    pub fn ring_bytes(&self) -> usize {
        self.shape.ring_bytes()
    }

    /// Closes the queue, in every process: later pushes fail and hand their
    /// item back, pops drain what is buffered and then fail with `Closed`,
    /// waiters wake. `true` if this call closed it. Nothing buffered is
    /// dropped.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{PopError, PushError, Queue};
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(1).unwrap();
    /// assert!(q.close());
    /// assert_eq!(q.push_blocking(2), Err(PushError::Closed(2)));
    /// assert_eq!(q.pop_blocking(), Ok(1));
    /// assert_eq!(q.pop_blocking(), Err(PopError::Closed));
    /// # Ok(())
    /// # }
    /// ```
    pub fn close(&self) -> bool {
        self.ring().close()
    }

    /// Whether the queue is closed.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(1)?;
    /// q.close();
    /// assert!(q.is_closed());
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.ring().is_closed()
    }

    /// Marks one popped item as processed (Python's
    /// `JoinableQueue.task_done`).
    ///
    /// # Errors
    ///
    /// [`TaskDoneError`] if called more times than items were pushed.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(1).unwrap();
    /// q.try_pop().unwrap();
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// q.task_done().unwrap();
    /// assert!(q.task_done().is_err());
    /// assert!(q.join_timeout_blocking(std::time::Duration::ZERO));
    /// # Ok(())
    /// # }
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        if self.ring().task_done() {
            Ok(())
        } else {
            Err(TaskDoneError)
        }
    }

    /// Items pushed and not yet marked done, in every process.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.unfinished_tasks(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn unfinished_tasks(&self) -> usize {
        self.ring().unfinished() as usize
    }

    fn join_op(&self) -> JoinOp<'_, T> {
        JoinOp { queue: self }
    }

    /// Waits until every pushed item has been marked done
    /// ([`task_done`](Queue::task_done)), in every process.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future changes nothing.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.try_push(1).unwrap();
    /// q.try_pop().unwrap();
    /// q.task_done().unwrap();
    /// futures_lite::future::block_on(q.join());
    /// # Ok(())
    /// # }
    /// ```
    pub fn join(&self) -> QueueJoin<'_, T> {
        QueueJoin::new(AsyncShm::new(self.join_op()), None)
    }

    /// Blocks until every pushed item has been marked done. Must not be
    /// called from async code (use [`join`](Queue::join)).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.join_blocking(); // nothing pushed: nothing to wait for
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_blocking(&self) {
        wait::block(&mut self.join_op(), None);
    }

    /// [`join`](Queue::join) with a deadline: `true` if every item was
    /// done, `false` on timeout.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Cancel safety
    ///
    /// As [`join`](Queue::join).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.try_push(1).unwrap();
    /// assert!(!futures_lite::future::block_on(q.join_timeout(Duration::from_millis(10))));
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> QueueJoinTimeout<'_, T> {
        QueueJoinTimeout::new(AsyncShm::new(self.join_op()), deadline_after(timeout))
    }

    /// [`join_blocking`](Queue::join_blocking) with a deadline: `true` if
    /// every item was done. Must not be called from async code.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.try_push(1).unwrap();
    /// assert!(!q.join_timeout_blocking(Duration::from_millis(10)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn join_timeout_blocking(&self, timeout: Duration) -> bool {
        wait::block(&mut self.join_op(), deadline_after(timeout))
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    fn push_op(&self, item: T) -> PushOp<'_, T> {
        PushOp {
            bytes: encode(&item, self.shape.limit),
            item: Some(item),
            queue: self,
        }
    }

    fn pop_op(&self) -> PopOp<'_, T> {
        PopOp {
            queue: self,
            writer: None,
            dead: None,
            _items: PhantomData,
        }
    }

    /// Pushes `item`, waiting for room while the queue is full.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the queue is (or gets) closed,
    /// [`PushError::Invalid`] if the item is over the size limit or cannot
    /// be encoded; the item is handed back either way.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: the item is in the queue only if the future returned
    /// `Ok`; dropped before that, the item is dropped with it, unpushed.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<String>::anonymous(4)?;
    /// futures_lite::future::block_on(async {
    ///     q.push("hi".to_string()).await.unwrap();
    ///     assert_eq!(q.pop().await.unwrap(), "hi");
    /// });
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "put")]
    pub fn push(&self, item: T) -> QueuePush<'_, T> {
        QueuePush::new(AsyncShm::new(self.push_op(item)), None)
    }

    /// Pushes `item`, blocking while the queue is full. Must not be called
    /// from async code (use [`push`](Queue::push)).
    ///
    /// # Errors
    ///
    /// As [`push`](Queue::push).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<String>::anonymous(2)?;
    /// q.push_blocking("put".to_string()).unwrap();
    /// assert_eq!(q.len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "put")]
    pub fn push_blocking(&self, item: T) -> Result<(), PushError<T>> {
        push_result(wait::block(&mut self.push_op(item), None))
    }

    /// [`push`](Queue::push) with a deadline.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] if there was no room until the
    /// deadline, otherwise as [`push`](Queue::push).
    ///
    /// # Cancel safety
    ///
    /// As [`push`](Queue::push).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{PushTimeoutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(1)?;
    /// q.try_push(1).unwrap();
    /// let full = futures_lite::future::block_on(q.push_timeout(2, Duration::from_millis(10)));
    /// assert_eq!(full, Err(PushTimeoutError::Timeout(2)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_timeout(&self, item: T, timeout: Duration) -> QueuePushTimeout<'_, T> {
        QueuePushTimeout::new(AsyncShm::new(self.push_op(item)), deadline_after(timeout))
    }

    /// [`push_blocking`](Queue::push_blocking) with a deadline. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`push_timeout`](Queue::push_timeout).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{PushTimeoutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(1)?;
    /// q.try_push(1).unwrap();
    /// let full = q.push_timeout_blocking(2, Duration::from_millis(10));
    /// assert_eq!(full, Err(PushTimeoutError::Timeout(2)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn push_timeout_blocking(
        &self,
        item: T,
        timeout: Duration,
    ) -> Result<(), PushTimeoutError<T>> {
        push_timeout_result(wait::block(
            &mut self.push_op(item),
            deadline_after(timeout),
        ))
    }

    /// Pushes `item` if there is room now.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`], otherwise as [`push`](Queue::push).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{Queue, TryPushError};
    /// let q = Queue::<u8>::anonymous(1)?;
    /// q.try_push(1).unwrap();
    /// assert_eq!(q.try_push(2), Err(TryPushError::Full(2)));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_push(&self, item: T) -> Result<(), TryPushError<T>> {
        let mut op = self.push_op(item);
        match op.attempt() {
            Attempt::Done(end) => match end {
                PushEnd::Pushed => Ok(()),
                PushEnd::Closed(item) => Err(TryPushError::Closed(item)),
                PushEnd::Invalid(item, why) => Err(TryPushError::Invalid(item, why)),
                PushEnd::Timeout(item) => Err(TryPushError::Full(item)),
            },
            Attempt::Sleep(_) => Err(TryPushError::Full(op.take_item())),
        }
    }

    /// Pops the oldest item, waiting while the queue is empty.
    ///
    /// # Errors
    ///
    /// [`PopError::Closed`] once the queue is closed and drained;
    /// [`PopError::Invalid`] if the item at the front was not a valid `T`
    /// (it is removed; the next pop goes on).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an item leaves the queue only in the poll that returns
    /// it.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(3).unwrap();
    /// assert_eq!(futures_lite::future::block_on(q.pop()), Ok(3));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "get")]
    pub fn pop(&self) -> QueuePop<'_, T> {
        QueuePop::new(AsyncShm::new(self.pop_op()), None)
    }

    /// Pops the oldest item, blocking while the queue is empty. Must not be
    /// called from async code (use [`pop`](Queue::pop)).
    ///
    /// # Errors
    ///
    /// As [`pop`](Queue::pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// q.try_push(4).unwrap();
    /// assert_eq!(q.pop_blocking(), Ok(4));
    /// # Ok(())
    /// # }
    /// ```
    #[doc(alias = "get")]
    pub fn pop_blocking(&self) -> Result<T, PopError> {
        pop_result(wait::block(&mut self.pop_op(), None))
    }

    /// [`pop`](Queue::pop) with a deadline.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] if no item came before the deadline,
    /// otherwise as [`pop`](Queue::pop).
    ///
    /// # Cancel safety
    ///
    /// As [`pop`](Queue::pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{PopTimeoutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(2)?;
    /// let got = futures_lite::future::block_on(q.pop_timeout(Duration::from_millis(10)));
    /// assert_eq!(got, Err(PopTimeoutError::Timeout));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> QueuePopTimeout<'_, T> {
        QueuePopTimeout::new(AsyncShm::new(self.pop_op()), deadline_after(timeout))
    }

    /// [`pop_blocking`](Queue::pop_blocking) with a deadline. Must not be
    /// called from async code.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Queue::pop_timeout).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{PopTimeoutError, Queue};
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// assert_eq!(
    ///     q.pop_timeout_blocking(Duration::from_millis(10)),
    ///     Err(PopTimeoutError::Timeout)
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_timeout_blocking(&self, timeout: Duration) -> Result<T, PopTimeoutError> {
        pop_timeout_result(wait::block(&mut self.pop_op(), deadline_after(timeout)))
    }

    /// Pops the oldest item if there is one now (an item whose push is
    /// still being written is not there yet).
    ///
    /// # Errors
    ///
    /// [`TryPopError::Empty`], otherwise as [`pop`](Queue::pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{Queue, TryPopError};
    /// let q = Queue::<u8>::anonymous(4)?;
    /// assert_eq!(q.try_pop(), Err(TryPopError::Empty));
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let mut op = self.pop_op();
        loop {
            match op.attempt() {
                Attempt::Done(end) => {
                    return match end {
                        PopEnd::Item(item) => Ok(item),
                        PopEnd::Closed => Err(TryPopError::Closed),
                        PopEnd::Invalid(why) => Err(TryPopError::Invalid(why)),
                        PopEnd::Timeout => Err(TryPopError::Empty),
                    };
                }
                // A writer at the front: look again only if it is dead.
                Attempt::Sleep(val) => {
                    if op.writer.is_none() || op.prepare_sleep(val) {
                        return Err(TryPopError::Empty);
                    }
                }
            }
        }
    }
}

impl<T> Drop for Queue<T> {
    fn drop(&mut self) {
        roster::release(&self.body().slots, &self.claim);
    }
}

segment_handle!(Queue<T>, "queue");

impl<T: DeserializeOwned + fmt::Debug> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        self.ring().peek(|bytes| items.push(decode::<T>(bytes)));
        f.debug_struct("Queue")
            .field("name", &self.name())
            .field("items", &DebugItems(&items))
            .field("capacity", &self.shape.capacity)
            .field("closed", &self.is_closed())
            .field("unfinished_tasks", &self.unfinished_tasks())
            .finish()
    }
}

/// The items of a `Debug` snapshot, an undecodable one as its error.
struct DebugItems<'a, T>(&'a [Result<T, ItemError>]);

impl<T: fmt::Debug> fmt::Debug for DebugItems<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for item in self.0 {
            match item {
                Ok(item) => list.entry(item),
                Err(why) => list.entry(&format_args!("<{why}>")),
            };
        }
        list.finish()
    }
}
