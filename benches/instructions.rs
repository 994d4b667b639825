//! A fixed workload for counting instructions, not for timing: `Queue` or
//! `Stack` between tokio tasks, run once under callgrind, whose count is
//! the same for the same binary and input whatever the machine is doing
//! (timing passes on this project's 2-CPU VMs swing 0.6–1.7× for one row).
//! BENCHMARKS.md compares the per-item counts of different commits.
//!
//! ```text
//! cargo bench -p rallypoint-benches --bench instructions --no-run
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/deps/instructions-<hash> ITEMS RUNTIME CAPACITY SHAPE KIND
//! ```
//!
//! * `ITEMS`: items moved (e.g. 200000); divide the count by it.
//! * `RUNTIME`: `ct` (current-thread) or `mt` (multi-thread, 2 workers).
//! * `CAPACITY`: `0` for unbounded, else bounded to it.
//! * `SHAPE`: `spsc` (1 → 1), `mpsc4` (4 → 1) or `mpmc4` (4 → 4 tasks).
//! * `KIND`: `queue` or `stack`.
//!
//! Without arguments (as `cargo bench` runs it) it moves 10 000 items
//! through a bounded(1) queue on the current-thread runtime and exits.

use std::future::Future;
use std::sync::Arc;

trait Container: Send + Sync + 'static {
    fn make(capacity: usize) -> Self;
    fn put(&self, v: u64) -> impl Future<Output = ()> + Send;
    fn take(&self) -> impl Future<Output = u64> + Send;
}

macro_rules! container {
    ($t:ident) => {
        impl Container for rallypoint::$t<u64> {
            fn make(capacity: usize) -> Self {
                match capacity {
                    0 => Self::unbounded(),
                    n => Self::bounded(n),
                }
            }
            async fn put(&self, v: u64) {
                self.push(v).await.expect("open");
            }
            async fn take(&self) -> u64 {
                self.pop().await.expect("open")
            }
        }
    };
}
container!(Queue);
container!(Stack);

fn run<C: Container>(items: u64, current_thread: bool, capacity: usize, p: u64, c: u64) {
    let rt = if current_thread {
        tokio::runtime::Builder::new_current_thread().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
    }
    .expect("runtime");
    let sum = rt.block_on(async move {
        let q = Arc::new(C::make(capacity));
        let producers: Vec<_> = (0..p)
            .map(|k| {
                let q = q.clone();
                tokio::spawn(async move {
                    for i in (k * items / p)..((k + 1) * items / p) {
                        q.put(i).await;
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..c)
            .map(|k| {
                let q = q.clone();
                let share = (k + 1) * items / c - k * items / c;
                tokio::spawn(async move {
                    let mut sum = 0u64;
                    for _ in 0..share {
                        sum = sum.wrapping_add(q.take().await);
                    }
                    sum
                })
            })
            .collect();
        for h in producers {
            h.await.expect("producer");
        }
        let mut sum = 0u64;
        for h in consumers {
            sum = sum.wrapping_add(h.await.expect("consumer"));
        }
        sum
    });
    assert_eq!(sum, items * items.saturating_sub(1) / 2, "every item once");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`: a short smoke run then.
    if args.len() < 5 {
        run::<rallypoint::Queue<u64>>(10_000, true, 1, 1, 1);
        return;
    }
    let items: u64 = args[0].parse().expect("ITEMS");
    let current_thread = args[1] == "ct";
    let capacity: usize = args[2].parse().expect("CAPACITY");
    let (p, c) = match args[3].as_str() {
        "spsc" => (1, 1),
        "mpsc4" => (4, 1),
        "mpmc4" => (4, 4),
        other => panic!("SHAPE: {other}"),
    };
    match args[4].as_str() {
        "queue" => run::<rallypoint::Queue<u64>>(items, current_thread, capacity, p, c),
        "stack" => run::<rallypoint::Stack<u64>>(items, current_thread, capacity, p, c),
        other => panic!("KIND: {other}"),
    }
}
