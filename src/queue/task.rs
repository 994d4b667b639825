//! Tasks that mark themselves done: the `pop_task` forms of the containers
//! (and of `process::Queue`) return the item in a [`TaskGuard`], whose drop
//! calls `task_done()`, so that a worker that returns early or panics
//! cannot leave `join()` waiting for good.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{Pop, PopError, PopTimeout, PopTimeoutError, PriorityQueue, Queue, Stack, TryPopError};

/// Something whose `task_done()` a [`TaskGuard`] calls.
pub(crate) trait MarkDone {
    fn mark_done(&self);
}

/// A popped item that still counts as an unfinished task: dropping the
/// guard marks it done (`task_done()`), also when the worker holding it
/// returns early or panics, so `join()` cannot hang on it.
///
/// It derefs to the item; [`into_inner`](TaskGuard::into_inner) takes the
/// item out and marks the task done at once.
///
/// # Examples
///
/// ```
/// use rallypoint::Queue;
/// use std::sync::Arc;
///
/// let q = Arc::new(Queue::unbounded());
/// q.push_blocking(21).unwrap();
/// let worker = {
///     let q = q.clone();
///     std::thread::spawn(move || {
///         let job = q.pop_task_blocking().unwrap();
///         assert_eq!(*job * 2, 42);
///         panic!("the worker fails"); // the guard still marks the task done
///     })
/// };
/// assert!(worker.join().is_err());
/// q.join_blocking(); // returns: the task was marked done during the unwind
/// ```
#[must_use = "dropping the guard marks the task done at once"]
pub struct TaskGuard<'a, T> {
    /// `None` only inside `into_inner`.
    item: Option<T>,
    queue: &'a (dyn MarkDone + Send + Sync),
}

impl<'a, T> TaskGuard<'a, T> {
    pub(crate) fn new(item: T, queue: &'a (dyn MarkDone + Send + Sync)) -> Self {
        TaskGuard {
            item: Some(item),
            queue,
        }
    }

    /// Takes the item out and marks the task done now.
    ///
    /// # Examples
    ///
    /// ```
    /// let q = rallypoint::Queue::unbounded();
    /// q.try_push("job").unwrap();
    /// let job = q.try_pop_task().unwrap().into_inner();
    /// assert_eq!(job, "job");
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// ```
    pub fn into_inner(mut self) -> T {
        self.item.take().expect("the item is taken once")
        // `self` drops here: the task is marked done.
    }
}

impl<T> Deref for TaskGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.item
            .as_ref()
            .expect("the item is there until into_inner")
    }
}

impl<T> DerefMut for TaskGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item
            .as_mut()
            .expect("the item is there until into_inner")
    }
}

impl<T> Drop for TaskGuard<'_, T> {
    fn drop(&mut self) {
        // The item (if still here) is dropped after this, as a field; the
        // task counts as done from now either way.
        self.queue.mark_done();
    }
}

impl<T: fmt::Debug> fmt::Debug for TaskGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TaskGuard").field(&self.item).finish()
    }
}

/// A pop future whose item comes in a [`TaskGuard`]: what every
/// `pop_task` form returns ([`PopTask`], [`PopTaskTimeout`], and
/// `process::Queue`'s [`QueuePopTask`](crate::process::QueuePopTask) and
/// [`QueuePopTaskTimeout`](crate::process::QueuePopTaskTimeout)), with the
/// error of the pop it wraps.
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for most
/// futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct TaskFuture<'a, F> {
    pop: F,
    queue: &'a (dyn MarkDone + Send + Sync),
}

impl<'a, F> TaskFuture<'a, F> {
    pub(crate) fn new(pop: F, queue: &'a (dyn MarkDone + Send + Sync)) -> Self {
        TaskFuture { pop, queue }
    }
}

impl<'a, F, T, E> Future for TaskFuture<'a, F>
where
    F: Future<Output = Result<T, E>> + Unpin,
{
    type Output = Result<TaskGuard<'a, T>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        Pin::new(&mut self.pop)
            .poll(cx)
            .map(|r| r.map(|item| TaskGuard::new(item, queue)))
    }
}

#[cfg(feature = "futures-core")]
impl<F, T, E> futures_core::future::FusedFuture for TaskFuture<'_, F>
where
    F: futures_core::future::FusedFuture<Output = Result<T, E>> + Unpin,
{
    fn is_terminated(&self) -> bool {
        self.pop.is_terminated()
    }
}

impl<F> fmt::Debug for TaskFuture<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture").finish_non_exhaustive()
    }
}

/// Future returned by the containers' `pop_task`: the next item in a
/// [`TaskGuard`].
pub type PopTask<'a, T> = TaskFuture<'a, Pop<'a, T>>;

/// Future returned by the containers' `pop_task_timeout`.
pub type PopTaskTimeout<'a, T> = TaskFuture<'a, PopTimeout<'a, T>>;

macro_rules! task_forms {
    ($($name:ident),*) => {$(
        impl<T: Send> MarkDone for $name<T> {
            fn mark_done(&self) {
                // `Err` only if the caller also called `task_done` for this
                // item by hand: nothing left to mark.
                let _ = self.task_done();
            }
        }

        impl<T: Send> $name<T> {
            /// Like [`pop`](Self::pop), returning the item in a
            /// [`TaskGuard`] that calls [`task_done`](Self::task_done) when
            /// dropped (Python's `get()` + `task_done()`, panic-proof).
            ///
            /// # Cancel safety
            ///
            /// As for [`pop`](Self::pop).
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(5).await.unwrap();
            /// {
            ///     let job = q.pop_task().await.unwrap();
            ///     assert_eq!(*job, 5);
            /// } // done here
            /// q.join().await;
            /// # });
            /// ```
            pub fn pop_task(&self) -> PopTask<'_, T> {
                TaskFuture::new(self.pop(), self)
            }

            /// Blocking form of [`pop_task`](Self::pop_task). This must not
            /// be called from async code.
            ///
            /// # Errors
            ///
            /// As [`pop_blocking`](Self::pop_blocking).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push_blocking('x').unwrap();
            /// drop(q.pop_task_blocking().unwrap());
            /// assert_eq!(q.unfinished_tasks(), 0);
            /// ```
            pub fn pop_task_blocking(&self) -> Result<TaskGuard<'_, T>, PopError> {
                self.pop_blocking().map(|item| TaskGuard::new(item, self))
            }

            /// [`pop_task`](Self::pop_task) giving up after `timeout`.
            ///
            /// # Cancel safety
            ///
            /// As for [`pop_timeout`](Self::pop_timeout).
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<u8>::unbounded();")]
            /// assert!(q.pop_task_timeout(Duration::from_millis(5)).await.is_err());
            /// # });
            /// ```
            ///
            /// The deadline is kept by [the timer](crate#timers) that runs where the
            /// future is first polled (tokio's inside tokio with the `tokio` feature).
            pub fn pop_task_timeout(&self, timeout: Duration) -> PopTaskTimeout<'_, T> {
                TaskFuture::new(self.pop_timeout(timeout), self)
            }

            /// Blocking form of [`pop_task_timeout`](Self::pop_task_timeout).
            /// This must not be called from async code.
            ///
            /// # Errors
            ///
            /// As [`pop_timeout_blocking`](Self::pop_timeout_blocking).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::time::Duration;
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::<u8>::unbounded();")]
            /// assert!(q.pop_task_timeout_blocking(Duration::ZERO).is_err());
            /// ```
            pub fn pop_task_timeout_blocking(
                &self,
                timeout: Duration,
            ) -> Result<TaskGuard<'_, T>, PopTimeoutError> {
                self.pop_timeout_blocking(timeout)
                    .map(|item| TaskGuard::new(item, self))
            }

            /// [`try_pop`](Self::try_pop), returning the item in a
            /// [`TaskGuard`].
            ///
            /// # Errors
            ///
            /// As [`try_pop`](Self::try_pop).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// let task = q.try_pop_task().unwrap();
            /// assert_eq!(q.unfinished_tasks(), 1);
            /// drop(task);
            /// assert_eq!(q.unfinished_tasks(), 0);
            /// ```
            pub fn try_pop_task(&self) -> Result<TaskGuard<'_, T>, TryPopError> {
                self.try_pop().map(|item| TaskGuard::new(item, self))
            }
        }
    )*};
}

task_forms!(Queue, Stack, PriorityQueue);
