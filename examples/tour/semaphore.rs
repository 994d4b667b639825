//! Semaphore: a limit of two shared by threads, tokio tasks and smol tasks
//! at once; a big request that is not starved by small ones (fairness); a
//! bounded semaphore refusing an extra release; and `close`.

use rallypoint::{AcquireError, Semaphore};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub(crate) fn run() {
    // One semaphore of two: two threads, two tokio tasks and two smol tasks
    // take turns; never more than two inside.
    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let enter = {
        let (inside, peak) = (inside.clone(), peak.clone());
        move || {
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
        }
    };
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let (sem, inside, enter) = (sem.clone(), inside.clone(), enter.clone());
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let _permit = sem.acquire_blocking().unwrap();
                    enter();
                    std::thread::sleep(Duration::from_millis(10));
                    inside.fetch_sub(1, Ordering::SeqCst);
                }
                println!("  thread {i}: three turns done");
            })
        })
        .collect();
    let smol_tasks: Vec<_> = (0..2)
        .map(|i| {
            let (sem, inside, enter) = (sem.clone(), inside.clone(), enter.clone());
            std::thread::spawn(move || {
                smol::block_on(async {
                    for _ in 0..3 {
                        let _permit = sem.acquire().await.unwrap();
                        enter();
                        smol::Timer::after(Duration::from_millis(10)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                    println!("  smol task {i}: three turns done");
                })
            })
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..2)
            .map(|i| {
                let (sem, inside, enter) = (sem.clone(), inside.clone(), enter.clone());
                tokio::spawn(async move {
                    for _ in 0..3 {
                        let _permit = sem.acquire_arc().await.unwrap();
                        enter();
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                    println!("  tokio task {i}: three turns done");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads.into_iter().chain(smol_tasks) {
        t.join().unwrap();
    }
    println!(
        "  6 parties, 18 turns, at most {} inside at once (limit 2)",
        peak.load(Ordering::SeqCst)
    );

    // Fairness: a request for all five permits waits in line; the stream
    // of single acquires behind it cannot overtake it.
    let sem = Arc::new(Semaphore::new(5));
    let held = sem.try_acquire().unwrap();
    rt.block_on(async {
        let big = {
            let sem = sem.clone();
            tokio::spawn(async move { sem.acquire_many_arc(5).await.unwrap() })
        };
        while format!("{sem:?}").contains("waiters: 0") {
            tokio::task::yield_now().await;
        }
        println!(
            "  acquire_many(5) is queued with {} permits free: {:?}",
            sem.available_permits(),
            sem
        );
        println!(
            "  try_acquire() now: {:?} (no barging past the queued request)",
            sem.try_acquire().map(|p| p.num_permits())
        );
        drop(held);
        let big = big.await.unwrap();
        println!("  the big request got its {} permits", big.num_permits());
    });

    // Python's BoundedSemaphore, and close().
    let bounded = Semaphore::bounded(2);
    println!(
        "  bounded(2).release(1) -> {:?}: {bounded:?}",
        bounded.release(1)
    );
    let sem = Arc::new(Semaphore::new(0));
    let waiter = {
        let sem = sem.clone();
        std::thread::spawn(move || sem.acquire_blocking().map(|p| p.num_permits()))
    };
    while format!("{sem:?}").contains("waiters: 0") {
        std::thread::yield_now();
    }
    sem.close();
    let outcome = waiter.join().unwrap();
    assert_eq!(outcome, Err(AcquireError::Closed));
    println!("  close() woke a blocked thread with {outcome:?}");
}
