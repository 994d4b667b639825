//! Locks: one `Mutex` shared by a thread, a tokio task and a smol task, with
//! Python's `acquire(timeout=)` giving up while it is held; and a
//! `ReentrantMutex` that its owning thread locks twice.

use rallypoint::{Mutex, ReentrantMutex};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn run() {
    let counter = Arc::new(Mutex::new(0u32));

    // A thread holds the lock for a moment…
    let guard = counter.lock_blocking();
    println!("  main thread holds the mutex; a thread, a tokio and a smol task queue up");

    let thread = {
        let counter = counter.clone();
        std::thread::spawn(move || {
            *counter.lock_blocking() += 1;
            println!("  thread got the lock");
        })
    };
    let smol_task = {
        let counter = counter.clone();
        std::thread::spawn(move || {
            smol::block_on(async {
                *counter.lock().await += 10;
                println!("  smol task got the lock");
            })
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokio_task = {
        let counter = counter.clone();
        rt.spawn(async move {
            *counter.lock().await += 100;
            println!("  tokio task got the lock");
        })
    };
    // Let the tokio task start waiting (its runtime only runs in block_on).
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
    // Python's `lock.acquire(timeout=0.02)`, from a task: gives up (`None`).
    let gave_up = rt.block_on(counter.lock_timeout(Duration::from_millis(20)));
    println!(
        "  a 20 ms lock_timeout while it is held: {:?}",
        gave_up.map(|g| *g)
    );
    println!("  releasing (value still {})", *guard);
    drop(guard);
    rt.block_on(tokio_task).unwrap();
    smol_task.join().unwrap();
    thread.join().unwrap();
    println!("  final value: {} (1 + 10 + 100)", *counter.lock_blocking());

    // RLock: the owner may lock again; others wait until every guard is gone.
    let rlock = Arc::new(ReentrantMutex::new("config"));
    let outer = rlock.lock_blocking();
    let inner = rlock.lock_blocking();
    println!("  ReentrantMutex locked twice by one thread: {:?}", &*rlock);
    let other = {
        let rlock = rlock.clone();
        std::thread::spawn(move || {
            rlock
                .lock_timeout_blocking(Duration::from_millis(50))
                .is_some()
        })
    };
    println!(
        "  another thread's 50 ms lock_timeout got it: {}",
        other.join().unwrap()
    );
    drop((inner, outer));
    println!("  after dropping both guards: {:?}", &*rlock);
}
