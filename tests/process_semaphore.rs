#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::Semaphore` across processes: the four forms, `try_`, bounds
//! and `close`; cancellation passing a grant on; mutual exclusion and
//! exactly-once permits between threads, tasks (every executor of the
//! harness) and child processes at once; strict FIFO order across
//! processes; an `acquire_many` not starved by a stream of small acquires
//! from another process; and waiters killed with SIGKILL — with a waiter
//! behind them, with nobody behind them, and at a random point of an
//! acquire/release loop — twenty times each; and a process killed inside
//! the internal mutex (its state left in the segment as it would be).

mod common;

use common::process::{ChildGuard, role, spawn_role, unique_name};
use common::*;
use rallypoint::process::{Event, Semaphore};
use rallypoint::{AcquireError, AcquireTimeoutError, Fairness, TryAcquireError};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

fn debug_count(shown: &str, field: &str) -> usize {
    let after = shown
        .split(&format!("{field}: "))
        .nth(1)
        .unwrap_or_else(|| panic!("{shown} has no {field}"));
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn waiters(sem: &Semaphore) -> usize {
    debug_count(&format!("{sem:?}"), "waiters")
}

/// A counter in a file, incremented non-atomically by whoever holds the
/// semaphore's only permit.
struct Counter(std::fs::File, String);

impl Counter {
    fn create(name: &str) -> Counter {
        let path = format!("/dev/shm/{name}-counter");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .unwrap();
        file.write_all_at(&0u64.to_ne_bytes(), 0).unwrap();
        Counter(file, path)
    }

    fn open(name: &str) -> Counter {
        let path = format!("/dev/shm/{name}-counter");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        Counter(file, String::new())
    }

    fn get(&self) -> u64 {
        let mut buf = [0u8; 8];
        self.0.read_exact_at(&mut buf, 0).unwrap();
        u64::from_ne_bytes(buf)
    }

    /// Read, yield, write: loses updates unless the caller is alone.
    fn bump(&self) {
        let v = self.get();
        std::thread::yield_now();
        self.0.write_all_at(&(v + 1).to_ne_bytes(), 0).unwrap();
    }
}

impl Drop for Counter {
    fn drop(&mut self) {
        if !self.1.is_empty() {
            let _ = std::fs::remove_file(&self.1);
        }
    }
}

const BUMPS: u64 = 200;

fn run_role(role: &str, arg: &str) {
    match role {
        // Bump the counter BUMPS times holding the only permit.
        "bump" | "bump-async" => {
            let sem = Semaphore::open(arg).unwrap();
            let counter = Counter::open(arg);
            for _ in 0..BUMPS {
                let permit = if role == "bump" {
                    sem.acquire_timeout_blocking(LONG)
                } else {
                    smol::block_on(sem.acquire_timeout(LONG))
                };
                let _permit = permit.expect("the permit never came");
                counter.bump();
            }
        }
        // Wait for a permit, say so, and hold it until killed.
        "wait-hold" => {
            let (name, tag) = arg.split_once(' ').unwrap();
            let sem = Semaphore::open(name).unwrap();
            let permit = sem.acquire_timeout_blocking(LONG).expect("a permit");
            Event::open(&format!("{name}-got-{tag}")).unwrap().set();
            std::mem::forget(permit);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        // Wait (async) for a permit of a semaphore that gets closed.
        "wait-closed" => {
            let sem = Semaphore::open(arg).unwrap();
            let got = smol::block_on(sem.acquire_timeout(LONG));
            assert_eq!(got.unwrap_err(), AcquireTimeoutError::Closed);
        }
        // Acquire and release one permit as fast as possible until killed,
        // in every form.
        "churn" => {
            let sem = Semaphore::open(arg).unwrap();
            Event::open(&format!("{arg}-ready")).unwrap().set();
            for i in 0u64.. {
                let permit = match i % 3 {
                    0 => sem.acquire_timeout_blocking(LONG).ok(),
                    1 => smol::block_on(sem.acquire_timeout(LONG)).ok(),
                    _ => sem.try_acquire().ok(),
                };
                drop(permit);
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn four_forms_try_and_errors() {
    each_runtime(|_rt| async move {
        let sem = Semaphore::anonymous(1).unwrap();
        assert!(!sem.is_bounded());
        assert_eq!(sem.fairness(), Fairness::default());
        let permit = sem.acquire().await.unwrap();
        assert_eq!(permit.num_permits(), 1);
        assert_eq!(sem.available_permits(), 0);
        assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
        assert_eq!(
            sem.acquire_timeout(Duration::from_millis(20))
                .await
                .unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        assert_eq!(
            sem.acquire_timeout_blocking(Duration::from_millis(20))
                .unwrap_err(),
            AcquireTimeoutError::Timeout
        );
        assert!(sem.acquire_timeout_blocking(Duration::ZERO).is_err());
        assert_eq!(waiters(&sem), 0, "timed-out waiters leave no record");
        drop(permit);
        assert_eq!(sem.available_permits(), 1);
        drop(sem.acquire_blocking().unwrap());
        drop(sem.try_acquire().unwrap());
        drop(sem.acquire_timeout(Duration::ZERO).await.unwrap());
        assert_eq!(sem.acquire_many(0).await.unwrap().num_permits(), 0);
        sem.release(4).unwrap();
        let five = sem.acquire_many_blocking(5).unwrap();
        five.forget();
        assert_eq!(sem.available_permits(), 0);
        assert!(sem.release(Semaphore::MAX_PERMITS + 1).is_err());
        assert_eq!(
            sem.acquire_many(Semaphore::MAX_PERMITS + 1)
                .await
                .unwrap_err(),
            AcquireError::ExceedsBound
        );

        let bounded = Semaphore::builder(2).bounded().anonymous().unwrap();
        assert!(bounded.is_bounded());
        assert!(bounded.release(1).is_err(), "a bounded semaphore is full");
        assert_eq!(
            bounded.acquire_many_blocking(3).unwrap_err(),
            AcquireError::ExceedsBound
        );
        let two = bounded.try_acquire_many(2).unwrap();
        assert!(format!("{bounded:?}").contains("value: 0/2"), "{bounded:?}");
        drop(two);
        bounded.close();
        assert!(bounded.is_closed());
        assert_eq!(bounded.acquire().await.unwrap_err(), AcquireError::Closed);
        assert_eq!(bounded.try_acquire().unwrap_err(), TryAcquireError::Closed);
        assert!(bounded.release(0).is_ok());
    });
}

#[test]
fn named_create_open_and_refusals() {
    let name = unique_name("sem-named");
    let sem = Semaphore::create(&name, 3).unwrap();
    assert_eq!(
        Semaphore::create(&name, 3).unwrap_err().kind(),
        std::io::ErrorKind::AlreadyExists
    );
    let peer = Semaphore::open(&name).unwrap();
    assert_eq!(peer.available_permits(), 3);
    assert_eq!(peer.name(), Some(name.as_str()));
    let err = rallypoint::process::Lock::open(&name).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    let err = Semaphore::create(&unique_name("sem-big"), Semaphore::MAX_PERMITS + 1).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let from_fd = Semaphore::from_fd(sem.as_fd_owned().unwrap()).unwrap();
    drop(from_fd.try_acquire().unwrap());
    drop(sem);
    assert_eq!(
        Semaphore::open(&name).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
}

// A strict semaphore hands the released permit to the oldest waiter; a
// waiter dropped after being granted passes the permit to the next.
#[test]
fn cancelled_grant_passes_on() {
    let sem = Semaphore::builder(0)
        .fairness(Fairness::Strict)
        .anonymous()
        .unwrap();
    let mut first = sem.acquire();
    assert!(poll_once(&mut first).is_pending());
    let (waker, flag) = flag_waker();
    let mut second = sem.acquire();
    assert!(poll_with(&mut second, &waker).is_pending());
    assert_eq!(waiters(&sem), 2);
    sem.release(1).unwrap();
    assert_eq!(sem.available_permits(), 0, "granted to the first");
    assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
    drop(first);
    wait_until("the second is woken", || flag.take());
    let permit = match poll_with(&mut second, &waker) {
        std::task::Poll::Ready(p) => p.unwrap(),
        std::task::Poll::Pending => panic!("the grant did not pass on: {sem:?}"),
    };
    assert_eq!(waiters(&sem), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
}

// More waiters than the table has records (128): the extra ones wait for
// a free record, and every waiter gets its permit in the end.
#[test]
fn more_waiters_than_records() {
    const N: usize = 140;
    let sem = Semaphore::anonymous(0).unwrap();
    let (waker, _flag) = flag_waker();
    let mut pending: Vec<_> = (0..N).map(|_| sem.acquire()).collect();
    for p in &mut pending {
        assert!(poll_with(p, &waker).is_pending());
    }
    assert_eq!(waiters(&sem), 128, "every record taken: {sem:?}");
    let mut done = 0;
    let mut rounds = 0;
    while done < N {
        rounds += 1;
        assert!(rounds < 10_000, "{done} of {N} served: {sem:?}");
        sem.release(1).unwrap();
        let mut i = 0;
        while i < pending.len() {
            match poll_with(&mut pending[i], &waker) {
                std::task::Poll::Ready(permit) => {
                    permit.unwrap().forget();
                    drop(pending.swap_remove(i));
                    done += 1;
                }
                std::task::Poll::Pending => i += 1,
            }
        }
    }
    assert_eq!(waiters(&sem), 0);
    assert_eq!(sem.available_permits(), 0);
}

// Eventual fairness lets a running caller take a released permit ahead of
// a waiter that has not waited past the bound (and the waiter still gets
// the next one); strict fairness never does.
#[test]
fn barging_only_when_eventual() {
    for fairness in [
        Fairness::Eventual(Duration::from_secs(60)),
        Fairness::Strict,
    ] {
        let sem = Semaphore::builder(0)
            .fairness(fairness)
            .anonymous()
            .unwrap();
        let (waker, flag) = flag_waker();
        let mut waiting = sem.acquire();
        assert!(poll_with(&mut waiting, &waker).is_pending());
        sem.release(1).unwrap();
        if fairness.is_strict() {
            assert_eq!(sem.try_acquire().unwrap_err(), TryAcquireError::NoPermits);
            assert!(
                poll_with(&mut waiting, &waker).is_ready(),
                "handed to the waiter"
            );
        } else {
            wait_until("the waiter is woken to try", || flag.take());
            sem.try_acquire()
                .expect("a running caller may barge")
                .forget();
            assert!(poll_with(&mut waiting, &waker).is_pending(), "passed over");
            sem.release(1).unwrap();
            wait_until("woken again", || flag.take());
            assert!(poll_with(&mut waiting, &waker).is_ready());
        }
        assert_eq!(waiters(&sem), 0);
    }
}

// Past the fairness bound the semaphore hands permits to the waiter, and
// a running caller can no longer take them.
#[test]
fn no_barging_past_the_bound() {
    let sem = Semaphore::builder(0)
        .fairness(Fairness::Eventual(Duration::from_millis(1)))
        .anonymous()
        .unwrap();
    let (waker, _flag) = flag_waker();
    let mut waiting = sem.acquire_many(2);
    assert!(poll_with(&mut waiting, &waker).is_pending());
    std::thread::sleep(Duration::from_millis(5));
    sem.release(1).unwrap();
    assert_eq!(
        sem.try_acquire().unwrap_err(),
        TryAcquireError::NoPermits,
        "the waiter is past the bound: {sem:?}"
    );
    sem.release(1).unwrap();
    assert!(poll_with(&mut waiting, &waker).is_ready());
}

// One permit as a mutex across every world at once: tasks and threads
// here, and two child processes (one blocking, one async), all bumping one
// counter non-atomically while holding it. Nothing lost, nothing doubled.
#[test]
fn exactly_one_holder_everywhere() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        const N: usize = 4;
        let name = unique_name("sem-mutex");
        let sem = Arc::new(Semaphore::create(&name, 1).unwrap());
        let counter = Arc::new(Counter::create(&name));
        let children = [
            spawn_role("exactly_one_holder_everywhere", "bump", &name),
            spawn_role("exactly_one_holder_everywhere", "bump-async", &name),
        ];
        let tasks = {
            let (sem, counter) = (sem.clone(), counter.clone());
            bunch(&rt, World::Mixed, N, move |_, blocking| {
                let (sem, counter) = (sem.clone(), counter.clone());
                async move {
                    for _ in 0..BUMPS {
                        let _permit = if blocking {
                            sem.acquire_timeout_blocking(LONG)
                        } else {
                            sem.acquire_timeout(LONG).await
                        }
                        .expect("the permit never came");
                        counter.bump();
                    }
                }
            })
        };
        join_all(tasks).await;
        for child in children {
            child.expect_success();
        }
        assert_eq!(counter.get(), BUMPS * (N as u64 + 2));
        assert_eq!(sem.available_permits(), 1);
        assert_eq!(waiters(&sem), 0);
    });
}

/// Starts a child that waits on `name` and holds what it gets; returns it
/// with the event it sets once it has the permit.
fn child_waiting(test: &str, name: &str, tag: usize) -> (ChildGuard, Event) {
    let got = Event::create(&format!("{name}-got-{tag}")).unwrap();
    let child = spawn_role(test, "wait-hold", &format!("{name} {tag}"));
    (child, got)
}

// Waiters of three processes, queued in a known order, are served in that
// order by a strict semaphore, one release at a time.
#[test]
fn strict_fifo_across_processes() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let name = unique_name("sem-fifo");
        let sem = Semaphore::builder(0)
            .fairness(Fairness::Strict)
            .create(&name)
            .unwrap();
        let mut children = Vec::new();
        for tag in 0..3 {
            children.push(child_waiting("strict_fifo_across_processes", &name, tag));
            wait_until("the child queues", || waiters(&sem) == tag + 1);
        }
        for tag in 0..3 {
            sem.release(1).unwrap();
            assert!(
                children[tag].1.wait_timeout_blocking(LONG),
                "child {tag} served"
            );
            for (later, (_, got)) in children.iter().enumerate().skip(tag + 1) {
                assert!(!got.is_set(), "child {later} served before child {tag}");
            }
        }
        assert_eq!(waiters(&sem), 0);
    });
}

// A child takes and gives back single permits as fast as it can; an
// `acquire_many(2)` here still gets both permits (the fairness bound turns
// barging off for it), in every form.
#[test]
fn acquire_many_not_starved_by_another_process() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|_rt| async move {
        let name = unique_name("sem-starve");
        let sem = Semaphore::create(&name, 2).unwrap();
        let ready = Event::create(&format!("{name}-ready")).unwrap();
        let churners = [
            spawn_role(
                "acquire_many_not_starved_by_another_process",
                "churn",
                &name,
            ),
            spawn_role(
                "acquire_many_not_starved_by_another_process",
                "churn",
                &name,
            ),
        ];
        assert!(ready.wait_timeout_blocking(LONG));
        for round in 0..10 {
            let two = if round % 2 == 0 {
                sem.acquire_many_timeout(2, LONG).await
            } else {
                sem.acquire_many_timeout_blocking(2, LONG)
            };
            let two = two.unwrap_or_else(|e| panic!("round {round}: starved: {e} {sem:?}"));
            assert_eq!(two.num_permits(), 2);
        }
        drop(churners);
    });
}

// `close` in one process fails a waiter in another.
#[test]
fn close_fails_waiters_in_other_processes() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let name = unique_name("sem-close");
        let sem = Semaphore::create(&name, 0).unwrap();
        let child = spawn_role(
            "close_fails_waiters_in_other_processes",
            "wait-closed",
            &name,
        );
        wait_until("the child waits", || waiters(&sem) == 1);
        sem.close();
        child.expect_success();
        assert_eq!(waiters(&sem), 0);
    });
}

// A waiter is killed with a thread and a task of ours queued behind it:
// our reaper hears of it, its record is reclaimed, and the permits
// released afterwards reach us (a strict semaphore would otherwise hand
// them to the dead front). Twenty times.
#[test]
fn killed_waiter_with_waiters_behind() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        for round in 0..20 {
            let name = unique_name("sem-killed");
            let sem = Arc::new(
                Semaphore::builder(0)
                    .fairness(Fairness::Strict)
                    .create(&name)
                    .unwrap(),
            );
            let (child, got) = child_waiting("killed_waiter_with_waiters_behind", &name, 0);
            wait_until_async(&rt, "the child queues", || waiters(&sem) == 1).await;
            const N: usize = 2;
            let tasks = {
                let sem = sem.clone();
                bunch(&rt, World::Mixed, N, move |_, blocking| {
                    let sem = sem.clone();
                    async move {
                        let permit = if blocking {
                            sem.acquire_timeout_blocking(LONG)
                        } else {
                            sem.acquire_timeout(LONG).await
                        };
                        permit.expect("the dead waiter kept the permit").forget();
                    }
                })
            };
            wait_until_async(&rt, "all queue", || waiters(&sem) == N + 1).await;
            child.kill();
            wait_until_async(&rt, "the dead record is reaped", || waiters(&sem) == N).await;
            sem.release(N).unwrap();
            join_all(tasks).await;
            assert!(!got.is_set(), "round {round}: the child was never served");
            assert_eq!(waiters(&sem), 0);
            assert_eq!(sem.available_permits(), 0);
        }
    });
}

// A waiter is killed with nobody behind it; the permit released next is
// granted to its dead record. The next acquire that has to wait reaps the
// record and gets the permit. Twenty times.
#[test]
fn killed_waiter_nobody_behind() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|_rt| async move {
        for round in 0..20 {
            let name = unique_name("sem-alone");
            let sem = Semaphore::builder(0)
                .fairness(Fairness::Strict)
                .create(&name)
                .unwrap();
            let (child, _got) = child_waiting("killed_waiter_nobody_behind", &name, 0);
            wait_until("the child queues", || waiters(&sem) == 1);
            child.kill();
            sem.release(1).unwrap();
            let permit = if round % 2 == 0 {
                sem.acquire_timeout(LONG).await
            } else {
                sem.acquire_timeout_blocking(LONG)
            };
            let permit = permit.unwrap_or_else(|e| panic!("round {round}: {e}: {sem:?}"));
            assert_eq!(waiters(&sem), 0);
            drop(permit);
        }
    });
}

// A child acquires and releases in every form and is killed at a random
// point (waiting, holding the permit, or inside the semaphore's internal
// critical section). Afterwards the semaphore works: one release makes up
// for a permit the child may have died holding, a wait past it reaps any
// record it left, and nothing stays queued. Twenty times.
#[test]
fn killed_at_a_random_point() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for round in 0..20u64 {
            let name = unique_name("sem-random");
            let fairness = if round % 2 == 0 {
                Fairness::Strict
            } else {
                Fairness::default()
            };
            let sem = Semaphore::builder(1)
                .fairness(fairness)
                .create(&name)
                .unwrap();
            let ready = Event::create(&format!("{name}-ready")).unwrap();
            let child = spawn_role("killed_at_a_random_point", "churn", &name);
            assert!(ready.wait_timeout_blocking(LONG));
            let pause = Duration::from_micros((round * 7919) % 3000);
            let until = std::time::Instant::now() + pause;
            while std::time::Instant::now() < until {
                drop(sem.acquire_timeout_blocking(Duration::from_micros(200)));
            }
            child.kill();
            let before = sem.available_permits();
            sem.release(1).unwrap();
            let permit = sem
                .acquire_timeout_blocking(LONG)
                .unwrap_or_else(|e| panic!("round {round}: wedged ({e}): {sem:?}"));
            let left = sem.available_permits();
            // A wait that cannot be met with what is available queues
            // behind whatever the child left, and reaps it: it times out,
            // or succeeds with a permit the dead child had been granted.
            match sem.acquire_many_timeout_blocking(left + 1, Duration::from_millis(20)) {
                Ok(_) | Err(AcquireTimeoutError::Timeout) => {}
                Err(e) => panic!("round {round}: {e}"),
            }
            assert_eq!(waiters(&sem), 0, "round {round}: {sem:?}");
            drop(permit);
            assert!(
                sem.available_permits() >= 1 && sem.available_permits() <= before + 2,
                "round {round}: {sem:?}"
            );
        }
    });
}

// The `Arc` forms: futures and permits that own the handle, moved into
// spawned tasks and threads, each holding a permit while another waits.
#[test]
fn arc_forms() {
    each_runtime(|rt| async move {
        let sem = Arc::new(Semaphore::anonymous(1).unwrap());
        let held = sem.acquire_arc().await.unwrap();
        let waiting = rt.spawn(sem.acquire_many_arc_timeout(1, LONG));
        let blocked = {
            let sem = sem.clone();
            rt.thread(move || {
                sem.acquire_arc_timeout_blocking(LONG)
                    .map(|p| p.num_permits())
            })
        };
        wait_until_async(&rt, "both wait", || waiters(&sem) == 2).await;
        drop(held);
        let permit = waiting.await.expect("the task's permit");
        drop(permit);
        assert_eq!(blocked.await, Ok(1));
        assert!(sem.try_acquire_arc().is_ok());
        assert_eq!(
            sem.try_acquire_many_arc(2).unwrap_err(),
            TryAcquireError::NoPermits
        );
        assert_eq!(sem.acquire_many_arc_blocking(1).unwrap().num_permits(), 1);
        drop(sem.acquire_arc_timeout(Duration::ZERO).await.unwrap());
        drop(sem.acquire_many_arc(1).await.unwrap());
        drop(sem.acquire_arc_blocking().unwrap());
        assert_eq!(sem.available_permits(), 1);
    });
}

/// Writes `bytes` at `offset` of segment `name`, as a process that was
/// killed half-way through a change would have left them.
fn poke(name: &str, offset: u64, bytes: &[u8]) {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm/{name}"))
        .unwrap();
    file.write_all_at(bytes, offset).unwrap();
}

// Where the state word and the internal mutex word are (the body starts
// after the 128-byte header; see src/process/semaphore/raw.rs).
const STATE: u64 = 128;
const MUTEX: u64 = 128 + 40;
/// A token of a roster slot nobody holds: a dead process's.
const DEAD_TOKEN: u32 = (77 << 8) | 6;

// A process killed inside the internal mutex, half-way through a grant:
// it had taken the waiter's permit from the count and journaled the grant
// (GRANTING = record 1), but not yet marked the record. The next process
// to enter takes the mutex over from the dead token, completes the grant
// from the journal, and the waiter gets that permit — not the one
// released afterwards, which stays available.
#[test]
fn killed_inside_the_mutex_mid_grant() {
    let name = unique_name("sem-journal");
    let sem = Semaphore::builder(0)
        .fairness(Fairness::Strict)
        .create(&name)
        .unwrap();
    let (waker, _flag) = flag_waker();
    let mut waiting = sem.acquire();
    assert!(poll_with(&mut waiting, &waker).is_pending());
    const QUEUED_HANDOFF: u64 = (1 << 34) | (1 << 32);
    let granting: u64 = 1 << 40; // record index 0, plus one
    poke(&name, STATE, &(QUEUED_HANDOFF | granting).to_ne_bytes());
    poke(&name, MUTEX, &DEAD_TOKEN.to_ne_bytes());
    sem.release(1).unwrap();
    let permit = match poll_with(&mut waiting, &waker) {
        std::task::Poll::Ready(p) => p.unwrap(),
        std::task::Poll::Pending => panic!("the journaled grant was lost: {sem:?}"),
    };
    assert_eq!(sem.available_permits(), 1, "granted twice: {sem:?}");
    assert_eq!(waiters(&sem), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 2);
}

// A process killed inside the mutex between two changes (the waiter's
// record is published, nothing else half-done): the next process takes
// the mutex over and everything goes on, in every form.
#[test]
fn killed_inside_the_mutex_is_taken_over() {
    each_runtime(|_rt| async move {
        let name = unique_name("sem-takeover");
        let sem = Semaphore::create(&name, 1).unwrap();
        poke(&name, MUTEX, &DEAD_TOKEN.to_ne_bytes());
        // The fast paths never touch the mutex.
        drop(sem.try_acquire().unwrap());
        let held = sem.acquire().await.unwrap();
        // A wait must enter: it takes the dead holder's mutex over.
        assert!(
            sem.acquire_timeout(Duration::from_millis(10))
                .await
                .is_err()
        );
        poke(&name, MUTEX, &DEAD_TOKEN.to_ne_bytes());
        assert!(
            sem.acquire_timeout_blocking(Duration::from_millis(10))
                .is_err()
        );
        drop(held);
        poke(&name, MUTEX, &DEAD_TOKEN.to_ne_bytes());
        sem.close();
        assert!(sem.is_closed());
        assert_eq!(waiters(&sem), 0);
    });
}

#[test]
fn send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Semaphore>();
    send_sync::<rallypoint::process::SemaphorePermit<'static>>();
    let sem = Semaphore::anonymous(1).unwrap();
    send(&sem.acquire());
    send(&sem.acquire_timeout(LONG));
    send_sync::<rallypoint::process::SemaphorePermitArc>();
    let sem = Arc::new(sem);
    fn send_static<T: Send + 'static>(_: &T) {}
    send_static(&sem.acquire_arc());
    send_static(&sem.acquire_arc_timeout(LONG));
}
