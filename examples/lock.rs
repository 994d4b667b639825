//! The seed chapter's lock program (`SharedData`): a value shared between
//! an updater and a reader, each taking the lock to touch it.
//!
//! Run with `cargo run --example lock`. The scenario runs twice: with OS
//! threads (`lock_blocking()`), then with async tasks on smol
//! (`lock().await`) — and a last round mixes both on one mutex.

use rallypoint::Mutex;
use std::sync::Arc;
use std::time::Duration;

/// The seed's `SharedData`: a value behind Python's `threading.Lock`.
struct SharedData {
    value: Mutex<u32>,
}

impl SharedData {
    fn new() -> Self {
        SharedData {
            value: Mutex::new(0),
        }
    }

    fn update_blocking(&self, who: &str) {
        let mut value = self.value.lock_blocking();
        *value += 1;
        println!("{who} - updated the value to {}", *value);
    }

    fn read_blocking(&self, who: &str) {
        println!("{who} - read the value {}", *self.value.lock_blocking());
    }

    async fn update(&self, who: &str) {
        let mut value = self.value.lock().await;
        *value += 1;
        println!("{who} - updated the value to {}", *value);
    }

    async fn read(&self, who: &str) {
        println!("{who} - read the value {}", *self.value.lock().await);
    }
}

const ROUNDS: u32 = 3;
const PAUSE: Duration = Duration::from_millis(100);

fn main() {
    println!("== with threads ==");
    let data = Arc::new(SharedData::new());
    let updater = {
        let data = data.clone();
        std::thread::spawn(move || {
            for _ in 0..ROUNDS {
                data.update_blocking("Updater");
                std::thread::sleep(PAUSE);
            }
        })
    };
    let reader = {
        let data = data.clone();
        std::thread::spawn(move || {
            for _ in 0..ROUNDS {
                std::thread::sleep(PAUSE / 2);
                data.read_blocking("Reader");
                std::thread::sleep(PAUSE / 2);
            }
        })
    };
    updater.join().unwrap();
    reader.join().unwrap();

    println!("== with async tasks (smol) ==");
    smol::block_on(async {
        let data = Arc::new(SharedData::new());
        let updater = {
            let data = data.clone();
            smol::spawn(async move {
                for _ in 0..ROUNDS {
                    data.update("Updater").await;
                    smol::Timer::after(PAUSE).await;
                }
            })
        };
        let reader = {
            let data = data.clone();
            smol::spawn(async move {
                for _ in 0..ROUNDS {
                    smol::Timer::after(PAUSE / 2).await;
                    data.read("Reader").await;
                    smol::Timer::after(PAUSE / 2).await;
                }
            })
        };
        updater.await;
        reader.await;
    });

    println!("== a thread updates, a task reads, one mutex ==");
    let data = Arc::new(SharedData::new());
    let updater = {
        let data = data.clone();
        std::thread::spawn(move || {
            for _ in 0..ROUNDS {
                data.update_blocking("Updater thread");
                std::thread::sleep(PAUSE);
            }
        })
    };
    smol::block_on(async {
        for _ in 0..ROUNDS {
            smol::Timer::after(PAUSE / 2).await;
            data.read("Reader task").await;
            smol::Timer::after(PAUSE / 2).await;
        }
    });
    updater.join().unwrap();
}
