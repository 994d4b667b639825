//! How a [`Mutex`] is locked: async-lock's own `Lock` / `LockArc` futures
//! do the waiting (the lock itself is async-lock's, not rewritten);
//! [`LazyLock`] polls them on behalf of rallypoint's engine, and
//! [`LockOp`] is the engine [`Op`] behind all four front-ends
//! (`lock`, `lock_blocking`, `lock_timeout`, `lock_timeout_blocking`) and
//! their `_arc` forms. The condvar's relock uses [`LazyLock`] too.
//!
//! # Why waiting through async-lock's future is cancel safe
//!
//! async-lock's `Lock` future takes the lock only in the poll that returns
//! `Ready`; while it is pending it holds nothing but its place in the
//! mutex's listener list (and, after 500 µs of waiting, a count of one in
//! the mutex's "starved waiters" field, which makes new lockers queue
//! behind it). Dropping it removes the listener — a wake-up it had
//! received passes on to the next listener — and gives the starved count
//! back. So a [`LockOp`] that is dropped, or withdrawn at its deadline,
//! can never leave the mutex locked or a wake-up lost: it simply drops the
//! future.
//!
//! # Wakers
//!
//! async-lock's listener list clones, wakes and drops the waker it is given
//! under its own lock, so [`LazyLock`] hands it a [`Shield`] rather than the
//! caller's waker (see the engine's docs, "Wakers are user code"). The
//! blocking driver's own waker, which only unparks a thread, is given as it
//! is.
//!
//! [`Mutex`]: super::Mutex

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_lock::Mutex as AsyncLockMutex;
use async_lock::futures::{Lock, LockArc};

use super::{MutexGuard, MutexGuardArc};

use crate::engine::{Op, Shield, named_future};

#[cfg(doc)]
use super::Mutex;

/// Something async-lock can lock: a borrowed mutex (guard [`MutexGuard`])
/// or an `Arc`'d one (guard [`MutexGuardArc`]). The guards are
/// rallypoint's wrappers of async-lock's (see `guard.rs`).
pub(crate) trait LockSource {
    type Guard;
    /// async-lock's future for this source (`!Unpin`, so [`LazyLock`]
    /// boxes it), whose output [`wrap`](LockSource::wrap) turns into a
    /// [`Guard`](LockSource::Guard).
    type Slow: Future;

    /// One compare-exchange on the mutex's state: no lock, no wake.
    fn try_lock(&self) -> Option<Self::Guard>;

    /// async-lock's waiting future.
    fn slow(&self) -> Self::Slow;

    /// Wraps async-lock's guard.
    fn wrap(guard: <Self::Slow as Future>::Output) -> Self::Guard;
}

impl<'a, T: ?Sized> LockSource for &'a AsyncLockMutex<T> {
    type Guard = MutexGuard<'a, T>;
    type Slow = Lock<'a, T>;

    #[inline]
    fn try_lock(&self) -> Option<MutexGuard<'a, T>> {
        AsyncLockMutex::try_lock(self).map(MutexGuard::new)
    }

    fn slow(&self) -> Lock<'a, T> {
        AsyncLockMutex::lock(self)
    }

    #[inline]
    fn wrap(guard: async_lock::MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        MutexGuard::new(guard)
    }
}

impl<T: ?Sized> LockSource for Arc<AsyncLockMutex<T>> {
    type Guard = MutexGuardArc<T>;
    type Slow = LockArc<T>;

    #[inline]
    fn try_lock(&self) -> Option<MutexGuardArc<T>> {
        AsyncLockMutex::try_lock_arc(self).map(MutexGuardArc::new)
    }

    fn slow(&self) -> LockArc<T> {
        AsyncLockMutex::lock_arc(self)
    }

    #[inline]
    fn wrap(guard: async_lock::MutexGuardArc<T>) -> MutexGuardArc<T> {
        MutexGuardArc::new(guard)
    }
}

/// Locks a mutex: one `try_lock` first, and async-lock's waiting future
/// (boxed, since it is `!Unpin`) only if the mutex is busy, so the
/// uncontended path does not allocate. async-lock's listener gets a
/// [`Shield`] for the caller's waker (see the module docs).
pub(crate) struct LazyLock<S: LockSource> {
    source: S,
    // Declared before `shield`: the listener inside drops first.
    slow: Option<Pin<Box<S::Slow>>>,
    shield: Shield,
}

impl<S: LockSource> LazyLock<S> {
    pub(crate) fn new(source: S) -> Self {
        LazyLock {
            source,
            slow: None,
            shield: Shield::default(),
        }
    }

    /// Whether async-lock's future has been started: the lock may then be
    /// queued in the mutex's listener list (so dropping it may pass a
    /// wake-up on).
    #[inline]
    pub(crate) fn is_queued(&self) -> bool {
        self.slow.is_some()
    }

    /// One attempt that takes no lock and wakes nobody.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<S::Guard> {
        self.source.try_lock()
    }

    /// Tries, then waits in async-lock's queue.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<S::Guard> {
        if self.slow.is_none() {
            if let Some(guard) = self.source.try_lock() {
                return Poll::Ready(guard);
            }
        }
        let source = &self.source;
        let waker = self.shield.waker(cx);
        self.slow
            .get_or_insert_with(|| Box::pin(source.slow()))
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .map(S::wrap)
    }

    /// [`poll`](LazyLock::poll), but a blocking waiter first spins briefly
    /// on the lock before queueing on it: when the holder is about to
    /// release it (a condvar notifier that still holds the mutex releases
    /// it a moment later), queueing would cost a second sleep and wake-up
    /// for that moment (std's futex mutex spins for the same reason). The
    /// spin tries at once, before any pause. No deadline: the spin is
    /// bounded to a few microseconds (`spin.rs`), and a condvar's relock
    /// must finish anyway. Async waiters never spin (SPEC §0).
    pub(crate) fn poll_spinning(&mut self, cx: &mut Context<'_>) -> Poll<S::Guard> {
        if self.slow.is_none() && crate::engine::is_own_parker(cx.waker()) {
            if let Some(guard) = crate::spin::until(None, || self.source.try_lock()) {
                return Poll::Ready(guard);
            }
        }
        self.poll(cx)
    }

    /// Leaves async-lock's queue, passing on a wake-up it had received
    /// (see the module docs). Call inside a wake section: the hand-on wakes
    /// the next listener.
    pub(crate) fn withdraw(&mut self) {
        self.slow = None;
    }
}

/// The state machine behind every [`Mutex`] lock: async-lock's future,
/// driven by the engine with an optional deadline. Its output is the guard,
/// or `None` once the deadline has passed.
pub(crate) struct LockOp<S: LockSource> {
    lock: LazyLock<S>,
}

impl<S: LockSource> LockOp<S> {
    #[inline]
    pub(crate) fn new(source: S) -> Self {
        LockOp {
            lock: LazyLock::new(source),
        }
    }
}

impl<S: LockSource> Op for LockOp<S> {
    type Output = Option<S::Guard>;

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Option<S::Guard>> {
        self.lock.poll(cx).map(Some)
    }

    fn on_timeout(&mut self, _cx: &mut Context<'_>) -> Poll<Option<S::Guard>> {
        // Leave the queue first (passing on a wake-up we had received, and
        // giving back our "starved" count, which would otherwise make the
        // last attempt fail on our own account), then one last attempt: the
        // lock may have been released at the very moment the deadline
        // passed.
        self.lock.withdraw();
        Poll::Ready(self.lock.try_lock())
    }

    #[inline]
    fn poll_fast(&mut self) -> Option<Option<S::Guard>> {
        // The first attempt only: once queued, a wake-up is the queue's to
        // hand out (async-lock's future takes the lock when it is polled).
        if self.lock.is_queued() {
            return None;
        }
        self.lock.try_lock().map(Some)
    }

    const SPINS: bool = true;

    #[inline]
    fn spin_try(&mut self) -> Option<Option<S::Guard>> {
        // One compare-exchange: as cheap as a lock-free hint would be.
        self.poll_fast()
    }

    fn may_wake_on_drop(&self) -> bool {
        // Dropping async-lock's future may pass a wake-up on.
        self.lock.is_queued()
    }
}

/// The untimed front-ends' output: without a deadline, `on_timeout` never
/// runs, so the op always ends with a guard.
#[inline]
fn untimed<G>(guard: Option<G>) -> G {
    guard.expect("rallypoint: a lock without a deadline timed out")
}

named_future! {
    /// Future returned by [`Mutex::lock`]; resolves to the guard.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Mutex;
    /// use rallypoint::future::MutexLock;
    /// let mutex = Mutex::new(1);
    /// let future: MutexLock<'_, i32> = mutex.lock();
    /// assert_eq!(*future.await, 1);
    /// # });
    /// ```
    pub struct MutexLock<'a, T>(LockOp<&'a AsyncLockMutex<T>>) -> MutexGuard<'a, T>
    where [T: ?Sized];
    |guard| untimed(guard)
}

named_future! {
    /// Future returned by [`Mutex::lock_timeout`]; resolves to the guard,
    /// or `None` if the timeout elapsed first.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Mutex;
    /// use rallypoint::future::MutexLockTimeout;
    /// use std::time::Duration;
    /// let mutex = Mutex::new(1);
    /// let _held = mutex.try_lock().unwrap();
    /// let future: MutexLockTimeout<'_, i32> = mutex.lock_timeout(Duration::from_millis(1));
    /// assert!(future.await.is_none());
    /// # });
    /// ```
    pub struct MutexLockTimeout<'a, T>(LockOp<&'a AsyncLockMutex<T>>)
        -> Option<MutexGuard<'a, T>>
    where [T: ?Sized];
    |guard| guard
}

named_future! {
    /// Future returned by [`Mutex::lock_arc`]; resolves to an owned guard.
    /// It owns a clone of the `Arc`, so it is `'static` (when `T` is) and
    /// can be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::{Mutex, MutexGuardArc};
    /// use rallypoint::future::MutexLockArc;
    /// use std::sync::Arc;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let future: MutexLockArc<i32> = mutex.lock_arc();
    /// let guard: MutexGuardArc<i32> =
    ///     std::thread::spawn(move || futures_lite::future::block_on(future))
    ///         .join()
    ///         .unwrap();
    /// assert_eq!(*guard, 1);
    /// ```
    pub struct MutexLockArc<T>(LockOp<Arc<AsyncLockMutex<T>>>) -> MutexGuardArc<T>
    where [T: ?Sized];
    |guard| untimed(guard)
}

named_future! {
    /// Future returned by [`Mutex::lock_arc_timeout`]; resolves to an owned
    /// guard, or `None` if the timeout elapsed first. Like
    /// [`MutexLockArc`], it owns a clone of the `Arc`.
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Mutex;
    /// use rallypoint::future::MutexLockArcTimeout;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let mutex = Arc::new(Mutex::new(1));
    /// let future: MutexLockArcTimeout<i32> = mutex.lock_arc_timeout(Duration::from_secs(1));
    /// assert_eq!(*future.await.unwrap(), 1);
    /// # });
    /// ```
    pub struct MutexLockArcTimeout<T>(LockOp<Arc<AsyncLockMutex<T>>>)
        -> Option<MutexGuardArc<T>>
    where [T: ?Sized];
    |guard| guard
}
