//! The containers as channels are used: a `Stream` of their items (borrowing
//! or owning the container), a blocking iterator, and batch pops.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::waiting::Core;
use super::{Pop, PriorityQueue, Queue, Stack, TryPopError};

/// The items of a container as they come, until it is closed and drained
/// (`None` then, for good). Returned by `stream()` on [`Queue`], [`Stack`]
/// and [`PriorityQueue`]; a `Stream` with the `futures-core` feature (on by
/// default), and usable without it through [`next`](PopStream::next).
///
/// Cancel-safe: dropping the stream (or a pending `next()`) loses no item,
/// exactly as dropping a pending [`pop`](Queue::pop) does.
///
/// # Examples
///
/// ```
/// # futures_lite::future::block_on(async {
/// let q = rallypoint::Queue::unbounded();
/// q.push(1).await.unwrap();
/// q.push(2).await.unwrap();
/// q.close();
/// let mut items = q.stream();
/// assert_eq!(items.next().await, Some(1));
/// assert_eq!(items.next().await, Some(2));
/// assert_eq!(items.next().await, None);
/// # });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PopStream<'a, T> {
    core: &'a Core<T>,
    pending: Option<Pop<'a, T>>,
    done: bool,
}

impl<'a, T> PopStream<'a, T> {
    pub(crate) fn new(core: &'a Core<T>) -> Self {
        PopStream {
            core,
            pending: None,
            done: false,
        }
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        if self.done {
            return Poll::Ready(None);
        }
        let core = self.core;
        let pop = self
            .pending
            .get_or_insert_with(|| Pop::new(core.pop_op(), None));
        match Pin::new(pop).poll(cx) {
            Poll::Ready(item) => {
                self.pending = None;
                self.done = item.is_err();
                Poll::Ready(item.ok())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    /// The next item; `None` once the container is closed and drained.
    /// (The same as `StreamExt::next`, whose place this method takes when
    /// both are in scope; its future is a `FusedFuture` too.)
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `next()` loses no item.
    #[allow(
        clippy::should_implement_trait,
        reason = "the async `next` of streams (`StreamExt::next`), not `Iterator`'s"
    )]
    pub fn next(&mut self) -> NextItem<'_, 'a, T> {
        NextItem {
            stream: self,
            done: false,
        }
    }
}

/// Future returned by [`PopStream::next`] (and [`PopStreamArc::next`]):
/// the next item, `None` once the container is closed and drained.
///
/// # Panics
///
/// Polling the future again after it returned `Ready` panics, as for most
/// futures.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct NextItem<'s, 'a, T> {
    stream: &'s mut PopStream<'a, T>,
    done: bool,
}

impl<T> Future for NextItem<'_, '_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        assert!(!self.done, "rallypoint future polled after completion");
        let out = self.stream.poll_item(cx);
        self.done = out.is_ready();
        out
    }
}

#[cfg(feature = "futures-core")]
impl<T> futures_core::future::FusedFuture for NextItem<'_, '_, T> {
    fn is_terminated(&self) -> bool {
        self.done || self.stream.done
    }
}

impl<T> fmt::Debug for NextItem<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextItem").finish_non_exhaustive()
    }
}

#[cfg(feature = "futures-core")]
impl<T> futures_core::Stream for PopStream<'_, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_item(cx)
    }
}

#[cfg(feature = "futures-core")]
impl<T> futures_core::stream::FusedStream for PopStream<'_, T> {
    fn is_terminated(&self) -> bool {
        self.done
    }
}

impl<T> fmt::Debug for PopStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopStream")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// [`PopStream`] that owns an `Arc` of its container, so it is `'static`
/// (e.g. moved into a spawned task). Returned by `stream_arc()`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// # futures_lite::future::block_on(async {
/// let q = Arc::new(rallypoint::Queue::unbounded());
/// let mut items = q.stream_arc();
/// q.push("a").await.unwrap();
/// q.close();
/// assert_eq!(items.next().await, Some("a"));
/// assert_eq!(items.next().await, None);
/// # });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct PopStreamArc<T: 'static> {
    /// Borrows the container that `_owner` keeps alive; declared first so
    /// that it is dropped first.
    stream: PopStream<'static, T>,
    _owner: Arc<dyn Send + Sync + 'static>,
}

impl<T: 'static> PopStreamArc<T> {
    fn new<C: Send + Sync + 'static>(owner: Arc<C>, core: &Core<T>) -> Self {
        // SAFETY: `core` lives inside `*owner` (callers pass the container's
        // own core), whose heap allocation the `Arc` keeps alive and in
        // place for as long as `_owner` is held; `stream` is declared before
        // `_owner`, so it (and any pending pop borrowing the core) is dropped
        // first; the `'static` reference never leaves this struct (`next`
        // and `poll_next` hand out items, not references).
        let core: &'static Core<T> = unsafe { &*std::ptr::from_ref(core) };
        PopStreamArc {
            stream: PopStream::new(core),
            _owner: owner,
        }
    }

    /// The next item; `None` once the container is closed and drained (as
    /// [`PopStream::next`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped `next()` loses no item.
    #[allow(
        clippy::should_implement_trait,
        reason = "the async `next` of streams (`StreamExt::next`), not `Iterator`'s"
    )]
    pub fn next(&mut self) -> NextItem<'_, 'static, T> {
        self.stream.next()
    }
}

#[cfg(feature = "futures-core")]
impl<T: 'static> futures_core::Stream for PopStreamArc<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().stream.poll_item(cx)
    }
}

#[cfg(feature = "futures-core")]
impl<T: 'static> futures_core::stream::FusedStream for PopStreamArc<T> {
    fn is_terminated(&self) -> bool {
        self.stream.done
    }
}

impl<T: 'static> fmt::Debug for PopStreamArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PopStreamArc")
            .field("done", &self.stream.done)
            .finish_non_exhaustive()
    }
}

/// A blocking iterator over a container's items: each `next()` is a
/// `pop_blocking()`, and the iterator ends once the container is closed and
/// drained. Returned by `iter_blocking()`; must not be used from async code.
///
/// # Examples
///
/// ```
/// let q = rallypoint::Queue::unbounded();
/// for n in 1..=3 {
///     q.try_push(n).unwrap();
/// }
/// q.close();
/// assert_eq!(q.iter_blocking().sum::<i32>(), 6);
/// ```
#[must_use = "iterators do nothing unless consumed"]
pub struct IterBlocking<'a, T> {
    core: &'a Core<T>,
    done: bool,
}

impl<T> Iterator for IterBlocking<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.done {
            return None;
        }
        // As `pop_blocking`: the first attempt before any op is built.
        let item = match self.core.pop_at_once() {
            Some(item) => Some(item),
            None => Pop::new(self.core.pop_op(), None).block_after_try().ok(),
        };
        self.done = item.is_none();
        item
    }
}

impl<T> std::iter::FusedIterator for IterBlocking<'_, T> {}

impl<T> fmt::Debug for IterBlocking<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IterBlocking")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

macro_rules! stream_forms {
    ($($name:ident),*) => {$(
        impl<T> $name<T> {
            /// The items as a stream (see [`PopStream`]): each is popped as
            /// by [`pop`](Self::pop); the stream ends once the container is
            /// closed and drained.
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(7).await.unwrap();
            /// q.close();
            /// let mut items = q.stream();
            /// assert_eq!(items.next().await, Some(7));
            /// assert_eq!(items.next().await, None);
            /// # });
            /// ```
            pub fn stream(&self) -> PopStream<'_, T> {
                PopStream::new(&self.core)
            }

            /// A blocking iterator over the items (see [`IterBlocking`]).
            /// Must not be used from async code.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// q.close();
            /// assert_eq!(q.iter_blocking().collect::<Vec<_>>(), [1]);
            /// ```
            pub fn iter_blocking(&self) -> IterBlocking<'_, T> {
                IterBlocking {
                    core: &self.core,
                    done: false,
                }
            }

            /// Pops up to `max` items that are available now, without
            /// waiting (in pop order): an empty `Vec` if there are none.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// for n in 0..5 {
            ///     q.try_push(n).unwrap();
            /// }
            /// assert_eq!(q.try_pop_many(3).len(), 3);
            /// assert_eq!(q.try_pop_many(3).len(), 2);
            /// assert!(q.try_pop_many(3).is_empty());
            /// ```
            pub fn try_pop_many(&self, max: usize) -> Vec<T> {
                let mut items = Vec::new();
                while items.len() < max {
                    match self.try_pop() {
                        Ok(item) => items.push(item),
                        Err(TryPopError::Empty | TryPopError::Closed) => break,
                    }
                }
                items
            }

            /// Pops every item available now, without waiting (in pop
            /// order).
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.try_push(1).unwrap();
            /// q.try_push(2).unwrap();
            /// assert_eq!(q.drain().len(), 2);
            /// assert!(q.is_empty());
            /// ```
            pub fn drain(&self) -> Vec<T> {
                self.try_pop_many(usize::MAX)
            }

            /// Waits for at least one item, then pops up to `max` in all
            /// (the rest only if available without waiting). An empty `Vec`
            /// once the container is closed and drained, or for `max == 0`.
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: items leave the container only in the poll
            /// that returns them, as for [`pop`](Self::pop).
            ///
            /// # Examples
            ///
            /// ```
            /// # futures_lite::future::block_on(async {
            #[doc = concat!("let q = rallypoint::", stringify!($name), "::unbounded();")]
            /// q.push(1).await.unwrap();
            /// q.push(2).await.unwrap();
            /// assert_eq!(q.pop_many(10).await.len(), 2);
            /// q.close();
            /// assert!(q.pop_many(10).await.is_empty());
            /// # });
            /// ```
            pub async fn pop_many(&self, max: usize) -> Vec<T> {
                if max == 0 {
                    return Vec::new();
                }
                match self.pop().await {
                    Ok(first) => {
                        let mut items = vec![first];
                        items.extend(self.try_pop_many(max - 1));
                        items
                    }
                    Err(_closed) => Vec::new(),
                }
            }
        }

        impl<T: Send + 'static> $name<T> {
            /// [`stream`](Self::stream) owning an `Arc` of the container,
            /// so that it is `'static` (see [`PopStreamArc`]).
            ///
            /// # Examples
            ///
            /// ```
            /// use std::sync::Arc;
            #[doc = concat!("let q = Arc::new(rallypoint::", stringify!($name), "::unbounded());")]
            /// let items = q.stream_arc(); // can be moved into a spawned task
            /// q.try_push(1).unwrap();
            /// q.close();
            /// let all: Vec<_> = futures_lite::future::block_on(async move {
            ///     let mut items = items;
            ///     let mut all = Vec::new();
            ///     while let Some(n) = items.next().await {
            ///         all.push(n);
            ///     }
            ///     all
            /// });
            /// assert_eq!(all, [1]);
            /// ```
            pub fn stream_arc(self: &Arc<Self>) -> PopStreamArc<T> {
                PopStreamArc::new(Arc::clone(self), &self.core)
            }
        }
    )*};
}

stream_forms!(Queue, Stack, PriorityQueue);
