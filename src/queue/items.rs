//! The three orders: the buffer behind the waiting engine.
//!
//! One enum rather than a type parameter, so that the futures
//! (`Pop<'_, T>`, …) are shared by the three containers and the public types
//! stay `Queue<T>`, `Stack<T>`, `PriorityQueue<T>`. The variant is fixed at
//! construction; the `match` per operation is a perfectly predicted branch.
//!
//! The priority order is a max-heap over a `Vec` (the textbook sift-up /
//! sift-down, as in `std::collections::BinaryHeap`), written here because
//! `BinaryHeap<T>` can only be used where `T: Ord` is known, and the engine
//! is generic over any `T`: the comparison is captured as a function pointer
//! when a `PriorityQueue<T: Ord>` is built.

use std::cmp::Ordering;
use std::collections::VecDeque;

pub(crate) enum Items<T> {
    /// First in, first out: push at the back, pop at the front.
    Fifo(VecDeque<T>),
    /// Last in, first out: push and pop at the end.
    Lifo(Vec<T>),
    /// Greatest first: a binary max-heap ordered by the comparison.
    Heap(Vec<T>, fn(&T, &T) -> Ordering),
}

impl<T> Items<T> {
    pub(crate) const fn fifo() -> Self {
        Items::Fifo(VecDeque::new())
    }

    pub(crate) const fn lifo() -> Self {
        Items::Lifo(Vec::new())
    }

    pub(crate) const fn heap() -> Self
    where
        T: Ord,
    {
        Items::Heap(Vec::new(), T::cmp)
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Items::Fifo(items) => items.len(),
            Items::Lifo(items) | Items::Heap(items, _) => items.len(),
        }
    }

    pub(crate) fn push(&mut self, item: T) {
        match self {
            Items::Fifo(items) => items.push_back(item),
            Items::Lifo(items) => items.push(item),
            Items::Heap(items, cmp) => {
                let last = items.len();
                items.push(item);
                sift_up(items, *cmp, last);
            }
        }
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        match self {
            Items::Fifo(items) => items.pop_front(),
            Items::Lifo(items) => items.pop(),
            Items::Heap(items, cmp) => {
                let len = items.len();
                if len == 0 {
                    return None;
                }
                items.swap(0, len - 1);
                let top = items.pop();
                sift_down(items, *cmp, 0);
                top
            }
        }
    }

    /// The items in the order `pop` would return them.
    pub(crate) fn in_pop_order(&self) -> Vec<&T> {
        match self {
            Items::Fifo(items) => items.iter().collect(),
            Items::Lifo(items) => items.iter().rev().collect(),
            Items::Heap(items, cmp) => {
                let mut sorted: Vec<&T> = items.iter().collect();
                sorted.sort_by(|a, b| cmp(b, a));
                sorted
            }
        }
    }
}

/// Moves `items[pos]` up until its parent is not smaller.
fn sift_up<T>(items: &mut [T], cmp: fn(&T, &T) -> Ordering, mut pos: usize) {
    while pos > 0 {
        let parent = (pos - 1) / 2;
        if cmp(&items[pos], &items[parent]) != Ordering::Greater {
            break;
        }
        items.swap(pos, parent);
        pos = parent;
    }
}

/// Moves `items[pos]` down until no child is greater.
fn sift_down<T>(items: &mut [T], cmp: fn(&T, &T) -> Ordering, mut pos: usize) {
    let len = items.len();
    loop {
        let left = 2 * pos + 1;
        if left >= len {
            break;
        }
        let right = left + 1;
        let child = if right < len && cmp(&items[right], &items[left]) == Ordering::Greater {
            right
        } else {
            left
        };
        if cmp(&items[child], &items[pos]) != Ordering::Greater {
            break;
        }
        items.swap(pos, child);
        pos = child;
    }
}

#[cfg(test)]
mod tests {
    use super::Items;

    #[test]
    fn heap_pops_greatest_first() {
        let mut heap = Items::heap();
        let input = [5, 1, 9, 3, 3, 7, 0, 8, 2, 6, 4, 9];
        for x in input {
            heap.push(x);
        }
        let shown: Vec<i32> = heap.in_pop_order().into_iter().copied().collect();
        let mut popped = Vec::new();
        while let Some(x) = heap.pop() {
            popped.push(x);
        }
        let mut expected = input.to_vec();
        expected.sort_by(|a, b| b.cmp(a));
        assert_eq!(popped, expected);
        assert_eq!(shown, expected);
    }
}
