//! `process::Queue`'s segment: the body's layout, the ring's shape from
//! the header's parameters, how a fresh segment is initialised, and how
//! items are encoded (postcard).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{ItemError, ItemErrorKind};
use super::ring::{self, Ring, Wake};
use crate::process::futex;
use crate::process::layout::{Kind, MAX_BODY, Meta};
use crate::process::roster::Slot;
use crate::process::segment::Mapping;

/// The body's revision (bumped when `Body` or the ring changes).
pub(super) const LAYOUT: u32 = 1;
/// Participant slots: one per handle, in all processes together.
pub(super) const SLOTS: usize = 64;
/// The item size limit unless the builder sets one.
pub const DEFAULT_ITEM_SIZE_LIMIT: usize = 1024;

/// A word on a cache line of its own.
#[repr(C, align(64))]
pub(super) struct Line<T>(pub(super) T);

/// The futex words of the three waits, with their sleepers counts.
#[repr(C)]
pub(super) struct Waits {
    pub(super) pop: AtomicU32,
    pub(super) pop_sleepers: AtomicU32,
    pub(super) push: AtomicU32,
    pub(super) push_sleepers: AtomicU32,
    pub(super) join: AtomicU32,
    pub(super) join_sleepers: AtomicU32,
    /// Each side's `pending` flag (ring.rs, `Wake`).
    pub(super) pop_pending: AtomicU32,
    pub(super) push_pending: AtomicU32,
    pub(super) join_pending: AtomicU32,
    /// `tail`'s closed bit again (ring.rs).
    pub(super) closed: AtomicU32,
}

/// The segment body, followed by the ring (`capacity * slot_words` words).
/// `head` and `tail` are on lines of their own: poppers write one, pushers
/// the other.
#[repr(C)]
pub(super) struct Body {
    pub(super) head: Line<AtomicU64>,
    pub(super) tail: Line<AtomicU64>,
    /// `skipped` and `done` (ring.rs).
    pub(super) tasks: Line<[AtomicU64; 2]>,
    pub(super) waits: Line<Waits>,
    pub(super) slots: [Slot; SLOTS],
}

const _: () = assert!(size_of::<Body>() % 64 == 0 && SLOTS < 128);

/// The ring's shape, from the header's parameters.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub(super) capacity: u64,
    pub(super) limit: usize,
    pub(super) slot_words: usize,
}

impl Shape {
    pub(super) fn new(capacity: usize, limit: usize) -> Option<Shape> {
        let slot_words = ring::slot_words(limit)?;
        let shape = Shape {
            capacity: u64::try_from(capacity).ok()?,
            limit,
            slot_words,
        };
        (capacity > 0 && shape.body_size().is_some()).then_some(shape)
    }

    pub(super) fn from_params(params: &[u64; 4]) -> Option<Shape> {
        let [capacity, limit, slot_words, 0] = *params else {
            return None;
        };
        let shape = Shape::new(
            usize::try_from(capacity).ok()?,
            usize::try_from(limit).ok()?,
        )?;
        (shape.slot_words as u64 == slot_words).then_some(shape)
    }

    pub(super) fn words(&self) -> usize {
        self.capacity as usize * self.slot_words
    }

    pub(super) fn ring_bytes(&self) -> usize {
        self.words() * 8
    }

    pub(super) fn body_size(&self) -> Option<usize> {
        let ring = usize::try_from(self.capacity)
            .ok()?
            .checked_mul(self.slot_words)?
            .checked_mul(8)?;
        let size = size_of::<Body>().checked_add(ring)?;
        (size <= MAX_BODY).then_some(size)
    }

    pub(super) fn params(&self) -> [u64; 4] {
        [self.capacity, self.limit as u64, self.slot_words as u64, 0]
    }
}

pub(super) fn body_size(params: &[u64; 4]) -> Option<usize> {
    Shape::from_params(params)?.body_size()
}

pub(super) fn meta(shape: Shape) -> Meta {
    Meta {
        kind: Kind::Queue,
        layout: LAYOUT,
        body_size: shape.body_size().expect("checked by Shape::new"),
        creator_pid: std::process::id(),
        params: shape.params(),
    }
}

pub(super) fn init(map: &Mapping, shape: Shape) {
    ring_of(map, shape, &AtomicU64::new(0)).init();
}

pub(super) fn ring_of<'a>(map: &'a Mapping, shape: Shape, head_seen: &'a AtomicU64) -> Ring<'a> {
    let body: &Body = map.body();
    let waits = &body.waits.0;
    Ring {
        head: &body.head.0,
        head_seen,
        tail: &body.tail.0,
        closed: &waits.closed,
        skipped: &body.tasks.0[0],
        done: &body.tasks.0[1],
        slots: map.words_after::<Body>(shape.words()),
        capacity: shape.capacity,
        slot_words: shape.slot_words,
        limit: shape.limit,
        pop_wake: Wake {
            word: &waits.pop,
            sleepers: &waits.pop_sleepers,
            pending: &waits.pop_pending,
        },
        push_wake: Wake {
            word: &waits.push,
            sleepers: &waits.push_sleepers,
            pending: &waits.push_pending,
        },
        join_wake: Wake {
            word: &waits.join,
            sleepers: &waits.join_sleepers,
            pending: &waits.join_pending,
        },
        wake: futex::wake_all,
    }
}

/// The reaper's action when a writer the poppers wait for exits: change
/// the poppers' word (the reaper then wakes it), so they look again.
pub(super) fn writer_exited(_map: &Mapping, word: &AtomicU32, _arg: u32) {
    word.fetch_add(1, Ordering::SeqCst);
}

/// An item's encoding: on the stack when small (most items), so that a
/// push allocates nothing.
pub(crate) enum Encoded {
    Inline([u8; 64], usize),
    Heap(Vec<u8>),
}

impl Encoded {
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Encoded::Inline(b, len) => &b[..*len],
            Encoded::Heap(v) => v,
        }
    }
}

pub(super) fn encode<T: Serialize>(item: &T, limit: usize) -> Result<Encoded, ItemError> {
    let failed = |e: postcard::Error| ItemError::new(ItemErrorKind::Encode, e.to_string());
    let mut inline = [0u8; 64];
    let encoded = match postcard::to_slice(item, &mut inline) {
        Ok(used) => {
            let len = used.len();
            Encoded::Inline(inline, len)
        }
        Err(postcard::Error::SerializeBufferFull) => {
            Encoded::Heap(postcard::to_allocvec(item).map_err(failed)?)
        }
        Err(e) => return Err(failed(e)),
    };
    let len = encoded.bytes().len();
    if len > limit {
        return Err(ItemError::new(
            ItemErrorKind::TooLarge,
            format!("{len} bytes encoded, the queue's limit is {limit}"),
        ));
    }
    Ok(encoded)
}

pub(super) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ItemError> {
    let bad = |why: String| ItemError::new(ItemErrorKind::Decode, why);
    match postcard::take_from_bytes(bytes) {
        Ok((item, [])) => Ok(item),
        Ok((_, rest)) => Err(bad(format!(
            "{} bytes left over after the item (was another type pushed?)",
            rest.len()
        ))),
        Err(e) => Err(bad(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_refuse_what_no_queue_has() {
        assert!(Shape::new(0, 8).is_none());
        assert!(Shape::new(1 << 40, 8).is_none());
        assert!(Shape::new(usize::MAX, usize::MAX).is_none());
        let shape = Shape::new(3, 20).unwrap();
        assert_eq!(shape.slot_words, 4);
        assert!(Shape::from_params(&shape.params()).is_some());
        let [c, l, w, _] = shape.params();
        assert!(Shape::from_params(&[c, l, w + 8, 0]).is_none());
        assert!(Shape::new(1, 1 << 22).is_none());
        assert!(Shape::from_params(&[c, l, w, 1]).is_none());
        assert!(Shape::from_params(&[0, l, w, 0]).is_none());
    }
}
