#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::Condition` across processes: waits in every form, exact
//! `notify(n)` counts and FIFO order between child processes, threads and
//! tasks; a cancelled async wait passing its notification on; a waiter
//! killed with SIGKILL not absorbing a notification (twenty times); a
//! holder killed with the lock handing `OwnerDied` to the next locker and
//! to a waiter's relock.

mod common;

use common::process::{role, spawn_role, unique_name};
use common::*;
use rallypoint::process::{Condition, Event, Queue, Semaphore};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(30);
const SHORT: Duration = Duration::from_millis(20);

fn waiters(cond: &Condition) -> usize {
    let shown = format!("{cond:?}");
    let after = shown.split("waiters: ").nth(1).expect("waiters shown");
    after
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn run_role(role: &str, arg: &str) {
    match role {
        // Wait once (not timing out), then say who we are in the queue.
        "wait-once" => {
            let (name, who) = arg.split_once(' ').unwrap();
            let cond = Condition::open(name).unwrap();
            let order = Queue::<u32>::open(&format!("{name}-order")).unwrap();
            let guard = cond.lock_blocking().unwrap();
            let (guard, result) = cond.wait_timeout_blocking(guard, LONG);
            assert!(!result.timed_out(), "never notified");
            drop(guard.unwrap());
            order.push_blocking(who.parse().unwrap()).unwrap();
        }
        // Wait until killed.
        "wait-forever" => {
            let cond = Condition::open(arg).unwrap();
            let guard = cond.lock_blocking().unwrap();
            let _ = cond.wait_timeout_blocking(guard, Duration::from_secs(3600));
            Semaphore::open(&format!("{arg}-woken"))
                .unwrap()
                .release(1)
                .unwrap();
        }
        // Take the lock, say so, and hold it until killed.
        "hold" => {
            let cond = Condition::open(arg).unwrap();
            let guard = cond.lock_blocking().unwrap();
            Event::open(&format!("{arg}-held")).unwrap().set();
            std::mem::forget(guard);
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn forms_and_counts_in_one_process() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::anonymous().unwrap());
        assert_eq!(cond.notify(5), 0);
        assert!(!cond.notify_one());
        // Timeouts, blocking and async.
        let guard = cond.lock_blocking().unwrap();
        let (guard, result) = cond.wait_timeout_blocking(guard, SHORT);
        assert!(result.timed_out());
        let (guard, result) = cond.wait_timeout(guard.unwrap(), SHORT).await;
        assert!(result.timed_out());
        drop(guard);
        assert_eq!(waiters(&cond), 0, "timed-out waits leave no record");
        // Four waiters of both worlds; notify(2), then notify_one, then all.
        let woken = Arc::new(AtomicUsize::new(0));
        let tasks = {
            let (cond, woken) = (cond.clone(), woken.clone());
            bunch(&rt, World::Mixed, 4, move |_, blocking| {
                let (cond, woken) = (cond.clone(), woken.clone());
                async move {
                    let (guard, result) = if blocking {
                        let guard = cond.lock_blocking().unwrap();
                        cond.wait_timeout_blocking(guard, LONG)
                    } else {
                        let guard = cond.lock().await.unwrap();
                        cond.wait_timeout(guard, LONG).await
                    };
                    assert!(!result.timed_out());
                    drop(guard.unwrap());
                    woken.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        wait_until_async(&rt, "all wait", || waiters(&cond) == 4).await;
        assert_eq!(cond.notify(2), 2);
        wait_until_async(&rt, "two woken", || woken.load(Ordering::SeqCst) == 2).await;
        rt.sleep(SHORT).await;
        assert_eq!(woken.load(Ordering::SeqCst), 2, "notify(2) woke more");
        assert!(cond.notify_one());
        wait_until_async(&rt, "three woken", || woken.load(Ordering::SeqCst) == 3).await;
        assert_eq!(cond.notify_all(), 1);
        join_all(tasks).await;
        assert_eq!(cond.notify_all(), 0);
        // wait_while: the predicate is looked at under the lock.
        let flag = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (cond, flag) = (cond.clone(), flag.clone());
            rt.thread(move || {
                let guard = cond.lock_blocking().unwrap();
                let guard = cond.wait_while_blocking(guard, || !flag.load(Ordering::SeqCst));
                drop(guard.unwrap());
            })
        };
        wait_until_async(&rt, "the waiter waits", || waiters(&cond) == 1).await;
        assert!(cond.notify_one()); // spurious for the predicate: waits again
        wait_until_async(&rt, "it waits again", || waiters(&cond) == 1).await;
        {
            let _guard = cond.lock().await.unwrap();
            flag.store(true, Ordering::SeqCst);
            assert!(cond.notify_one());
        }
        waiter.await;
        let guard = cond.lock_blocking().unwrap();
        let (guard, result) = cond.wait_while_timeout_blocking(guard, || true, SHORT);
        assert!(result.timed_out());
        drop(guard);
    });
}

#[test]
#[should_panic(expected = "not of this condition's lock")]
fn a_guard_of_another_lock_panics() {
    let (a, b) = (
        Condition::anonymous().unwrap(),
        Condition::anonymous().unwrap(),
    );
    let guard = b.lock_blocking().unwrap();
    let _ = a.wait_timeout_blocking(guard, SHORT);
}

// A notified async wait dropped before it relocks passes the notification
// on; one dropped while still waiting withdraws (a later notify_one wakes
// the other waiter, and reports it).
#[test]
fn cancelled_waits_pass_notifications_on() {
    each_runtime(|rt| async move {
        let cond = Arc::new(Condition::anonymous().unwrap());
        let guard = cond.lock().await.unwrap();
        let mut first = Box::pin(cond.wait(guard));
        assert!(poll_once(&mut first).is_pending());
        let second = {
            let cond = cond.clone();
            rt.thread(move || {
                let guard = cond.lock_blocking().unwrap();
                let (guard, result) = cond.wait_timeout_blocking(guard, LONG);
                drop(guard.unwrap());
                !result.timed_out()
            })
        };
        wait_until_async(&rt, "both wait", || waiters(&cond) == 2).await;
        assert!(cond.notify_one()); // the oldest: the future
        drop(first); // notified, never relocked: passes it on
        assert!(second.await, "the notification was not passed on");
        // Dropped while waiting: withdrawn, nothing passed on.
        let guard = cond.lock().await.unwrap();
        let mut waiting = Box::pin(cond.wait(guard));
        assert!(poll_once(&mut waiting).is_pending());
        drop(waiting);
        assert_eq!(waiters(&cond), 0);
        assert!(!cond.notify_one());
    });
}

// Three child processes begin waiting one after the other; notify(2)
// wakes exactly the first two, notify_one the third, in that order.
#[test]
fn exact_counts_and_fifo_across_processes() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for _round in 0..3 {
            let name = unique_name("cond-fifo");
            let cond = Condition::create(&name).unwrap();
            let order = Queue::<u32>::create(&format!("{name}-order"), 8).unwrap();
            let children: Vec<_> = (0..3u32)
                .map(|who| {
                    let child = spawn_role(
                        "exact_counts_and_fifo_across_processes",
                        "wait-once",
                        &format!("{name} {who}"),
                    );
                    wait_until("the child waits", || waiters(&cond) == who as usize + 1);
                    child
                })
                .collect();
            assert_eq!(cond.notify(2), 2);
            let got = [
                order.pop_timeout_blocking(LONG).unwrap(),
                order.pop_timeout_blocking(LONG).unwrap(),
            ];
            let mut sorted = got;
            sorted.sort_unstable();
            assert_eq!(sorted, [0, 1], "the two oldest woke");
            assert!(order.pop_timeout_blocking(SHORT).is_err(), "a third woke");
            assert_eq!(waiters(&cond), 1);
            assert!(cond.notify_one());
            assert_eq!(order.pop_timeout_blocking(LONG).unwrap(), 2);
            for child in children {
                child.expect_success();
            }
        }
    });
}

// A child waiting is killed; a thread here waits behind it. notify_one
// wakes the thread (the dead child's record is reclaimed, not counted).
// Twenty times, with the kill before and after the thread begins waiting.
#[test]
fn killed_waiter_does_not_absorb_a_notification() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for round in 0..20 {
            let name = unique_name("cond-killed");
            let cond = Arc::new(Condition::create(&name).unwrap());
            let _woken = Semaphore::create(&format!("{name}-woken"), 0).unwrap();
            let child = spawn_role(
                "killed_waiter_does_not_absorb_a_notification",
                "wait-forever",
                &name,
            );
            wait_until("the child waits", || waiters(&cond) == 1);
            let mut child = Some(child);
            if round % 2 == 0 {
                child.take().unwrap().kill();
            }
            let waiter = {
                let cond = cond.clone();
                std::thread::spawn(move || {
                    let guard = cond.lock_blocking().unwrap();
                    let (guard, result) = cond.wait_timeout_blocking(guard, LONG);
                    drop(guard.unwrap());
                    !result.timed_out()
                })
            };
            // The dead child's record is still counted until reclaimed.
            wait_until("both wait", || waiters(&cond) == 2);
            if let Some(child) = child {
                child.kill();
            }
            assert!(cond.notify_one(), "round {round}: nobody woken");
            assert!(
                waiter.join().unwrap(),
                "round {round}: the thread was not woken"
            );
            assert_eq!(waiters(&cond), 0, "round {round}: {cond:?}");
        }
    });
}

// A child dies holding the lock: the next locker, and a waiter relocking
// after its notification, are told.
#[test]
fn killed_holder_hands_owner_died_on() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let name = unique_name("cond-holder");
        let cond = Arc::new(Condition::create(&name).unwrap());
        let held = Event::create(&format!("{name}-held")).unwrap();
        // A waiter here, then the child takes the lock and dies with it.
        let guard = cond.lock_blocking().unwrap();
        let waiter = {
            let cond = cond.clone();
            std::thread::spawn(move || {
                let guard = cond.lock_blocking().unwrap();
                cond.wait_timeout_blocking(guard, LONG).0.is_err()
            })
        };
        drop(guard);
        wait_until("the thread waits", || waiters(&cond) == 1);
        let child = spawn_role("killed_holder_hands_owner_died_on", "hold", &name);
        assert!(held.wait_timeout_blocking(LONG));
        assert!(cond.notify_one());
        child.kill();
        assert!(
            waiter.join().unwrap(),
            "the relock did not report OwnerDied"
        );
        // The waiter took it over and released it: fine now.
        assert!(cond.lock_blocking().is_ok());
    });
}

#[test]
fn send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Condition>();
}
