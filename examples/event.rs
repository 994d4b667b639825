//! The seed chapter's event program: one party waits for an event, another
//! sets it after a pause.
//!
//! Run with `cargo run --example event`. The scenario runs twice: with OS
//! threads (`wait_blocking`), then with async tasks on smol (`wait().await`).

use rallypoint::Event;
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAUSE: Duration = Duration::from_millis(500);

fn main() {
    println!("== with threads ==");
    let event = Arc::new(Event::new());
    let start = Instant::now();
    let waiter = {
        let event = event.clone();
        std::thread::spawn(move || {
            println!("Waiter: waiting for the event to be set");
            event.wait_blocking();
            println!(
                "Waiter: the event is set after {:.1?}, carrying on",
                start.elapsed()
            );
        })
    };
    let setter = {
        let event = event.clone();
        std::thread::spawn(move || {
            println!("Setter: sleeping {PAUSE:?} before setting the event");
            std::thread::sleep(PAUSE);
            println!("Setter: setting the event");
            event.set();
        })
    };
    waiter.join().unwrap();
    setter.join().unwrap();

    println!("== with async tasks (smol) ==");
    smol::block_on(async {
        let event = Arc::new(Event::new());
        let start = Instant::now();
        let waiter = {
            let event = event.clone();
            smol::spawn(async move {
                println!("Waiter: waiting for the event to be set");
                event.wait().await;
                println!(
                    "Waiter: the event is set after {:.1?}, carrying on",
                    start.elapsed()
                );
            })
        };
        let setter = {
            let event = event.clone();
            smol::spawn(async move {
                println!("Setter: sleeping {PAUSE:?} before setting the event");
                smol::Timer::after(PAUSE).await;
                println!("Setter: setting the event");
                event.set();
            })
        };
        waiter.await;
        setter.await;
    });
}
