//! The bytes of a segment: the header every segment starts with, how it is
//! written by the creator and checked by everyone else.
//!
//! # Layout rules
//!
//! * Everything another process can write is read through atomics
//!   (`AtomicU32` / `AtomicU64`, naturally aligned), never through a plain
//!   reference: a peer that scribbles over the segment while we read makes
//!   our reads return garbage, never undefined behaviour.
//! * The header's fields are immutable once the segment is published. They
//!   are read once, at `open`, validated, and cached in the handle: later
//!   corruption cannot move a bound we index with.
//! * The kind's body starts at [`BODY_OFFSET`] (the header's size, 64-byte
//!   aligned so the body's hot words are on their own cache line) and the
//!   segment is exactly `BODY_OFFSET + body_size` bytes, checked against the
//!   file's size at `open` (a shorter file would fault on access).
//! * Native endianness and `#[repr(C)]`: peers run on the same machine.

use std::io;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The first eight bytes of every segment.
pub(crate) const MAGIC: u64 = u64::from_le_bytes(*b"RLYPNT\0\x01");

/// Bumped whenever the header or any body changes incompatibly.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Where the kind's body starts: right after the header.
pub(crate) const BODY_OFFSET: usize = size_of::<Header>();

/// The largest body any kind has (a sanity bound for `open`, so that a
/// corrupted size is refused before anything is mapped at it): a queue's
/// ring is the only large body.
pub(crate) const MAX_BODY: usize = 1 << 30;

/// The body size a kind expects: fixed, or computed from the header's
/// (checksummed) parameters, for kinds whose size is chosen at creation.
#[derive(Clone, Copy)]
pub(crate) enum BodySize {
    Exact(usize),
    /// `None` for parameters no segment of this kind can have.
    FromParams(fn(&[u64; 4]) -> Option<usize>),
}

impl From<usize> for BodySize {
    fn from(size: usize) -> BodySize {
        BodySize::Exact(size)
    }
}

/// Which primitive a segment holds; stored in the header so that opening a
/// segment as the wrong type fails with a clear error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    Event = 1,
    Barrier = 2,
    Semaphore = 3,
    Lock = 4,
    RLock = 5,
    Queue = 6,
    Condition = 7,
}

impl Kind {
    fn from_raw(raw: u32) -> Option<Kind> {
        match raw {
            1 => Some(Kind::Event),
            2 => Some(Kind::Barrier),
            3 => Some(Kind::Semaphore),
            4 => Some(Kind::Lock),
            5 => Some(Kind::RLock),
            6 => Some(Kind::Queue),
            7 => Some(Kind::Condition),
            _ => None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Event => "an Event",
            Kind::Lock => "a Lock",
            Kind::Barrier => "a Barrier",
            Kind::Semaphore => "a Semaphore",
            Kind::RLock => "an RLock",
            Kind::Queue => "a Queue",
            Kind::Condition => "a Condition",
        }
    }
}

/// The 128-byte header at offset 0.
///
/// `magic` is written last, with `Release`, by the creator (and the segment
/// only gets its name after that); `open` reads it first, with `Acquire`.
/// `checksum` covers every other immutable field, so a bit flipped in the
/// header is refused rather than trusted.
#[repr(C, align(64))]
pub(crate) struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    kind: AtomicU32,
    /// The kind's body revision (for changes that keep the header).
    layout: AtomicU32,
    header_size: AtomicU32,
    total_size: AtomicU64,
    body_size: AtomicU32,
    creator_pid: AtomicU32,
    /// Kind-specific immutable parameters (parties, permits, …).
    params: [AtomicU64; 4],
    checksum: AtomicU64,
    _reserved: [AtomicU64; 6],
}

const _: () = assert!(size_of::<Header>() == 128 && align_of::<Header>() == 64);

/// What a header says, once read and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) kind: Kind,
    pub(crate) layout: u32,
    pub(crate) body_size: usize,
    pub(crate) creator_pid: u32,
    pub(crate) params: [u64; 4],
}

impl Meta {
    /// The segment's size in bytes.
    pub(crate) fn total_size(&self) -> usize {
        BODY_OFFSET + self.body_size
    }

    fn checksum(&self) -> u64 {
        // FNV-1a over the fields, in a fixed order.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |v: u64| {
            for byte in v.to_le_bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        mix(MAGIC);
        mix(u64::from(FORMAT_VERSION));
        mix(self.kind as u64);
        mix(u64::from(self.layout));
        mix(BODY_OFFSET as u64);
        mix(self.total_size() as u64);
        mix(self.body_size as u64);
        mix(u64::from(self.creator_pid));
        for p in self.params {
            mix(p);
        }
        hash
    }
}

fn invalid(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

impl Header {
    /// Writes every field but `magic` (the creator, before publishing).
    pub(crate) fn write(&self, meta: &Meta) {
        // Relaxed: published by the `Release` store of `magic` in `publish`.
        self.version.store(FORMAT_VERSION, Ordering::Relaxed);
        self.kind.store(meta.kind as u32, Ordering::Relaxed);
        self.layout.store(meta.layout, Ordering::Relaxed);
        self.header_size
            .store(BODY_OFFSET as u32, Ordering::Relaxed);
        self.total_size
            .store(meta.total_size() as u64, Ordering::Relaxed);
        self.body_size
            .store(meta.body_size as u32, Ordering::Relaxed);
        self.creator_pid.store(meta.creator_pid, Ordering::Relaxed);
        for (field, value) in self.params.iter().zip(meta.params) {
            field.store(value, Ordering::Relaxed);
        }
        self.checksum.store(meta.checksum(), Ordering::Relaxed);
    }

    /// Makes the header valid: the last write of the creator.
    pub(crate) fn publish(&self) {
        // Release: everything written before (header and body) is visible
        // to whoever reads the magic with `Acquire`.
        self.magic.store(MAGIC, Ordering::Release);
    }

    /// Reads and checks the header of a segment of `file_size` bytes that
    /// should hold `expected` with a body of `body_size` bytes at revision
    /// `layout`. Every failure is `InvalidData` with a reason.
    pub(crate) fn read(
        &self,
        file_size: usize,
        expected: Kind,
        layout: u32,
        body_size: BodySize,
    ) -> io::Result<Meta> {
        // Acquire: pairs with `publish`.
        if self.magic.load(Ordering::Acquire) != MAGIC {
            return Err(invalid("not a rallypoint segment (bad magic)".into()));
        }
        let version = self.version.load(Ordering::Relaxed);
        if version != FORMAT_VERSION {
            return Err(invalid(format!(
                "segment format version {version}, this build reads {FORMAT_VERSION}"
            )));
        }
        let raw_kind = self.kind.load(Ordering::Relaxed);
        let kind = Kind::from_raw(raw_kind)
            .ok_or_else(|| invalid(format!("unknown primitive kind {raw_kind}")))?;
        if kind != expected {
            return Err(invalid(format!(
                "segment holds {}, not {}",
                kind.name(),
                expected.name()
            )));
        }
        let meta = Meta {
            kind,
            layout: self.layout.load(Ordering::Relaxed),
            body_size: self.body_size.load(Ordering::Relaxed) as usize,
            creator_pid: self.creator_pid.load(Ordering::Relaxed),
            params: std::array::from_fn(|i| self.params[i].load(Ordering::Relaxed)),
        };
        if meta.layout != layout {
            return Err(invalid(format!(
                "{} body revision {}, this build reads {layout}",
                kind.name(),
                meta.layout
            )));
        }
        let body_size = match body_size {
            BodySize::Exact(size) => size,
            BodySize::FromParams(size_of) => size_of(&meta.params).ok_or_else(|| {
                invalid(format!(
                    "{} segment with parameters {:?}",
                    kind.name(),
                    meta.params
                ))
            })?,
        };
        let header_size = self.header_size.load(Ordering::Relaxed) as usize;
        let total = self.total_size.load(Ordering::Relaxed);
        if header_size != BODY_OFFSET || meta.body_size != body_size {
            return Err(invalid(format!(
                "header size {header_size} / body size {} (expected {BODY_OFFSET} / {body_size})",
                meta.body_size
            )));
        }
        if total != meta.total_size() as u64 || total != file_size as u64 {
            return Err(invalid(format!(
                "segment size {total} in the header, {file_size} on disk, {} expected",
                meta.total_size()
            )));
        }
        if self.checksum.load(Ordering::Relaxed) != meta.checksum() {
            return Err(invalid("segment header checksum mismatch".into()));
        }
        Ok(meta)
    }
}
