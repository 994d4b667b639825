//! The ring's algorithm on plain memory (no segment, no system call), so
//! that Miri checks it too: every state a killed pusher or popper leaves,
//! scribbled words, and exactly-once under threads.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use super::*;

/// The words of one ring.
struct Words {
    head: AtomicU64,
    head_seen: AtomicU64,
    tail: AtomicU64,
    closed: AtomicU32,
    skipped: AtomicU64,
    done: AtomicU64,
    wake: [AtomicU32; 9],
    slots: Vec<AtomicU64>,
    capacity: u64,
    slot_words: usize,
    limit: usize,
}

impl Words {
    fn new(capacity: u64, limit: usize) -> Words {
        let slot_words = slot_words(limit).unwrap();
        let words = Words {
            head: AtomicU64::new(0),
            head_seen: AtomicU64::new(0),
            tail: AtomicU64::new(0),
            closed: AtomicU32::new(0),
            skipped: AtomicU64::new(0),
            done: AtomicU64::new(0),
            wake: Default::default(),
            slots: (0..capacity as usize * slot_words)
                .map(|_| AtomicU64::new(0))
                .collect(),
            capacity,
            slot_words,
            limit,
        };
        words.ring().init();
        words
    }

    fn ring(&self) -> Ring<'_> {
        Ring {
            head: &self.head,
            head_seen: &self.head_seen,
            tail: &self.tail,
            closed: &self.closed,
            skipped: &self.skipped,
            done: &self.done,
            slots: &self.slots,
            capacity: self.capacity,
            slot_words: self.slot_words,
            limit: self.limit,
            pop_wake: self.wake(0),
            push_wake: self.wake(3),
            join_wake: self.wake(6),
            wake: |_| {},
        }
    }

    fn wake(&self, at: usize) -> Wake<'_> {
        Wake {
            word: &self.wake[at],
            sleepers: &self.wake[at + 1],
            pending: &self.wake[at + 2],
        }
    }

    fn word(&self, pos: u64) -> &AtomicU64 {
        &self.slots[(pos % self.capacity) as usize * self.slot_words]
    }
}

fn pop(ring: &Ring<'_>) -> Pop<Vec<u8>> {
    ring.try_pop(None, <[u8]>::to_vec)
}

#[test]
fn fifo_full_and_lap_after_lap() {
    let w = Words::new(3, 20);
    let ring = w.ring();
    for lap in 0..4u8 {
        for i in 0..3u8 {
            assert_eq!(ring.try_push(&[lap, i, 7], 1), Push::Done);
        }
        assert_eq!(ring.try_push(b"x", 1), Push::Full);
        assert_eq!(ring.len(), 3);
        for i in 0..3u8 {
            assert_eq!(pop(&ring), Pop::Item(vec![lap, i, 7]));
        }
        assert_eq!(pop(&ring), Pop::Empty);
    }
    // Lengths 0 and the limit, and one that needs the heap copy.
    let big = Words::new(2, 300);
    let ring = big.ring();
    let long: Vec<u8> = (0..300).map(|i| i as u8).collect();
    assert_eq!(ring.try_push(&[], 1), Push::Done);
    assert_eq!(ring.try_push(&long, 1), Push::Done);
    assert_eq!(pop(&ring), Pop::Item(vec![]));
    assert_eq!(pop(&ring), Pop::Item(long));
}

#[test]
fn close_drains_then_refuses() {
    let w = Words::new(4, 8);
    let ring = w.ring();
    assert_eq!(ring.try_push(b"a", 1), Push::Done);
    assert!(ring.close());
    assert!(!ring.close());
    assert!(ring.is_closed());
    assert_eq!(ring.try_push(b"b", 1), Push::Closed);
    assert_eq!(pop(&ring), Pop::Item(b"a".to_vec()));
    assert_eq!(pop(&ring), Pop::Closed);
}

#[test]
fn a_claim_caught_by_close_is_undone() {
    // A pusher claimed the slot, then `close` ran before it published the
    // claim: its `tail` compare-exchange sees `pos | CLOSED`.
    let w = Words::new(2, 8);
    let ring = w.ring();
    w.word(0).store(state(0, 5, WRITING), Ordering::Relaxed);
    w.tail.store(CLOSED, Ordering::Relaxed);
    w.closed.store(1, Ordering::Relaxed);
    assert_eq!(pop(&ring), Pop::Closed);
    assert_eq!(ring.unfinished(), 0);
}

#[test]
fn a_writer_killed_after_claiming_is_skipped() {
    let w = Words::new(2, 8);
    let ring = w.ring();
    // Killed between the claim and publishing it: poppers see the claim,
    // pushers publish it and push behind it.
    w.word(0).store(state(0, 9, WRITING), Ordering::Relaxed);
    assert!(matches!(pop(&ring), Pop::Writer { writer: 9, .. }));
    assert_eq!(ring.try_push(b"next", 1), Push::Done);
    assert_eq!(w.tail.load(Ordering::Relaxed), 2);
    // The popper is told who writes the head, and skips it once dead.
    let Pop::Writer { word, writer } = pop(&ring) else {
        panic!("expected the writer")
    };
    assert_eq!(writer, 9);
    assert_eq!(ring.unfinished(), 2);
    assert_eq!(
        ring.try_pop(Some(word), <[u8]>::to_vec),
        Pop::Item(b"next".to_vec())
    );
    assert_eq!(w.skipped.load(Ordering::Relaxed), 1);
    assert!(ring.task_done());
    assert_eq!(ring.unfinished(), 0);
    assert!(!ring.task_done());
    // The skipped slot is usable again on the next lap.
    for item in [b"c", b"d"] {
        assert_eq!(ring.try_push(item, 1), Push::Done);
    }
    assert_eq!(pop(&ring), Pop::Item(b"c".to_vec()));
    assert_eq!(pop(&ring), Pop::Item(b"d".to_vec()));
}

#[test]
fn a_dead_writers_unpublished_claim_is_published_and_skipped() {
    let w = Words::new(2, 8);
    let ring = w.ring();
    w.word(0).store(state(0, 9, WRITING), Ordering::Relaxed);
    let Pop::Writer { word, .. } = pop(&ring) else {
        panic!("expected the writer")
    };
    assert_eq!(ring.try_pop(Some(word), <[u8]>::to_vec), Pop::Empty);
    assert_eq!(w.tail.load(Ordering::Relaxed), 1);
    assert_eq!(w.head.load(Ordering::Relaxed), 1);
    assert_eq!(ring.unfinished(), 0);
    assert_eq!(ring.try_push(b"a", 1), Push::Done);
    assert_eq!(pop(&ring), Pop::Item(b"a".to_vec()));
}

#[test]
fn a_popper_leaves_nothing_to_repair() {
    let w = Words::new(1, 8);
    let ring = w.ring();
    assert_eq!(ring.try_push(b"a", 1), Push::Done);
    // Killed right after committing: `head` moved, the slot is as it was.
    w.head.store(1, Ordering::Relaxed);
    assert_eq!(ring.try_push(b"b", 1), Push::Done);
    assert_eq!(pop(&ring), Pop::Item(b"b".to_vec()));
}

#[test]
fn scribbled_words_are_reported_and_consumed() {
    let w = Words::new(4, 16);
    let ring = w.ring();
    for item in [b"a", b"b", b"c"] {
        assert_eq!(ring.try_push(item, 1), Push::Done);
    }
    // A length past the slot, then a state word no push leaves.
    w.word(0).store(full(0, MAX_LIMIT), Ordering::Relaxed);
    w.word(1).store(0xdead_beef, Ordering::Relaxed);
    assert!(matches!(pop(&ring), Pop::Corrupt(why) if why.contains("length")));
    assert!(matches!(pop(&ring), Pop::Corrupt(why) if why.contains("state")));
    assert_eq!(pop(&ring), Pop::Item(b"c".to_vec()));
    assert_eq!(pop(&ring), Pop::Empty);
    // Both corrupt slots count as done: one task is left.
    assert_eq!(ring.unfinished(), 1);
    // A scribbled word at `tail` makes the ring look full, not hang.
    w.word(3).store(7, Ordering::Relaxed);
    assert_eq!(ring.try_push(b"d", 1), Push::Full);
}

#[test]
fn any_head_and_tail_give_answers() {
    for (head, tail) in [
        (u64::MAX, 0),
        (5, 3),
        (0, u64::MAX),
        (u64::MAX - 1, u64::MAX),
        (1 << 40, (1 << 40) + 1),
    ] {
        let w = Words::new(3, 8);
        let ring = w.ring();
        w.head.store(head, Ordering::Relaxed);
        w.tail.store(tail, Ordering::Relaxed);
        let _ = ring.len();
        let _ = ring.unfinished();
        let _ = ring.task_done();
        for _ in 0..4 {
            let _ = ring.try_push(b"x", 1);
            let _ = pop(&ring);
        }
    }
}

#[test]
fn exactly_once_under_threads() {
    let (producers, per, consumers) = if cfg!(miri) {
        (2, 20, 2)
    } else {
        (4, 20_000, 4)
    };
    let w = Words::new(8, 8);
    let total = producers * per;
    let popped: Vec<AtomicU32> = (0..total).map(|_| AtomicU32::new(0)).collect();
    let count = AtomicU64::new(0);
    std::thread::scope(|s| {
        for p in 0..producers {
            let w = &w;
            s.spawn(move || {
                let ring = w.ring();
                for i in 0..per {
                    let item = ((p * per + i) as u32).to_le_bytes();
                    while ring.try_push(&item, 1) == Push::Full {
                        std::thread::yield_now();
                    }
                }
            });
        }
        for _ in 0..consumers {
            let (w, popped, count) = (&w, &popped, &count);
            s.spawn(move || {
                let ring = w.ring();
                while count.load(Ordering::Relaxed) < total as u64 {
                    match pop(&ring) {
                        Pop::Item(bytes) => {
                            let i = u32::from_le_bytes(bytes.try_into().unwrap());
                            popped[i as usize].fetch_add(1, Ordering::Relaxed);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Pop::Empty | Pop::Writer { .. } => std::thread::yield_now(),
                        other => panic!("unexpected {other:?}"),
                    }
                }
            });
        }
    });
    assert!(popped.iter().all(|n| n.load(Ordering::Relaxed) == 1));
}
