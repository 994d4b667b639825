//! [`QueueBuilder`]: a `process::Queue` with a non-default item size
//! limit, byte budget or file mode.

use std::io;
use std::marker::PhantomData;

use super::Queue;
use super::layout::{Shape, init, meta};
use crate::process::layout::MAX_BODY;
use crate::process::segment::Segment;

/// Builds a [`process::Queue`](Queue) with a non-default item size limit
/// or file mode.
///
/// ```
/// # fn main() -> std::io::Result<()> {
/// use rallypoint::process::Queue;
/// let q = Queue::<Vec<u8>>::builder(8).item_size_limit(4096).anonymous()?;
/// assert_eq!(q.item_size_limit(), 4096);
/// assert_eq!(q.capacity(), Some(8));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct QueueBuilder<T> {
    pub(super) capacity: usize,
    pub(super) limit: usize,
    pub(super) budget: Option<usize>,
    pub(super) mode: u32,
    pub(super) _items: PhantomData<fn(T) -> T>,
}

impl<T> QueueBuilder<T> {
    /// The largest encoded item, in bytes (default
    /// [`DEFAULT_ITEM_SIZE_LIMIT`](crate::process::DEFAULT_ITEM_SIZE_LIMIT), at most 4 MiB − 1). Each of the
    /// `capacity` slots has room for one item of this size, plus 8 bytes.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<String>::builder(4).item_size_limit(64).anonymous()?;
    /// assert_eq!(q.item_size_limit(), 64);
    /// # Ok(())
    /// # }
    /// ```
    pub fn item_size_limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The file mode of a named segment (default `0o600`; subject to the
    /// umask).
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let name = format!("doc-queue-mode-{}", std::process::id());
    /// let q = Queue::<u8>::builder(4).mode(0o600).create(&name)?;
    /// assert_eq!(q.name(), Some(name.as_str()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// The most memory the ring may take, in bytes: creating a queue whose
    /// `capacity` slots of `item_size_limit` bytes (plus 8 each) do not
    /// fit fails with `InvalidInput`, which names the capacity that would.
    /// (Slots are of one size, so that every push and pop is one
    /// compare-exchange and a killed producer leaves a hole of one slot:
    /// the budget bounds the segment, it is not shared between items of
    /// different sizes.)
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u64>::builder(1024).item_size_limit(16).byte_budget(64 << 10).anonymous()?;
    /// assert_eq!(q.ring_bytes(), 1024 * 24);
    /// let err = Queue::<u64>::builder(1 << 20).byte_budget(1 << 20).anonymous().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok(())
    /// # }
    /// ```
    pub fn byte_budget(mut self, bytes: usize) -> Self {
        self.budget = Some(bytes);
        self
    }

    fn shape(&self) -> io::Result<Shape> {
        let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
        let shape = Shape::new(self.capacity, self.limit).ok_or_else(|| {
            invalid(format!(
                "a queue of {} items of up to {} bytes: capacity must be at least 1, \
                 the item size limit at most 4 MiB - 1 and the ring at most {MAX_BODY} bytes",
                self.capacity, self.limit
            ))
        })?;
        match self.budget {
            Some(budget) if shape.ring_bytes() > budget => Err(invalid(format!(
                "a ring of {} slots of {} bytes is {} bytes, over the budget of {budget}: \
                 at most {} slots fit",
                shape.capacity,
                shape.slot_words * 8,
                shape.ring_bytes(),
                budget / (shape.slot_words * 8)
            ))),
            _ => Ok(shape),
        }
    }

    /// Creates the queue under `name` in `/dev/shm`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a capacity of 0 or a ring over 1 GiB, a bad name
    /// or mode; `AlreadyExists` if the name is taken; or the system's error.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let name = format!("doc-queue-builder-{}", std::process::id());
    /// let q = Queue::<u8>::builder(4).create(&name)?;
    /// assert!(Queue::<u8>::builder(4).create(&name).is_err()); // the name is taken
    /// # drop(q);
    /// # Ok(())
    /// # }
    /// ```
    pub fn create(self, name: &str) -> io::Result<Queue<T>> {
        let shape = self.shape()?;
        let seg = Segment::create(name, self.mode, meta(shape), |map| init(map, shape))?;
        Queue::with(seg)
    }

    /// Creates the queue with no name (a sealed memfd), shared by handing
    /// its descriptor to another process ([`Queue::from_fd`]).
    ///
    /// # Errors
    ///
    /// As [`create`](QueueBuilder::create), but for the name.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::Queue;
    /// let q = Queue::<u8>::builder(4).anonymous()?;
    /// assert_eq!(q.name(), None);
    /// # Ok(())
    /// # }
    /// ```
    pub fn anonymous(self) -> io::Result<Queue<T>> {
        let shape = self.shape()?;
        let seg = Segment::anonymous(meta(shape), |map| init(map, shape))?;
        Queue::with(seg)
    }
}
