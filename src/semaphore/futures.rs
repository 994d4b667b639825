//! The named futures of [`Semaphore`]'s async front-ends.

use std::sync::Arc;

use super::raw::AcquireOp;
use super::{AcquireError, AcquireTimeoutError, Semaphore, SemaphorePermit, SemaphorePermitArc};
use crate::engine::named_future;

/// Maps the op's error for the front-ends without a deadline (which cannot
/// time out).
fn acquire_error(err: AcquireTimeoutError) -> AcquireError {
    match err {
        AcquireTimeoutError::ExceedsBound => AcquireError::ExceedsBound,
        AcquireTimeoutError::Closed | AcquireTimeoutError::Timeout => AcquireError::Closed,
    }
}

named_future! {
    /// Future returned by [`Semaphore::acquire`] and
    /// [`Semaphore::acquire_many`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Semaphore;
    /// use rallypoint::future::SemaphoreAcquire;
    /// let sem = Semaphore::new(1);
    /// let future: SemaphoreAcquire<'_> = sem.acquire();
    /// assert_eq!(future.await.unwrap().num_permits(), 1);
    /// # });
    /// ```
    pub struct SemaphoreAcquire<'a>(AcquireOp<&'a Semaphore>)
        -> Result<SemaphorePermit<'a>, AcquireError>;
    |result| result.map_err(acquire_error)
}

named_future! {
    /// Future returned by [`Semaphore::acquire_timeout`] and
    /// [`Semaphore::acquire_many_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Semaphore;
    /// use rallypoint::future::SemaphoreAcquireTimeout;
    /// use std::time::Duration;
    /// let sem = Semaphore::new(0);
    /// let future: SemaphoreAcquireTimeout<'_> = sem.acquire_timeout(Duration::from_millis(1));
    /// assert!(future.await.unwrap_err().is_timeout());
    /// # });
    /// ```
    pub struct SemaphoreAcquireTimeout<'a>(AcquireOp<&'a Semaphore>)
        -> Result<SemaphorePermit<'a>, AcquireTimeoutError>;
    |result| result
}

named_future! {
    /// Future returned by [`Semaphore::acquire_arc`] and
    /// [`Semaphore::acquire_many_arc`]. It owns a clone of the `Arc`, so it
    /// is `'static` and can be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// use rallypoint::Semaphore;
    /// use rallypoint::future::SemaphoreAcquireArc;
    /// use std::sync::Arc;
    /// let sem = Arc::new(Semaphore::new(1));
    /// let future: SemaphoreAcquireArc = sem.acquire_arc();
    /// let permit = std::thread::spawn(move || futures_lite::future::block_on(future))
    ///     .join()
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(permit.num_permits(), 1);
    /// ```
    pub struct SemaphoreAcquireArc(AcquireOp<Arc<Semaphore>>)
        -> Result<SemaphorePermitArc, AcquireError>;
    |result| result.map_err(acquire_error)
}

named_future! {
    /// Future returned by [`Semaphore::acquire_arc_timeout`] and
    /// [`Semaphore::acquire_many_arc_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # futures_lite::future::block_on(async {
    /// use rallypoint::Semaphore;
    /// use rallypoint::future::SemaphoreAcquireArcTimeout;
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// let sem = Arc::new(Semaphore::new(2));
    /// let future: SemaphoreAcquireArcTimeout = sem.acquire_many_arc_timeout(2, Duration::from_secs(1));
    /// assert_eq!(future.await.unwrap().num_permits(), 2);
    /// # });
    /// ```
    pub struct SemaphoreAcquireArcTimeout(AcquireOp<Arc<Semaphore>>)
        -> Result<SemaphorePermitArc, AcquireTimeoutError>;
    |result| result
}
