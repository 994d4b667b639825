//! The seed chapter's semaphore program: five workers share a semaphore of
//! two, so at most two are "inside" at any time.
//!
//! Run with `cargo run --example semaphore`. The scenario runs twice: with
//! OS threads (`acquire_blocking`), then with async tasks on tokio
//! (`acquire().await`). Each worker prints `T0 - entered`, works briefly,
//! and prints `T0 - exiting`; the permit is given back when it is dropped.

use rallypoint::Semaphore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WORKERS: usize = 5;
const WORK: Duration = Duration::from_millis(150);

/// Counts the workers inside, to show the limit is respected.
struct Inside(AtomicUsize);

impl Inside {
    fn enter(&self) {
        let now = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(now <= 2, "{now} workers inside a semaphore of two");
    }

    fn exit(&self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn main() {
    println!("== with threads ==");
    let sem = Arc::new(Semaphore::new(2));
    let inside = Arc::new(Inside(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (sem, inside) = (sem.clone(), inside.clone());
            std::thread::spawn(move || {
                let _permit = sem.acquire_blocking().unwrap();
                inside.enter();
                println!("T{i} - entered");
                std::thread::sleep(WORK);
                println!("T{i} - exiting");
                inside.exit();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.available_permits(), 2);

    println!("== with async tasks (tokio) ==");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(2));
        let inside = Arc::new(Inside(AtomicUsize::new(0)));
        let tasks: Vec<_> = (0..WORKERS)
            .map(|i| {
                let (sem, inside) = (sem.clone(), inside.clone());
                tokio::spawn(async move {
                    let _permit = sem.acquire().await.unwrap();
                    inside.enter();
                    println!("T{i} - entered");
                    tokio::time::sleep(WORK).await;
                    println!("T{i} - exiting");
                    inside.exit();
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(sem.available_permits(), 2);
    });
}
