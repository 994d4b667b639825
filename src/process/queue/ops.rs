//! The waits of [`process::Queue`](super::Queue): one [`ShmOp`] each for
//! push, pop and join (driven by `wait.rs`, blocking or async), how each
//! ends, and the named futures.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use serde::de::DeserializeOwned;

use super::error::{
    ItemError, ItemErrorKind, PopError, PopTimeoutError, PushError, PushTimeoutError,
};
use super::ring::{Pop, Push};
use super::{Encoded, Queue, decode};
use crate::engine::named_future;
use crate::process::segment::Mapping;
use crate::process::wait::{AsyncShm, Attempt, ShmOp};

/// How long a spinning popper pauses between looks at an empty queue (in
/// `spin_loop` hints): long enough for the pusher to fill the slot and the
/// next ones on the same cache line without the popper taking the line
/// back after each, and it stretches the spin over about one cross-process
/// round trip, so that a reply is taken without sleeping. (A pusher
/// waiting for room gains nothing from it: it reads `head`, which the
/// popper writes anyway.) The values tried are in BENCHMARKS.md, "Across
/// processes, third sitting".
const POP_SPIN_PAUSE: u32 = 64;

/// How a push op ended (mapped to each form's error).
pub(crate) enum PushEnd<T> {
    Pushed,
    Closed(T),
    Timeout(T),
    Invalid(T, ItemError),
}

/// How a pop op ended.
pub(crate) enum PopEnd<T> {
    Item(T),
    Closed,
    Timeout,
    Invalid(ItemError),
}

pub(super) fn push_result<T>(end: PushEnd<T>) -> Result<(), PushError<T>> {
    match end {
        PushEnd::Pushed => Ok(()),
        PushEnd::Closed(item) | PushEnd::Timeout(item) => Err(PushError::Closed(item)),
        PushEnd::Invalid(item, why) => Err(PushError::Invalid(item, why)),
    }
}

pub(super) fn push_timeout_result<T>(end: PushEnd<T>) -> Result<(), PushTimeoutError<T>> {
    match end {
        PushEnd::Pushed => Ok(()),
        PushEnd::Closed(item) => Err(PushTimeoutError::Closed(item)),
        PushEnd::Timeout(item) => Err(PushTimeoutError::Timeout(item)),
        PushEnd::Invalid(item, why) => Err(PushTimeoutError::Invalid(item, why)),
    }
}

pub(super) fn pop_result<T>(end: PopEnd<T>) -> Result<T, PopError> {
    match end {
        PopEnd::Item(item) => Ok(item),
        PopEnd::Closed | PopEnd::Timeout => Err(PopError::Closed),
        PopEnd::Invalid(why) => Err(PopError::Invalid(why)),
    }
}

pub(super) fn pop_timeout_result<T>(end: PopEnd<T>) -> Result<T, PopTimeoutError> {
    match end {
        PopEnd::Item(item) => Ok(item),
        PopEnd::Closed => Err(PopTimeoutError::Closed),
        PopEnd::Timeout => Err(PopTimeoutError::Timeout),
        PopEnd::Invalid(why) => Err(PopTimeoutError::Invalid(why)),
    }
}

/// The state machine of one push.
pub(crate) struct PushOp<'a, T> {
    pub(super) queue: &'a Queue<T>,
    /// `None` once handed back or pushed.
    pub(super) item: Option<T>,
    /// The item's encoding, made once (or why it could not be).
    pub(super) bytes: Result<Encoded, ItemError>,
}

// The item is never pinned: it is only moved in and out by value.
impl<T> Unpin for PushOp<'_, T> {}

impl<T> PushOp<'_, T> {
    pub(super) fn take_item(&mut self) -> T {
        self.item.take().expect("a push op ends once")
    }
}

impl<T> ShmOp for PushOp<'_, T> {
    type Output = PushEnd<T>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.queue.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.push
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.push_sleepers
    }

    fn attempt(&mut self) -> Attempt<PushEnd<T>> {
        let bytes = match &self.bytes {
            Ok(bytes) => bytes,
            Err(why) => {
                let why = why.clone();
                return Attempt::Done(PushEnd::Invalid(self.take_item(), why));
            }
        };
        // SeqCst: read before the look at the ring (wait.rs).
        let val = self.word().load(Ordering::SeqCst);
        match self.queue.ring().try_push(bytes.bytes(), self.queue.me) {
            Push::Done => {
                drop(self.take_item());
                Attempt::Done(PushEnd::Pushed)
            }
            Push::Closed => Attempt::Done(PushEnd::Closed(self.take_item())),
            Push::Full => Attempt::Sleep(val),
        }
    }

    fn timed_out(&mut self) -> PushEnd<T> {
        PushEnd::Timeout(self.take_item())
    }

    fn counted(&mut self) {
        self.queue.ring().push_wake.rearm();
    }
}

/// The state machine of one pop.
pub(crate) struct PopOp<'a, T> {
    pub(super) queue: &'a Queue<T>,
    /// The writer of the front slot and its state word, from the last
    /// attempt, when that is what it waits for.
    pub(super) writer: Option<(u64, u32)>,
    /// A front slot's state word whose writer was found dead.
    pub(super) dead: Option<u64>,
    pub(super) _items: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> ShmOp for PopOp<'_, T> {
    type Output = PopEnd<T>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.queue.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.pop
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.pop_sleepers
    }

    fn attempt(&mut self) -> Attempt<PopEnd<T>> {
        // SeqCst: read before the look at the ring (wait.rs).
        let val = self.word().load(Ordering::SeqCst);
        self.writer = None;
        match self.queue.ring().try_pop(self.dead, decode::<T>) {
            Pop::Item(Ok(item)) => Attempt::Done(PopEnd::Item(item)),
            Pop::Item(Err(why)) => {
                self.queue.ring().corrupt_done();
                Attempt::Done(PopEnd::Invalid(why))
            }
            Pop::Corrupt(why) => {
                Attempt::Done(PopEnd::Invalid(ItemError::new(ItemErrorKind::Corrupt, why)))
            }
            Pop::Closed => Attempt::Done(PopEnd::Closed),
            Pop::Empty => Attempt::Sleep(val),
            Pop::Writer { word, writer } => {
                self.writer = Some((word, writer));
                Attempt::Sleep(val)
            }
        }
    }

    fn timed_out(&mut self) -> PopEnd<T> {
        PopEnd::Timeout
    }

    fn spin_pause(&self) -> u32 {
        POP_SPIN_PAUSE
    }

    fn counted(&mut self) {
        self.queue.ring().pop_wake.rearm();
    }

    fn prepare_sleep(&mut self, _val: u32) -> bool {
        // Before sleeping behind a writer, make sure its death wakes us;
        // if it is dead already, skip its slot now.
        match self.writer.take() {
            Some((word, writer)) if !self.queue.writer_alive(writer) => {
                self.dead = Some(word);
                false
            }
            _ => true,
        }
    }
}

/// The state machine of one join.
pub(crate) struct JoinOp<'a, T> {
    pub(super) queue: &'a Queue<T>,
}

impl<T> ShmOp for JoinOp<'_, T> {
    type Output = bool;

    fn mapping(&self) -> &Arc<Mapping> {
        self.queue.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.join
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.queue.body().waits.0.join_sleepers
    }

    fn attempt(&mut self) -> Attempt<bool> {
        // SeqCst: read before the look at the counts (wait.rs).
        let val = self.word().load(Ordering::SeqCst);
        if self.queue.ring().unfinished() == 0 {
            Attempt::Done(true)
        } else {
            Attempt::Sleep(val)
        }
    }

    fn timed_out(&mut self) -> bool {
        false
    }

    fn counted(&mut self) {
        self.queue.ring().join_wake.rearm();
    }
}

macro_rules! op_debug {
    ($($op:ident),*) => {$(
        impl<T> fmt::Debug for $op<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($op)).finish_non_exhaustive()
            }
        }
    )*};
}
op_debug!(PushOp, PopOp, JoinOp);

named_future! {
    /// Future returned by [`Queue::push`](crate::process::Queue::push).
    pub struct QueuePush<'a, T>(AsyncShm<PushOp<'a, T>>) -> Result<(), PushError<T>>;
    |end| push_result(end)
}

named_future! {
    /// Future returned by
    /// [`Queue::push_timeout`](crate::process::Queue::push_timeout).
    pub struct QueuePushTimeout<'a, T>(AsyncShm<PushOp<'a, T>>) -> Result<(), PushTimeoutError<T>>;
    |end| push_timeout_result(end)
}

named_future! {
    /// Future returned by [`Queue::pop`](crate::process::Queue::pop).
    pub struct QueuePop<'a, T>(AsyncShm<PopOp<'a, T>>) -> Result<T, PopError>
    where [T: DeserializeOwned];
    |end| pop_result(end)
}

named_future! {
    /// Future returned by
    /// [`Queue::pop_timeout`](crate::process::Queue::pop_timeout).
    pub struct QueuePopTimeout<'a, T>(AsyncShm<PopOp<'a, T>>) -> Result<T, PopTimeoutError>
    where [T: DeserializeOwned];
    |end| pop_timeout_result(end)
}

named_future! {
    /// Future returned by [`Queue::join`](crate::process::Queue::join).
    pub struct QueueJoin<'a, T>(AsyncShm<JoinOp<'a, T>>) -> ();
    |_done| ()
}

named_future! {
    /// Future returned by
    /// [`Queue::join_timeout`](crate::process::Queue::join_timeout): `true`
    /// if every item was done, `false` on timeout.
    pub struct QueueJoinTimeout<'a, T>(AsyncShm<JoinOp<'a, T>>) -> bool;
    |done| done
}
