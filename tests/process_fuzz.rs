#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! Fuzzed segments (SPEC §8 "Bad input"): random bytes in a segment file,
//! and valid segments with random bytes flipped, in the header and in the
//! state words. `open` must return a handle or `InvalidData` — never
//! panic, fault or hang — and a handle that opened must work (every value
//! of the state words is some state).
//!
//! Events, Locks, RLocks, Conditions, Barriers, Semaphores and Queues. 10 000 cases per property by default (`PROPTEST_CASES` overrides).

mod common;

use common::process::unique_name;
use proptest::prelude::*;
use rallypoint::BrokenReason;
use rallypoint::process::{Barrier, Condition, Event, Lock, Queue, RLock, Semaphore};
use std::io::ErrorKind;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::time::Duration;

/// One segment file, rewritten for every case.
struct Scratch {
    name: String,
    file: std::fs::File,
}

impl Scratch {
    fn new() -> Scratch {
        let name = unique_name("fuzz");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(format!("/dev/shm/{name}"))
            .unwrap();
        Scratch { name, file }
    }

    fn holds(&self, bytes: &[u8]) {
        self.file.set_len(0).unwrap();
        self.file.write_all_at(bytes, 0).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(format!("/dev/shm/{}", self.name));
    }
}

fn valid_event_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-template");
    let _event = Event::create(&name).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment and, if it opened, uses it.
fn open_and_use(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Event::open(&scratch.name) {
        Ok(event) => {
            let _ = format!("{event:?}");
            let was = event.is_set();
            event.clear();
            prop_assert!(!event.wait_timeout_blocking(Duration::ZERO));
            event.set();
            prop_assert!(event.wait_timeout_blocking(Duration::ZERO));
            prop_assert!(event.is_set());
            let _ = was;
            Ok(())
        }
        Err(e) => {
            prop_assert_eq!(e.kind(), ErrorKind::InvalidData, "{}", e);
            Ok(())
        }
    }
}

fn valid_lock_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-lock-template");
    let _lock = Lock::create(&name).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as a lock and, if it opened, uses it: any
/// state words are some state (a garbage holder is a dead one).
fn open_and_lock(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Lock::open(&scratch.name) {
        Ok(lock) => {
            let _ = format!("{lock:?}");
            // Held by a garbage token (dead) or free: either way ours now,
            // unless a flip made a slot look like a live process's claim.
            if let Some(guard) = lock.try_acquire() {
                drop(guard);
                prop_assert!(lock.acquire_timeout_blocking(Duration::ZERO).is_some());
            }
            Ok(())
        }
        Err(e) => {
            // InvalidData, or every slot looks claimed by a live process.
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

fn valid_barrier_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-barrier-template");
    let _barrier = Barrier::create(&name, 2).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as a barrier and, if it opened, uses it: any
/// state word (count, reason, how the previous generation ended) and any
/// history is some state, and a failed wait's reason agrees with it; a
/// reset always leaves a working barrier.
fn open_and_meet(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Barrier::open(&scratch.name) {
        Ok(barrier) => {
            let _ = format!("{barrier:?}");
            let was_broken = barrier.is_broken();
            match barrier.wait_timeout_blocking(Duration::ZERO) {
                Ok(out) => prop_assert!(!was_broken && out.is_leader(), "{:?}", out),
                Err(e) => {
                    let told = e.reason();
                    // Broken before: for one of the word's reasons. Else
                    // our zero timeout broke it, or our trip found a party
                    // (a garbage mark) dead.
                    let expected: &[BrokenReason] = if was_broken {
                        &[
                            BrokenReason::Aborted,
                            BrokenReason::PartyTimedOut,
                            BrokenReason::PartyDied,
                        ]
                    } else {
                        &[BrokenReason::TimedOut, BrokenReason::PartyDied]
                    };
                    prop_assert!(
                        expected.contains(&told),
                        "{:?}, was broken: {}",
                        told,
                        was_broken
                    );
                    prop_assert!(barrier.is_broken());
                    // Later waits are told the same, as the others see it.
                    let again = barrier.wait_timeout_blocking(Duration::ZERO);
                    let others = if told == BrokenReason::TimedOut {
                        BrokenReason::PartyTimedOut
                    } else {
                        told
                    };
                    prop_assert_eq!(again.map(|_| ()), Err(others.into()));
                }
            }
            barrier.reset();
            prop_assert!(!barrier.is_broken());
            prop_assert_eq!(barrier.n_waiting(), 0);
            let other = Barrier::open(&scratch.name);
            if let Ok(other) = other {
                let (a, b) = std::thread::scope(|s| {
                    let a = s.spawn(|| barrier.wait_timeout_blocking(Duration::from_secs(10)));
                    let b = other.wait_timeout_blocking(Duration::from_secs(10));
                    (a.join().unwrap(), b)
                });
                // Broken only if a garbage mark named a dead party.
                match (a, b) {
                    (Ok(a), Ok(b)) => prop_assert!(a.is_leader() != b.is_leader()),
                    (Err(a), Err(b)) => {
                        prop_assert_eq!(a.reason(), BrokenReason::PartyDied);
                        prop_assert_eq!(b.reason(), BrokenReason::PartyDied);
                    }
                    (a, b) => prop_assert!(false, "one passed, one failed: {:?} {:?}", a, b),
                }
            }
            Ok(())
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

fn valid_rlock_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-rlock-template");
    let _lock = RLock::create(&name).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as an RLock and, if it opened, uses it:
/// whatever the owner word, thread and depth held, a lock taken (free, or
/// from a dead token) is held at depth 1 by this thread, reentrant, and
/// free again once its guards are gone.
fn open_and_relock(scratch: &Scratch) -> Result<(), TestCaseError> {
    match RLock::open(&scratch.name) {
        Ok(lock) => {
            let _ = format!("{lock:?}");
            if let Some(outer) = lock.try_acquire() {
                let outer = outer.unwrap_or_else(|died| died.into_guard());
                prop_assert_eq!(lock.depth(), 1);
                let inner = lock.acquire_timeout_blocking(Duration::ZERO);
                prop_assert!(inner.is_some());
                prop_assert_eq!(lock.depth(), 2);
                drop(inner);
                drop(outer);
                prop_assert!(!lock.is_locked());
            }
            Ok(())
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

fn valid_semaphore_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-semaphore-template");
    let _sem = Semaphore::create(&name, 2).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as a semaphore and, if it opened, uses it:
/// whatever the state words and waiter records held, every form returns
/// (no hang), and a wait that timed out leaves no record of ours.
fn open_and_acquire(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Semaphore::open(&scratch.name) {
        Ok(sem) => {
            let _ = format!("{sem:?}");
            drop(sem.try_acquire());
            drop(sem.acquire_timeout_blocking(Duration::ZERO));
            let _ = sem.release(1);
            drop(sem.acquire_many_timeout_blocking(2, Duration::from_micros(100)));
            let _ = sem.available_permits();
            sem.close();
            prop_assert!(sem.acquire_blocking().is_err());
            Ok(())
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

/// A queue of 4 strings of up to 24 bytes, holding three items, one of
/// them popped (so every slot state is there: full, empty, released).
fn valid_queue_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-queue-template");
    let q = Queue::<String>::builder(4)
        .item_size_limit(24)
        .create(&name)
        .unwrap();
    for item in ["one", "two", "three"] {
        q.try_push(item.to_string()).unwrap();
    }
    q.try_pop().unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as a queue and, if it opened, uses it: every
/// form returns (no hang, no panic), whatever the ring's words held; a pop
/// hands back an item or an error; `Debug` shows a snapshot.
fn open_and_pop(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Queue::<String>::open(&scratch.name) {
        Ok(q) => {
            let _ = format!("{q:?}");
            let _ = (q.len(), q.is_full(), q.unfinished_tasks());
            for _ in 0..6 {
                let _ = q.try_pop();
            }
            let _ = q.try_push("x".to_string());
            let _ = q.pop_timeout_blocking(Duration::from_micros(100));
            let _ = q.push_timeout_blocking("y".to_string(), Duration::from_micros(100));
            let _ = q.task_done();
            let _ = q.join_timeout_blocking(Duration::ZERO);
            q.close();
            prop_assert!(q.try_push("z".to_string()).is_err());
            for _ in 0..6 {
                let _ = q.try_pop();
            }
            Ok(())
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

/// A condition with a waiter record that timed out and one still in use.
fn valid_condition_bytes() -> Vec<u8> {
    let name = unique_name("fuzz-condition-template");
    let cond = Condition::create(&name).unwrap();
    let guard = cond.lock_blocking().unwrap();
    let _ = cond.wait_timeout_blocking(guard, Duration::ZERO);
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

/// Opens the scratch segment as a condition and, if it opened, uses it:
/// notifies count only live waiters (none here), waits time out, the lock
/// works (or reports its dead holder), nothing hangs.
fn open_and_notify(scratch: &Scratch) -> Result<(), TestCaseError> {
    match Condition::open(&scratch.name) {
        Ok(cond) => {
            let _ = format!("{cond:?}");
            // Scribbled records of dead (or no) owners are reclaimed, not
            // counted; after one pass nothing is left waiting.
            let _ = cond.notify_all();
            prop_assert_eq!(cond.notify_all(), 0);
            if let Some(guard) = cond.lock_timeout_blocking(Duration::from_millis(1)) {
                let guard = guard.unwrap_or_else(|died| died.into_guard());
                let (guard, _) = cond.wait_timeout_blocking(guard, Duration::from_micros(100));
                drop(guard);
            }
            prop_assert!(!cond.notify_one());
            Ok(())
        }
        Err(e) => {
            prop_assert!(
                matches!(e.kind(), ErrorKind::InvalidData | ErrorKind::Other),
                "{}",
                e
            );
            Ok(())
        }
    }
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(10_000);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        // Random bytes cannot carry the magic and a matching checksum.
        let err = Event::open(&scratch.name).unwrap_err();
        prop_assert_eq!(err.kind(), ErrorKind::InvalidData);
    }

    #[test]
    fn flipped_bytes_open_or_are_refused(
        flips in prop::collection::vec((0usize..192, 1u8..=255), 1..6),
        truncate in prop::option::weighted(0.1, 0usize..192),
    ) {
        let mut bytes = valid_event_bytes();
        for (at, xor) in flips {
            bytes[at] ^= xor;
        }
        if let Some(len) = truncate {
            bytes.truncate(len);
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_use(&scratch)?;
    }

    #[test]
    fn lock_state_is_any_bytes(
        flips in prop::collection::vec((128usize..1152, any::<u8>()), 0..40),
        word in any::<u32>(),
    ) {
        let mut bytes = valid_lock_bytes();
        bytes[128..132].copy_from_slice(&word.to_ne_bytes());
        for (at, value) in flips {
            bytes[at] = value;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_lock(&scratch)?;
    }

    // The state word (count, reason, how the last generation ended, the
    // generation), the history of how generations ended, and random bytes
    // anywhere in the body (roster, marks).
    #[test]
    fn barrier_state_is_any_bytes(
        flips in prop::collection::vec((128usize..1472, any::<u8>()), 0..40),
        word in any::<u32>(),
        ends in prop::option::weighted(0.5, any::<[u64; 4]>()),
    ) {
        let mut bytes = valid_barrier_bytes();
        prop_assert_eq!(bytes.len(), 1472);
        if let Some(ends) = ends {
            for (at, end) in ends.iter().enumerate() {
                bytes[136 + 8 * at..144 + 8 * at].copy_from_slice(&end.to_ne_bytes());
            }
        }
        bytes[128..132].copy_from_slice(&word.to_ne_bytes());
        for (at, value) in flips {
            bytes[at] = value;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_meet(&scratch)?;
    }

    // The state word, the internal mutex word, and random bytes anywhere
    // in the body: its counters, the roster and the waiter records.
    #[test]
    fn semaphore_state_is_any_bytes(
        flips in prop::collection::vec((128usize..5312, any::<u8>()), 0..60),
        state in any::<u64>(),
        mutex in prop::option::weighted(0.3, any::<u32>()),
        header in prop::option::weighted(0.05, (0usize..128, 1u8..=255)),
    ) {
        let mut bytes = valid_semaphore_bytes();
        bytes[128..136].copy_from_slice(&state.to_ne_bytes());
        if let Some(word) = mutex {
            bytes[168..172].copy_from_slice(&word.to_ne_bytes());
        }
        for (at, value) in flips {
            bytes[at] = value;
        }
        if let Some((at, xor)) = header {
            bytes[at] ^= xor;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_acquire(&scratch)?;
    }

    // The ring's words (head, tail, counts, wait words), the roster and
    // the slots: state words, lengths and item bytes. Header flips too,
    // rarely (they must be refused).
    #[test]
    fn queue_state_is_any_bytes(
        words in prop::collection::vec((0usize..64, any::<u64>()), 0..8),
        flips in prop::collection::vec((128usize..1536, any::<u8>()), 0..40),
        header in prop::option::weighted(0.05, (0usize..128, 1u8..=255)),
    ) {
        let mut bytes = valid_queue_bytes();
        // Whole words: head, tail, skipped, done, and the slots' words
        // (4 slots of 32 bytes at 1408: state word, then the item).
        let at_word = |i: usize| match i % 8 {
            0 => 128,
            1 => 192,
            2 => 256,
            3 => 264,
            _ => 1408 + (i / 8 % 4) * 32 + (i % 4) * 8,
        };
        for (i, value) in words {
            let at = at_word(i);
            bytes[at..at + 8].copy_from_slice(&value.to_ne_bytes());
        }
        for (at, value) in flips {
            bytes[at] = value;
        }
        if let Some((at, xor)) = header {
            bytes[at] ^= xor;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_pop(&scratch)?;
    }

    // The lock word, the ticket counts and the waiter records.
    #[test]
    fn condition_state_is_any_bytes(
        lock in any::<u32>(),
        flips in prop::collection::vec((1216usize..3328, any::<u8>()), 0..60),
        header in prop::option::weighted(0.05, (0usize..128, 1u8..=255)),
    ) {
        let mut bytes = valid_condition_bytes();
        bytes[128..132].copy_from_slice(&lock.to_ne_bytes());
        for (at, value) in flips {
            bytes[at] = value;
        }
        if let Some((at, xor)) = header {
            bytes[at] ^= xor;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_notify(&scratch)?;
    }

    #[test]
    fn rlock_state_is_any_bytes(
        flips in prop::collection::vec((128usize..1152, any::<u8>()), 0..40),
        words in any::<[u8; 20]>(),
    ) {
        let mut bytes = valid_rlock_bytes();
        bytes[128..148].copy_from_slice(&words);
        for (at, value) in flips {
            bytes[at] = value;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_relock(&scratch)?;
    }

    #[test]
    fn lock_header_flips_are_refused_or_fine(
        flips in prop::collection::vec((0usize..128, 1u8..=255), 1..4),
    ) {
        let mut bytes = valid_lock_bytes();
        for (at, xor) in flips {
            bytes[at] ^= xor;
        }
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        open_and_lock(&scratch)?;
    }

    #[test]
    fn any_state_words_are_a_state(state in any::<[u8; 64]>()) {
        let mut bytes = valid_event_bytes();
        bytes[128..192].copy_from_slice(&state);
        let scratch = Scratch::new();
        scratch.holds(&bytes);
        // The header is intact: this must open.
        prop_assert!(Event::open(&scratch.name).is_ok());
        open_and_use(&scratch)?;
    }
}
