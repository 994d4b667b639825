//! Channel-style ownership on top of a shared container: counted producer
//! and consumer handles, as async-channel's and flume's senders and
//! receivers, for code that wants "the queue ends when its producers are
//! gone" instead of Python's explicit sharing.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{PriorityQueue, Queue, Stack};

struct Shared<C> {
    container: C,
    /// The container's `close` (a function, not a trait bound, so that the
    /// handle types need no bound users could see).
    close: fn(&C),
    producers: AtomicUsize,
    consumers: AtomicUsize,
}

/// The sending side of a container made into a channel with
/// `into_channel()`: cloning counts another producer, and when the last
/// producer is dropped the container is **closed** — consumers drain what
/// is buffered and then get `Closed` (a stream ends), so a producer that
/// returns early or panics cannot leave them waiting forever.
///
/// It derefs to the container, so every method is there (`push` in its
/// four forms, `try_push`, `len`, …); what the handle adds is the count.
///
/// # Examples
///
/// ```
/// let (tx, rx) = rallypoint::Queue::bounded(4).into_channel();
/// let producer = std::thread::spawn(move || {
///     for i in 0..3 {
///         tx.push_blocking(i).unwrap();
///     }
///     // `tx` dropped here: the queue closes.
/// });
/// assert_eq!(rx.iter_blocking().collect::<Vec<_>>(), [0, 1, 2]);
/// producer.join().unwrap();
/// ```
pub struct Producer<C> {
    shared: Arc<Shared<C>>,
}

/// The receiving side of a container made into a channel with
/// `into_channel()`: cloning counts another consumer, and when the last
/// consumer is dropped the container is closed — later pushes fail and hand
/// their item back, as async-channel's `send` does once every receiver is
/// gone.
///
/// It derefs to the container (`pop` in its four forms, `stream()`, …).
///
/// # Examples
///
/// ```
/// use rallypoint::PushError;
/// let (tx, rx) = rallypoint::Queue::<u8>::unbounded().into_channel();
/// drop(rx);
/// assert_eq!(tx.push_blocking(1), Err(PushError::Closed(1)));
/// ```
pub struct Consumer<C> {
    shared: Arc<Shared<C>>,
}

fn channel<C>(container: C, close: fn(&C)) -> (Producer<C>, Consumer<C>) {
    let shared = Arc::new(Shared {
        container,
        close,
        producers: AtomicUsize::new(1),
        consumers: AtomicUsize::new(1),
    });
    (
        Producer {
            shared: Arc::clone(&shared),
        },
        Consumer { shared },
    )
}

impl<C> Producer<C> {
    /// How many producers there are (this one included).
    ///
    /// ```
    /// let (tx, _rx) = rallypoint::Queue::<u8>::unbounded().into_channel();
    /// let tx2 = tx.clone();
    /// assert_eq!(tx2.producer_count(), 2);
    /// ```
    pub fn producer_count(&self) -> usize {
        // Relaxed: a snapshot.
        self.shared.producers.load(Ordering::Relaxed)
    }

    /// How many consumers there are.
    ///
    /// ```
    /// let (tx, rx) = rallypoint::Queue::<u8>::unbounded().into_channel();
    /// drop(rx);
    /// assert_eq!(tx.consumer_count(), 0);
    /// ```
    pub fn consumer_count(&self) -> usize {
        self.shared.consumers.load(Ordering::Relaxed)
    }
}

impl<C> Consumer<C> {
    /// How many producers there are.
    ///
    /// ```
    /// let (tx, rx) = rallypoint::Queue::<u8>::unbounded().into_channel();
    /// drop(tx);
    /// assert_eq!(rx.producer_count(), 0);
    /// assert!(rx.is_closed());
    /// ```
    pub fn producer_count(&self) -> usize {
        self.shared.producers.load(Ordering::Relaxed)
    }

    /// How many consumers there are (this one included).
    ///
    /// ```
    /// let (_tx, rx) = rallypoint::Queue::<u8>::unbounded().into_channel();
    /// assert_eq!(rx.clone().consumer_count(), 2);
    /// ```
    pub fn consumer_count(&self) -> usize {
        self.shared.consumers.load(Ordering::Relaxed)
    }
}

impl<C> Clone for Producer<C> {
    fn clone(&self) -> Self {
        // Relaxed: like `Arc`'s count, the increment needs no ordering (the
        // handle being cloned keeps the count above zero).
        self.shared.producers.fetch_add(1, Ordering::Relaxed);
        Producer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> Clone for Consumer<C> {
    fn clone(&self) -> Self {
        self.shared.consumers.fetch_add(1, Ordering::Relaxed);
        Consumer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> Drop for Producer<C> {
    fn drop(&mut self) {
        // AcqRel: the last producer's close comes after every other
        // producer's pushes (their decrements release them).
        if self.shared.producers.fetch_sub(1, Ordering::AcqRel) == 1 {
            (self.shared.close)(&self.shared.container);
        }
    }
}

impl<C> Drop for Consumer<C> {
    fn drop(&mut self) {
        if self.shared.consumers.fetch_sub(1, Ordering::AcqRel) == 1 {
            (self.shared.close)(&self.shared.container);
        }
    }
}

impl<C> Deref for Producer<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.shared.container
    }
}

impl<C> Deref for Consumer<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.shared.container
    }
}

impl<C: fmt::Debug> fmt::Debug for Producer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Producer")
            .field("container", &self.shared.container)
            .field("producers", &self.producer_count())
            .field("consumers", &self.consumer_count())
            .finish()
    }
}

impl<C: fmt::Debug> fmt::Debug for Consumer<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consumer")
            .field("container", &self.shared.container)
            .field("producers", &self.producer_count())
            .field("consumers", &self.consumer_count())
            .finish()
    }
}

macro_rules! channel_forms {
    ($($name:ident),*) => {$(
        impl<T> $name<T> {
            /// Makes the container a channel: a [`Producer`] and a
            /// [`Consumer`], both cloneable and counted. The last producer
            /// dropped closes it (consumers drain, then see `Closed`); the
            /// last consumer dropped closes it too (pushes fail, the item
            /// handed back). Python-style sharing (`Arc<Self>`) stays
            /// available for code that closes by hand.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("let (tx, rx) = rallypoint::", stringify!($name), "::unbounded().into_channel();")]
            /// tx.try_push(1).unwrap();
            /// drop(tx);
            /// assert_eq!(rx.try_pop(), Ok(1));
            /// assert!(rx.try_pop().unwrap_err().is_closed());
            /// ```
            pub fn into_channel(self) -> (Producer<Self>, Consumer<Self>) {
                channel(self, |container| {
                    container.close();
                })
            }
        }
    )*};
}

channel_forms!(Queue, Stack, PriorityQueue);
