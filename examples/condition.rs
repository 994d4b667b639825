//! The seed chapter's condition program (`DataResource`): two consumers
//! wait on a condition until a producer produces data and notifies all.
//!
//! Run with `cargo run --example condition`. The scenario runs twice: with
//! OS threads (`wait_while_blocking`), then with async tasks on smol
//! (`wait_while().await`) — and a last round mixes both on one condition.

use rallypoint::Condition;
use std::sync::Arc;
use std::time::Duration;

/// The seed's `DataResource`: data guarded by Python's `threading.Condition`.
struct DataResource {
    data: Condition<Option<String>>,
}

impl DataResource {
    fn new() -> Self {
        DataResource {
            data: Condition::new(None),
        }
    }

    fn consume_blocking(&self, who: &str) {
        let guard = self.data.lock_blocking();
        println!("{who} - waiting");
        let guard = guard.wait_while_blocking(|data| data.is_none());
        println!("{who} - got data: {}", guard.as_deref().unwrap_or_default());
    }

    fn produce_blocking(&self, data: &str) {
        *self.data.lock_blocking() = Some(data.to_string());
        println!("Producer - produced {data:?}");
        println!("Producer - notifying all");
        let woken = self.data.notify_all();
        println!("Producer - {woken} consumer(s) woken");
    }

    async fn consume(&self, who: &str) {
        let guard = self.data.lock().await;
        println!("{who} - waiting");
        let guard = guard.wait_while(|data| data.is_none()).await;
        println!("{who} - got data: {}", guard.as_deref().unwrap_or_default());
    }

    async fn produce(&self, data: &str) {
        *self.data.lock().await = Some(data.to_string());
        println!("Producer - produced {data:?}");
        println!("Producer - notifying all");
        let woken = self.data.notify_all();
        println!("Producer - {woken} consumer(s) woken");
    }
}

const PAUSE: Duration = Duration::from_millis(200);

fn main() {
    println!("== with threads ==");
    let resource = Arc::new(DataResource::new());
    let consumers: Vec<_> = (1..=2)
        .map(|i| {
            let resource = resource.clone();
            std::thread::spawn(move || resource.consume_blocking(&format!("Consumer {i}")))
        })
        .collect();
    std::thread::sleep(PAUSE);
    resource.produce_blocking("data from the thread producer");
    for c in consumers {
        c.join().unwrap();
    }

    println!("== with async tasks (smol) ==");
    smol::block_on(async {
        let resource = Arc::new(DataResource::new());
        let consumers: Vec<_> = (1..=2)
            .map(|i| {
                let resource = resource.clone();
                smol::spawn(async move { resource.consume(&format!("Consumer {i}")).await })
            })
            .collect();
        smol::Timer::after(PAUSE).await;
        resource.produce("data from the task producer").await;
        for c in consumers {
            c.await;
        }
    });

    println!("== a thread consumer and a task consumer, one condition ==");
    let resource = Arc::new(DataResource::new());
    let thread_consumer = {
        let resource = resource.clone();
        std::thread::spawn(move || resource.consume_blocking("Consumer 1 (thread)"))
    };
    smol::block_on(async {
        let task_consumer = {
            let resource = resource.clone();
            smol::spawn(async move { resource.consume("Consumer 2 (task)").await })
        };
        smol::Timer::after(PAUSE).await;
        resource.produce("shared data").await;
        task_consumer.await;
    });
    thread_consumer.join().unwrap();
}
