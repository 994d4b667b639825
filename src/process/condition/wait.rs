//! The waits of [`process::Condition`](super::Condition): the wait for a
//! notification on one record (a [`ShmOp`], driven blocking or async), and
//! the async wait's future (notification, then relock).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use super::Condition;
use super::records::{NOTIFIED, Record, freed, state_of};
use crate::WaitTimeoutResult;
use crate::engine::Timed;
use crate::process::lock::{LockAcquire, LockGuard, LockResult};
use crate::process::segment::Mapping;
use crate::process::wait::{AsyncShm, Attempt, ShmOp};

/// The wait for a notification on one record.
pub(crate) struct NoticeOp<'a> {
    pub(super) cond: &'a Condition,
    pub(super) index: usize,
    /// The record's `WAITING` word.
    pub(super) word: u32,
}

impl NoticeOp<'_> {
    fn record(&self) -> &Record {
        &self.cond.body().records[self.index]
    }
}

impl ShmOp for NoticeOp<'_> {
    /// `true` if notified.
    type Output = bool;

    fn mapping(&self) -> &Arc<Mapping> {
        self.cond.map()
    }

    fn word(&self) -> &AtomicU32 {
        &self.record().word
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.cond.body().tickets.sleepers
    }

    fn attempt(&mut self) -> Attempt<bool> {
        // SeqCst: pairs with the notifier's compare-exchange.
        let now = self.record().word.load(Ordering::SeqCst);
        if now == self.word {
            return Attempt::Sleep(now);
        }
        if state_of(now) == NOTIFIED && now >> 24 == self.word >> 24 {
            self.record().word.store(freed(now), Ordering::Release);
        }
        // Notified; or the record is not ours any more (reclaimed by a
        // notifier that took this process for dead, or scribbled on): the
        // wait ends as a spurious wake-up would.
        Attempt::Done(true)
    }

    fn timed_out(&mut self) -> bool {
        self.cond.withdraw(self.index, self.word)
    }
}

impl fmt::Debug for NoticeOp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoticeOp")
            .field("record", &self.index)
            .finish_non_exhaustive()
    }
}

enum Phase<'a> {
    /// Waiting for the notification on a record (`None`: no record was
    /// free, a spurious wake-up).
    Notice(Option<Timed<AsyncShm<NoticeOp<'a>>>>),
    /// Notified (or timed out, or spuriously woken); taking the lock back,
    /// with whether it timed out and whether it holds a notification.
    Relock(LockAcquire<'a>, bool, bool),
    Done,
}

/// Future returned by [`Condition::wait`](crate::process::Condition::wait).
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for most
/// futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ConditionWait<'a> {
    cond: &'a Condition,
    phase: Phase<'a>,
}

impl<'a> ConditionWait<'a> {
    pub(super) fn new(
        cond: &'a Condition,
        guard: LockGuard<'a>,
        deadline: Option<Instant>,
    ) -> Self {
        cond.check(&guard);
        let record = cond.register();
        drop(guard);
        let notice = record.map(|r| Timed::new(AsyncShm::new(cond.notice_op(r)), deadline));
        ConditionWait {
            cond,
            phase: Phase::Notice(notice),
        }
    }

    fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<(LockResult<LockGuard<'a>>, bool)> {
        loop {
            match &mut self.phase {
                Phase::Notice(notice) => {
                    let (timed_out, notified) = match notice {
                        None => (false, false),
                        Some(timed) => match timed.poll(cx) {
                            Poll::Ready(notified) => (!notified, notified),
                            Poll::Pending => return Poll::Pending,
                        },
                    };
                    self.phase = Phase::Relock(self.cond.lock.acquire(), timed_out, notified);
                }
                Phase::Relock(relock, timed_out, _) => {
                    let timed_out = *timed_out;
                    match Pin::new(relock).poll(cx) {
                        Poll::Ready(guard) => {
                            self.phase = Phase::Done;
                            return Poll::Ready((guard, timed_out));
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Phase::Done => panic!("rallypoint future polled after completion"),
            }
        }
    }
}

impl<'a> Future for ConditionWait<'a> {
    type Output = LockResult<LockGuard<'a>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_wait(cx).map(|(guard, _)| guard)
    }
}

impl Drop for ConditionWait<'_> {
    fn drop(&mut self) {
        let passed_on = match std::mem::replace(&mut self.phase, Phase::Done) {
            // Still waiting: withdraw; a notification that landed meanwhile
            // goes to the next waiter.
            Phase::Notice(Some(timed)) => {
                let notice = timed.op().op();
                let (index, word) = (notice.index, notice.word);
                drop(timed);
                self.cond.withdraw(index, word)
            }
            // Notified, not relocked: pass it on.
            Phase::Relock(_, _, notified) => notified,
            Phase::Notice(None) | Phase::Done => false,
        };
        if passed_on {
            self.cond.notify_one();
        }
    }
}

#[cfg(feature = "futures-core")]
impl futures_core::future::FusedFuture for ConditionWait<'_> {
    fn is_terminated(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }
}

impl fmt::Debug for ConditionWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConditionWait").finish_non_exhaustive()
    }
}

/// Future returned by
/// [`Condition::wait_timeout`](crate::process::Condition::wait_timeout):
/// the guard and whether the wait timed out.
///
/// # Panics
///
/// As [`ConditionWait`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug)]
pub struct ConditionWaitTimeout<'a>(pub(super) ConditionWait<'a>);

#[cfg(feature = "futures-core")]
impl futures_core::future::FusedFuture for ConditionWaitTimeout<'_> {
    fn is_terminated(&self) -> bool {
        futures_core::future::FusedFuture::is_terminated(&self.0)
    }
}

impl<'a> Future for ConditionWaitTimeout<'a> {
    type Output = (LockResult<LockGuard<'a>>, WaitTimeoutResult);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0
            .poll_wait(cx)
            .map(|(guard, timed_out)| (guard, WaitTimeoutResult::new(timed_out)))
    }
}
