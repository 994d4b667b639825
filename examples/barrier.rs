//! The seed chapter's barrier program: three parties print their name, meet
//! at a barrier whose action prints "Callback Executing", then each returns.
//!
//! Run with `cargo run --example barrier`. The scenario runs twice: with OS
//! threads (`wait_blocking`), then with async tasks on tokio (`wait().await`).

use rallypoint::Barrier;
use std::sync::Arc;
use std::time::Duration;

fn callback() {
    println!("Callback Executing");
}

fn main() {
    println!("== with threads ==");
    let barrier = Arc::new(Barrier::builder(3).action(callback).build());
    let threads: Vec<_> = ["A", "B", "C"]
        .into_iter()
        .enumerate()
        .map(|(i, name)| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                // Stagger the arrivals so the output reads in order.
                std::thread::sleep(Duration::from_millis(100 * i as u64));
                println!("{name}");
                barrier
                    .wait_blocking()
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                println!("Returning from print_it: {name}");
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }

    println!("== with async tasks (tokio) ==");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let barrier = Arc::new(Barrier::builder(3).action(callback).build());
        let tasks: Vec<_> = ["A", "B", "C"]
            .into_iter()
            .enumerate()
            .map(|(i, name)| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(100 * i as u64)).await;
                    println!("{name}");
                    barrier
                        .wait()
                        .await
                        .unwrap_or_else(|e| panic!("{name}: {e}"));
                    println!("Returning from print_it: {name}");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
}
