//! Primitives shared between processes: Python's `multiprocessing`
//! `Event`, `Barrier`, `Semaphore`/`BoundedSemaphore`, `Lock`, `RLock`,
//! `Condition` and `Queue`/`JoinableQueue`,
//! with the same four forms (`.await`, `_blocking`, `_timeout`, `try_`) as
//! the in-process types (`RLock`: the blocking ones, as in Python), across
//! any mix of threads, tasks and processes (SPEC §8).
//!
//! **Linux only**, behind the default cargo feature `process`: on other
//! targets (and under loom) this module does not exist.
//!
//! | Python `multiprocessing` | rallypoint |
//! |---|---|
//! | `Event()` | [`Event::create`] / [`Event::open`], [`Event::anonymous`] |
//! | `Barrier(parties, timeout=)` | [`Barrier::create`] / [`Barrier::open`], [`Barrier::anonymous`], [`Barrier::with_timeout`]; no action (the party told [`is_leader`](crate::BarrierWaitResult::is_leader) runs it) |
//! | `Semaphore(value)` / `BoundedSemaphore(value)` | [`Semaphore::create`] / [`Semaphore::create_bounded`] / [`Semaphore::open`], [`Semaphore::builder`] (bound, [`Fairness`](crate::Fairness), mode), [`Semaphore::anonymous`] |
//! | `RLock()` | [`RLock::create`] / [`RLock::open`], [`RLock::anonymous`]; blocking forms only, reentrant for the holding thread |
//! | `Lock()` | [`Lock::create`] / [`Lock::open`], [`Lock::anonymous`]; `acquire`/`release` are [`Lock::acquire`] and dropping the [`LockGuard`] |
//! | `Condition()` | [`Condition::create`] / [`Condition::open`], [`Condition::anonymous`]; `with cond:` is [`Condition::lock_blocking`], `wait(timeout)` is [`Condition::wait_timeout_blocking`] (or `wait().await`), `wait_for` is [`Condition::wait_while_blocking`] |
//! | `Queue(maxsize)` / `JoinableQueue(maxsize)` | [`Queue::create`] / [`Queue::open`], [`Queue::anonymous`], [`Queue::builder`] (item size limit, mode); `put`/`get` are [`Queue::push`]/[`Queue::pop`] in four forms, `task_done`/`join` as in Python, `close` is Python 3.13's `shutdown` |
//!
//! # How it works
//!
//! Each primitive is a *segment*: a small shared-memory file in
//! `/dev/shm` (or an anonymous memfd) that starts with a checked header —
//! magic, format version, kind, sizes, a checksum — followed by the
//! primitive's state, which is made of atomic words only. Opening checks
//! every header field and refuses a segment that is not one of ours, of
//! another version or kind, truncated or corrupted with `InvalidData`;
//! nothing read from shared memory is ever trusted as a pointer or an
//! unchecked index.
//!
//! * **Blocking waits** spin briefly (SPEC §0), then sleep on the state
//!   word itself with a *shared* futex: a wake-up from another process is
//!   one system call on each side.
//! * **Async waits** (any executor) are handed to one helper thread per
//!   process, started on the first async wait, which sleeps on every word
//!   this process's tasks wait on at once (`futex_waitv`, Linux ≥ 5.16) and
//!   wakes each task when its word changes. The futures are the in-process
//!   engine's, so timeouts and cancel-safety are the same code.
//!
//! # A process that dies
//!
//! A process may be killed at any instruction; every change to a segment
//! is one atomic operation, so the others never see a torn state.
//!
//! * [`Event`]: nothing to recover (an event has no owner).
//! * [`Lock`]: the next locker — a waiter that was asleep, or a later
//!   caller — takes the lock over and is told so with [`OwnerDied`], the
//!   guard inside. Waiters hear of the death without polling: before one
//!   sleeps on a lock held by another process, this process's *reaper*
//!   thread (started on first need) watches that process through a pidfd,
//!   and marks the lock's word when it exits. Handles record themselves in
//!   a table of 64 participant slots in the segment (pid and start time,
//!   so a reused pid is not mistaken for a live holder); a dead process's
//!   slot is reclaimed by whoever needs it.
//! * [`RLock`]: as [`Lock`], at any depth: the next locker gets
//!   [`OwnerDied`] with a guard of depth 1.
//! * [`Barrier`]: a party killed while it waits or arrives breaks the
//!   barrier for the others, who are woken at once the same way (every
//!   sleeper watches the parties of its generation) and told so
//!   ([`BrokenReason::PartyDied`](crate::BrokenReason::PartyDied));
//!   `reset()` repairs it.
//! * [`Semaphore`]: permits a dead process held are gone, as in Python
//!   (a permit has no owner). A process killed while waiting loses its
//!   place: the processes waiting behind it watch it (the same reaper) and
//!   reclaim its record, and permits granted to it go to the next waiter.
//!   One killed inside the semaphore's short internal critical section
//!   (a mutex in the segment, taken over like a `Lock`) is repaired by the
//!   next process to enter it.
//! * [`Condition`]: its lock is a [`Lock`] (a killed holder hands
//!   [`OwnerDied`] on, also to a waiter's relock). A waiter killed while
//!   waiting is reclaimed by the next notifier, which does not count it;
//!   one killed after its notification, before relocking, takes it along.
//! * [`Queue`]: a producer killed at any point of a push leaves the item
//!   wholly in the queue or not at all (a slot it had taken is skipped by
//!   the consumers, who watch it like the semaphore's waiters do); a
//!   consumer killed in a pop leaves the item in the queue, or took it
//!   (gone, as in Python). Nothing is torn, duplicated or repaired later:
//!   every change is one atomic operation on one word.
//! * A `fork()`ed child inherits its parent's handles, and with them the
//!   parent's identity: it must open handles of its own.
//!
//! # Names and lifetime
//!
//! A named segment is created owner-only (mode `0o600`) unless a mode is
//! given, atomically (a peer never sees it half-written; `AlreadyExists`
//! if the name is taken), and unlinked when the creating handle is dropped
//! unless it was `persist()`ed. Names are one path component.
//!
//! # Known limits
//!
//! * A process of the same user can `ftruncate` a named segment under
//!   the others, who then fault (`SIGBUS`) on access; anonymous segments are
//!   sealed against it. Mode `0o600` keeps other users out.
//! * Peers must be on the same machine (futexes are local).
//! * A condition has 128 waiter records (all processes together); a wait
//!   that finds them all taken returns at once, as a spurious wake-up.
//! * A queue's waiters of several processes are woken together and race:
//!   no FIFO order among waiting poppers (or pushers) across processes.
//!   Its segment is about `capacity × item size limit` bytes (at most
//!   1 GiB).
//! * A semaphore's queue has 128 records (waiters of all processes
//!   together); an acquire that finds them all taken waits for one to be
//!   freed, outside the FIFO order. Its async acquires take the internal
//!   mutex inside `poll` (held for a few hundred nanoseconds; longer only
//!   while a dead holder is being taken over).

mod barrier;
mod condition;
mod event;
mod futex;
mod layout;
mod lock;
mod owner;
mod queue;
mod reaper;
mod rlock;
mod roster;
mod segment;
mod semaphore;
mod wait;
mod watcher;

pub use barrier::{Barrier, BarrierWait};
pub use condition::{Condition, ConditionWait, ConditionWaitTimeout};
pub use event::{Event, EventWait, EventWaitTimeout};
pub use lock::{Lock, LockAcquire, LockAcquireTimeout, LockGuard, LockResult, OwnerDied};
pub use queue::{
    DEFAULT_ITEM_SIZE_LIMIT, ItemError, ItemErrorKind, PopError, PopTimeoutError, PushError,
    PushTimeoutError, Queue, QueueBuilder, QueueJoin, QueueJoinTimeout, QueuePop, QueuePopTask,
    QueuePopTaskTimeout, QueuePopTimeout, QueuePush, QueuePushTimeout, TryPopError, TryPushError,
};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{
    Semaphore, SemaphoreAcquire, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout,
    SemaphoreAcquireTimeout, SemaphoreBuilder, SemaphorePermit, SemaphorePermitArc,
    SemaphorePermitOf,
};
