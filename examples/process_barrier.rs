//! The seed chapter's barrier program with processes: three processes
//! print their name, meet at a `process::Barrier`, the leader runs the
//! callback ("Callback Executing"), and each returns.
//!
//! Run with `cargo run --example process_barrier`. The program starts two
//! more copies of itself (parties B and C; C waits in an async task under
//! smol); this process is party A. A closure cannot cross processes, so
//! there is no barrier action: the party told `is_leader()` runs the
//! callback, and everyone waits once more so that the callback runs
//! before anyone returns — the in-process action's guarantee.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use rallypoint::process::Barrier;
    use std::process::Command;
    use std::time::Duration;

    /// The part of the seed's `print_it` after the name is printed.
    fn meet(barrier: &Barrier, name: &str, asynchronous: bool) {
        let wait = || {
            if asynchronous {
                smol::block_on(barrier.wait())
            } else {
                barrier.wait_blocking()
            }
        };
        // The error says why: a timeout, an abort, a party's death.
        let broken = |e| panic!("party {name}: {e}");
        if wait().unwrap_or_else(broken).is_leader() {
            println!("Callback Executing");
        }
        wait().unwrap_or_else(broken);
        println!(
            "Returning from print_it: {name} (pid {})",
            std::process::id()
        );
    }

    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name, barrier] = args.as_slice() {
        if role == "--party" {
            let barrier = Barrier::open(barrier)?.with_timeout(Duration::from_secs(30));
            println!("{name}");
            meet(&barrier, name, name == "C");
            return Ok(());
        }
    }

    let seg = format!("rallypoint-example-barrier-{}", std::process::id());
    // Unlinked when `barrier` is dropped, at the end.
    let barrier = Barrier::create(&seg, 3)?.with_timeout(Duration::from_secs(30));
    println!("A");
    let mut children = Vec::new();
    for (i, name) in ["B", "C"].into_iter().enumerate() {
        // Stagger the arrivals so the output reads in order.
        std::thread::sleep(Duration::from_millis(100 * (i as u64 + 1)));
        children.push(
            Command::new(std::env::current_exe()?)
                .args(["--party", name, &seg])
                .spawn()?,
        );
    }
    meet(&barrier, "A", false);
    for mut child in children {
        let status = child.wait()?;
        assert!(status.success(), "a party failed: {status}");
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("rallypoint::process is Linux-only for now");
}
