//! Synchronisation primitives for async tasks **and** plain threads at once:
//! Python's `threading` / `queue` toolkit, rebuilt for Rust.
//!
//! Every primitive in rallypoint can be awaited by async tasks — under any
//! executor: tokio, smol, `futures::executor`, a bare `block_on` — and waited
//! on by OS threads, *on the same instance, at the same time*. Each waiting
//! operation `op` comes in four forms, all driven by one state machine:
//!
//! | form | returns | for |
//! |---|---|---|
//! | `op(..)` | a named future | `.await` in any executor |
//! | `op_blocking(..)` | the output | plain threads |
//! | `op_timeout(.., d)` | a named future, timeout in its output | async, any executor (see [Timers](#timers)) |
//! | `op_timeout_blocking(.., d)` | the output | threads |
//!
//! Every future is cancel-safe: dropping it undoes its registration, and its
//! `# Cancel safety` section says exactly what a drop does. Waiters are
//! served in the order they began waiting.
//!
//! # Timers
//!
//! The async `_timeout` forms need no runtime: by default their deadline is
//! kept by `futures-timer`, whose one helper thread (started on first use)
//! drives every delay, under any executor. With the **`tokio`** cargo
//! feature, a timeout first polled inside a tokio runtime uses tokio's timer
//! instead, so tokio's paused and auto-advanced time (`start_paused`,
//! `tokio::time::advance`) drives it as it drives `tokio::time::timeout`;
//! that runtime needs its time driver (`enable_time` or `enable_all`).
//! Outside tokio (smol, a bare `block_on`, threads) nothing changes. The
//! `_timeout_blocking` forms always use the real clock.
//!
//! # Python names
//!
//! | Python | rallypoint | status |
//! |---|---|---|
//! | `threading.Barrier` | [`Barrier`] (`BrokenBarrierError`: [`BrokenBarrierError`], whose [`BrokenReason`] says why) | available |
//! | `threading.Event` | [`Event`] | available |
//! | `threading.Lock` | [`Mutex`] (async-lock's lock, wrapped: `lock_timeout` is `acquire(timeout=)`) | available |
//! | `threading.RLock` | [`ReentrantMutex`] (threads only) | available |
//! | `threading.Condition` | [`Condition`], or [`Condvar`] with a [`Mutex`] | available |
//! | `threading.Semaphore` | [`Semaphore::new`] | available |
//! | `threading.BoundedSemaphore` | [`Semaphore::bounded`] | available |
//! | `queue.Queue` | [`Queue`] | available |
//! | `queue.LifoQueue` | [`Stack`] | available |
//! | `queue.PriorityQueue` | [`PriorityQueue`] (greatest first; wrap items in `Reverse` for Python's lowest first) | available |
//! | `multiprocessing.*` | `rallypoint::process` (Linux, feature `process`, on by default) | Event, Lock, RLock, Condition, Barrier, Semaphore, Queue/JoinableQueue across processes |
//!
//! # Example: async and blocking on one barrier
//!
//! ```
//! use rallypoint::{Barrier, Event};
//! use std::sync::Arc;
//!
//! let barrier = Arc::new(Barrier::new(2));
//! let done = Arc::new(Event::new());
//!
//! // A plain thread…
//! let thread = {
//!     let (barrier, done) = (barrier.clone(), done.clone());
//!     std::thread::spawn(move || {
//!         barrier.wait_blocking().unwrap();
//!         done.wait_blocking();
//!     })
//! };
//!
//! // …and an async task meet at the same barrier.
//! futures_lite::future::block_on(async {
//!     barrier.wait().await.unwrap();
//!     done.set();
//! });
//! thread.join().unwrap();
//! ```

mod barrier;
mod condvar;
mod engine;
mod event;
mod fairness;
mod mutex;
#[cfg(all(target_os = "linux", feature = "process", not(loom)))]
pub mod process;
mod queue;
mod semaphore;
mod spin;
mod sync;
mod waiters;

pub use barrier::{Barrier, BarrierBuilder, BarrierWaitResult, BrokenBarrierError, BrokenReason};
pub use condvar::{Condition, ConditionGuard, Condvar, WaitTimeoutResult};
pub use event::Event;
pub use fairness::Fairness;
pub use mutex::{Mutex, MutexGuard, MutexGuardArc, ReentrantMutex, ReentrantMutexGuard};
pub use queue::{
    Consumer, IterBlocking, PopError, PopStream, PopStreamArc, PopTimeoutError, PriorityQueue,
    Producer, PushError, PushTimeoutError, Queue, Stack, TaskDoneError, TaskGuard, TryPopError,
    TryPushError,
};
pub use semaphore::{
    AcquireError, AcquireTimeoutError, ReleaseError, Semaphore, SemaphorePermit,
    SemaphorePermitArc, SemaphorePermitOf, TryAcquireError,
};

/// The named futures returned by the async front-ends (named like
/// `std::future`, so that `use rallypoint::*;` sits next to the `futures`
/// crate without ambiguity).
///
/// Each is `#[must_use]`, cancel-safe as its method's `# Cancel safety`
/// section describes, and `Send` when its payload is.
pub mod future {
    pub use crate::barrier::BarrierWait;
    pub use crate::condvar::{
        ConditionLock, ConditionWait, ConditionWaitTimeout, ConditionWaitWhile,
        ConditionWaitWhileTimeout, CondvarWait, CondvarWaitTimeout, CondvarWaitWhile,
        CondvarWaitWhileTimeout,
    };
    pub use crate::event::{EventWait, EventWaitTimeout};
    pub use crate::mutex::{MutexLock, MutexLockArc, MutexLockArcTimeout, MutexLockTimeout};
    pub use crate::queue::{
        Join, JoinTimeout, NextItem, Pop, PopTask, PopTaskTimeout, PopTimeout, Push, PushTimeout,
        TaskFuture,
    };
    pub use crate::semaphore::{
        SemaphoreAcquire, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout, SemaphoreAcquireTimeout,
    };
}
