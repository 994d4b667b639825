//! rallypoint's guided tour: one short narrated scenario per primitive, each
//! run with OS threads, with tokio tasks and with smol tasks — and often
//! with both worlds on the same instance at once; then an Event, a Lock,
//! a Semaphore, a Queue and a Condition shared with other processes.
//!
//! Run with `cargo run --release --example tour` (a few seconds).

use std::time::Instant;

mod barrier;
mod condition;
mod event;
mod lock;
#[cfg(target_os = "linux")]
mod process;
mod queue;
mod semaphore;

fn chapter(title: &str, run: fn()) {
    println!("\n=== {title} ===");
    let start = Instant::now();
    run();
    println!("--- {title}: done in {:.0?}", start.elapsed());
}

fn main() {
    #[cfg(target_os = "linux")]
    if process::child() {
        return;
    }
    let start = Instant::now();
    println!("rallypoint tour: the same primitives from threads and async tasks");
    chapter("Event", event::run);
    chapter("Barrier", barrier::run);
    chapter("Mutex and ReentrantMutex", lock::run);
    chapter("Condition and Condvar", condition::run);
    chapter("Semaphore", semaphore::run);
    chapter("Queue, Stack and PriorityQueue", queue::run);
    #[cfg(target_os = "linux")]
    chapter(
        "Across processes: Event, Lock, Semaphore, Queue and Condition",
        process::run,
    );
    println!("\nTour finished in {:.1?}.", start.elapsed());
}
