//! The state machine behind every condvar wait (`WaitOp`), its relock step,
//! and the macro that declares the public wait futures. The design is in
//! the parent module's docs.

use std::fmt;
use std::task::{Context, Poll, ready};

// The mutex a guard comes from (`MutexGuard::source`): async-lock's, the
// inside of a rallypoint `Mutex`.
use async_lock::Mutex as AsyncLockMutex;

use super::Condvar;
use crate::engine::Op;
use crate::mutex::MutexGuard;
use crate::mutex::lock::LazyLock;
use crate::sync::lock;
use crate::waiters::{NewWaker, Ticket};

/// Takes the lock back after a wait, owning the notification the waiter
/// consumed (if any) until the lock is acquired.
struct Relock<'a, T: ?Sized> {
    condvar: &'a Condvar,
    lock: LazyLock<&'a AsyncLockMutex<T>>,
    /// A notification was consumed and not yet turned into a return: if the
    /// relock is abandoned, it must go to another waiter.
    holds_notification: bool,
}

impl<'a, T: ?Sized> Relock<'a, T> {
    fn new(condvar: &'a Condvar, mutex: &'a AsyncLockMutex<T>, notified: bool) -> Self {
        Relock {
            condvar,
            lock: LazyLock::new(mutex),
            holds_notification: notified,
        }
    }

    /// The guard, and whether this waiter had been notified.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(MutexGuard<'a, T>, bool)> {
        let guard = ready!(self.lock.poll_spinning(cx));
        let notified = std::mem::replace(&mut self.holds_notification, false);
        Poll::Ready((guard, notified))
    }
}

impl<T: ?Sized> Drop for Relock<'_, T> {
    fn drop(&mut self) {
        if self.holds_notification {
            // Cancelled after consuming a notification: hand it on to the
            // oldest waiter (notified waiters have left the list).
            self.condvar.notify(1);
        }
    }
}

/// Whether a waiter holding the lock must (still) wait: a plain wait
/// (`predicate == None`) waits until it has been notified once; a
/// `wait_while` waits while its predicate holds.
fn keep_waiting<T: ?Sized, F: FnMut(&mut T) -> bool>(
    predicate: &mut Option<F>,
    value: &mut T,
    notified: bool,
) -> bool {
    match predicate {
        None => !notified,
        Some(predicate) => predicate(value),
    }
}

enum Phase<'a, T: ?Sized> {
    /// Holding the lock: at the start (`notified == false`) and after each
    /// relock (`notified == true`).
    Locked {
        guard: MutexGuard<'a, T>,
        notified: bool,
    },
    /// Registered, lock released, waiting for a notification.
    Waiting(Ticket),
    /// Taking the lock back: after a notification, or (`settled`) after the
    /// deadline, when the wait returns as soon as it holds the lock.
    Relocking {
        relock: Relock<'a, T>,
        settled: bool,
    },
    /// Output returned.
    Done,
}

/// The state machine behind every condvar wait (see the module docs).
///
/// Dropping it undoes whatever its phase holds: a guard unlocks, a
/// registration withdraws (passing on a notification it had received), a
/// `Relock` passes on the notification it consumed.
pub(super) struct WaitOp<'a, T: ?Sized, F> {
    condvar: &'a Condvar,
    mutex: &'a AsyncLockMutex<T>,
    /// `None` for a plain wait.
    predicate: Option<F>,
    phase: Phase<'a, T>,
}

impl<'a, T: ?Sized, F> WaitOp<'a, T, F> {
    pub(super) fn new(
        condvar: &'a Condvar,
        guard: MutexGuard<'a, T>,
        predicate: Option<F>,
    ) -> Self {
        WaitOp {
            condvar,
            mutex: MutexGuard::source(&guard).as_async_lock(),
            predicate,
            phase: Phase::Locked {
                guard,
                notified: false,
            },
        }
    }

    pub(super) fn phase_name(&self) -> &'static str {
        match &self.phase {
            Phase::Locked { .. } => "locked",
            Phase::Waiting(_) => "waiting",
            Phase::Relocking { .. } => "relocking",
            Phase::Done => "done",
        }
    }
}

impl<'a, T: ?Sized, F: FnMut(&mut T) -> bool> Op for WaitOp<'a, T, F> {
    /// The relocked guard, and whether the wait timed out.
    type Output = (MutexGuard<'a, T>, bool);

    fn poll_op(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            // Taken out so each arm owns its state; every arm that does not
            // return puts a new phase back. If the predicate panics, the
            // guard is dropped (unlocking) and the op is left `Done`.
            match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Locked {
                    mut guard,
                    notified,
                } => {
                    if !keep_waiting(&mut self.predicate, &mut *guard, notified) {
                        return Poll::Ready((guard, false));
                    }
                    // Register BEFORE unlocking: no lost wakeups. The waker
                    // is cloned before the list's lock is taken (only the
                    // caller's own mutex is held).
                    let waker = NewWaker::of(cx);
                    let ticket = lock(&self.condvar.waiters).push(Some(waker), cx, ());
                    self.phase = Phase::Waiting(ticket);
                    drop(guard);
                }
                Phase::Waiting(mut ticket) => {
                    let fresh = ticket.fresh(cx);
                    if lock(&self.condvar.waiters).still_waiting(&ticket, fresh, cx) {
                        self.phase = Phase::Waiting(ticket);
                        return Poll::Pending;
                    }
                    // Gone from the list: notified, and the notification is
                    // ours until we return.
                    self.phase = Phase::Relocking {
                        relock: Relock::new(self.condvar, self.mutex, true),
                        settled: false,
                    };
                }
                Phase::Relocking {
                    mut relock,
                    settled,
                } => match relock.poll(cx) {
                    Poll::Pending => {
                        self.phase = Phase::Relocking { relock, settled };
                        return Poll::Pending;
                    }
                    Poll::Ready((mut guard, notified)) if settled => {
                        let timed_out = keep_waiting(&mut self.predicate, &mut *guard, notified);
                        return Poll::Ready((guard, timed_out));
                    }
                    Poll::Ready((guard, notified)) => {
                        self.phase = Phase::Locked { guard, notified };
                    }
                },
                Phase::Done => panic!("condvar wait polled after completion"),
            }
        }
    }

    fn on_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Withdraw and relock; a wait never gives back a guard it does not
        // hold, so this may have to wait for the mutex (`Pending`), with no
        // deadline: the outcome is settled already.
        let relock = match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Locked {
                mut guard,
                notified,
            } => {
                let timed_out = keep_waiting(&mut self.predicate, &mut *guard, notified);
                return Poll::Ready((guard, timed_out));
            }
            Phase::Waiting(ticket) => {
                // Still in the list: not notified. Gone: a notification
                // raced with the deadline, and we keep it.
                let notified = lock(&self.condvar.waiters).remove(&ticket).is_none();
                Relock::new(self.condvar, self.mutex, notified)
            }
            Phase::Relocking { relock, .. } => relock,
            Phase::Done => panic!("condvar wait settled after completion"),
        };
        self.phase = Phase::Relocking {
            relock,
            settled: true,
        };
        self.poll_op(cx)
    }
}

impl<T: ?Sized, F> Drop for WaitOp<'_, T, F> {
    fn drop(&mut self) {
        if let Phase::Waiting(ticket) = &self.phase {
            let withdrawn = lock(&self.condvar.waiters).remove(ticket).is_some();
            if !withdrawn {
                // Notified before the drop: pass the notification on.
                self.condvar.notify(1);
            }
        }
        // The other phases undo themselves: a guard unlocks, a `Relock`
        // passes on the notification it holds.
    }
}

impl<T: ?Sized, F> fmt::Debug for WaitOp<'_, T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitOp")
            .field("phase", &self.phase_name())
            .finish_non_exhaustive()
    }
}

/// Declares a public wait future around a `Timed<WaitOp>`, mapping its
/// `(guard, timed_out)` output (the condvar is at hand for `Condition`'s
/// guard).
macro_rules! wait_future {
    (
        $(#[$meta:meta])*
        pub struct $name:ident<'a, T $(, $f:ident)?>(predicate: $pred:ty) -> $out:ty;
        |$condvar:ident, $res:pat_param| $map:expr
    ) => {
        $(#[$meta])*
        ///
        /// # Panics
        ///
        /// Polling the future again after it returned `Ready` panics, as for
        /// most futures.
        #[must_use = "futures do nothing unless you `.await` or poll them"]
        pub struct $name<'a, T: ?Sized $(, $f)?> {
            inner: $crate::engine::Timed<$crate::condvar::wait::WaitOp<'a, T, $pred>>,
            condvar: &'a $crate::condvar::Condvar,
        }

        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> $name<'a, T $(, $f)?> {
            pub(crate) fn new(
                condvar: &'a $crate::condvar::Condvar,
                guard: $crate::mutex::MutexGuard<'a, T>,
                predicate: Option<$pred>,
                deadline: Option<std::time::Instant>,
            ) -> Self {
                let op = $crate::condvar::wait::WaitOp::new(condvar, guard, predicate);
                $name {
                    inner: $crate::engine::Timed::new(op, deadline),
                    condvar,
                }
            }

            pub(crate) fn block(self) -> $out {
                let $condvar = self.condvar;
                let $res = self.inner.block();
                $map
            }
        }

        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> std::future::Future
            for $name<'a, T $(, $f)?>
        {
            type Output = $out;

            fn poll(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<$out> {
                let $condvar = self.condvar;
                self.inner.poll(cx).map(|$res| $map)
            }
        }

        #[cfg(feature = "futures-core")]
        impl<'a, T: ?Sized $(, $f: FnMut(&mut T) -> bool)?> futures_core::future::FusedFuture
            for $name<'a, T $(, $f)?>
        {
            fn is_terminated(&self) -> bool {
                self.inner.is_done()
            }
        }

        // The predicate is never pinned (it is only ever called through
        // `&mut`) and everything else is `Unpin`, so the future is `Unpin`
        // whatever the predicate's type.
        impl<T: ?Sized $(, $f)?> Unpin for $name<'_, T $(, $f)?> {}

        impl<T: ?Sized $(, $f)?> std::fmt::Debug for $name<'_, T $(, $f)?> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("stage", &self.inner.op().phase_name())
                    .finish_non_exhaustive()
            }
        }
    };
}
pub(crate) use wait_future;
