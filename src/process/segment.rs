//! Shared-memory segments: created by name in `/dev/shm` or anonymous
//! (a memfd), mapped shared, checked on open, unlinked by their creator.
//!
//! # Why create goes through an unnamed file
//!
//! A segment must never be visible half-written: a peer that opens it
//! between the creator's `open(O_CREAT)` and its last header write would
//! see a short file or a zero header. So the creator writes an *unnamed*
//! file (`O_TMPFILE` in `/dev/shm`), and only then gives it its name with
//! `linkat`, which fails if the name exists — create is atomic and
//! exclusive, and a creator killed half-way leaves nothing behind. Where
//! `O_TMPFILE` is not available the file is written under a hidden
//! temporary name and renamed with `RENAME_NOREPLACE` (same guarantees,
//! but a creator killed half-way leaves the temporary file).
//!
//! # Unlinking
//!
//! The handle that created a named segment unlinks it on drop, unless
//! [`persist`](Segment::persist)ed, and only if the name still refers to
//! *its* file (same device and inode): a segment unlinked and re-created
//! by someone else under the same name is left alone.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use rustix::fs::{self, AtFlags, Mode, OFlags, RenameFlags, SealFlags};
use rustix::io::Errno;
use rustix::mm::{self, MapFlags, ProtFlags};

use super::layout::{BODY_OFFSET, BodySize, Header, Kind, MAX_BODY, Meta};

/// Where named segments live (what `shm_open` uses on Linux).
const SHM_DIR: &str = "/dev/shm";

/// The default mode of a named segment: owner read and write only.
pub(crate) const DEFAULT_MODE: u32 = 0o600;

/// A shared mapping of a whole segment, unmapped on drop. Shared (`Arc`)
/// between a handle and the helper thread that may be waiting on one of
/// its words, so that memory stays mapped while anyone can touch it.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory; every access to it goes
// through atomics (`Header`, the kinds' bodies), which are `Sync`.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    fn new(fd: BorrowedFd<'_>, len: usize) -> io::Result<Mapping> {
        // SAFETY: a fresh mapping at an address the kernel picks, of a
        // file we hold open; nothing else refers to that range yet.
        let ptr = unsafe {
            mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                fd,
                0,
            )?
        };
        let base =
            NonNull::new(ptr.cast::<u8>()).ok_or_else(|| io::Error::other("mmap gave null"))?;
        Ok(Mapping { base, len })
    }

    pub(crate) fn header(&self) -> &Header {
        // SAFETY: the mapping is at least `BODY_OFFSET` bytes (checked by
        // every constructor before a `Mapping` is used) and page-aligned;
        // `Header` is all atomics, valid for any bytes.
        unsafe { &*self.base.as_ptr().cast::<Header>() }
    }

    /// The kind's body, a `#[repr(C)]` struct of atomics at `BODY_OFFSET`.
    pub(crate) fn body<B>(&self) -> &B {
        assert!(
            BODY_OFFSET + size_of::<B>() <= self.len && BODY_OFFSET % align_of::<B>() == 0,
            "body does not fit the mapping"
        );
        // SAFETY: in bounds and aligned (checked above; the base is
        // page-aligned); `B` is made of atomics only, so any bytes are a
        // valid `B`, and shared access through `&` is what atomics are for.
        unsafe { &*self.base.as_ptr().add(BODY_OFFSET).cast::<B>() }
    }

    /// The `count` words that follow the body `B` (a queue's ring).
    pub(crate) fn words_after<B>(&self, count: usize) -> &[AtomicU64] {
        let start = BODY_OFFSET + size_of::<B>();
        assert!(
            start % align_of::<AtomicU64>() == 0
                && count
                    .checked_mul(size_of::<AtomicU64>())
                    .and_then(|bytes| bytes.checked_add(start))
                    .is_some_and(|end| end <= self.len),
            "words do not fit the mapping"
        );
        // SAFETY: in bounds and aligned (checked above); any bytes are valid
        // `AtomicU64`s, shared through `&` as atomics are meant to be.
        unsafe { std::slice::from_raw_parts(self.base.as_ptr().add(start).cast(), count) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range we mapped; no reference into it outlives the
        // `Arc` that owns this mapping.
        let _ = unsafe { mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// One open segment: its file, its mapping, and, for the creator of a
/// named one, whether to unlink it on drop.
pub(crate) struct Segment {
    map: Arc<Mapping>,
    fd: OwnedFd,
    meta: Meta,
    name: Option<String>,
    /// `(st_dev, st_ino)` of the file, to unlink only our own.
    id: (u64, u64),
    /// Set for the creator of a named segment until `persist` or `unlink`.
    unlink_on_drop: AtomicBool,
}

impl Segment {
    pub(crate) fn map(&self) -> &Arc<Mapping> {
        &self.map
    }

    pub(crate) fn meta(&self) -> &Meta {
        &self.meta
    }

    pub(crate) fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    pub(crate) fn persist(&self) {
        self.unlink_on_drop.store(false, Ordering::Relaxed);
    }

    /// Creates a named segment holding `meta.kind`, with `init` writing
    /// its body before anyone can open it.
    pub(crate) fn create(
        name: &str,
        mode: u32,
        meta: Meta,
        init: impl FnOnce(&Mapping),
    ) -> io::Result<Segment> {
        let name = check_name(name)?;
        if mode & !0o777 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("segment mode {mode:#o} has bits beyond 0o777"),
            ));
        }
        let mode = Mode::from_raw_mode(mode);
        let dir = shm_dir()?;
        // Naming an unnamed file needs its `/proc/self/fd` path.
        if !std::path::Path::new("/proc/self/fd").is_dir() {
            return create_by_rename(&dir, name, mode, meta, init);
        }
        let fd = match fs::openat(
            &dir,
            ".",
            OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC,
            mode,
        ) {
            Ok(fd) => fd,
            // A file system without `O_TMPFILE`.
            Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL) => {
                return create_by_rename(&dir, name, mode, meta, init);
            }
            Err(e) => return Err(e.into()),
        };
        let map = init_file(fd.as_fd(), &meta, init)?;
        let proc_path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        // Fails with `EEXIST` (`AlreadyExists`) if the name is taken.
        fs::linkat(
            fs::CWD,
            proc_path.as_str(),
            &dir,
            name,
            AtFlags::SYMLINK_FOLLOW,
        )?;
        Segment::finish(fd, map, meta, Some(name.to_owned()), true)
    }

    /// Opens the named segment, which must hold `kind` at body revision
    /// `layout` with a body of `body_size` bytes.
    pub(crate) fn open(
        name: &str,
        kind: Kind,
        layout: u32,
        body_size: impl Into<BodySize>,
    ) -> io::Result<Segment> {
        let name = check_name(name)?;
        let dir = shm_dir()?;
        let fd = fs::openat(
            &dir,
            name,
            OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
        )?;
        Segment::adopt(fd, Some(name.to_owned()), kind, layout, body_size)
    }

    /// Creates an anonymous segment (a sealed memfd): shared with other
    /// processes by handing them its file descriptor.
    pub(crate) fn anonymous(meta: Meta, init: impl FnOnce(&Mapping)) -> io::Result<Segment> {
        let fd = fs::memfd_create(
            format!("rallypoint-{}", kind_tag(meta.kind)),
            fs::MemfdFlags::CLOEXEC | fs::MemfdFlags::ALLOW_SEALING,
        )?;
        let map = init_file(fd.as_fd(), &meta, init)?;
        // Its size can never change again: no peer can make us fault.
        fs::fcntl_add_seals(&fd, SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL)?;
        Segment::finish(fd, map, meta, None, false)
    }

    /// Takes over an open segment file (named or anonymous) and checks it.
    pub(crate) fn adopt(
        fd: OwnedFd,
        name: Option<String>,
        kind: Kind,
        layout: u32,
        body_size: impl Into<BodySize>,
    ) -> io::Result<Segment> {
        let stat = fs::fstat(&fd)?;
        let size = u64::try_from(stat.st_size).unwrap_or(0);
        if size < BODY_OFFSET as u64 || size > (BODY_OFFSET + MAX_BODY) as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("segment of {size} bytes: not a rallypoint segment"),
            ));
        }
        let size = size as usize;
        let map = Mapping::new(fd.as_fd(), size)?;
        let meta = map.header().read(size, kind, layout, body_size.into())?;
        Ok(Segment {
            map: Arc::new(map),
            fd,
            meta,
            name,
            id: (stat.st_dev, stat.st_ino),
            unlink_on_drop: AtomicBool::new(false),
        })
    }

    fn finish(
        fd: OwnedFd,
        map: Mapping,
        meta: Meta,
        name: Option<String>,
        owner: bool,
    ) -> io::Result<Segment> {
        let stat = fs::fstat(&fd)?;
        Ok(Segment {
            map: Arc::new(map),
            fd,
            meta,
            name,
            id: (stat.st_dev, stat.st_ino),
            unlink_on_drop: AtomicBool::new(owner),
        })
    }

    /// Removes the segment's name (peers that have it open keep using it).
    /// `NotFound` if it has no name, was unlinked already, or the name now
    /// refers to another file.
    pub(crate) fn unlink(&self) -> io::Result<()> {
        self.unlink_on_drop.store(false, Ordering::Relaxed);
        let Some(name) = &self.name else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "an anonymous segment has no name",
            ));
        };
        let dir = shm_dir()?;
        let stat = fs::statat(&dir, name.as_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        if (stat.st_dev, stat.st_ino) != self.id {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name} now names another segment"),
            ));
        }
        Ok(fs::unlinkat(&dir, name.as_str(), AtFlags::empty())?)
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if self.unlink_on_drop.load(Ordering::Relaxed) {
            let _ = self.unlink();
        }
    }
}

impl AsFd for Segment {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("kind", &self.meta.kind)
            .field("creator_pid", &self.meta.creator_pid)
            .finish_non_exhaustive()
    }
}

fn kind_tag(kind: Kind) -> &'static str {
    match kind {
        Kind::Event => "event",
        Kind::Lock => "lock",
        Kind::Barrier => "barrier",
        Kind::Semaphore => "semaphore",
        Kind::RLock => "rlock",
        Kind::Queue => "queue",
        Kind::Condition => "condition",
    }
}

fn shm_dir() -> io::Result<OwnedFd> {
    Ok(fs::openat(
        fs::CWD,
        SHM_DIR,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// Checks a segment name: one path component of 1..=255 bytes (a leading
/// `/`, as `shm_open` names have, is allowed and dropped).
pub(crate) fn check_name(name: &str) -> io::Result<&str> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let why = if bare.is_empty() {
        Some("is empty")
    } else if bare == "." || bare == ".." {
        Some("is not a file name")
    } else if bare.contains('/') {
        Some("has a '/' (a segment name is one path component)")
    } else if bare.contains('\0') {
        Some("has a NUL byte")
    } else if bare.len() > 255 {
        Some("is longer than 255 bytes")
    } else if bare.starts_with(".rallypoint-tmp-") {
        Some("is reserved for segments being created")
    } else {
        None
    };
    match why {
        Some(why) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("segment name {name:?} {why}"),
        )),
        None => Ok(bare),
    }
}

/// Sizes `fd` for `meta`, maps it, writes header and body, publishes.
fn init_file(fd: BorrowedFd<'_>, meta: &Meta, init: impl FnOnce(&Mapping)) -> io::Result<Mapping> {
    fs::ftruncate(fd, meta.total_size() as u64)?;
    let map = Mapping::new(fd, meta.total_size())?;
    map.header().write(meta);
    init(&map);
    map.header().publish();
    Ok(map)
}

/// Creation without `O_TMPFILE`: write under a hidden temporary name, then
/// rename to `name` unless it exists.
fn create_by_rename(
    dir: &OwnedFd,
    name: &str,
    mode: Mode,
    meta: Meta,
    init: impl FnOnce(&Mapping),
) -> io::Result<Segment> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let tmp = format!(
        ".rallypoint-tmp-{}-{}",
        rustix::process::getpid().as_raw_nonzero(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let fd = fs::openat(
        dir,
        tmp.as_str(),
        OFlags::CREATE | OFlags::EXCL | OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOFOLLOW,
        mode,
    )?;
    let result = init_file(fd.as_fd(), &meta, init).and_then(|map| {
        fs::renameat_with(dir, tmp.as_str(), dir, name, RenameFlags::NOREPLACE)?;
        Ok(map)
    });
    match result {
        Ok(map) => Segment::finish(fd, map, meta, Some(name.to_owned()), true),
        Err(e) => {
            let _ = fs::unlinkat(dir, tmp.as_str(), AtFlags::empty());
            Err(e)
        }
    }
}

/// The methods every process primitive has because it is a segment:
/// `as_fd_owned`, `name`, `unlink`, `persist`, and `AsFd`. The type must
/// have a `seg: Segment` field.
macro_rules! segment_handle {
    ($ty:ident, $what:literal) => {
        $crate::process::segment::segment_handle!(@impl [] $ty, $what);
    };
    ($ty:ident<$g:ident>, $what:literal) => {
        $crate::process::segment::segment_handle!(@impl [$g] $ty<$g>, $what);
    };
    (@impl [$($g:ident)?] $ty:ty, $what:literal) => {
        impl<$($g)?> $ty {
            /// A duplicate of the segment's file descriptor, e.g. to pass to
            /// a child, which takes it over with `from_fd`.
            ///
            /// # Errors
            ///
            /// The system's error (out of descriptors).
            pub fn as_fd_owned(&self) -> std::io::Result<std::os::fd::OwnedFd> {
                std::os::fd::AsFd::as_fd(&self.seg).try_clone_to_owned()
            }

            #[doc = concat!("The segment's name, `None` for an anonymous ", $what, ".")]
            pub fn name(&self) -> Option<&str> {
                self.seg.name()
            }

            /// Removes the name now: handles already open keep working, and
            /// no later `open` finds it. Any handle may call it.
            ///
            /// # Errors
            ///
            /// `NotFound` if the segment is anonymous, was unlinked already,
            /// or the name now refers to another segment.
            pub fn unlink(&self) -> std::io::Result<()> {
                self.seg.unlink()
            }

            /// Keeps the name after this (creating) handle is dropped, so
            /// that processes started later can still open it.
            pub fn persist(&self) {
                self.seg.persist();
            }
        }

        impl<$($g)?> std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.seg)
            }
        }
    };
}
pub(crate) use segment_handle;
