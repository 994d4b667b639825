//! [`SemaphoreBuilder`]: how a `process::Semaphore` is created.

use std::io;
use std::sync::atomic::Ordering;

use super::raw::{self, Body, RECORDS, SLOTS};
use super::{LAYOUT, Semaphore};
use crate::Fairness;
use crate::process::layout::{Kind, Meta};
use crate::process::segment::Segment;

/// How a semaphore is created: bounded or not, its [`Fairness`], its file
/// mode. From [`Semaphore::builder`].
///
/// # Example
///
/// ```
/// use rallypoint::Fairness;
/// use rallypoint::process::Semaphore;
///
/// # fn main() -> std::io::Result<()> {
/// let sem = Semaphore::builder(3).bounded().fairness(Fairness::Strict).anonymous()?;
/// assert_eq!(sem.fairness(), Fairness::Strict);
/// assert!(sem.is_bounded());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
#[must_use = "a builder does nothing until `create` or `anonymous`"]
pub struct SemaphoreBuilder {
    pub(super) permits: usize,
    pub(super) bounded: bool,
    pub(super) fairness: Fairness,
    pub(super) mode: u32,
}

impl SemaphoreBuilder {
    /// A bounded semaphore (Python's `BoundedSemaphore`): `release` fails
    /// instead of raising the count above the initial permits.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let sem = Semaphore::builder(1).bounded().anonymous()?;
    /// assert!(sem.release(1).is_err());
    /// # Ok(())
    /// # }
    /// ```
    pub fn bounded(mut self) -> Self {
        self.bounded = true;
        self
    }

    /// The [`Fairness`] (default: [`Fairness::Eventual`] with 1 ms). It is
    /// part of the segment: every process gets the same.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::{Fairness, process::Semaphore};
    /// let sem = Semaphore::builder(1).fairness(Fairness::Strict).anonymous()?;
    /// assert!(sem.fairness().is_strict());
    /// # Ok(())
    /// # }
    /// ```
    pub fn fairness(mut self, fairness: Fairness) -> Self {
        self.fairness = fairness;
        self
    }

    /// The file mode of a named segment (default `0o600`; subject to the
    /// umask).
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let name = format!("doc-sem-mode-{}", std::process::id());
    /// let sem = Semaphore::builder(1).mode(0o640).create(&name)?;
    /// assert_eq!(sem.name(), Some(name.as_str()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Creates the semaphore under `name` in `/dev/shm`; the name is
    /// removed when this handle is dropped unless
    /// [`persist`](Semaphore::persist)ed.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the name is taken, `InvalidInput` for a bad name
    /// or mode or more than [`Semaphore::MAX_PERMITS`] permits, or the
    /// system's error.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let name = format!("doc-sem-builder-{}", std::process::id());
    /// let sem = Semaphore::builder(2).bounded().create(&name)?;
    /// assert_eq!(Semaphore::open(&name)?.available_permits(), 2);
    /// # drop(sem);
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(self, name: &str) -> io::Result<Semaphore> {
        let (meta, permits) = self.meta()?;
        Semaphore::with(Segment::create(name, self.mode, meta, |map| {
            map.body::<Body>().state.store(permits, Ordering::Relaxed);
        })?)
    }

    /// Creates the semaphore with no name (a sealed memfd), shared by
    /// handing [`as_fd_owned`](Semaphore::as_fd_owned) to a child, which
    /// calls [`from_fd`](Semaphore::from_fd).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for more than [`Semaphore::MAX_PERMITS`] permits, or
    /// the system's error.
    ///
    /// # Example
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Semaphore;
    /// let sem = Semaphore::builder(2).anonymous()?;
    /// let child_side = Semaphore::from_fd(sem.as_fd_owned()?)?; // in a child, usually
    /// assert_eq!(child_side.available_permits(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous(self) -> io::Result<Semaphore> {
        let (meta, permits) = self.meta()?;
        Semaphore::with(Segment::anonymous(meta, |map| {
            map.body::<Body>().state.store(permits, Ordering::Relaxed);
        })?)
    }

    fn meta(&self) -> io::Result<(Meta, u64)> {
        let permits = self.permits as u64;
        if permits > raw::MAX_PERMITS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{permits} permits is more than a process semaphore holds ({})",
                    raw::MAX_PERMITS
                ),
            ));
        }
        let bound = if self.bounded { permits + 1 } else { 0 };
        let fairness = match self.fairness {
            Fairness::Strict => 0,
            Fairness::Eventual(bound) => u64::try_from(bound.as_nanos())
                .unwrap_or(u64::MAX - 1)
                .saturating_add(1),
        };
        Ok((
            Meta {
                kind: Kind::Semaphore,
                layout: LAYOUT,
                body_size: size_of::<Body>(),
                creator_pid: std::process::id(),
                params: [SLOTS as u64 | (RECORDS as u64) << 16, bound, fairness, 0],
            },
            permits,
        ))
    }
}
