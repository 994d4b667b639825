//! The `Arc` forms of `process::Semaphore`'s acquires: futures and permits
//! that own the handle, so they can be `'static`.

use std::sync::Arc;
use std::time::Duration;

use super::acquire::{AcquireOp, timeout_result};
use super::{Semaphore, SemaphoreAcquireArc, SemaphoreAcquireArcTimeout, SemaphorePermitArc};
use crate::engine::deadline_after;
use crate::process::wait::{self, AsyncShm};
use crate::{AcquireError, AcquireTimeoutError};

impl Semaphore {
    /// [`acquire`](Semaphore::acquire) for an `Arc`: the future and the
    /// permit own a clone of it (`'static`: they can be spawned or sent).
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(1)?);
    /// let future = sem.acquire_arc();
    /// let permit = std::thread::spawn(move || futures_lite::future::block_on(future))
    ///     .join()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_arc(self: &Arc<Self>) -> SemaphoreAcquireArc {
        self.acquire_many_arc(1)
    }

    /// [`acquire_many`](Semaphore::acquire_many) for an `Arc`.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(2)?);
    /// let two = futures_lite::future::block_on(sem.acquire_many_arc(2)).unwrap();
    /// assert_eq!(two.num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_arc(self: &Arc<Self>, n: usize) -> SemaphoreAcquireArc {
        SemaphoreAcquireArc::new(AsyncShm::new(AcquireOp::new(Arc::clone(self), n)), None)
    }

    /// [`acquire_blocking`](Semaphore::acquire_blocking) for an `Arc`.
    /// Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(1)?);
    /// let permit = sem.acquire_arc_blocking().unwrap();
    /// std::thread::spawn(move || drop(permit)).join().unwrap();
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_arc_blocking(self: &Arc<Self>) -> Result<SemaphorePermitArc, AcquireError> {
        self.acquire_many_arc_blocking(1)
    }

    /// [`acquire_many_blocking`](Semaphore::acquire_many_blocking) for an
    /// `Arc`. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_many`](Semaphore::acquire_many).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(2)?);
    /// assert_eq!(sem.acquire_many_arc_blocking(2).unwrap().num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_arc_blocking(
        self: &Arc<Self>,
        n: usize,
    ) -> Result<SemaphorePermitArc, AcquireError> {
        wait::block(&mut AcquireOp::new(Arc::clone(self), n), None).expect("no deadline")
    }

    /// [`acquire_timeout`](Semaphore::acquire_timeout) for an `Arc`.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(0)?);
    /// let got = futures_lite::future::block_on(sem.acquire_arc_timeout(Duration::from_millis(5)));
    /// assert!(got.unwrap_err().is_timeout());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_arc_timeout(self: &Arc<Self>, timeout: Duration) -> SemaphoreAcquireArcTimeout {
        self.acquire_many_arc_timeout(1, timeout)
    }

    /// [`acquire_many_timeout`](Semaphore::acquire_many_timeout) for an
    /// `Arc`.
    ///
    /// The deadline is kept by [the timer](crate#timers) that runs where the
    /// future is first polled (tokio's inside tokio with the `tokio` feature).
    ///
    /// # Errors
    ///
    /// As [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// # Cancel safety
    ///
    /// As [`acquire`](Semaphore::acquire).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(2)?);
    /// let f = sem.acquire_many_arc_timeout(2, Duration::from_secs(1));
    /// assert_eq!(futures_lite::future::block_on(f).unwrap().num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_arc_timeout(
        self: &Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> SemaphoreAcquireArcTimeout {
        SemaphoreAcquireArcTimeout::new(
            AsyncShm::new(AcquireOp::new(Arc::clone(self), n)),
            deadline_after(timeout),
        )
    }

    /// [`acquire_timeout_blocking`](Semaphore::acquire_timeout_blocking)
    /// for an `Arc`. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_timeout`](Semaphore::acquire_timeout).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(0)?);
    /// assert!(sem.acquire_arc_timeout_blocking(Duration::from_millis(5)).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_arc_timeout_blocking(
        self: &Arc<Self>,
        timeout: Duration,
    ) -> Result<SemaphorePermitArc, AcquireTimeoutError> {
        self.acquire_many_arc_timeout_blocking(1, timeout)
    }

    /// [`acquire_many_timeout_blocking`](Semaphore::acquire_many_timeout_blocking)
    /// for an `Arc`. Must not be called from async code.
    ///
    /// # Errors
    ///
    /// As [`acquire_many_timeout`](Semaphore::acquire_many_timeout).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let sem = std::sync::Arc::new(rallypoint::process::Semaphore::anonymous(2)?);
    /// let two = sem.acquire_many_arc_timeout_blocking(2, Duration::from_secs(1)).unwrap();
    /// assert_eq!(two.num_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn acquire_many_arc_timeout_blocking(
        self: &Arc<Self>,
        n: usize,
        timeout: Duration,
    ) -> Result<SemaphorePermitArc, AcquireTimeoutError> {
        timeout_result(wait::block(
            &mut AcquireOp::new(Arc::clone(self), n),
            deadline_after(timeout),
        ))
    }
}
