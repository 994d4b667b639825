//! Condition: a thread, a tokio task and a smol task wait for a flag; one
//! `notify_all` wakes exactly the three of them.

use rallypoint::Condition;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn run() {
    let news = Arc::new(Condition::new(None::<&'static str>));

    let thread = {
        let news = news.clone();
        std::thread::spawn(move || {
            let guard = news.lock_blocking().wait_while_blocking(|n| n.is_none());
            println!("  thread heard: {}", guard.unwrap());
        })
    };
    let smol_task = {
        let news = news.clone();
        std::thread::spawn(move || {
            smol::block_on(async {
                let guard = news.lock().await.wait_while(|n| n.is_none()).await;
                println!("  smol task heard: {}", guard.unwrap());
            })
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokio_task = {
        let news = news.clone();
        rt.spawn(async move {
            let guard = news.lock().await.wait_while(|n| n.is_none()).await;
            println!("  tokio task heard: {}", guard.unwrap());
        })
    };
    // Let the tokio task start waiting (its runtime only runs in block_on).
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });

    // A timed wait that gives up, with no runtime-specific timer.
    let (guard, result) = futures_lite::future::block_on(async {
        news.lock()
            .await
            .wait_timeout(Duration::from_millis(50))
            .await
    });
    println!(
        "  a 50 ms wait_timeout with nobody notifying: timed_out = {}",
        result.timed_out()
    );
    drop(guard);

    while !format!("{news:?}").contains("waiters: 3") {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("  {:?}", &*news);
    *news.lock_blocking() = Some("the data is ready");
    println!("  notify_all woke {} waiters", news.notify_all());
    rt.block_on(tokio_task).unwrap();
    smol_task.join().unwrap();
    thread.join().unwrap();
    println!(
        "  notify_all with nobody waiting wakes {}",
        news.notify_all()
    );
}
