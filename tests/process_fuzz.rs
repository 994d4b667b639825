#![cfg(all(target_os = "linux", not(loom), not(miri)))]

//! Fuzzed segments (SPEC §8 "Bad input"): random bytes in a segment file,
//! and valid segments with random bytes flipped, in the header and in the
//! state words. `open` must return a handle or `InvalidData` — never
//! panic, fault or hang — and a handle that opened must work (every value
//! of the state words is some state).
//!
//! 10 000 cases per property by default (`PROPTEST_CASES` overrides).

mod common;

use common::process::unique_name;
use proptest::prelude::*;
use rallypoint::process::Event;
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
