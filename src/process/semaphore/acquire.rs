//! One acquire of a [`process::Semaphore`](super::Semaphore) — the state
//! machine every form runs (`.await`, `_blocking`, `_timeout`, borrowed or
//! `Arc`) — its futures, and the permit it hands out.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::super::segment::Mapping;
use super::super::wait::{AsyncShm, Attempt, ShmOp};
use super::Semaphore;
use super::raw::{self, Enqueue, Locked, Mine, TryTake};
use crate::engine::named_future;
use crate::{AcquireError, AcquireTimeoutError};

/// Permits taken from a process [`Semaphore`]; dropping it gives them back
/// (to the semaphore, for any process's waiters).
///
/// One type behind two names, as in-process: [`SemaphorePermit`] borrows
/// the semaphore handle and [`SemaphorePermitArc`] owns a clone of its
/// `Arc`, so it can be moved into a spawned task or another thread.
///
/// # Example
///
/// ```
/// use rallypoint::process::{Semaphore, SemaphorePermitArc};
/// use std::sync::Arc;
///
/// # fn main() -> std::io::Result<()> {
/// let sem = Arc::new(Semaphore::anonymous(2)?);
/// let permit = sem.try_acquire_many(2).unwrap();
/// assert_eq!(permit.num_permits(), 2);
/// drop(permit);
/// let owned: SemaphorePermitArc = sem.try_acquire_arc().unwrap();
/// std::thread::spawn(move || drop(owned)).join().unwrap();
/// sem.try_acquire().unwrap().forget();
/// assert_eq!(sem.available_permits(), 1);
/// # Ok(())
/// # }
/// ```
#[must_use = "the permits are given back when the permit is dropped"]
#[clippy::has_significant_drop]
pub struct SemaphorePermitOf<S: Deref<Target = Semaphore>> {
    sem: S,
    n: u32,
}

/// Permits borrowed from a process [`Semaphore`]: see [`SemaphorePermitOf`].
pub type SemaphorePermit<'a> = SemaphorePermitOf<&'a Semaphore>;

/// Permits from an `Arc<`[`Semaphore`]`>`, owning a clone of the `Arc`: see
/// [`SemaphorePermitOf`].
pub type SemaphorePermitArc = SemaphorePermitOf<Arc<Semaphore>>;

impl<S: Deref<Target = Semaphore>> SemaphorePermitOf<S> {
    pub(super) fn new(sem: S, n: u32) -> Self {
        SemaphorePermitOf { sem, n }
    }

    /// Keeps the permits taken: they are not given back on drop (Python's
    /// `acquire()` without `release()`).
    pub fn forget(mut self) {
        self.n = 0;
    }

    /// How many permits this holds.
    pub fn num_permits(&self) -> usize {
        self.n as usize
    }
}

impl<S: Deref<Target = Semaphore>> Drop for SemaphorePermitOf<S> {
    fn drop(&mut self) {
        if self.n != 0 {
            self.sem.give_back(u64::from(self.n));
        }
    }
}

impl<S: Deref<Target = Semaphore>> fmt::Debug for SemaphorePermitOf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit")
            .field("permits", &self.n)
            .finish()
    }
}

/// Where one acquire is.
#[derive(Clone, Copy, Debug)]
enum Stage {
    /// Not queued.
    Start,
    /// In record `index` at use `seq`; sleeping while its word is `seen`.
    Queued { index: usize, seq: u32, seen: u32 },
    /// Every record was taken; sleeping while `frees` is `seen`.
    Full { seen: u32 },
    /// Finished (nothing to undo).
    Done,
}

/// The state machine of one acquire of `n` permits, holding the semaphore
/// as `S` (`&Semaphore` or `Arc<Semaphore>`).
pub(crate) struct AcquireOp<S: Deref<Target = Semaphore> + Clone> {
    sem: S,
    n: u32,
    stage: Stage,
    /// Whether the processes ahead of our record are watched.
    watched: bool,
    /// The sleepers count wait.rs asks for: unused, since whoever changes a
    /// record word wakes its waiter as the record's `sleeping` flag says.
    dummy: AtomicU32,
}

type Out<S> = Option<Result<SemaphorePermitOf<S>, AcquireError>>;

impl<S: Deref<Target = Semaphore> + Clone> AcquireOp<S> {
    pub(super) fn new(sem: S, n: usize) -> Self {
        AcquireOp {
            sem,
            // More than u32::MAX is more than MAX_PERMITS: ExceedsBound.
            n: u32::try_from(n).unwrap_or(u32::MAX),
            stage: Stage::Start,
            watched: false,
            dummy: AtomicU32::new(0),
        }
    }

    fn permit(&self) -> SemaphorePermitOf<S> {
        SemaphorePermitOf::new(self.sem.clone(), self.n)
    }

    /// Leaves the queue (or the overflow count); `Some(permit)` if the
    /// permits had been granted meanwhile.
    fn leave(&mut self) -> Option<SemaphorePermitOf<S>> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Queued { index, seq, .. } => {
                // The mutex is given back before the permit can be dropped
                // (which may take it again).
                let granted = self.sem.lock().withdraw(index, seq);
                granted.map(|_| self.permit())
            }
            Stage::Full { .. } => {
                Locked::leave_overflow(self.sem.body());
                None
            }
            Stage::Start | Stage::Done => None,
        }
    }

    fn finish(&mut self, ok: bool) -> Attempt<Out<S>> {
        self.stage = Stage::Done;
        Attempt::Done(Some(if ok {
            Ok(self.permit())
        } else {
            Err(AcquireError::Closed)
        }))
    }
}

impl<S: Deref<Target = Semaphore> + Clone> ShmOp for AcquireOp<S> {
    type Output = Out<S>;

    fn mapping(&self) -> &Arc<Mapping> {
        self.sem.seg.map()
    }

    fn word(&self) -> &AtomicU32 {
        let body = self.sem.body();
        match self.stage {
            Stage::Queued { index, .. } => &body.records[index].word,
            _ => &body.frees,
        }
    }

    fn sleepers(&self) -> &AtomicU32 {
        &self.dummy
    }

    fn attempt(&mut self) -> Attempt<Out<S>> {
        loop {
            let sem: &Semaphore = &self.sem;
            let body = sem.body();
            match self.stage {
                Stage::Done => return Attempt::Done(Some(Err(AcquireError::Closed))),
                Stage::Start => {
                    let n = u64::from(self.n);
                    if n > sem.params.max {
                        self.stage = Stage::Done;
                        return Attempt::Done(Some(Err(AcquireError::ExceedsBound)));
                    }
                    match raw::try_take(body, n) {
                        TryTake::Taken => return self.finish(true),
                        TryTake::Closed => return self.finish(false),
                        TryTake::NoPermits => {}
                    }
                    let enqueued = sem.lock().take_or_enqueue(n);
                    match enqueued {
                        Enqueue::Taken => return self.finish(true),
                        Enqueue::Closed => return self.finish(false),
                        Enqueue::Queued { index, word } => {
                            self.watched = false;
                            self.stage = Stage::Queued {
                                index,
                                seq: raw::seq(word),
                                seen: word,
                            };
                        }
                        Enqueue::Full(seen) => self.stage = Stage::Full { seen },
                    }
                }
                Stage::Full { seen } => {
                    let now = body.frees.load(Ordering::SeqCst);
                    if now == seen {
                        return Attempt::Sleep(now);
                    }
                    Locked::leave_overflow(body);
                    self.stage = Stage::Start;
                }
                Stage::Queued { index, seq, seen } => {
                    let record = &body.records[index];
                    // SeqCst like every record access (raw.rs); it is the
                    // Acquire that pairs with the grant.
                    let word = record.word.load(Ordering::SeqCst);
                    if raw::seq(word) != seq {
                        // Our record was reclaimed: only a peer that
                        // corrupted the table does that. Queue again.
                        self.stage = Stage::Start;
                        continue;
                    }
                    match raw::rstate(word) {
                        raw::GRANTED | raw::R_CLOSED => {
                            // Consumed by its owner without the mutex: the
                            // one change of a GRANTED or CLOSED record.
                            let free = (word & !0xF) | raw::FREE;
                            if record
                                .word
                                .compare_exchange(word, free, Ordering::SeqCst, Ordering::SeqCst)
                                .is_err()
                            {
                                continue;
                            }
                            raw::freed(body);
                            return self.finish(raw::rstate(word) == raw::GRANTED);
                        }
                        raw::WAITING if word == seen => return Attempt::Sleep(word),
                        raw::WAITING => {
                            let mine = sem.lock().retry(index, seq);
                            match mine {
                                Mine::Taken => return self.finish(true),
                                Mine::Waiting(now) => {
                                    self.stage = Stage::Queued {
                                        index,
                                        seq,
                                        seen: now,
                                    };
                                }
                                Mine::Changed => {
                                    self.stage = Stage::Queued {
                                        index,
                                        seq,
                                        seen: u32::MAX,
                                    };
                                }
                            }
                        }
                        // FREE at our use: reclaimed (corruption). Again.
                        _ => self.stage = Stage::Start,
                    }
                }
            }
        }
    }

    fn attempt_fast(&mut self) -> Option<Out<S>> {
        if !matches!(self.stage, Stage::Start) || u64::from(self.n) > self.sem.params.max {
            return None;
        }
        match raw::try_take(self.sem.body(), u64::from(self.n)) {
            TryTake::Taken => {
                self.stage = Stage::Done;
                Some(Some(Ok(self.permit())))
            }
            TryTake::Closed | TryTake::NoPermits => None,
        }
    }

    fn timed_out(&mut self) -> Out<S> {
        // Granted meanwhile: completing beats timing out.
        self.leave().map(Ok)
    }

    fn prepare_sleep(&mut self, _val: u32) -> bool {
        let Stage::Queued { index, .. } = self.stage else {
            return true;
        };
        raw::will_sleep(self.sem.body(), index);
        if std::mem::replace(&mut self.watched, true) || self.sem.watch_ahead(index) {
            return true;
        }
        // A process ahead is dead: reap it before sleeping.
        self.sem.lock().serve();
        false
    }
}

impl<S: Deref<Target = Semaphore> + Clone> Drop for AcquireOp<S> {
    fn drop(&mut self) {
        // A permit granted meanwhile goes back (and on to the next waiter).
        drop(self.leave());
    }
}

impl<S: Deref<Target = Semaphore> + Clone> fmt::Debug for AcquireOp<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AcquireOp")
            .field("permits", &self.n)
            .field("stage", &self.stage)
            .finish()
    }
}

pub(super) fn timeout_result<P>(
    out: Option<Result<P, AcquireError>>,
) -> Result<P, AcquireTimeoutError> {
    match out {
        None => Err(AcquireTimeoutError::Timeout),
        Some(Ok(permit)) => Ok(permit),
        Some(Err(AcquireError::Closed)) => Err(AcquireTimeoutError::Closed),
        Some(Err(AcquireError::ExceedsBound)) => Err(AcquireTimeoutError::ExceedsBound),
    }
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire`](crate::process::Semaphore::acquire) and
    /// [`acquire_many`](crate::process::Semaphore::acquire_many).
    pub struct SemaphoreAcquire<'a>(AsyncShm<AcquireOp<&'a Semaphore>>) -> Result<SemaphorePermit<'a>, AcquireError>;
    |out| out.expect("no deadline")
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire_timeout`](crate::process::Semaphore::acquire_timeout)
    /// and [`acquire_many_timeout`](crate::process::Semaphore::acquire_many_timeout).
    pub struct SemaphoreAcquireTimeout<'a>(AsyncShm<AcquireOp<&'a Semaphore>>) -> Result<SemaphorePermit<'a>, AcquireTimeoutError>;
    |out| timeout_result(out)
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire_arc`](crate::process::Semaphore::acquire_arc) and
    /// [`acquire_many_arc`](crate::process::Semaphore::acquire_many_arc). It
    /// owns a clone of the `Arc`, so it is `'static` and can be spawned.
    pub struct SemaphoreAcquireArc(AsyncShm<AcquireOp<Arc<Semaphore>>>) -> Result<SemaphorePermitArc, AcquireError>;
    |out| out.expect("no deadline")
}

named_future! {
    /// Future returned by
    /// [`Semaphore::acquire_arc_timeout`](crate::process::Semaphore::acquire_arc_timeout)
    /// and [`acquire_many_arc_timeout`](crate::process::Semaphore::acquire_many_arc_timeout).
    pub struct SemaphoreAcquireArcTimeout(AsyncShm<AcquireOp<Arc<Semaphore>>>) -> Result<SemaphorePermitArc, AcquireTimeoutError>;
    |out| timeout_result(out)
}
