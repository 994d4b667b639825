//! Helpers for tests that run parties in other processes.
//!
//! A test re-executes its own test binary to run one *role* in a child
//! process (the pattern of ipc-channel's `spawn_server`): the child runs
//! the same test function with `--exact`, finds its role in the
//! `RALLYPOINT_TEST_ROLE` environment variable (and its arguments in
//! `RALLYPOINT_TEST_ARG`), runs it, and exits; a panic in the role makes
//! the child's test fail, so its exit status is not success. Every child
//! is killed when its [`ChildGuard`] drops, so a failing parent leaves no
//! process behind; segment names come from [`unique_name`] and are
//! unlinked by the creating handle's drop (which runs during unwinding).

use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const ROLE: &str = "RALLYPOINT_TEST_ROLE";
const ARG: &str = "RALLYPOINT_TEST_ARG";

/// In a child: its role and argument. `None` in the parent test.
pub fn role() -> Option<(String, String)> {
    let role = std::env::var(ROLE).ok()?;
    Some((role, std::env::var(ARG).unwrap_or_default()))
}

/// A segment name no other test (or test run) uses.
///
/// The first call in a test process also removes the segments that test
/// processes which are gone left behind: a test that fails by hanging
/// (the watchdog gives up on its thread, which still holds its handles)
/// never drops its segments, so the next run sweeps them.
pub fn unique_name(what: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(sweep_stale_segments);
    format!(
        "rp-test-{}-{what}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Removes `/dev/shm/rp-test-<pid>-…` files whose process has exited.
fn sweep_stale_segments() {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("rp-test-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A child process running one role; killed (SIGKILL) and reaped on drop.
pub struct ChildGuard {
    child: Option<Child>,
}

impl ChildGuard {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Waits for the child to exit (at most `limit`) and returns its status.
    pub fn wait(mut self, limit: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if start.elapsed() > limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!("child {} still running after {limit:?}", child.id());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for the child and asserts that its role succeeded.
    pub fn expect_success(self) {
        let status = self.wait(Duration::from_secs(60));
        assert!(status.success(), "child role failed: {status}");
    }

    /// SIGKILLs the child now and reaps it.
    pub fn kill(mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("kill");
        let status = child.wait().expect("reap");
        assert!(!status.success(), "the child had already exited: {status}");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts this test binary again to run `test`'s `role` with `arg`.
pub fn spawn_role(test: &str, role: &str, arg: &str) -> ChildGuard {
    let exe = std::env::current_exe().expect("current_exe");
    let child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1", "-q"])
        .env(ROLE, role)
        .env(ARG, arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the test binary");
    ChildGuard { child: Some(child) }
}
