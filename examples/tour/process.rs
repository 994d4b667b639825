//! Chapter: primitives across processes. The tour starts copies of
//! itself: two open an Event by name and wait — one blocking, one in an
//! async task — while this process waits in a thread and in a task too;
//! one `set()` releases all four. Then a copy takes a Lock and is killed
//! holding it: the next locker is told, and holds the lock. Last, a copy
//! queues first on a strict Semaphore and is killed while it waits: the
//! permit released next goes to the waiter behind it, here. Then a copy
//! pushes numbered items onto a Queue as fast as it can, a task here pops
//! them, and the copy is killed mid-stream: what is left is whole and in
//! order. Last, a copy waits on a Condition and one `notify_one()` here
//! wakes it.

use std::process::Command;
use std::time::Duration;

use rallypoint::Fairness;
use rallypoint::process::{Condition, Event, Lock, Queue, Semaphore};

const ROLE: &str = "--tour-process-child";
const LOCK_ROLE: &str = "--tour-process-lock-holder";
const SEM_ROLE: &str = "--tour-process-sem-waiter";
const QUEUE_ROLE: &str = "--tour-process-producer";
const COND_ROLE: &str = "--tour-process-cond-waiter";

/// In a child copy of the tour: its part of the chapter. `true` if this
/// process is such a child (and has done its part).
pub(crate) fn child() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let [_, role, flavour, name] = args.as_slice() else {
        return false;
    };
    if role == LOCK_ROLE {
        let lock = Lock::open(name).expect("open the lock");
        let _guard = lock.acquire_blocking().expect("nobody died yet");
        println!(
            "  child {} ({flavour}): holding the lock",
            std::process::id()
        );
        Event::open(&format!("{name}-held")).expect("open").set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    if role == SEM_ROLE {
        let sem = Semaphore::open(name).expect("open the semaphore");
        println!(
            "  child {} ({flavour}): waiting for a permit",
            std::process::id()
        );
        let _never = sem.acquire_blocking();
        unreachable!("killed before any permit is released");
    }
    if role == QUEUE_ROLE {
        let queue = Queue::<(u64, String)>::open(name).expect("open the queue");
        println!("  child {} ({flavour}): pushing", std::process::id());
        for i in 0u64.. {
            queue
                .push_blocking((i, format!("item {i}")))
                .expect("the queue stays open");
        }
    }
    if role == COND_ROLE {
        let cond = Condition::open(name).expect("open the condition");
        let guard = cond.lock_blocking().expect("nobody died");
        println!(
            "  child {} ({flavour}): waiting on the condition",
            std::process::id()
        );
        let (guard, result) = cond.wait_timeout_blocking(guard, Duration::from_secs(30));
        assert!(!result.timed_out(), "never notified");
        drop(guard);
        println!("  child {} ({flavour}): notified", std::process::id());
        return true;
    }
    if role != ROLE {
        return false;
    }
    let go = Event::open(name).expect("open the event");
    let done = Event::open(&format!("{name}-{flavour}")).expect("open the reply");
    let pid = std::process::id();
    println!("  child {pid} ({flavour}): waiting for {name:?}");
    let set = if flavour == "blocking" {
        go.wait_timeout_blocking(Duration::from_secs(30))
    } else {
        smol::block_on(go.wait_timeout(Duration::from_secs(30)))
    };
    assert!(set, "never set");
    println!("  child {pid} ({flavour}): released");
    done.set();
    true
}

pub(crate) fn run() {
    let name = format!("rallypoint-tour-{}", std::process::id());
    // Created by name in /dev/shm (mode 0600); unlinked when dropped.
    let go = Event::create(&name).expect("create the event");
    let replies: Vec<Event> = ["blocking", "async"]
        .iter()
        .map(|f| Event::create(&format!("{name}-{f}")).expect("create a reply"))
        .collect();
    let exe = std::env::current_exe().expect("the tour's path");
    let mut children: Vec<_> = ["blocking", "async"]
        .iter()
        .map(|flavour| {
            Command::new(&exe)
                .args([ROLE, flavour, &name])
                .spawn()
                .expect("start a child")
        })
        .collect();
    std::thread::scope(|s| {
        let go = &go;
        let thread = s.spawn(move || {
            assert!(go.wait_timeout_blocking(Duration::from_secs(30)));
            println!("  parent thread: released");
        });
        let task = s.spawn(move || {
            smol::block_on(async {
                assert!(go.wait_timeout(Duration::from_secs(30)).await);
                println!("  parent task: released");
            })
        });
        // Let everyone start waiting (if someone is late, the event is
        // simply set when it looks).
        std::thread::sleep(Duration::from_millis(300));
        println!("  parent {}: set()", std::process::id());
        go.set();
        thread.join().unwrap();
        task.join().unwrap();
    });
    for reply in &replies {
        assert!(reply.wait_timeout_blocking(Duration::from_secs(30)));
    }
    for child in &mut children {
        assert!(child.wait().expect("reap").success());
    }
    println!("  {go:?}");

    // A holder killed with SIGKILL.
    let lock_name = format!("{name}-lock");
    let lock = Lock::create(&lock_name).expect("create the lock");
    let held = Event::create(&format!("{lock_name}-held")).expect("create");
    let mut holder = Command::new(&exe)
        .args([LOCK_ROLE, "blocking", &lock_name])
        .spawn()
        .expect("start the holder");
    assert!(held.wait_timeout_blocking(Duration::from_secs(30)));
    holder.kill().expect("kill");
    holder.wait().expect("reap");
    println!("  parent: killed child {} with SIGKILL", holder.id());
    match lock.acquire_timeout_blocking(Duration::from_secs(30)) {
        Some(Err(died)) => {
            println!("  parent: {died}");
            drop(died.into_guard());
        }
        other => panic!("expected OwnerDied, got {other:?}"),
    }
    println!("  {lock:?}");

    // A waiter killed with SIGKILL while first in line.
    let sem_name = format!("{name}-sem");
    let sem = Semaphore::builder(0)
        .fairness(Fairness::Strict)
        .create(&sem_name)
        .expect("create the semaphore");
    let mut waiter = Command::new(&exe)
        .args([SEM_ROLE, "blocking", &sem_name])
        .spawn()
        .expect("start the waiter");
    std::thread::sleep(Duration::from_millis(300));
    std::thread::scope(|s| {
        let sem = &sem;
        let behind = s.spawn(move || {
            let permit = sem
                .acquire_timeout_blocking(Duration::from_secs(30))
                .expect("the killed waiter kept the permit");
            println!("  parent thread: got the permit (the dead waiter lost its place)");
            drop(permit);
        });
        std::thread::sleep(Duration::from_millis(100));
        waiter.kill().expect("kill");
        waiter.wait().expect("reap");
        println!("  parent: killed child {} while it waited", waiter.id());
        sem.release(1).expect("unbounded");
        println!("  parent: release(1)");
        behind.join().unwrap();
    });
    println!("  {sem:?}");

    // A producer killed with SIGKILL mid-stream.
    let queue_name = format!("{name}-queue");
    let queue = Queue::<(u64, String)>::create(&queue_name, 64).expect("create the queue");
    let mut producer = Command::new(&exe)
        .args([QUEUE_ROLE, "blocking", &queue_name])
        .spawn()
        .expect("start the producer");
    let mut next = 0;
    smol::block_on(async {
        while next < 2000 {
            let (i, text) = queue
                .pop_timeout(Duration::from_secs(30))
                .await
                .expect("an item");
            assert_eq!((i, text), (next, format!("item {next}")));
            next += 1;
        }
    });
    producer.kill().expect("kill");
    producer.wait().expect("reap");
    println!(
        "  parent task: popped {next} items in order; killed child {} mid-push",
        producer.id()
    );
    while let Ok((i, text)) = queue.pop_timeout_blocking(Duration::from_millis(50)) {
        assert_eq!((i, text), (next, format!("item {next}")));
        next += 1;
    }
    println!("  parent: {next} items in all, none torn, none twice; the queue is empty: {queue:?}");

    // A waiter in another process, notified from here.
    let cond_name = format!("{name}-cond");
    let cond = Condition::create(&cond_name).expect("create the condition");
    let mut waiter = Command::new(&exe)
        .args([COND_ROLE, "blocking", &cond_name])
        .spawn()
        .expect("start the waiter");
    let start = std::time::Instant::now();
    while !cond.notify_one() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the waiter never waited"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("  parent: notify_one() woke it");
    assert!(waiter.wait().expect("reap").success());
}
