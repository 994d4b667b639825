//! The seed chapter's semaphore program with processes: five worker
//! processes share a `process::Semaphore` of two, so at most two are
//! "inside" at any time.
//!
//! Run with `cargo run --example process_semaphore`. The program starts
//! its own workers (it runs itself again with a role argument). Each
//! worker opens the semaphore by name, acquires a permit (the even ones
//! blocking, the odd ones `acquire().await` under smol), prints
//! `P0 - entered`, works briefly, and prints `P0 - exiting`; the permit is
//! given back when it is dropped. A second, bounded semaphore of two
//! checks the limit: a worker that got in takes one of its permits
//! without waiting, which would fail for a third worker inside.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use rallypoint::process::Semaphore;
    use std::process::Command;
    use std::time::Duration;

    const WORKERS: usize = 5;
    const WORK: Duration = Duration::from_millis(150);
    const LONG: Duration = Duration::from_secs(30);

    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name, i] = args.as_slice() {
        if role == "--worker" {
            let sem = Semaphore::open(name)?;
            let inside = Semaphore::open(&format!("{name}-inside"))?;
            let i: usize = i.parse().expect("worker number");
            let permit = if i % 2 == 0 {
                sem.acquire_timeout_blocking(LONG)
            } else {
                smol::block_on(sem.acquire_timeout(LONG))
            }
            .expect("no permit in 30 s");
            let check = inside
                .try_acquire()
                .expect("more than two workers inside a semaphore of two");
            println!("P{i} (pid {}) - entered", std::process::id());
            std::thread::sleep(WORK);
            println!("P{i} (pid {}) - exiting", std::process::id());
            drop(check);
            drop(permit);
            return Ok(());
        }
    }

    let name = format!("rallypoint-example-semaphore-{}", std::process::id());
    // Both unlinked when dropped, at the end.
    let sem = Semaphore::create(&name, 2)?;
    let _inside = Semaphore::create_bounded(&format!("{name}-inside"), 2)?;
    let workers = (0..WORKERS)
        .map(|i| {
            Command::new(std::env::current_exe()?)
                .args(["--worker", &name, &i.to_string()])
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for mut worker in workers {
        let status = worker.wait()?;
        assert!(status.success(), "a worker failed: {status}");
    }
    assert_eq!(sem.available_permits(), 2);
    println!("all {WORKERS} workers done; both permits are back");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("rallypoint::process is Linux-only for now");
}
