//! `process::Queue`'s `pop_task` forms: the item in a
//! [`TaskGuard`](crate::TaskGuard) whose drop calls `task_done()` (see
//! `src/queue/task.rs`).

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{PopError, PopTimeoutError, Queue, QueuePop, QueuePopTimeout, TryPopError};
use crate::TaskGuard;
use crate::queue::{MarkDone, TaskFuture};

impl<T> MarkDone for Queue<T> {
    fn mark_done(&self) {
        // `Err` only if `task_done` was also called for this item by hand.
        let _ = self.task_done();
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// Like [`pop`](Queue::pop), returning the item in a [`TaskGuard`] that
    /// calls [`task_done`](Queue::task_done) when dropped — also when the
    /// worker returns early or panics (Python's `get()` + `task_done()`).
    ///
    /// # Errors
    ///
    /// As [`pop`](Queue::pop).
    ///
    /// # Cancel safety
    ///
    /// As [`pop`](Queue::pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(1).unwrap();
    /// futures_lite::future::block_on(async {
    ///     let job = q.pop_task().await.unwrap();
    ///     assert_eq!(*job, 1);
    /// });
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_task(&self) -> QueuePopTask<'_, T> {
        TaskFuture::new(self.pop(), self)
    }

    /// Blocking form of [`pop_task`](Queue::pop_task). Must not be called
    /// from async code.
    ///
    /// # Errors
    ///
    /// As [`pop_blocking`](Queue::pop_blocking).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(1).unwrap();
    /// drop(q.pop_task_blocking().unwrap());
    /// q.join_blocking();
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_task_blocking(&self) -> Result<TaskGuard<'_, T>, PopError> {
        self.pop_blocking().map(|item| TaskGuard::new(item, self))
    }

    /// [`pop_task_blocking`](Queue::pop_task_blocking) giving up after
    /// `timeout`. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`pop_timeout_blocking`](Queue::pop_timeout_blocking).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// assert!(q.pop_task_timeout_blocking(Duration::from_millis(5)).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_task_timeout_blocking(
        &self,
        timeout: Duration,
    ) -> Result<TaskGuard<'_, T>, PopTimeoutError> {
        self.pop_timeout_blocking(timeout)
            .map(|item| TaskGuard::new(item, self))
    }

    /// [`pop_task`](Queue::pop_task) giving up after `timeout`.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// As [`pop_timeout`](Queue::pop_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`pop`](Queue::pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// use std::time::Duration;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// let got = futures_lite::future::block_on(q.pop_task_timeout(Duration::from_millis(5)));
    /// assert!(got.is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn pop_task_timeout(&self, timeout: Duration) -> QueuePopTaskTimeout<'_, T> {
        TaskFuture::new(self.pop_timeout(timeout), self)
    }

    /// [`try_pop`](Queue::try_pop), returning the item in a [`TaskGuard`].
    ///
    /// # Errors
    ///
    /// As [`try_pop`](Queue::try_pop).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::anonymous(4)?;
    /// q.try_push(9).unwrap();
    /// assert_eq!(q.try_pop_task().unwrap().into_inner(), 9);
    /// assert_eq!(q.unfinished_tasks(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn try_pop_task(&self) -> Result<TaskGuard<'_, T>, TryPopError> {
        self.try_pop().map(|item| TaskGuard::new(item, self))
    }
}

/// Future returned by
/// [`Queue::pop_task`](crate::process::Queue::pop_task).
pub type QueuePopTask<'a, T> = TaskFuture<'a, QueuePop<'a, T>>;

/// Future returned by
/// [`Queue::pop_task_timeout`](crate::process::Queue::pop_task_timeout).
pub type QueuePopTaskTimeout<'a, T> = TaskFuture<'a, QueuePopTimeout<'a, T>>;
