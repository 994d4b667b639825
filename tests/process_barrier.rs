#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::Barrier` across processes: the in-process Barrier's
//! semantics (one leader per generation, abort/reset, timeouts break it,
//! a dropped async wait withdraws) with parties that are threads, tasks
//! and child processes at once; and parties killed with SIGKILL while they
//! wait, before anyone else arrives, and whose slot is then reclaimed —
//! twenty rounds each. Every failed wait is checked for its reason
//! (issue 14): `PartyDied` for a killed party; a timeout, an abort and a
//! reset in another process are told apart; the body's old layout is
//! refused.

mod common;

use common::process::{role, spawn_role, unique_name};
use common::*;
use rallypoint::process::Barrier;
use rallypoint::{BarrierWaitResult, BrokenBarrierError, BrokenReason};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);
const GENERATIONS: usize = 20;

type WaitResult = Result<BarrierWaitResult, BrokenBarrierError>;

/// The result of a wait that failed for `reason`.
fn failed(reason: BrokenReason) -> WaitResult {
    Err(reason.into())
}

async fn wait(b: &Barrier, blocking: bool) -> WaitResult {
    if blocking {
        b.wait_timeout_blocking(LONG)
    } else {
        b.wait_timeout(LONG).await
    }
}

/// Without a timeout (a lost wake-up hangs, and the harness's watchdog
/// fails the test): for the death tests, where a timeout would break the
/// barrier by itself.
async fn wait_forever(b: &Barrier, blocking: bool) -> WaitResult {
    if blocking {
        b.wait_blocking()
    } else {
        b.wait().await
    }
}

/// Writes `value` for the parent to read (`<name>-<role>` in /dev/shm).
fn report(name: &str, role: &str, value: impl ToString) {
    std::fs::write(format!("/dev/shm/{name}-{role}"), value.to_string()).unwrap();
}

fn reported_text(name: &str, role: &str) -> String {
    let path = format!("/dev/shm/{name}-{role}");
    let value = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(path).unwrap();
    value
}

fn reported(name: &str, role: &str) -> usize {
    reported_text(name, role).parse().unwrap()
}

fn run_role(role: &str, arg: &str) {
    match role {
        // Take part in GENERATIONS generations; report how often we led.
        "party" | "party-async" => {
            let barrier = Barrier::open(arg).unwrap();
            let mut led = 0;
            for _ in 0..GENERATIONS {
                let out = if role == "party" {
                    barrier.wait_timeout_blocking(LONG)
                } else {
                    smol::block_on(barrier.wait_timeout(LONG))
                };
                let out = out.expect("broken");
                assert!(out.index() < barrier.parties());
                led += usize::from(out.is_leader());
            }
            report(arg, role, led);
        }
        // Arrive and wait until killed.
        "wait" => {
            let barrier = Barrier::open(arg).unwrap();
            let _ = barrier.wait_blocking();
            panic!("the barrier released a party that should have been killed");
        }
        // Once two parties wait: time out (reporting what this party was
        // told), abort, or reset.
        "time-out" | "abort" | "reset" => {
            let barrier = Barrier::open(arg).unwrap();
            let start = Instant::now();
            while barrier.n_waiting() < 2 {
                assert!(start.elapsed() < LONG, "nobody came");
                std::thread::sleep(Duration::from_millis(1));
            }
            match role {
                "time-out" => {
                    let err = barrier
                        .wait_timeout_blocking(Duration::from_millis(20))
                        .unwrap_err();
                    report(arg, role, format!("{:?}", err.reason()));
                }
                "abort" => barrier.abort(),
                _ => barrier.reset(),
            }
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn one_party_abort_reset_timeout() {
    each_runtime(|_rt| async move {
        let one = Barrier::anonymous(1).unwrap();
        let out = one.wait().await.unwrap();
        assert_eq!((out.index(), out.is_leader()), (0, true));
        assert!(one.wait_blocking().unwrap().is_leader());

        let two = Barrier::anonymous(2).unwrap();
        assert_eq!(two.parties(), 2);
        let start = Instant::now();
        assert_eq!(
            two.wait_timeout(Duration::from_millis(30)).await,
            failed(BrokenReason::TimedOut)
        );
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(two.is_broken(), "a timeout breaks the barrier");
        assert_eq!(two.wait_blocking(), failed(BrokenReason::PartyTimedOut));
        two.reset();
        assert!(!two.is_broken());
        assert_eq!(
            two.wait_timeout_blocking(Duration::from_millis(10)),
            failed(BrokenReason::TimedOut)
        );
        assert_eq!(
            two.wait_timeout_blocking(Duration::ZERO),
            failed(BrokenReason::PartyTimedOut)
        );
        two.abort();
        assert_eq!(
            two.wait().await,
            failed(BrokenReason::PartyTimedOut),
            "an abort of a broken barrier keeps its first reason"
        );
        two.reset();
        two.abort();
        assert_eq!(two.wait().await, failed(BrokenReason::Aborted));
        assert_eq!(
            two.wait_timeout(Duration::ZERO).await,
            failed(BrokenReason::Aborted),
            "a timeout on a broken barrier breaks nothing"
        );
        let debug = format!("{two:?}");
        assert!(debug.contains("reason: Some(Aborted)"), "{debug}");
        two.reset();
        assert_eq!(two.n_waiting(), 0);
        assert!(format!("{two:?}").contains("reason: None"));
        let two = two.with_timeout(Duration::from_millis(10));
        assert_eq!(
            two.wait().await,
            failed(BrokenReason::TimedOut),
            "the handle's default timeout"
        );
        assert_eq!(two.wait_blocking(), failed(BrokenReason::PartyTimedOut));
    });
}

#[test]
fn bad_parties() {
    for parties in [0, 4096] {
        let err = Barrier::anonymous(parties).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    assert!(Barrier::anonymous(4095).is_ok());
}

// A dropped pending wait withdraws its party; a party released by a trip
// gets `Ok` even after the next generation was broken and reset.
#[test]
fn poll_level_withdraw_and_late_release() {
    let barrier = Barrier::anonymous(2).unwrap();
    let mut a = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    assert_eq!(barrier.n_waiting(), 1);
    drop(a);
    assert_eq!(barrier.n_waiting(), 0);
    assert!(!barrier.is_broken());

    let mut a = barrier.wait();
    assert!(poll_once(&mut a).is_pending());
    let mut b = barrier.wait();
    let Poll::Ready(Ok(led)) = poll_once(&mut b) else {
        panic!("the second party trips the barrier");
    };
    assert!(led.is_leader());
    barrier.abort();
    barrier.reset();
    let Poll::Ready(Ok(out)) = poll_once(&mut a) else {
        panic!("released by the trip");
    };
    assert_eq!((out.index(), out.is_leader()), (0, false));
    drop(a);
    assert_eq!(barrier.n_waiting(), 0);
}

// A party told of a break keeps that reason however late it looks: one
// waiting when the barrier was aborted, then reset, is told `Aborted` (not
// `Reset`), both at once (the next generation's word says it) and after
// further generations (the recorded history says it); one waiting at the
// reset itself is told `Reset`; one whose generation a timeout broke,
// `PartyTimedOut`.
#[test]
fn late_poll_keeps_its_reason() {
    fn pending(barrier: &Barrier) -> rallypoint::process::BarrierWait<'_> {
        let mut wait = barrier.wait();
        assert!(poll_once(&mut wait).is_pending());
        wait
    }
    let barrier = Barrier::anonymous(3).unwrap();
    for later in [0, 1, 3, 70] {
        let mut aborted = pending(&barrier);
        barrier.abort();
        barrier.reset();
        let mut reset = pending(&barrier);
        barrier.reset();
        let mut timed_out = pending(&barrier);
        assert_eq!(
            barrier.wait_timeout_blocking(Duration::ZERO),
            failed(BrokenReason::TimedOut)
        );
        barrier.reset();
        for _ in 0..later {
            let mut first = [pending(&barrier), pending(&barrier)];
            assert!(barrier.wait_blocking().unwrap().is_leader());
            for wait in &mut first {
                assert!(matches!(poll_once(wait), Poll::Ready(Ok(_))));
            }
        }
        let out = |wait: &mut rallypoint::process::BarrierWait<'_>| match poll_once(wait) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("after {later} generations: still pending"),
        };
        if later < 60 {
            assert_eq!(out(&mut aborted), failed(BrokenReason::Aborted), "{later}");
            assert_eq!(out(&mut reset), failed(BrokenReason::Reset), "{later}");
            assert_eq!(
                out(&mut timed_out),
                failed(BrokenReason::PartyTimedOut),
                "{later}"
            );
        } else {
            // Past the history's 63 generations: some answer, no hang.
            let _ = (out(&mut aborted), out(&mut reset), out(&mut timed_out));
        }
    }
}

// The barrier body's layout changed (revision 2: the word carries the
// reason): a segment of revision 1 is refused with `InvalidData`.
#[test]
fn old_layout_is_refused() {
    let name = unique_name("layout");
    let barrier = Barrier::create(&name, 2).unwrap();
    let path = format!("/dev/shm/{name}");
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[16..20], &2u32.to_ne_bytes(), "layout revision 2");
    bytes[16..20].copy_from_slice(&1u32.to_ne_bytes());
    let old = unique_name("layout-old");
    let old_path = format!("/dev/shm/{old}");
    std::fs::write(&old_path, &bytes).unwrap();
    let err = Barrier::open(&old).unwrap_err();
    let _ = std::fs::remove_file(&old_path);
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{err}");
    assert!(err.to_string().contains("revision 1"), "{err}");
    drop(barrier);
}

// Generations of parties in every world at once — tasks and threads here,
// a blocking and an async child process — with exactly one leader each.
#[test]
fn generations_across_worlds() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        const LOCAL: usize = 3;
        let name = unique_name("gens");
        let barrier = Arc::new(Barrier::create(&name, LOCAL + 2).unwrap());
        let children = [
            spawn_role("generations_across_worlds", "party", &name),
            spawn_role("generations_across_worlds", "party-async", &name),
        ];
        let tasks = {
            let barrier = barrier.clone();
            bunch(&rt, World::Mixed, LOCAL, move |_, blocking| {
                let barrier = barrier.clone();
                async move {
                    let mut led = 0;
                    for _ in 0..GENERATIONS {
                        let out = wait(&barrier, blocking).await.expect("broken");
                        led += usize::from(out.is_leader());
                    }
                    led
                }
            })
        };
        let local: usize = join_all(tasks).await.into_iter().sum();
        for child in children {
            child.expect_success();
        }
        let led = local + reported(&name, "party") + reported(&name, "party-async");
        assert_eq!(led, GENERATIONS, "one leader per generation");
        assert!(!barrier.is_broken());
    });
}

// A party killed while others wait breaks the barrier for them at once;
// reset() repairs it. Twenty rounds.
#[test]
fn killed_party_breaks_the_barrier() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        for round in 0..20 {
            let name = unique_name("killed");
            let barrier = Arc::new(Barrier::create(&name, 4).unwrap());
            let child = spawn_role("killed_party_breaks_the_barrier", "wait", &name);
            let tasks = {
                let barrier = barrier.clone();
                bunch(&rt, World::Mixed, 2, move |_, blocking| {
                    let barrier = barrier.clone();
                    async move { wait_forever(&barrier, blocking).await }
                })
            };
            wait_until_async(&rt, "three wait", || barrier.n_waiting() == 3).await;
            child.kill();
            let died = failed(BrokenReason::PartyDied);
            assert_eq!(join_all(tasks).await, [died, died], "round {round}");
            assert!(barrier.is_broken());
            // Later waits are told so too, until the reset.
            assert_eq!(barrier.wait_timeout_blocking(Duration::ZERO), died);
            assert_eq!(barrier.wait().await, died);
            barrier.reset();
            let again = Barrier::anonymous(1).unwrap();
            assert!(again.wait_blocking().is_ok());
        }
    });
}

// A party that waited alone and was killed (nobody watched it) is found
// dead by the next arrival; and if its slot is reclaimed by a new handle
// first, the reclaiming handle breaks the barrier. Twenty rounds each.
#[test]
fn killed_lone_party() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        for round in 0..20 {
            let name = unique_name("lone");
            let barrier = Barrier::create(&name, 2).unwrap();
            let child = spawn_role("killed_lone_party", "wait", &name);
            wait_until("the child waits", || barrier.n_waiting() == 1);
            child.kill();
            let died = failed(BrokenReason::PartyDied);
            if round % 2 == 0 {
                assert_eq!(barrier.wait_blocking(), died, "round {round}");
            } else {
                // Fill every other slot, so the next open reclaims the
                // dead child's.
                let handles: Vec<Barrier> =
                    (0..62).map(|_| Barrier::open(&name).unwrap()).collect();
                assert!(!barrier.is_broken());
                let reclaimer = Barrier::open(&name).unwrap();
                assert!(barrier.is_broken(), "round {round}: {reclaimer:?}");
                assert_eq!(reclaimer.wait_blocking(), died, "round {round}");
                drop(handles);
            }
            barrier.reset();
            assert_eq!(barrier.n_waiting(), 0);
        }
    });
}

// A timeout, an abort and a reset in another process, while two parties
// here (a task and a thread) wait: the child that timed out is told
// `TimedOut`, the parties here `PartyTimedOut`; then `Aborted`; then
// `Reset` (and the barrier works again).
#[test]
fn reasons_from_another_process() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        for (role, told) in [
            ("time-out", BrokenReason::PartyTimedOut),
            ("abort", BrokenReason::Aborted),
            ("reset", BrokenReason::Reset),
        ] {
            // Four parties: the child's arrival does not trip it.
            let name = unique_name("reasons");
            let barrier = Arc::new(Barrier::create(&name, 4).unwrap());
            let tasks = {
                let barrier = barrier.clone();
                bunch(&rt, World::Mixed, 2, move |_, blocking| {
                    let barrier = barrier.clone();
                    async move { wait(&barrier, blocking).await }
                })
            };
            let child = spawn_role("reasons_from_another_process", role, &name);
            assert_eq!(
                join_all(tasks).await,
                [failed(told), failed(told)],
                "{role}"
            );
            child.expect_success();
            if role == "time-out" {
                assert_eq!(reported_text(&name, role), "TimedOut");
            }
            if role == "reset" {
                assert!(!barrier.is_broken());
            } else {
                assert_eq!(barrier.wait_timeout_blocking(Duration::ZERO), failed(told));
            }
        }
    });
}
