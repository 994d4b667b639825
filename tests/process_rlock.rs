#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::RLock` across processes: reentrancy by the holding thread,
//! exclusion of other threads (of the same handle too) and of other
//! processes; mutual exclusion with nested acquires between threads and
//! child processes at once; and a holder killed with SIGKILL at depth 2 —
//! with a waiter asleep, and with nobody waiting — which the next locker
//! learns as `OwnerDied`, twenty times each.

mod common;

use common::process::{role, spawn_role, unique_name};
use common::*;
use rallypoint::process::{Event, RLock};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::Arc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);

/// A counter in a file, incremented non-atomically under the lock.
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

    /// Read, yield, write: loses updates unless the caller holds the lock.
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

/// Bumps the counter BUMPS times, each under a nested (depth 2) acquire.
fn bump_nested(lock: &RLock, counter: &Counter) {
    for _ in 0..BUMPS {
        let _outer = lock
            .acquire_timeout_blocking(LONG)
            .expect("timed out")
            .expect("alive");
        let _inner = lock.acquire_blocking().expect("reentrant");
        assert_eq!(lock.depth(), 2);
        counter.bump();
    }
}

fn run_role(role: &str, arg: &str) {
    match role {
        "bump" => {
            let lock = RLock::open(arg).unwrap();
            bump_nested(&lock, &Counter::open(arg));
        }
        // Take the lock twice, say so, and hold it until killed.
        "hold" => {
            let lock = RLock::open(arg).unwrap();
            let _a = lock.acquire_timeout_blocking(LONG).unwrap();
            let _b = lock.acquire_timeout_blocking(LONG).unwrap();
            Event::open(&format!("{arg}-held")).unwrap().set();
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn reentrant_for_its_thread_only() {
    let lock = RLock::anonymous().unwrap();
    assert_eq!(lock.depth(), 0);
    let a = lock.acquire_blocking().unwrap();
    let b = lock.try_acquire().unwrap().unwrap();
    let c = lock
        .acquire_timeout_blocking(Duration::ZERO)
        .unwrap()
        .unwrap();
    assert_eq!(lock.depth(), 3);
    assert!(
        format!("{lock:?}").contains("locked by this thread"),
        "{lock:?}"
    );
    std::thread::scope(|s| {
        s.spawn(|| {
            // The same handle, another thread: excluded.
            assert_eq!(lock.depth(), 0);
            assert!(lock.try_acquire().is_none());
            assert!(
                lock.acquire_timeout_blocking(Duration::from_millis(20))
                    .is_none()
            );
            assert!(
                format!("{lock:?}").contains("another thread of this handle"),
                "{lock:?}"
            );
        });
    });
    // Released in any order; free once the last guard is gone.
    drop(b);
    drop(a);
    assert!(lock.is_locked());
    assert_eq!(lock.depth(), 1);
    drop(c);
    assert!(!lock.is_locked());
    std::thread::scope(|s| {
        s.spawn(|| drop(lock.try_acquire().unwrap().unwrap()));
    });
    // A waiting thread gets it when the holder lets go of its last guard.
    let held = lock.acquire_blocking().unwrap();
    let again = lock.acquire_blocking().unwrap();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            let _guard = lock.acquire_timeout_blocking(LONG).unwrap().unwrap();
            lock.depth()
        });
        wait_until("the thread waits", || {
            format!("{lock:?}").contains("waiters: 1")
        });
        drop(again);
        std::thread::sleep(Duration::from_millis(5));
        assert!(!waiter.is_finished(), "released at depth 1");
        drop(held);
        assert_eq!(waiter.join().unwrap(), 1);
    });
}

// Mutual exclusion with nested acquires: threads here and two child
// processes bump one counter non-atomically.
#[test]
fn exclusive_across_threads_and_processes() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        const THREADS: u64 = 3;
        let name = unique_name("rlock");
        let lock = Arc::new(RLock::create(&name).unwrap());
        let counter = Arc::new(Counter::create(&name));
        let children = [
            spawn_role("exclusive_across_threads_and_processes", "bump", &name),
            spawn_role("exclusive_across_threads_and_processes", "bump", &name),
        ];
        let threads: Vec<_> = (0..THREADS)
            .map(|_| {
                let (lock, counter) = (lock.clone(), counter.clone());
                std::thread::spawn(move || bump_nested(&lock, &counter))
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for child in children {
            child.expect_success();
        }
        assert_eq!(counter.get(), BUMPS * (THREADS + 2));
        assert!(!lock.is_locked());
    });
}

// The holder is killed at depth 2 while a thread sleeps on the lock: the
// thread gets `OwnerDied` with a guard of depth 1. Twenty times.
#[test]
fn killed_holder_with_a_sleeper() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for round in 0..20 {
            let name = unique_name("rlock-killed");
            let lock = Arc::new(RLock::create(&name).unwrap());
            let held = Event::create(&format!("{name}-held")).unwrap();
            let child = spawn_role("killed_holder_with_a_sleeper", "hold", &name);
            assert!(held.wait_timeout_blocking(LONG));
            let waiter = {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    let got = lock.acquire_timeout_blocking(LONG).expect("never woken");
                    let died = got.is_err();
                    (died, lock.depth())
                })
            };
            wait_until("the thread waits", || {
                format!("{lock:?}").contains("waiters: 1")
            });
            child.kill();
            assert_eq!(waiter.join().unwrap(), (true, 1), "round {round}");
            assert!(!lock.is_locked());
        }
    });
}

// Nobody waits when the holder dies: the next locker finds out. Twenty
// times.
#[test]
fn killed_holder_found_by_next_locker() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for round in 0..20 {
            let name = unique_name("rlock-found");
            let lock = RLock::create(&name).unwrap();
            let held = Event::create(&format!("{name}-held")).unwrap();
            let child = spawn_role("killed_holder_found_by_next_locker", "hold", &name);
            assert!(held.wait_timeout_blocking(LONG));
            assert!(lock.try_acquire().is_none(), "held by a live child");
            child.kill();
            let got = if round % 2 == 0 {
                lock.try_acquire().expect("the holder is dead")
            } else {
                lock.acquire_blocking()
            };
            let guard = got.expect_err("OwnerDied").into_guard();
            assert_eq!(lock.depth(), 1);
            drop(guard);
            assert!(lock.try_acquire().unwrap().is_ok(), "round {round}: clean");
        }
    });
}

#[test]
fn send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RLock>();
}
