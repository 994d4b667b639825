//! Event: a starting gun fired once, heard by threads and tasks alike.

use rallypoint::Event;
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn run() {
    let gun = Arc::new(Event::new());

    // Two runners are OS threads…
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let gun = gun.clone();
            std::thread::spawn(move || {
                gun.wait_blocking();
                println!("  thread runner {i} starts");
            })
        })
        .collect();

    // …one is a smol task, one a tokio task, all on the same Event.
    let smol_runner = {
        let gun = gun.clone();
        std::thread::spawn(move || {
            smol::block_on(async {
                gun.wait().await;
                println!("  smol runner starts");
            })
        })
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tokio_runner = {
        let gun = gun.clone();
        rt.spawn(async move {
            gun.wait().await;
            println!("  tokio runner starts");
        })
    };

    // A timed wait that gives up, without any runtime-specific timer.
    let early = futures_lite::future::block_on(gun.wait_timeout(Duration::from_millis(50)));
    println!("  a spectator's 50 ms wait_timeout returned {early} (gun not fired yet)");

    println!("  firing the gun: {:?}", &*gun);
    gun.set();
    rt.block_on(tokio_runner).unwrap();
    smol_runner.join().unwrap();
    for t in threads {
        t.join().unwrap();
    }
    println!("  after the race: {:?}", &*gun);
}
