//! The seed chapter's `multiprocessing.Queue` program, then a
//! `JoinableQueue` producer/consumer, across real processes.
//!
//! Run with `cargo run --example process_queue`. The program starts its
//! own other processes (it runs itself again with a role argument):
//!
//! 1. A worker process sleeps, puts "Hello World" on a `process::Queue`,
//!    and exits; the main process waits on `pop` (Python's `get`) — once
//!    blocking, once under an async executor (smol). Unlike Python's
//!    queue, the item is in the shared ring when `push` returns: the
//!    worker has no feeder thread to flush before it exits.
//! 2. The main process produces 12 jobs on a bounded queue of 4; two
//!    consumer processes pop them, send results back on a second queue,
//!    and mark each job done; the producer waits on `join` (every job
//!    done), then closes the jobs queue, which ends the consumers.

#[cfg(target_os = "linux")]
fn main() -> std::io::Result<()> {
    use rallypoint::process::{PopError, Queue};
    use std::process::Command;
    use std::time::{Duration, Instant};

    const PAUSE: Duration = Duration::from_millis(500);
    const LONG: Duration = Duration::from_secs(30);
    const JOBS: u64 = 12;

    let args: Vec<String> = std::env::args().collect();
    let pid = std::process::id();
    match args.as_slice() {
        [_, role, name] if role == "--hello" => {
            // The worker: sleep, put "Hello World", exit.
            let queue = Queue::<String>::open(name)?;
            println!("Worker (pid {pid}): sleeping {PAUSE:?}");
            std::thread::sleep(PAUSE);
            queue.push_blocking("Hello World".to_string()).unwrap();
            println!("Worker (pid {pid}): put \"Hello World\", exiting");
            return Ok(());
        }
        [_, role, name, who] if role == "--consumer" => {
            // A consumer: pop jobs until the queue is closed and drained.
            let jobs = Queue::<u64>::open(name)?;
            let results = Queue::<(String, u64, u64)>::open(&format!("{name}-results"))?;
            loop {
                match jobs.pop_blocking() {
                    Ok(job) => {
                        std::thread::sleep(Duration::from_millis(20)); // the work
                        results
                            .push_blocking((format!("Consumer{who}"), job, job * job))
                            .unwrap();
                        jobs.task_done().unwrap();
                    }
                    Err(PopError::Closed) => return Ok(()),
                    Err(e) => panic!("Consumer{who}: {e}"),
                }
            }
        }
        _ => {}
    }

    // 1. The seed's program, twice.
    for flavour in ["blocking", "async (smol)"] {
        println!("== get() {flavour}, put() in another process ==");
        let name = format!("rallypoint-example-queue-{pid}");
        let queue = Queue::<String>::create(&name, 1)?; // unlinked on drop
        let mut worker = Command::new(std::env::current_exe()?)
            .args(["--hello", &name])
            .spawn()?;
        let start = Instant::now();
        println!("Main (pid {pid}): waiting on get()");
        let item = if flavour == "blocking" {
            queue.pop_timeout_blocking(LONG).unwrap()
        } else {
            smol::block_on(queue.pop_timeout(LONG)).unwrap()
        };
        println!(
            "Main (pid {pid}): got {item:?} after {:.1?}",
            start.elapsed()
        );
        assert_eq!(item, "Hello World");
        let status = worker.wait()?;
        assert!(status.success(), "worker failed: {status}");
    }

    // 2. JoinableQueue: one producer (this process), two consumers.
    println!("== JoinableQueue: a producer and two consumer processes ==");
    let name = format!("rallypoint-example-jobs-{pid}");
    let jobs = Queue::<u64>::create(&name, 4)?;
    let results = Queue::<(String, u64, u64)>::create(&format!("{name}-results"), 64)?;
    let consumers = (1..=2)
        .map(|who| {
            Command::new(std::env::current_exe()?)
                .args(["--consumer", &name, &who.to_string()])
                .spawn()
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    for job in 1..=JOBS {
        jobs.push_timeout_blocking(job, LONG).unwrap(); // waits while 4 are queued
        println!("Producer: put job {job}");
    }
    assert!(
        jobs.join_timeout_blocking(LONG),
        "the jobs were never all done"
    );
    println!("Producer: join() returned: every job is done");
    jobs.close();
    let mut sum = 0;
    for _ in 0..JOBS {
        let (who, job, square) = results.pop_timeout_blocking(LONG).unwrap();
        println!("  {who} did job {job}: {square}");
        sum += square;
    }
    assert_eq!(sum, (1..=JOBS).map(|j| j * j).sum::<u64>());
    for mut consumer in consumers {
        let status = consumer.wait()?;
        assert!(status.success(), "consumer failed: {status}");
    }
    println!("All {JOBS} jobs done exactly once; the consumers saw the queue closed");
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("rallypoint::process is Linux-only for now");
}
