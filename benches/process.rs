//! `rallypoint::process` across two processes, against the floor and
//! Python.
//!
//! Group `process_event_pingpong` (ids `group/impl/mode`): this process and
//! a child bounce a token through two events, as in `benches/event.rs`
//! (A sets `ping` and waits for `pong`; B waits for `ping`, clears it and
//! sets `pong`; A clears `pong`). One iteration is one round trip. The
//! child (this bench binary run again with `RALLYPOINT_BENCH_ROLE`) always
//! waits blocking; this side waits:
//!
//! * `rallypoint/blocking` — `wait_blocking`;
//! * `rallypoint/async-smol` — `wait().await` in a `smol::block_on` (the
//!   wake-up goes through the process's helper thread);
//! * `raw-futex/blocking` — the floor: one shared futex word per
//!   direction, `futex_wait` / `futex_wake` with nothing else (what a
//!   hand-written cross-process event costs).
//!
//! Group `process_lock_contended`: this process acquires and releases a
//! `process::Lock` that the child acquires and releases in a loop; one
//! iteration is one acquire + release here. Group `process_barrier_2`: a
//! two-party `process::Barrier`, one party here and one in the child (which
//! waits in a loop); one iteration is one generation. Group
//! `process_semaphore_handoff`: this process releases one permit of `ping`
//! and acquires one of `pong`, the child (blocking) acquires `ping` and
//! releases `pong`; one iteration is one round trip (two handoffs).
//!
//! Group `process_queue_1to1` (throughput, one item an element): this
//! process pushes into a bounded(1024) `process::Queue`, a child pops;
//! `u64` items (limit 16 bytes) blocking and async, 1 KiB items blocking,
//! and the in-process `Queue` between two threads as the ceiling. One
//! measurement ends when the child has popped a marker pushed last and
//! said so on an ack queue. Group `process_queue_2x2`: producers here and
//! in a child, two consumer children, `u64` and 1 KiB items. Group `process_queue_roundtrip`: this
//! process pushes into `ping`, a child pops it and pushes into `pong`, this
//! process pops; one iteration is one round trip.
//!
//! Python runs the same workloads with `multiprocessing.Event`, `Lock`,
//! `Barrier`, `Semaphore`, `Queue` and `JoinableQueue` in
//! `benches/process_event.py` (printed at the end when `python3` is found). For the "both processes on one core" figure run the bench
//! under `taskset -c 0` (children inherit the affinity).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

#[cfg(target_os = "linux")]
mod linux {
    use std::os::unix::fs::OpenOptionsExt;
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Instant;

    use criterion::Criterion;
    use rallypoint::process::Event;
    use rustix::thread::futex;

    const ROLE: &str = "RALLYPOINT_BENCH_ROLE";

    /// The child's side, when this binary runs as one.
    pub(crate) fn child_role() -> bool {
        let Ok(role) = std::env::var(ROLE) else {
            return false;
        };
        let name = std::env::var("RALLYPOINT_BENCH_NAME").expect("name");
        match role.as_str() {
            "event" => {
                let ping = Event::open(&format!("{name}-ping")).expect("open ping");
                let pong = Event::open(&format!("{name}-pong")).expect("open pong");
                loop {
                    ping.wait_blocking();
                    ping.clear();
                    pong.set();
                }
            }
            "lock" => {
                let lock = rallypoint::process::Lock::open(&name).expect("open lock");
                loop {
                    drop(lock.acquire_blocking());
                }
            }
            "barrier" => {
                let barrier = rallypoint::process::Barrier::open(&name).expect("open barrier");
                loop {
                    let _ = barrier.wait_blocking();
                }
            }
            "semaphore" => {
                use rallypoint::process::Semaphore;
                let ping = Semaphore::open(&format!("{name}-ping")).expect("open ping");
                let pong = Semaphore::open(&format!("{name}-pong")).expect("open pong");
                loop {
                    ping.acquire_blocking().expect("open").forget();
                    pong.release(1).expect("unbounded");
                }
            }
            "queue-consume" => {
                // Pop items; on a marker, say so on the ack queue.
                use rallypoint::process::Queue;
                let ack = Queue::<u64>::open(&format!("{name}-ack")).expect("open ack");
                if name.contains("-kib") {
                    let q = Queue::<String>::open(&name).expect("open queue");
                    loop {
                        let item = q.pop_blocking().expect("open");
                        if item.is_empty() {
                            ack.push_blocking(0).expect("open");
                        }
                    }
                }
                let q = Queue::<u64>::open(&name).expect("open queue");
                loop {
                    if q.pop_blocking().expect("open") == u64::MAX {
                        ack.push_blocking(0).expect("open");
                    }
                }
            }
            "queue-produce" => {
                // On a count from `cmd`, push that many items; then ack.
                use rallypoint::process::Queue;
                let cmd = Queue::<u64>::open(&format!("{name}-cmd")).expect("open cmd");
                let ack = Queue::<u64>::open(&format!("{name}-pack")).expect("open ack");
                if name.contains("-kib") {
                    let q = Queue::<String>::open(&name).expect("open queue");
                    let item = "x".repeat(1024);
                    loop {
                        let n = cmd.pop_blocking().expect("open");
                        for _ in 0..n {
                            q.push_blocking(item.clone()).expect("open");
                        }
                        ack.push_blocking(0).expect("open");
                    }
                }
                let q = Queue::<u64>::open(&name).expect("open queue");
                loop {
                    let n = cmd.pop_blocking().expect("open");
                    for i in 0..n {
                        q.push_blocking(i).expect("open");
                    }
                    ack.push_blocking(0).expect("open");
                }
            }
            "queue-echo" => {
                use rallypoint::process::Queue;
                let ping = Queue::<u64>::open(&format!("{name}-ping")).expect("open ping");
                let pong = Queue::<u64>::open(&format!("{name}-pong")).expect("open pong");
                loop {
                    let v = ping.pop_blocking().expect("open");
                    pong.push_blocking(v).expect("open");
                }
            }
            "futex" => {
                let map = RawWords::open(&name);
                let (ping, pong) = map.words();
                loop {
                    while ping.swap(0, Ordering::Acquire) == 0 {
                        let _ = futex::wait(ping, futex::Flags::empty(), 0, None);
                    }
                    pong.store(1, Ordering::Release);
                    let _ = futex::wake(pong, futex::Flags::empty(), 1);
                }
            }
            other => panic!("unknown role {other}"),
        }
    }

    struct Peer(Child);

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn spawn(role: &str, name: &str) -> Peer {
        Peer(
            Command::new(std::env::current_exe().expect("exe"))
                .env(ROLE, role)
                .env("RALLYPOINT_BENCH_NAME", name)
                .stdin(Stdio::null())
                .spawn()
                .expect("spawn the child"),
        )
    }

    /// Two futex words in a shared file, for the floor.
    struct RawWords {
        base: *mut AtomicU32,
        path: Option<String>,
    }

    impl RawWords {
        fn create(name: &str) -> RawWords {
            let path = format!("/dev/shm/{name}");
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .expect("create");
            file.set_len(4096).expect("size");
            RawWords {
                base: map(&file),
                path: Some(path),
            }
        }

        fn open(name: &str) -> RawWords {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(format!("/dev/shm/{name}"))
                .expect("open");
            RawWords {
                base: map(&file),
                path: None,
            }
        }

        fn words(&self) -> (&AtomicU32, &AtomicU32) {
            // SAFETY: a live 4096-byte shared mapping, used only through
            // atomics; the words are 64 bytes apart (own cache lines).
            unsafe { (&*self.base, &*self.base.add(16)) }
        }
    }

    fn map(file: &std::fs::File) -> *mut AtomicU32 {
        use rustix::mm::{MapFlags, ProtFlags, mmap};
        // SAFETY: a fresh shared mapping of a 4096-byte file; never unmapped
        // (the bench process exits).
        unsafe {
            mmap(
                std::ptr::null_mut(),
                4096,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::SHARED,
                file,
                0,
            )
            .expect("mmap")
            .cast()
        }
    }

    impl Drop for RawWords {
        fn drop(&mut self) {
            if let Some(path) = &self.path {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    pub(crate) fn pingpong(c: &mut Criterion) {
        let mut group = c.benchmark_group("process_event_pingpong");
        let name = format!("rallypoint-bench-{}", std::process::id());
        {
            let ping = Event::create(&format!("{name}-ping")).expect("create ping");
            let pong = Event::create(&format!("{name}-pong")).expect("create pong");
            let _peer = spawn("event", &name);
            group.bench_function("rallypoint/blocking", |b| {
                b.iter(|| {
                    ping.set();
                    pong.wait_blocking();
                    pong.clear();
                })
            });
            group.bench_function("rallypoint/async-smol", |b| {
                b.iter_custom(|iters| {
                    smol::block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            ping.set();
                            pong.wait().await;
                            pong.clear();
                        }
                        start.elapsed()
                    })
                })
            });
        }
        {
            let raw_name = format!("{name}-raw");
            let words = RawWords::create(&raw_name);
            let (ping, pong) = words.words();
            let _peer = spawn("futex", &raw_name);
            group.bench_function("raw-futex/blocking", |b| {
                b.iter(|| {
                    ping.store(1, Ordering::Release);
                    let _ = futex::wake(ping, futex::Flags::empty(), 1);
                    while pong.swap(0, Ordering::Acquire) == 0 {
                        let _ = futex::wait(pong, futex::Flags::empty(), 0, None);
                    }
                })
            });
        }
        group.finish();
    }

    /// A lock taken and released here while the child does the same in a
    /// loop; and a two-party barrier, one party here, one in the child.
    pub(crate) fn lock_and_barrier(c: &mut Criterion) {
        let name = format!("rallypoint-bench-lb-{}", std::process::id());
        {
            let mut group = c.benchmark_group("process_lock_contended");
            let lock = rallypoint::process::Lock::create(&name).expect("create lock");
            let _peer = spawn("lock", &name);
            group.bench_function("rallypoint/blocking", |b| {
                b.iter(|| drop(lock.acquire_blocking()))
            });
            group.bench_function("rallypoint/async-smol", |b| {
                b.iter_custom(|iters| {
                    smol::block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            drop(lock.acquire().await);
                        }
                        start.elapsed()
                    })
                })
            });
            group.finish();
        }
        {
            let mut group = c.benchmark_group("process_barrier_2");
            let name = format!("{name}-barrier");
            let barrier = rallypoint::process::Barrier::create(&name, 2).expect("create barrier");
            let _peer = spawn("barrier", &name);
            group.bench_function("rallypoint/blocking", |b| {
                b.iter(|| barrier.wait_blocking().expect("broken"))
            });
            group.bench_function("rallypoint/async-smol", |b| {
                b.iter_custom(|iters| {
                    smol::block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            barrier.wait().await.expect("broken");
                        }
                        start.elapsed()
                    })
                })
            });
            group.finish();
        }
    }

    /// Semaphore handoff: this process releases `ping` and acquires `pong`,
    /// the child acquires `ping` and releases `pong` (two handoffs per
    /// iteration, like Python's `multiprocessing.Semaphore` in
    /// `process_event.py`).
    pub(crate) fn semaphore(c: &mut Criterion) {
        use rallypoint::process::Semaphore;
        let name = format!("rallypoint-bench-sem-{}", std::process::id());
        let mut group = c.benchmark_group("process_semaphore_handoff");
        let ping = Semaphore::create(&format!("{name}-ping"), 0).expect("create ping");
        let pong = Semaphore::create(&format!("{name}-pong"), 0).expect("create pong");
        let _peer = spawn("semaphore", &name);
        group.bench_function("rallypoint/blocking", |b| {
            b.iter(|| {
                ping.release(1).expect("unbounded");
                pong.acquire_blocking().expect("open").forget();
            })
        });
        group.bench_function("rallypoint/async-smol", |b| {
            b.iter_custom(|iters| {
                smol::block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        ping.release(1).expect("unbounded");
                        pong.acquire().await.expect("open").forget();
                    }
                    start.elapsed()
                })
            })
        });
        group.finish();
    }

    /// `process::Queue` throughput, one direction, and its round trip
    /// (see the module docs).
    pub(crate) fn queue(c: &mut Criterion) {
        use criterion::Throughput;
        use rallypoint::process::Queue;
        let base = format!("rallypoint-bench-queue-{}", std::process::id());
        let small = |name: &str, cap| {
            Queue::<u64>::builder(cap)
                .item_size_limit(16)
                .create(name)
                .expect("create")
        };
        let mut group = c.benchmark_group("process_queue_1to1");
        group.throughput(Throughput::Elements(1));
        {
            // One producer here, one consumer process, u64 items.
            let name = format!("{base}-u64");
            let q = small(&name, 1024);
            let ack = small(&format!("{name}-ack"), 4);
            let _peer = spawn("queue-consume", &name);
            group.bench_function("rallypoint-u64/blocking", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for i in 0..iters {
                        q.push_blocking(i).expect("open");
                    }
                    q.push_blocking(u64::MAX).expect("open");
                    ack.pop_blocking().expect("open");
                    start.elapsed()
                })
            });
            group.bench_function("rallypoint-u64/async-smol", |b| {
                b.iter_custom(|iters| {
                    smol::block_on(async {
                        let start = Instant::now();
                        for i in 0..iters {
                            q.push(i).await.expect("open");
                        }
                        q.push(u64::MAX).await.expect("open");
                        ack.pop().await.expect("open");
                        start.elapsed()
                    })
                })
            });
        }
        {
            // 1 KiB items: a `String` (serde encodes a `Vec<u8>` byte by
            // byte, a string with one copy; Python's row uses `bytes`).
            let name = format!("{base}-kib");
            let q = Queue::<String>::builder(1024)
                .item_size_limit(1100)
                .create(&name)
                .expect("create");
            let ack = small(&format!("{name}-ack"), 4);
            let _peer = spawn("queue-consume", &name);
            let item = "x".repeat(1024);
            group.bench_function("rallypoint-1KiB/blocking", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        q.push_blocking(item.clone()).expect("open");
                    }
                    q.push_blocking(String::new()).expect("open");
                    ack.pop_blocking().expect("open");
                    start.elapsed()
                })
            });
        }
        {
            // The ceiling: the in-process queue between two threads.
            let q = std::sync::Arc::new(rallypoint::Queue::<u64>::bounded(1024));
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let consumer = {
                let q = q.clone();
                std::thread::spawn(move || {
                    while let Ok(v) = q.pop_blocking() {
                        if v == u64::MAX {
                            let _ = tx.send(());
                        }
                    }
                })
            };
            group.bench_function("in-process-queue-u64/threads", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for i in 0..iters {
                        q.push_blocking(i).expect("open");
                    }
                    q.push_blocking(u64::MAX).expect("open");
                    rx.recv().expect("consumer");
                    start.elapsed()
                })
            });
            q.close();
            consumer.join().expect("consumer");
        }
        group.finish();

        let mut group = c.benchmark_group("process_queue_2x2");
        group.throughput(Throughput::Elements(1));
        {
            // Producers: this process and a child; consumers: two children.
            let name = format!("{base}-2x2");
            let q = small(&name, 1024);
            let ack = small(&format!("{name}-ack"), 4);
            let cmd = small(&format!("{name}-cmd"), 4);
            let pack = small(&format!("{name}-pack"), 4);
            let _peers = [
                spawn("queue-consume", &name),
                spawn("queue-consume", &name),
                spawn("queue-produce", &name),
            ];
            group.bench_function("rallypoint-u64/blocking", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let theirs = iters / 2;
                    cmd.push_blocking(theirs).expect("open");
                    for i in 0..iters - theirs {
                        q.push_blocking(i).expect("open");
                    }
                    pack.pop_blocking().expect("open");
                    for _ in 0..2 {
                        q.push_blocking(u64::MAX).expect("open");
                    }
                    for _ in 0..2 {
                        ack.pop_blocking().expect("open");
                    }
                    start.elapsed()
                })
            });
        }
        {
            // The same with 1 KiB items.
            let name = format!("{base}-2x2-kib");
            let q = Queue::<String>::builder(1024)
                .item_size_limit(1100)
                .create(&name)
                .expect("create");
            let ack = small(&format!("{name}-ack"), 4);
            let cmd = small(&format!("{name}-cmd"), 4);
            let pack = small(&format!("{name}-pack"), 4);
            let _peers = [
                spawn("queue-consume", &name),
                spawn("queue-consume", &name),
                spawn("queue-produce", &name),
            ];
            let item = "x".repeat(1024);
            group.bench_function("rallypoint-1KiB/blocking", |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    let theirs = iters / 2;
                    cmd.push_blocking(theirs).expect("open");
                    for _ in 0..iters - theirs {
                        q.push_blocking(item.clone()).expect("open");
                    }
                    pack.pop_blocking().expect("open");
                    for _ in 0..2 {
                        q.push_blocking(String::new()).expect("open");
                    }
                    for _ in 0..2 {
                        ack.pop_blocking().expect("open");
                    }
                    start.elapsed()
                })
            });
        }
        group.finish();

        let mut group = c.benchmark_group("process_queue_roundtrip");
        {
            let name = format!("{base}-rt");
            let ping = small(&format!("{name}-ping"), 1024);
            let pong = small(&format!("{name}-pong"), 1024);
            let _peer = spawn("queue-echo", &name);
            group.bench_function("rallypoint/blocking", |b| {
                b.iter(|| {
                    ping.push_blocking(1).expect("open");
                    pong.pop_blocking().expect("open")
                })
            });
            group.bench_function("rallypoint/async-smol", |b| {
                b.iter_custom(|iters| {
                    smol::block_on(async {
                        let start = Instant::now();
                        for _ in 0..iters {
                            ping.push(1).await.expect("open");
                            pong.pop().await.expect("open");
                        }
                        start.elapsed()
                    })
                })
            });
        }
        group.finish();
    }

    /// Runs `benches/process_event.py` and prints its line.
    pub(crate) fn python() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/process_event.py");
        match Command::new("python3")
            .args([script, "20000", "5"])
            .output()
        {
            Ok(out) if out.status.success() => {
                print!("{}", String::from_utf8_lossy(&out.stdout));
            }
            Ok(out) => eprintln!("python3 failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("python3 not run: {e}"),
        }
    }
}

#[cfg(target_os = "linux")]
fn main() {
    if linux::child_role() {
        return;
    }
    let mut c = criterion::Criterion::default().configure_from_args();
    linux::pingpong(&mut c);
    linux::lock_and_barrier(&mut c);
    linux::semaphore(&mut c);
    linux::queue(&mut c);
    c.final_summary();
    // Only when the bench really ran (not `cargo test --benches`' probe),
    // and not when told to skip it (profiling one row).
    if std::env::args().any(|a| a == "--bench")
        && std::env::var_os("RALLYPOINT_BENCH_NO_PYTHON").is_none()
    {
        linux::python();
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {}
