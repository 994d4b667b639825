//! Barrier: threads and tasks meeting in lockstep, an action per generation,
//! a party that changes its mind (withdrawal), and a timeout that breaks it
//! (the error says why).

use rallypoint::Barrier;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub(crate) fn run() {
    let rounds = Arc::new(AtomicUsize::new(0));
    let barrier = {
        let rounds = rounds.clone();
        Arc::new(
            Barrier::builder(4)
                .action(move || {
                    let r = rounds.fetch_add(1, Ordering::SeqCst);
                    println!("  action: round {r} complete, everyone released");
                })
                .build(),
        )
    };

    // Two threads and two tokio tasks, three rounds in lockstep.
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                for _ in 0..3 {
                    let r = barrier.wait_blocking().unwrap();
                    if r.is_leader() {
                        println!("  thread {i} arrived last (rank {})", r.index());
                    }
                }
            })
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let tasks: Vec<_> = (0..2)
            .map(|i| {
                let barrier = barrier.clone();
                tokio::spawn(async move {
                    for _ in 0..3 {
                        let r = barrier.wait().await.unwrap();
                        if r.is_leader() {
                            println!("  tokio task {i} arrived last (rank {})", r.index());
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }

    // Withdrawal: a smol task gives up waiting; the barrier is not broken.
    let pair = Arc::new(Barrier::new(2));
    smol::block_on(async {
        let gave_up = futures_lite::future::or(
            async {
                pair.wait().await.unwrap();
                false
            },
            async {
                smol::Timer::after(Duration::from_millis(20)).await;
                true
            },
        )
        .await;
        println!(
            "  a smol task gave up waiting ({gave_up}); barrier now {:?}",
            &*pair
        );
    });

    // A timeout breaks the barrier (Python semantics), and the error says
    // whose timeout did it; reset() repairs it.
    let mine = pair
        .wait_timeout_blocking(Duration::from_millis(20))
        .unwrap_err();
    let later = pair.wait_blocking().unwrap_err();
    println!("  a lone thread's 20 ms wait_timeout: {mine}; the next wait: {later}");
    println!("  barrier now {:?}", &*pair);
    pair.reset();
    println!("  after reset(): {:?}", &*pair);
}
