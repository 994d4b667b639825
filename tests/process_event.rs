#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! `process::Event` across processes: the in-process Event's scenarios with
//! parties that are threads, tasks (every executor of the harness) and
//! other processes at once; segments by name and anonymous; bad names and
//! bad segments; a waiter killed with SIGKILL.
//!
//! Under Miri these tests do not run (no `mmap` of files, no shared
//! futexes); the logic above the system calls is checked here with one
//! segment mapped twice in one process (`Event::open` of a name this
//! process created is a second, independent mapping of the same pages).

mod common;

use common::process::{role, spawn_role, unique_name};
use common::*;
use rallypoint::process::Event;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

fn waiters(e: &Event) -> u32 {
    let shown = format!("{e:?}");
    let after = shown
        .split("waiters: ")
        .nth(1)
        .expect("Debug shows waiters");
    after
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .expect("a count")
}

fn wait_for_waiters(e: &Event, n: u32) {
    wait_until(&format!("{n} waiters"), || waiters(e) >= n);
}

async fn wait_timeout(e: &Event, blocking: bool, d: Duration) -> bool {
    if blocking {
        e.wait_timeout_blocking(d)
    } else {
        e.wait_timeout(d).await
    }
}

/// What the child processes of these tests do.
fn run_role(role: &str, arg: &str) {
    match role {
        // Wait (blocking) for the event `arg`, then report by setting
        // `<arg>-<role>`.
        "wait-blocking" => {
            let event = Event::open(arg).unwrap();
            assert!(event.wait_timeout_blocking(LONG), "never set");
            Event::open(&format!("{arg}-{role}")).unwrap().set();
        }
        // The same with an async wait under smol's `block_on`.
        "wait-async" => {
            let event = Event::open(arg).unwrap();
            assert!(smol::block_on(event.wait_timeout(LONG)), "never set");
            Event::open(&format!("{arg}-{role}")).unwrap().set();
        }
        // Ping-pong: wait for `<name>-ping`, clear it, set `<name>-pong`.
        "pong" | "pong-async" => {
            let ping = Event::open(&format!("{arg}-ping")).unwrap();
            let pong = Event::open(&format!("{arg}-pong")).unwrap();
            for _ in 0..ROUNDS {
                let got = if role == "pong" {
                    ping.wait_timeout_blocking(LONG)
                } else {
                    smol::block_on(ping.wait_timeout(LONG))
                };
                assert!(got, "ping never came");
                ping.clear();
                pong.set();
            }
        }
        // Wait forever; the parent kills us.
        "wait-forever" => {
            let event = Event::open(arg).unwrap();
            event.wait_blocking();
            panic!("woken, but nobody sets this event");
        }
        other => panic!("unknown role {other}"),
    }
}

const ROUNDS: usize = 200;

#[test]
fn names_are_checked() {
    let long = "x".repeat(256);
    for bad in ["", "/", ".", "..", "a/b", "/a/b", "a\0b", long.as_str()] {
        let err = Event::create(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
        let err = Event::open(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}: {err}");
    }
    let err = Event::create_with_mode(&unique_name("mode"), 0o4600).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    // A leading '/' (POSIX shm style) is accepted and not part of the name.
    let name = unique_name("slash");
    let event = Event::create(&format!("/{name}")).unwrap();
    assert_eq!(event.name(), Some(name.as_str()));
    Event::open(&name).unwrap();
}

#[test]
fn create_open_persist_unlink() {
    let name = unique_name("life");
    let event = Event::create(&name).unwrap();
    assert_eq!(
        Event::create(&name).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    let mode = std::fs::metadata(format!("/dev/shm/{name}")).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
        0o600
    );
    let peer = Event::open(&name).unwrap();
    event.set();
    assert!(peer.is_set(), "two mappings of one segment");
    drop(event);
    // The creator's drop unlinked the name; the open handle still works.
    assert_eq!(Event::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
    peer.clear();
    assert!(!peer.is_set());

    let name = unique_name("persist");
    let event = Event::create(&name).unwrap();
    event.persist();
    drop(event);
    let again = Event::open(&name).unwrap();
    again.unlink().unwrap();
    assert_eq!(again.unlink().unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(Event::open(&name).unwrap_err().kind(), ErrorKind::NotFound);

    // A creator whose name was unlinked and re-created by someone else
    // leaves the new segment alone.
    let name = unique_name("replaced");
    let first = Event::create(&name).unwrap();
    first.unlink().unwrap();
    let second = Event::create(&name).unwrap();
    drop(first);
    Event::open(&name).unwrap();
    drop(second);
    assert_eq!(Event::open(&name).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn anonymous_and_from_fd() {
    let event = Event::anonymous().unwrap();
    assert_eq!(event.name(), None);
    let copy = Event::from_fd(event.as_fd_owned().unwrap()).unwrap();
    copy.set();
    assert!(event.is_set());
    assert_eq!(event.unlink().unwrap_err().kind(), ErrorKind::NotFound);
    // The memfd is sealed: its size cannot change under the peers.
    let file = std::fs::File::from(event.as_fd_owned().unwrap());
    assert!(file.set_len(0).is_err());
    assert!(file.set_len(1 << 20).is_err());
}

/// Writes `bytes` as a segment file under a fresh name.
fn raw_segment(bytes: &[u8]) -> (String, Unlink) {
    let name = unique_name("raw");
    let path = format!("/dev/shm/{name}");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    file.write_all(bytes).unwrap();
    (name, Unlink(path))
}

struct Unlink(String);

impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The bytes of a valid event segment.
fn valid_bytes() -> Vec<u8> {
    let name = unique_name("template");
    let _event = Event::create(&name).unwrap();
    std::fs::read(format!("/dev/shm/{name}")).unwrap()
}

#[test]
fn bad_segments_are_invalid_data() {
    let good = valid_bytes();
    assert_eq!(good.len(), 192);
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short", good[..127].to_vec()),
        ("header only", good[..128].to_vec()),
        ("zeroes", vec![0; good.len()]),
        ("longer", [good.clone(), vec![0; 64]].concat()),
        ("huge", vec![0; 4 << 20]),
    ];
    let mut flip = |what, at: usize, xor: u8| {
        let mut bytes = good.clone();
        bytes[at] ^= xor;
        cases.push((what, bytes));
    };
    flip("magic", 0, 1);
    flip("version", 8, 1);
    flip("kind", 12, 0x40);
    flip("layout", 16, 1);
    flip("header size", 20, 1);
    flip("total size", 24, 1);
    flip("body size", 32, 1);
    flip("creator", 36, 1);
    flip("params", 40, 1);
    flip("checksum", 72, 1);
    for (what, bytes) in cases {
        let (name, _unlink) = raw_segment(&bytes);
        let err = Event::open(&name).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{what}: {err}");
    }
    // The state words may hold anything: the event is in some state.
    let mut bytes = good.clone();
    bytes[128..136].copy_from_slice(&[0xff; 8]);
    let (name, _unlink) = raw_segment(&bytes);
    let event = Event::open(&name).unwrap();
    assert!(event.is_set());
    event.clear();
    assert!(!event.wait_timeout_blocking(Duration::from_millis(10)));
    event.set();
    assert!(event.wait_timeout_blocking(Duration::ZERO));
}

#[test]
fn another_users_segment_is_permission_denied() {
    let name = unique_name("perm");
    let event = Event::create(&name).unwrap();
    let path = format!("/dev/shm/{name}");
    if rustix::process::geteuid().is_root() {
        // Root ignores file modes: open from a thread that gave up root
        // (`setresuid` on this thread only, which also drops its
        // capabilities) as user `nobody`.
        let opened = std::thread::spawn(move || {
            let nobody = rustix::process::Uid::from_raw(65534);
            rustix::thread::set_thread_res_uid(nobody, nobody, nobody).unwrap();
            Event::open(&name).map(drop)
        })
        .join()
        .unwrap();
        assert_eq!(opened.unwrap_err().kind(), ErrorKind::PermissionDenied);
    } else {
        // As a user, the owner of a mode-0000 file is refused too.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000))
            .unwrap();
        assert_eq!(
            Event::open(&name).unwrap_err().kind(),
            ErrorKind::PermissionDenied
        );
    }
    drop(event);
}

#[test]
fn timeouts() {
    each_runtime(|_rt| async move {
        let event = Event::anonymous().unwrap();
        let start = Instant::now();
        assert!(!event.wait_timeout(Duration::from_millis(30)).await);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(!event.wait_timeout_blocking(Duration::from_millis(30)));
        assert!(!event.wait_timeout(Duration::ZERO).await);
        assert!(!event.wait_timeout_blocking(Duration::ZERO));
        event.set();
        assert!(event.wait_timeout(Duration::ZERO).await);
        assert!(event.wait_timeout_blocking(Duration::ZERO));
        event.wait().await;
        event.wait_blocking();
        assert_eq!(waiters(&event), 0, "nobody left counted");
    });
}

// The in-process Event's gh-57711 property at poll level: futures that
// were waiting when set() ran complete even though clear() ran first, and
// a dropped future leaves nothing registered.
#[test]
fn set_then_clear_poll_level() {
    let event = Event::anonymous().unwrap();
    let mut a = event.wait();
    let mut b = event.wait_timeout(LONG);
    assert!(poll_once(&mut a).is_pending());
    assert!(poll_once(&mut b).is_pending());
    assert_eq!(waiters(&event), 2);
    event.set();
    event.clear();
    assert_eq!(poll_once(&mut a), Poll::Ready(()));
    assert_eq!(poll_once(&mut b), Poll::Ready(true));
    let mut c = event.wait();
    assert!(poll_once(&mut c).is_pending());
    drop(c);
    drop((a, b));
    assert_eq!(waiters(&event), 0);
}

// A task's waker is woken by a set() from another mapping (another
// process, as far as the futex is concerned), through the helper thread.
#[test]
fn helper_thread_wakes_tasks() {
    let name = unique_name("helper");
    let event = Event::create(&name).unwrap();
    let other = Event::open(&name).unwrap();
    let (waker, flag) = flag_waker();
    let mut wait = event.wait();
    assert!(poll_with(&mut wait, &waker).is_pending());
    other.set();
    wait_until("the helper thread wakes the task", || flag.take());
    assert_eq!(poll_with(&mut wait, &waker), Poll::Ready(()));
}

// More words than one futex_waitv call takes: a second helper thread.
#[test]
fn many_events_at_once() {
    let events: Vec<Event> = (0..300).map(|_| Event::anonymous().unwrap()).collect();
    let mut waits: Vec<_> = events.iter().map(|e| (e.wait(), flag_waker())).collect();
    for (wait, (waker, _)) in &mut waits {
        assert!(poll_with(wait, waker).is_pending());
    }
    for (i, event) in events.iter().enumerate().rev() {
        event.set();
        let (_, (_, flag)) = &waits[i];
        wait_until(&format!("task {i} woken"), || flag.take());
    }
    for (wait, (waker, _)) in &mut waits {
        assert_eq!(poll_with(wait, waker), Poll::Ready(()));
    }
}

// Parties in every world at once — tasks, threads and two other processes
// (one blocking, one async) — all released by one set(), even though
// clear() follows at once (gh-57711 across processes).
#[test]
fn set_releases_every_world() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        for world in World::ALL {
            const N: usize = 4;
            let name = unique_name("every");
            let event = Arc::new(Event::create(&name).unwrap());
            let done_blocking = Event::create(&format!("{name}-wait-blocking")).unwrap();
            let done_async = Event::create(&format!("{name}-wait-async")).unwrap();
            let test = "set_releases_every_world";
            let child_b = spawn_role(test, "wait-blocking", &name);
            let child_a = spawn_role(test, "wait-async", &name);
            let tasks = {
                let event = event.clone();
                bunch(&rt, world, N, move |_, blocking| {
                    let event = event.clone();
                    async move { wait_timeout(&event, blocking, LONG).await }
                })
            };
            wait_until_async(&rt, "every party waits", || {
                waiters(&event) as usize >= N + 2
            })
            .await;
            event.set();
            event.clear();
            assert_eq!(join_all(tasks).await, vec![true; N], "{world:?}");
            assert!(done_blocking.wait_timeout(LONG).await, "blocking child");
            assert!(done_async.wait_timeout_blocking(LONG), "async child");
            child_b.expect_success();
            child_a.expect_success();
            assert!(!event.is_set());
        }
    });
}

// Round trips between this process and a child: blocking and async on each
// side.
#[test]
fn ping_pong_with_a_child() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    each_runtime(|rt| async move {
        for (child_role, blocking) in [("pong", true), ("pong-async", false), ("pong", false)] {
            let name = unique_name("pingpong");
            let ping = Arc::new(Event::create(&format!("{name}-ping")).unwrap());
            let pong = Arc::new(Event::create(&format!("{name}-pong")).unwrap());
            let child = spawn_role("ping_pong_with_a_child", child_role, &name);
            let side = party(
                &rt,
                if blocking {
                    World::Threads
                } else {
                    World::Tasks
                },
                0,
                move |blocking| async move {
                    for _ in 0..ROUNDS {
                        ping.set();
                        assert!(wait_timeout(&pong, blocking, LONG).await, "pong never came");
                        pong.clear();
                    }
                },
            );
            side.await;
            child.expect_success();
        }
    });
}

// A process killed while it waits leaves a working event: the others wait,
// set and clear as before (its stale count only shows in `Debug`).
#[test]
fn killed_waiter_leaves_the_event_working() {
    if let Some((role, arg)) = role() {
        return run_role(&role, &arg);
    }
    blocking(|| {
        let name = unique_name("killed");
        let event = Event::create(&name).unwrap();
        let child = spawn_role(
            "killed_waiter_leaves_the_event_working",
            "wait-forever",
            &name,
        );
        wait_for_waiters(&event, 1);
        child.kill();
        let waiter = {
            let name = name.clone();
            // No timeout: a lost wake-up hangs, and the watchdog fails the test.
            std::thread::spawn(move || {
                Event::open(&name).unwrap().wait_blocking();
                true
            })
        };
        wait_for_waiters(&event, 2);
        event.set();
        assert!(waiter.join().unwrap());
        event.clear();
        assert!(!event.wait_timeout_blocking(Duration::from_millis(10)));
    });
}

// Every process type is Send + Sync, and every future Send (SPEC §0).
#[test]
fn send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>(_: &T) {}
    send_sync::<Event>();
    send_sync::<rallypoint::process::Lock>();
    send_sync::<rallypoint::process::Barrier>();
    send_sync::<rallypoint::process::LockGuard<'static>>();
    let event = Event::anonymous().unwrap();
    send(&event.wait());
    send(&event.wait_timeout(LONG));
    let lock = rallypoint::process::Lock::anonymous().unwrap();
    send(&lock.acquire());
    send(&lock.acquire_timeout(LONG));
    let barrier = rallypoint::process::Barrier::anonymous(1).unwrap();
    send(&barrier.wait());
}
