use super::Shielded;
use std::sync::Arc;

#[cfg(not(loom))]
pub(super) fn wake_later(shielded: Arc<Shielded>) {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::{Mutex, OnceLock, PoisonError};

    struct WakeThread {
        queue: Mutex<Vec<Arc<Shielded>>>,
        unparker: parking::Unparker,
    }
    static THREAD: OnceLock<Option<WakeThread>> = OnceLock::new();

    let thread = THREAD.get_or_init(|| {
        let (parker, unparker) = parking::pair();
        let spawned = std::thread::Builder::new()
            .name("rallypoint-wake".into())
            .spawn(move || {
                loop {
                    parker.park();
                    let Some(Some(thread)) = THREAD.get() else {
                        continue;
                    };
                    let batch = std::mem::take(
                        &mut *thread.queue.lock().unwrap_or_else(PoisonError::into_inner),
                    );
                    for shielded in batch {
                        // A panicking waker is reported by the panic
                        // hook and must not stop the other wakes.
                        let _ = catch_unwind(AssertUnwindSafe(|| shielded.0.wake_by_ref()));
                    }
                }
            });
        spawned.ok().map(|_| WakeThread {
            queue: Mutex::new(Vec::new()),
            unparker,
        })
    });
    match thread {
        Some(thread) => {
            // The queue's lock never runs user code.
            thread
                .queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(shielded);
            thread.unparker.unpark();
        }
        None => shielded.0.wake_by_ref(),
    }
}

#[cfg(loom)]
pub(super) fn wake_later(shielded: Arc<Shielded>) {
    shielded.0.wake_by_ref();
}
