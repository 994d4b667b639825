//! The seed chapter's event program with processes: `wait_for_event` in
//! one process, `set_event` in another, sharing one `process::Event`.
//!
//! Run with `cargo run --example process_event`. The program starts its
//! own second process (it runs itself again with a role argument): the
//! parent creates the event and waits for it, once blocking and once
//! under an async executor (smol); the child opens it by name, sleeps,
//! and sets it.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use rallypoint::process::Event;
    use std::process::Command;
    use std::time::{Duration, Instant};

    const PAUSE: Duration = Duration::from_millis(500);

    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name] = args.as_slice() {
        if role == "--set-event" {
            // The child: `set_event`.
            let event = Event::open(name)?;
            println!(
                "Setter (pid {}): sleeping {PAUSE:?} before setting the event",
                std::process::id()
            );
            std::thread::sleep(PAUSE);
            println!("Setter (pid {}): setting the event", std::process::id());
            event.set();
            return Ok(());
        }
    }

    // The parent: `wait_for_event`, twice.
    for flavour in ["blocking", "async (smol)"] {
        println!("== waiter {flavour}, setter in another process ==");
        let name = format!("rallypoint-example-event-{}", std::process::id());
        // Unlinked when `event` is dropped, at the end of the round.
        let event = Event::create(&name)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--set-event", &name])
            .spawn()?;
        let start = Instant::now();
        println!(
            "Waiter (pid {}): waiting for the event to be set",
            std::process::id()
        );
        let set = if flavour == "blocking" {
            event.wait_timeout_blocking(Duration::from_secs(30))
        } else {
            smol::block_on(event.wait_timeout(Duration::from_secs(30)))
        };
        assert!(set, "the setter never set the event");
        println!(
            "Waiter (pid {}): the event is set after {:.1?}, carrying on",
            std::process::id(),
            start.elapsed()
        );
        let status = child.wait()?;
        assert!(status.success(), "setter failed: {status}");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("rallypoint::process is Linux-only for now");
}
