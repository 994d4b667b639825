//! Storage and engine measurements behind the containers' one mutex over a
//! plain buffer (figures in BENCHMARKS.md, "Queue storage").
//!
//! Two groups, each on an spsc workload (1 producer thread, 1 consumer
//! thread) and mpmc workloads (2 + 2 and 4 + 4 threads), moving `N` items
//! per iteration:
//!
//! * `storage/*` — the raw buffers the engine could sit on, without any
//!   waiting (an empty pop spins with `yield_now`): `concurrent-queue`
//!   (lock-free, what async-channel uses; its bounded queue is crossbeam's
//!   slot-stamp array) unbounded and bounded, against a
//!   short critical section on `std::sync::Mutex<VecDeque>` / `<Vec>` /
//!   `<BinaryHeap>`.
//! * `engine/*` — whole waiting containers with blocking waits: rallypoint's
//!   `Queue`, `Stack`, `PriorityQueue` against async-channel (the
//!   concurrent-queue + event-listener engine), crossbeam-channel and the textbook
//!   `Mutex<Vec<T>> + Condvar` stack.
//!
//! Run with
//! `cargo bench -p rallypoint-benches --bench queue_storage -- --warm-up-time 1 --measurement-time 3`.
//!
//! On a shared, loaded machine criterion's successive measurements drift
//! with the background load. `QUEUE_STORAGE_PAIRED=<rounds> cargo bench
//! --bench queue_storage` instead runs each candidate pair *interleaved*
//! (A, B, A, B, …) for `<rounds>` rounds and prints both medians and their
//! ratio, which cancels most of the drift.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::collections::{BinaryHeap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

use concurrent_queue::ConcurrentQueue;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use rallypoint::{PriorityQueue, Queue, Stack};

const N: usize = 20_000;

/// A buffer with non-waiting push/pop, for the `storage` group.
trait Buffer: Send + Sync + 'static {
    fn push(&self, v: usize);
    fn pop(&self) -> Option<usize>;
}

impl Buffer for ConcurrentQueue<usize> {
    fn push(&self, mut v: usize) {
        // Bounded: spin while full.
        while let Err(e) = ConcurrentQueue::push(self, v) {
            v = e.into_inner();
            thread::yield_now();
        }
    }
    fn pop(&self) -> Option<usize> {
        ConcurrentQueue::pop(self).ok()
    }
}

impl Buffer for Mutex<VecDeque<usize>> {
    fn push(&self, v: usize) {
        self.lock().unwrap().push_back(v);
    }
    fn pop(&self) -> Option<usize> {
        self.lock().unwrap().pop_front()
    }
}

impl Buffer for Mutex<Vec<usize>> {
    fn push(&self, v: usize) {
        self.lock().unwrap().push(v);
    }
    fn pop(&self) -> Option<usize> {
        self.lock().unwrap().pop()
    }
}

impl Buffer for Mutex<BinaryHeap<usize>> {
    fn push(&self, v: usize) {
        self.lock().unwrap().push(v);
    }
    fn pop(&self) -> Option<usize> {
        self.lock().unwrap().pop()
    }
}

/// Moves `N` items from `producers` threads to `consumers` threads through
/// `push`/`pop` closures; `pop` must eventually return every item.
fn run<B: Send + Sync + 'static>(
    buf: Arc<B>,
    producers: usize,
    consumers: usize,
    push: fn(&B, usize),
    pop: fn(&B) -> usize,
) {
    let per_producer = N / producers;
    let per_consumer = N / consumers;
    let mut handles = Vec::new();
    for p in 0..producers {
        let buf = buf.clone();
        handles.push(thread::spawn(move || {
            for i in 0..per_producer {
                push(&buf, p * per_producer + i);
            }
        }));
    }
    for _ in 0..consumers {
        let buf = buf.clone();
        handles.push(thread::spawn(move || {
            let mut sum = 0usize;
            for _ in 0..per_consumer {
                sum = sum.wrapping_add(pop(&buf));
            }
            std::hint::black_box(sum);
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
}

fn spin_pop<B: Buffer>(buf: &B) -> usize {
    loop {
        if let Some(v) = buf.pop() {
            return v;
        }
        thread::yield_now();
    }
}

/// The thread shapes every group runs: (name, producers, consumers).
const SHAPES: [(&str, usize, usize); 3] = [("spsc", 1, 1), ("mpmc", 2, 2), ("mpmc4", 4, 4)];

fn storage(c: &mut Criterion) {
    for (workload, producers, consumers) in SHAPES {
        let mut group = c.benchmark_group(format!("storage/{workload}"));
        group.throughput(Throughput::Elements(N as u64));
        group.bench_function("concurrent-queue unbounded", |b| {
            b.iter(|| {
                run(
                    Arc::new(ConcurrentQueue::unbounded()),
                    producers,
                    consumers,
                    Buffer::push,
                    spin_pop,
                )
            })
        });
        group.bench_function("concurrent-queue bounded(1024)", |b| {
            b.iter(|| {
                run(
                    Arc::new(ConcurrentQueue::bounded(1024)),
                    producers,
                    consumers,
                    Buffer::push,
                    spin_pop,
                )
            })
        });
        group.bench_function("Mutex<VecDeque>", |b| {
            b.iter(|| {
                run(
                    Arc::new(Mutex::new(VecDeque::new())),
                    producers,
                    consumers,
                    Buffer::push,
                    spin_pop::<Mutex<VecDeque<usize>>>,
                )
            })
        });
        group.bench_function("Mutex<Vec>", |b| {
            b.iter(|| {
                run(
                    Arc::new(Mutex::new(Vec::new())),
                    producers,
                    consumers,
                    Buffer::push,
                    spin_pop::<Mutex<Vec<usize>>>,
                )
            })
        });
        group.bench_function("Mutex<BinaryHeap>", |b| {
            b.iter(|| {
                run(
                    Arc::new(Mutex::new(BinaryHeap::new())),
                    producers,
                    consumers,
                    Buffer::push,
                    spin_pop::<Mutex<BinaryHeap<usize>>>,
                )
            })
        });
        group.finish();
    }
}

/// The textbook concurrent stack: `Mutex<Vec<T>>` + `Condvar`.
struct CondvarStack {
    items: Mutex<Vec<usize>>,
    ready: Condvar,
}

fn engine(c: &mut Criterion) {
    for (workload, producers, consumers) in SHAPES {
        let mut group = c.benchmark_group(format!("engine/{workload}"));
        group.throughput(Throughput::Elements(N as u64));
        for cap in [None, Some(64)] {
            let label = match cap {
                None => "unbounded".to_string(),
                Some(c) => format!("bounded({c})"),
            };
            group.bench_function(BenchmarkId::new("rallypoint Queue", &label), |b| {
                b.iter(|| {
                    let q = match cap {
                        None => Queue::unbounded(),
                        Some(c) => Queue::bounded(c),
                    };
                    run(
                        Arc::new(q),
                        producers,
                        consumers,
                        |q, v| q.push_blocking(v).unwrap(),
                        |q| q.pop_blocking().unwrap(),
                    )
                })
            });
            group.bench_function(BenchmarkId::new("crossbeam-channel", &label), |b| {
                b.iter(|| {
                    let (tx, rx) = match cap {
                        None => crossbeam_channel::unbounded(),
                        Some(c) => crossbeam_channel::bounded(c),
                    };
                    run(
                        Arc::new((tx, rx)),
                        producers,
                        consumers,
                        |ch, v| ch.0.send(v).unwrap(),
                        |ch| ch.1.recv().unwrap(),
                    )
                })
            });
            group.bench_function(BenchmarkId::new("async-channel", &label), |b| {
                b.iter(|| {
                    let (tx, rx) = match cap {
                        None => async_channel::unbounded(),
                        Some(c) => async_channel::bounded(c),
                    };
                    run(
                        Arc::new((tx, rx)),
                        producers,
                        consumers,
                        |ch, v| ch.0.send_blocking(v).unwrap(),
                        |ch| ch.1.recv_blocking().unwrap(),
                    )
                })
            });
        }
        group.bench_function(BenchmarkId::new("rallypoint Stack", "unbounded"), |b| {
            b.iter(|| {
                run(
                    Arc::new(Stack::unbounded()),
                    producers,
                    consumers,
                    |q, v| q.push_blocking(v).unwrap(),
                    |q| q.pop_blocking().unwrap(),
                )
            })
        });
        group.bench_function(BenchmarkId::new("Mutex<Vec> + Condvar", "unbounded"), |b| {
            b.iter(|| {
                let stack = CondvarStack {
                    items: Mutex::new(Vec::new()),
                    ready: Condvar::new(),
                };
                run(
                    Arc::new(stack),
                    producers,
                    consumers,
                    |s, v| {
                        s.items.lock().unwrap().push(v);
                        s.ready.notify_one();
                    },
                    |s| {
                        let mut items = s.items.lock().unwrap();
                        loop {
                            if let Some(v) = items.pop() {
                                return v;
                            }
                            items = s.ready.wait(items).unwrap();
                        }
                    },
                )
            })
        });
        group.bench_function(
            BenchmarkId::new("rallypoint PriorityQueue", "unbounded"),
            |b| {
                b.iter(|| {
                    run(
                        Arc::new(PriorityQueue::unbounded()),
                        producers,
                        consumers,
                        |q, v| q.push_blocking(v).unwrap(),
                        |q| q.pop_blocking().unwrap(),
                    )
                })
            },
        );
        group.finish();
    }
}

type Case = (&'static str, Box<dyn Fn()>);

/// One transfer of `N` items through a fresh `make()` on `shape`.
fn case<B: Send + Sync + 'static>(
    name: &'static str,
    make: fn() -> B,
    (producers, consumers): (usize, usize),
    push: fn(&B, usize),
    pop: fn(&B) -> usize,
) -> Case {
    (
        name,
        Box::new(move || run(Arc::new(make()), producers, consumers, push, pop)),
    )
}

fn paired(rounds: usize) {
    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    }
    fn condvar_push(s: &CondvarStack, v: usize) {
        s.items.lock().unwrap().push(v);
        s.ready.notify_one();
    }
    fn condvar_pop(s: &CondvarStack) -> usize {
        let mut items = s.items.lock().unwrap();
        loop {
            if let Some(v) = items.pop() {
                return v;
            }
            items = s.ready.wait(items).unwrap();
        }
    }
    type Ch = (async_channel::Sender<usize>, async_channel::Receiver<usize>);
    let q_push = |q: &Queue<usize>, v| q.push_blocking(v).unwrap();
    let q_pop = |q: &Queue<usize>| q.pop_blocking().unwrap();
    let ch_push = |c: &Ch, v| c.0.send_blocking(v).unwrap();
    let ch_pop = |c: &Ch| c.1.recv_blocking().unwrap();
    type Cb = (
        crossbeam_channel::Sender<usize>,
        crossbeam_channel::Receiver<usize>,
    );
    let cb_push = |c: &Cb, v| c.0.send(v).unwrap();
    let cb_pop = |c: &Cb| c.1.recv().unwrap();
    for (workload, producers, consumers) in SHAPES {
        let shape = (producers, consumers);
        let pairs: Vec<(Case, Case)> = vec![
            (
                case(
                    "storage Mutex<VecDeque>",
                    || Mutex::new(VecDeque::new()),
                    shape,
                    Buffer::push,
                    spin_pop::<Mutex<VecDeque<usize>>>,
                ),
                case(
                    "storage concurrent-queue unbounded",
                    ConcurrentQueue::unbounded,
                    shape,
                    Buffer::push,
                    spin_pop,
                ),
            ),
            (
                case(
                    "storage Mutex<VecDeque>",
                    || Mutex::new(VecDeque::new()),
                    shape,
                    Buffer::push,
                    spin_pop::<Mutex<VecDeque<usize>>>,
                ),
                case(
                    "storage concurrent-queue bounded(1024)",
                    || ConcurrentQueue::bounded(1024),
                    shape,
                    Buffer::push,
                    spin_pop,
                ),
            ),
            (
                case(
                    "rallypoint Queue unbounded",
                    Queue::unbounded,
                    shape,
                    q_push,
                    q_pop,
                ),
                case(
                    "async-channel unbounded",
                    async_channel::unbounded,
                    shape,
                    ch_push,
                    ch_pop,
                ),
            ),
            (
                case(
                    "rallypoint Queue bounded(64)",
                    || Queue::bounded(64),
                    shape,
                    q_push,
                    q_pop,
                ),
                case(
                    "async-channel bounded(64)",
                    || async_channel::bounded(64),
                    shape,
                    ch_push,
                    ch_pop,
                ),
            ),
            (
                case(
                    "rallypoint Queue bounded(64)",
                    || Queue::bounded(64),
                    shape,
                    q_push,
                    q_pop,
                ),
                case(
                    "crossbeam-channel bounded(64)",
                    || crossbeam_channel::bounded(64),
                    shape,
                    cb_push,
                    cb_pop,
                ),
            ),
            (
                case(
                    "rallypoint Stack unbounded",
                    Stack::unbounded,
                    shape,
                    |q, v| q.push_blocking(v).unwrap(),
                    |q| q.pop_blocking().unwrap(),
                ),
                case(
                    "Mutex<Vec> + Condvar",
                    || CondvarStack {
                        items: Mutex::new(Vec::new()),
                        ready: Condvar::new(),
                    },
                    shape,
                    condvar_push,
                    condvar_pop,
                ),
            ),
            (
                case(
                    "rallypoint PriorityQueue unbounded",
                    PriorityQueue::unbounded,
                    shape,
                    |q, v| q.push_blocking(v).unwrap(),
                    |q| q.pop_blocking().unwrap(),
                ),
                case(
                    "rallypoint Queue unbounded",
                    Queue::unbounded,
                    shape,
                    q_push,
                    q_pop,
                ),
            ),
        ];
        for ((a_name, a), (b_name, b)) in pairs {
            let (mut ta, mut tb) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                let start = std::time::Instant::now();
                a();
                ta.push(start.elapsed().as_secs_f64() * 1e3);
                let start = std::time::Instant::now();
                b();
                tb.push(start.elapsed().as_secs_f64() * 1e3);
            }
            let (ma, mb) = (median(ta), median(tb));
            println!(
                "{workload}: {a_name}: {ma:.3} ms | {b_name}: {mb:.3} ms | ratio A/B = {:.2}",
                ma / mb
            );
        }
    }
}

criterion_group!(benches, storage, engine);

fn main() {
    if let Some(rounds) = std::env::var("QUEUE_STORAGE_PAIRED")
        .ok()
        .and_then(|r| r.parse().ok())
    {
        paired(rounds);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
