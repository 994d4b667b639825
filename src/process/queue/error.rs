//! The errors of [`process::Queue`](super::Queue): the in-process queue's,
//! plus [`ItemError`] for an item that cannot cross the boundary (too
//! large or not encodable on the way in, not decodable or corrupted in the
//! segment on the way out).

use std::error;
use std::fmt;

/// Why an item could not be pushed or popped as a `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    kind: ItemErrorKind,
    detail: String,
}

/// What went wrong with an item (see [`ItemError::kind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ItemErrorKind {
    /// Pushing: the encoded item is over the queue's item size limit.
    TooLarge,
    /// Pushing: `T`'s `Serialize` failed.
    Encode,
    /// Popping: the bytes are not a `T` (another type was pushed, or a peer
    /// wrote garbage). The item is consumed; the queue goes on.
    Decode,
    /// Popping: the slot's length or state in the segment was corrupted.
    /// The slot is consumed; the queue goes on.
    Corrupt,
}

impl ItemError {
    pub(crate) fn new(kind: ItemErrorKind, detail: impl Into<String>) -> ItemError {
        ItemError {
            kind,
            detail: detail.into(),
        }
    }

    /// What went wrong.
    ///
    /// ```
    /// # fn main() -> std::io::Result<()> {
    /// use rallypoint::process::{ItemErrorKind, PushError, Queue};
    /// let q = Queue::<String>::builder(4).item_size_limit(8).anonymous()?;
    /// let Err(PushError::Invalid(item, why)) = q.push_blocking("far too long".to_string()) else {
    ///     panic!()
    /// };
    /// assert_eq!(why.kind(), ItemErrorKind::TooLarge);
    /// assert_eq!(item, "far too long"); // handed back
    /// # Ok(())
    /// # }
    /// ```
    pub fn kind(&self) -> ItemErrorKind {
        self.kind
    }
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ItemErrorKind::TooLarge => "item too large",
            ItemErrorKind::Encode => "item could not be encoded",
            ItemErrorKind::Decode => "item could not be decoded",
            ItemErrorKind::Corrupt => "corrupt item in the queue's segment",
        };
        write!(f, "{what}: {}", self.detail)
    }
}

impl error::Error for ItemError {}

macro_rules! push_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub enum $name<T> {
            $($(#[$vmeta])* $variant(T),)*
            /// The item cannot cross the boundary ([`ItemError`]); handed back.
            Invalid(T, ItemError),
        }

        impl<T> $name<T> {
            /// The item that was not pushed.
            ///
            /// ```
            /// # fn main() -> std::io::Result<()> {
            /// use rallypoint::process::{Queue, TryPushError};
            /// let q = Queue::<u8>::anonymous(1)?;
            /// q.try_push(1).unwrap();
            /// let err: TryPushError<u8> = q.try_push(2).unwrap_err();
            /// assert_eq!(err.into_inner(), 2);
            /// # Ok(())
            /// # }
            /// ```
            pub fn into_inner(self) -> T {
                match self {
                    $($name::$variant(item))|* | $name::Invalid(item, _) => item,
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str(concat!(stringify!($variant), "(..)")),)*
                    $name::Invalid(_, why) => write!(f, "Invalid(.., {why:?})"),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant(_) => f.write_str($text),)*
                    $name::Invalid(_, why) => write!(f, "not pushed: {why}"),
                }
            }
        }

        impl<T> error::Error for $name<T> {}
    };
}

push_error! {
    /// Why [`push`](super::Queue::push) failed; the item is handed back.
    PushError {
        /// The queue is closed.
        Closed => "pushing onto a closed queue",
    }
}

push_error! {
    /// Why [`push_timeout`](super::Queue::push_timeout) failed; the item is
    /// handed back.
    PushTimeoutError {
        /// The queue stayed full until the deadline.
        Timeout => "timed out waiting for room in the queue",
        /// The queue is closed.
        Closed => "pushing onto a closed queue",
    }
}

push_error! {
    /// Why [`try_push`](super::Queue::try_push) failed; the item is handed
    /// back.
    TryPushError {
        /// The queue is full.
        Full => "the queue is full",
        /// The queue is closed.
        Closed => "pushing onto a closed queue",
    }
}

macro_rules! pop_error {
    (
        $(#[$meta:meta])*
        $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// The item at the front was not a valid `T` ([`ItemError`]): it
            /// was removed, and counts as a finished task for
            /// [`join`](super::Queue::join) (do not call `task_done` for it).
            Invalid(ItemError),
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($name::$variant => f.write_str($text),)*
                    $name::Invalid(why) => write!(f, "{why}"),
                }
            }
        }

        impl error::Error for $name {}
    };
}

pop_error! {
    /// Why [`pop`](super::Queue::pop) failed.
    PopError {
        /// The queue is closed and drained.
        Closed => "popping from a closed and empty queue",
    }
}

pop_error! {
    /// Why [`pop_timeout`](super::Queue::pop_timeout) failed.
    PopTimeoutError {
        /// The queue stayed empty until the deadline.
        Timeout => "timed out waiting for an item",
        /// The queue is closed and drained.
        Closed => "popping from a closed and empty queue",
    }
}

pop_error! {
    /// Why [`try_pop`](super::Queue::try_pop) failed.
    TryPopError {
        /// The queue is empty (an item still being written counts as not
        /// there yet).
        Empty => "the queue is empty",
        /// The queue is closed and drained.
        Closed => "popping from a closed and empty queue",
    }
}
