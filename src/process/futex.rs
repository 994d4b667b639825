//! The two futex calls the process primitives make on segment words:
//! *shared* futexes (no `FUTEX_PRIVATE_FLAG`), since the waiters of a word
//! are in several processes and the kernel must key the wait by the
//! page, not by this process's address space.

use std::sync::atomic::AtomicU32;
use std::time::Instant;

use rustix::io::Errno;
use rustix::thread::futex;

/// Sleeps while `word` holds `val`, until woken or `deadline`. Returns
/// early on a spurious wake-up, a signal, or when the word already
/// differs: the caller always re-checks.
pub(crate) fn wait(word: &AtomicU32, val: u32, deadline: Option<Instant>) {
    let timeout = match deadline {
        None => None,
        Some(d) => {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            // A timeout too large for a `Timespec` is no timeout.
            futex::Timespec::try_from(left).ok()
        }
    };
    match futex::wait(word, futex::Flags::empty(), val, timeout.as_ref()) {
        // Woken, value changed, timed out or interrupted: the caller looks.
        Ok(()) | Err(Errno::AGAIN | Errno::TIMEDOUT | Errno::INTR) => {}
        // EFAULT/EINVAL cannot happen for a mapped, aligned word; if they
        // did, returning makes the caller re-check (and, with a deadline,
        // time out) instead of hanging.
        Err(_) => std::thread::yield_now(),
    }
}

/// Wakes every process and thread sleeping on `word` (including the
/// async helper thread, which is why a shared word is never woken one at
/// a time: the helper could take the only wake-up).
pub(crate) fn wake_all(word: &AtomicU32) {
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}
