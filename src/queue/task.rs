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

/// Future returned by the containers' `pop_task`: the next item in a
/// [`TaskGuard`].
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for most
/// futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct PopTask<'a, T> {
    pop: Pop<'a, T>,
    queue: &'a (dyn MarkDone + Send + Sync),
}

impl<'a, T> Future for PopTask<'a, T> {
    type Output = Result<TaskGuard<'a, T>, PopError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        Pin::new(&mut self.pop)
            .poll(cx)
            .map(|r| r.map(|item| TaskGuard::new(item, queue)))
    }
}

#[cfg(feature = "futures-core")]
impl<T> futures_core::future::FusedFuture for PopTask<'_, T> {
    fn is_terminated(&self) -> bool {
        futures_core::future::FusedFuture::is_terminated(&self.pop)
    }
}

impl<T> fmt::Debug for PopTask<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopTask").finish_non_exhaustive()
    }
}

/// Future returned by the containers' `pop_task_timeout`.
///
/// # Panics
///
/// As [`PopTask`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct PopTaskTimeout<'a, T> {
    pop: PopTimeout<'a, T>,
    queue: &'a (dyn MarkDone + Send + Sync),
}

impl<'a, T> Future for PopTaskTimeout<'a, T> {
    type Output = Result<TaskGuard<'a, T>, PopTimeoutError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let queue = self.queue;
        Pin::new(&mut self.pop)
            .poll(cx)
            .map(|r| r.map(|item| TaskGuard::new(item, queue)))
    }
}

#[cfg(feature = "futures-core")]
impl<T> futures_core::future::FusedFuture for PopTaskTimeout<'_, T> {
    fn is_terminated(&self) -> bool {
        futures_core::future::FusedFuture::is_terminated(&self.pop)
    }
}

impl<T> fmt::Debug for PopTaskTimeout<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopTaskTimeout").finish_non_exhaustive()
    }
}

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
                PopTask {
                    pop: self.pop(),
                    queue: self,
                }
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
                PopTaskTimeout {
                    pop: self.pop_timeout(timeout),
                    queue: self,
                }
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
