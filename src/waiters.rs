//! The one waiter list: every primitive's sleeping waiters, in FIFO order,
//! each with its waker and a per-waiter payload (the permits a semaphore
//! acquire needs, a barrier party's outcome, …).
//!
//! A [`WaitList`] lives inside the primitive's own state, under its own
//! mutex, so a waiter's place in line changes atomically with the state it
//! waits for. Ids are handed out in increasing order and waiters only join
//! at the back, so the list's order is arrival order (and id order: a
//! waiter is found by binary search) and its front is the oldest waiter.
//!
//! # Waker rules
//!
//! A waker's `clone`, `wake` and `drop` are user code (see `engine.rs`).
//! The list enforces the rules for every primitive at once:
//!
//! * it never clones a waker: a waiter brings a [`NewWaker`], cloned from
//!   its `Context` *before* it took the primitive's lock (the blocking
//!   driver's own waker, which runs no user code, may be cloned under it:
//!   [`NewWaker::if_own`]);
//! * every waker it lets go of — woken, replaced, or removed with its
//!   waiter — goes through the engine's [`wake_deferred`] or
//!   [`drop_deferred`], which run it only after the lock is released;
//! * a waiter keeps a [`Ticket`], which remembers which waker it stored, so
//!   a re-poll with the same waker touches nothing, and a re-poll with a new
//!   one clones it outside the lock ([`Ticket::fresh`]) before swapping it
//!   in.
//!
//! # How the primitives use it
//!
//! Most hand a resource to a waiter by removing it from the front and
//! waking it ([`wake_front`](WaitList::wake_front)): the waiter then learns
//! its outcome by finding itself gone, under the same lock
//! ([`still_waiting`](WaitList::still_waiting)). A barrier instead writes
//! the outcome into the entry's payload and wakes it in place
//! ([`Entry::wake`]), since ranks must survive later generations.
//!
//! # Fairness
//!
//! The list also carries the primitive's [`Fairness`] policy (SPEC §0), so
//! that every primitive that hands resources over applies it the same way:
//!
//! * in [`Fairness::Strict`] mode (and in eventual mode once a waiter is
//!   past the bound) a freed resource is handed to the front waiter, which
//!   is removed and woken ([`wake_front`](WaitList::wake_front));
//! * in eventual mode the resource goes back to the primitive and the front
//!   waiter is woken *in place* ([`Entry::wake`]) to try again, competing
//!   with running callers (the containers do this for blocking waiters
//!   only, [`Entry::is_thread`], and hand resources to tasks). A woken
//!   waiter that finds the resource taken is *passed over*:
//!   [`pass_over_front`](WaitList::pass_over_front) records when that
//!   first happened and says whether it was longer ago than the bound,
//!   which is when the primitive switches to handing off.
//!
//! The time is recorded at the first pass-over rather than at arrival: a
//! clock read costs 0.2–0.4 µs on this project's VMs (measured; no vDSO clock),
//! more than the rest of a registration, and until a waiter is first passed
//! over nobody has taken anything ahead of it, so "not overtaken for longer
//! than the bound" is exactly what the bound then guarantees.

use std::fmt;
use std::mem::ManuallyDrop;
use std::task::{Context, Waker};
use std::time::Instant;

use crate::engine::{drop_deferred, is_blocking_waker, is_own_parker, wake_deferred};
use crate::fairness::Fairness;

/// Which waker a waiter stored: the data and vtable pointers that
/// [`Waker::will_wake`] compares, readable without the lock.
#[derive(Clone, Copy, PartialEq, Eq)]
struct WakerKey(usize, usize);

impl WakerKey {
    /// No waker stored yet (a vtable is never at address 0).
    const NONE: WakerKey = WakerKey(0, 0);

    #[inline]
    fn of(waker: &Waker) -> WakerKey {
        // Addresses only, never dereferenced: the same comparison as
        // `will_wake` (a false "changed" merely costs one clone).
        WakerKey(
            waker.data().addr(),
            std::ptr::from_ref(waker.vtable()).addr(),
        )
    }
}

/// A waker the list or a waiter owns: its drop is deferred past any lock
/// held on this thread.
struct Owned(Option<Waker>);

impl Owned {
    /// Wakes it (deferred), leaving nothing behind.
    #[inline]
    fn wake(&mut self) {
        if let Some(waker) = self.0.take() {
            wake_deferred(waker);
        }
    }
}

impl Drop for Owned {
    // Most entries leave the list already woken (no waker): that case must
    // inline to one test, so that removing an entry need not move it to
    // the stack for an out-of-line destructor.
    #[inline(always)]
    fn drop(&mut self) {
        if self.0.is_some() {
            self.drop_waker();
        }
    }
}

impl Owned {
    #[cold]
    #[inline(never)]
    fn drop_waker(&mut self) {
        if let Some(waker) = self.0.take() {
            drop_deferred(waker);
        }
    }
}

/// A clone of the caller's waker, taken before any lock, ready to be stored.
///
/// Just the waker (so that an `Option<NewWaker>` is 16 bytes, passed and
/// returned in registers): what the list records with it, its
/// [`WakerKey`] and whether it is a thread's, is read off the *caller's*
/// waker when it is stored, which is why storing takes the `Context` it
/// was cloned from. A bigger value (a tag, the key and the flag beside the
/// waker) built before the lock goes through the stack on its way into the
/// entry, and its copy stalls on store forwarding on every registration
/// (perf annotate, bounded(1) queue between two tasks). Both are read off
/// the original, not the clone: a clone's vtable may sit at another
/// address (Miri gives each use of a constant its own), and the blocking
/// driver's waker is recognised by its addresses. Dropped unused, its
/// waker's drop is deferred like every other ([`drop_deferred`]).
pub(crate) struct NewWaker(ManuallyDrop<Waker>);

impl Drop for NewWaker {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the waker is taken exactly once, here, and the field is
        // never used again (`into_parts` skips this destructor).
        drop_deferred(unsafe { ManuallyDrop::take(&mut self.0) });
    }
}

impl NewWaker {
    /// Clones `cx`'s waker. Call it only while holding no lock.
    #[inline]
    pub(crate) fn of(cx: &Context<'_>) -> NewWaker {
        NewWaker(ManuallyDrop::new(cx.waker().clone()))
    }

    /// Clones `cx`'s waker under a lock, if that is safe: only the
    /// blocking driver's own waker, which runs no user code.
    #[inline]
    pub(crate) fn if_own(cx: &Context<'_>) -> Option<NewWaker> {
        is_own_parker(cx.waker()).then(|| NewWaker::of(cx))
    }

    /// The waker to store, which waker it is, and whether it is a blocking
    /// wait's (a thread's, see [`Entry::is_thread`]), the last two read off
    /// `cx`'s waker, the one it was cloned from.
    #[inline]
    fn into_parts(self, cx: &Context<'_>) -> (Owned, WakerKey, bool) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so the waker is taken exactly
        // once, here.
        let waker = unsafe { ManuallyDrop::take(&mut this.0) };
        let original = cx.waker();
        (
            Owned(Some(waker)),
            WakerKey::of(original),
            is_blocking_waker(original),
        )
    }
}

/// A waiter's claim on its entry: its id, and which waker it stored.
pub(crate) struct Ticket {
    id: u64,
    key: WakerKey,
}

impl Ticket {
    /// A clone of `cx`'s waker if it is not the one this waiter stored
    /// (clone it before taking the lock, then hand it to
    /// [`WaitList::still_waiting`]); `None` when nothing changed.
    #[inline]
    pub(crate) fn fresh(&mut self, cx: &Context<'_>) -> Option<NewWaker> {
        if WakerKey::of(cx.waker()) == self.key {
            return None;
        }
        self.key = WakerKey::of(cx.waker());
        Some(NewWaker::of(cx))
    }

    /// A clone of `cx`'s waker, to store in a second lock round after a
    /// waiter that was woken in place found it may not clone under the lock
    /// ([`Entry::refresh`] said no waker is stored). Call it holding no
    /// lock.
    #[inline]
    pub(crate) fn clone_waker(&mut self, cx: &Context<'_>) -> NewWaker {
        self.key = WakerKey::of(cx.waker());
        NewWaker::of(cx)
    }

    /// The waiter's id: increasing in arrival order.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Whether the waiter has stored a waker (see [`WaitList::push`]).
    #[inline]
    pub(crate) fn has_waker(&self) -> bool {
        self.key != WakerKey::NONE
    }
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ticket").field(&self.id).finish()
    }
}

/// One waiter: its id, its waker (until woken) and its payload.
pub(crate) struct Entry<P> {
    id: u64,
    waker: Owned,
    /// When this waiter was first passed over (see the module docs).
    passed_over: Option<Instant>,
    /// Whether the waker last stored is a blocking wait's (a thread).
    thread: bool,
    pub(crate) payload: P,
}

impl<P> Entry<P> {
    /// Wakes this waiter in place (deferred); it stays in the list, without
    /// a waker until it stores a new one ([`Entry::has_waker`]). Waking it
    /// again before then does nothing: it is already due to run.
    #[inline]
    pub(crate) fn wake(&mut self) {
        self.waker.wake();
    }

    /// Whether a waker is stored (it has not been woken in place since it
    /// last stored one).
    #[inline]
    pub(crate) fn has_waker(&self) -> bool {
        self.waker.0.is_some()
    }

    /// Stores `new` (cloned from `cx` before the lock); a replaced waker
    /// drops after the lock is released.
    #[inline]
    pub(crate) fn set_waker(&mut self, new: NewWaker, cx: &Context<'_>) {
        let (waker, _, thread) = new.into_parts(cx);
        self.waker = waker;
        self.thread = thread;
    }

    /// Stores `fresh` (cloned from `cx` before the lock) if any, else a
    /// clone of `cx`'s waker if that may be made under the lock (the
    /// blocking driver's own); returns whether a waker is stored now. If
    /// not (a task's waiter woken in place, with nothing new), the caller
    /// releases the lock, clones ([`Ticket::clone_waker`]) and looks again.
    #[inline]
    pub(crate) fn refresh(&mut self, fresh: Option<NewWaker>, cx: &Context<'_>) -> bool {
        if let Some(new) = fresh.or_else(|| NewWaker::if_own(cx)) {
            self.set_waker(new, cx);
        }
        self.has_waker()
    }

    /// Whether this waiter is a blocking wait (a thread that sleeps in the
    /// kernel until woken) rather than an async task.
    #[inline]
    pub(crate) fn is_thread(&self) -> bool {
        self.thread
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// See [`WaitList::pass_over_front`].
    fn pass_over(&mut self, fairness: Fairness) -> bool {
        match fairness {
            Fairness::Strict => return true,
            Fairness::Eventual(bound) if bound.is_zero() => return true,
            Fairness::Eventual(_) => {}
        }
        match self.passed_over {
            Some(since) => fairness.past_bound(since),
            None => {
                self.passed_over = Some(Instant::now());
                false
            }
        }
    }
}

/// The waiters of one primitive (or of one side of it), oldest first.
pub(crate) struct WaitList<P> {
    /// The waiters are `entries[head..]`. The ones before `head` have left
    /// the list: each has no waker and owns nothing (see
    /// [`leave`](WaitList::leave)), and they are dropped when the list
    /// empties or makes room. A `Vec` rather than a `VecDeque`, so that a
    /// new entry is written straight into its slot (see
    /// [`push`](WaitList::push)).
    entries: Vec<Entry<P>>,
    head: usize,
    next_id: u64,
    fairness: Fairness,
}

impl<P> WaitList<P> {
    /// A list for a primitive that hands nothing over (strict FIFO wakes).
    pub(crate) const fn new() -> Self {
        WaitList::with_fairness(Fairness::Strict)
    }

    pub(crate) const fn with_fairness(fairness: Fairness) -> Self {
        WaitList {
            entries: Vec::new(),
            head: 0,
            next_id: 0,
            fairness,
        }
    }

    pub(crate) fn fairness(&self) -> Fairness {
        self.fairness
    }

    /// Changes the policy (construction only: no waiter can be queued yet).
    pub(crate) const fn set_fairness(&mut self, fairness: Fairness) {
        self.fairness = fairness;
    }

    pub(crate) fn is_strict(&self) -> bool {
        self.fairness.is_strict()
    }

    /// Records that the front waiter was passed over: woken to find its
    /// resource taken, or not woken because what was freed did not cover
    /// its need. Returns whether that first happened longer ago than the
    /// fairness bound (time to hand off). The clock is read only here, and
    /// only for a bound that is neither zero nor strict.
    pub(crate) fn pass_over_front(&mut self) -> bool {
        let fairness = self.fairness;
        match self.front_mut() {
            Some(entry) => entry.pass_over(fairness),
            None => false,
        }
    }

    /// [`pass_over_front`](WaitList::pass_over_front) for `ticket`'s
    /// waiter, wherever it is in line (several waiters may be woken at once
    /// when several resources are freed).
    pub(crate) fn pass_over(&mut self, ticket: &Ticket) -> bool {
        let fairness = self.fairness;
        match self.get_mut(ticket) {
            Some(entry) => entry.pass_over(fairness),
            None => false,
        }
    }

    /// Whether the front waiter has been passed over for longer than the
    /// bound (always, in strict mode), i.e. whether handing off must go on.
    pub(crate) fn front_past_bound(&self) -> bool {
        match self.front() {
            None => false,
            Some(_) if self.fairness.is_strict() => true,
            Some(front) => front
                .passed_over
                .is_some_and(|since| self.fairness.past_bound(since)),
        }
    }

    /// Whether `ticket`'s waiter is the front of the line.
    #[inline]
    pub(crate) fn is_front(&self, ticket: &Ticket) -> bool {
        self.front().is_some_and(|e| e.id == ticket.id)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len() - self.head
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.len() == self.head
    }

    /// The waiters, oldest first.
    #[inline]
    fn live(&self) -> &[Entry<P>] {
        &self.entries[self.head..]
    }

    #[inline]
    fn live_mut(&mut self) -> &mut [Entry<P>] {
        &mut self.entries[self.head..]
    }

    /// The id the next waiter to join will get.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Joins the back of the line with `waker` (cloned from `cx`) and
    /// `payload`.
    ///
    /// `waker` may be `None` when a waiter found it had to wait only once
    /// it held the lock, where it may not clone: it then takes its place in
    /// line at once, and must store a waker (a re-poll: [`Ticket::fresh`],
    /// then [`still_waiting`](WaitList::still_waiting)) before it returns
    /// `Pending` ([`Ticket::has_waker`]). Until then it cannot be woken,
    /// which is harmless: it is still running, and looks at its entry again.
    #[inline]
    pub(crate) fn push(&mut self, waker: Option<NewWaker>, cx: &Context<'_>, payload: P) -> Ticket
    where
        P: Copy,
    {
        let id = self.next_id;
        self.next_id += 1;
        let (waker, key, thread) = match waker {
            Some(new) => new.into_parts(cx),
            None => (Owned(None), WakerKey::NONE, false),
        };
        if self.entries.len() == self.entries.capacity() {
            self.make_room();
        }
        let len = self.entries.len();
        // Written straight into its slot, with no call between building the
        // entry and writing it: an entry built on the stack first (as
        // `VecDeque::push_back` does, around its call to grow) is copied in
        // with wider loads than the stores that built it, a store-forwarding
        // stall on every registration (perf annotate, bounded(1) queue and
        // event ping-pong between tasks).
        self.entries.spare_capacity_mut()[0].write(Entry {
            id,
            waker,
            passed_over: None,
            thread,
            payload,
        });
        // SAFETY: the slot at `len`, within capacity, was just initialised.
        unsafe { self.entries.set_len(len + 1) };
        Ticket { id, key }
    }

    /// Room for one more entry: if the entries that left the list are at
    /// least half of it, the waiters move down over them; else the buffer
    /// grows. Either way an entry moves at most once per entry pushed, on
    /// average. (Not `#[cold]`: a list that never empties, such as a
    /// barrier's slots while parties leave and arrive again, comes here
    /// every few pushes.)
    #[inline(never)]
    fn make_room(&mut self)
    where
        P: Copy,
    {
        let (head, len) = (self.head, self.entries.len());
        if head > 0 && head >= len / 2 {
            let live = len - head;
            let base = self.entries.as_mut_ptr();
            // SAFETY: both ranges lie within the initialised `[0, len)`
            // (`copy` allows them to overlap). The entries written over,
            // `[0, head)`, have left the list and own nothing (no waker,
            // ids, times and a `Copy` payload), so not dropping them loses
            // nothing; and after `set_len` the stale copies past `live`
            // are outside the `Vec`, so nothing is dropped twice.
            unsafe {
                std::ptr::copy(base.add(head), base, live);
                self.entries.set_len(live);
            }
            self.head = 0;
        } else {
            self.entries.reserve(1);
        }
    }

    #[inline]
    fn position(&self, id: u64) -> Option<usize> {
        // Ids increase along the list; the front is the common case, and
        // an id older than the front's has left the list.
        let front = self.front()?;
        if front.id == id {
            Some(0)
        } else if id < front.id {
            None
        } else {
            self.live().binary_search_by_key(&id, |e| e.id).ok()
        }
    }

    /// The oldest waiter, if any.
    #[inline]
    pub(crate) fn front(&self) -> Option<&Entry<P>> {
        self.entries.get(self.head)
    }

    /// The oldest waiter, if any, for an in-place wake.
    #[inline]
    pub(crate) fn front_mut(&mut self) -> Option<&mut Entry<P>> {
        self.entries.get_mut(self.head)
    }

    /// The entry of `ticket`'s waiter, if it is still in the list.
    #[inline]
    pub(crate) fn get_mut(&mut self, ticket: &Ticket) -> Option<&mut Entry<P>> {
        let i = self.position(ticket.id)?;
        self.live_mut().get_mut(i)
    }

    /// Whether `ticket`'s waiter is still in the list; if so it now holds
    /// `fresh` (from [`Ticket::fresh`] with `cx`), if any. The replaced or
    /// unused waker is dropped after the lock is released.
    #[inline]
    pub(crate) fn still_waiting(
        &mut self,
        ticket: &Ticket,
        fresh: Option<NewWaker>,
        cx: &Context<'_>,
    ) -> bool {
        match self.get_mut(ticket) {
            Some(entry) => {
                if let Some(new) = fresh {
                    // The old waker drops (deferred) with the replaced value.
                    entry.set_waker(new, cx);
                }
                true
            }
            None => false,
        }
    }

    /// Takes `ticket`'s waiter out of line (cancellation, timeout).
    /// Returns its payload and whether it was the front, or `None` if it was
    /// no longer in the list.
    #[inline]
    pub(crate) fn remove(&mut self, ticket: &Ticket) -> Option<(P, bool)>
    where
        P: Copy,
    {
        let i = self.position(ticket.id)?;
        Some((self.remove_at(i)?, i == 0))
    }

    /// [`remove`](WaitList::remove) for a waiter that has read its payload
    /// where it is ([`get_mut`](WaitList::get_mut)): whether it was still
    /// in the list. A payload with a tag and padding (a barrier party's
    /// outcome) is copied back in overlapping pieces, a store-forwarding
    /// stall at each step; this copies nothing.
    #[inline]
    pub(crate) fn discard(&mut self, ticket: &Ticket) -> bool
    where
        P: Copy,
    {
        match self.position(ticket.id) {
            Some(i) => self.remove_at(i).is_some(),
            None => false,
        }
    }

    /// Takes the waiter at position `i` out of line, its waker (if any)
    /// dropped after the lock is released.
    #[inline(always)]
    fn remove_at(&mut self, i: usize) -> Option<P>
    where
        P: Copy,
    {
        // Its waker, if any, leaves first and drops (deferred) at the end.
        let waker = Owned(self.live_mut().get_mut(i)?.waker.0.take());
        let payload = self.leave(i);
        drop(waker);
        payload
    }

    /// Removes the oldest waiter and wakes it (deferred); returns its
    /// payload.
    #[inline]
    pub(crate) fn wake_front(&mut self) -> Option<P>
    where
        P: Copy,
    {
        self.wake_at(0)
    }

    /// Removes the waiter at position `i` (oldest first) and wakes it
    /// (deferred); returns its payload.
    #[inline]
    pub(crate) fn wake_at(&mut self, i: usize) -> Option<P>
    where
        P: Copy,
    {
        self.live_mut().get_mut(i)?.waker.wake();
        self.leave(i)
    }

    /// Takes entry `i`, whose waker is gone (woken or taken), out of the
    /// list, and returns its payload.
    ///
    /// The payload is read where the entry is, and the front entry (the
    /// common case) is not moved at all: it stays behind `head`, owning
    /// nothing (no waker, a `Copy` payload, plain ids and times). Moving
    /// the entry out and reading it, or dropping it (the waker's destructor
    /// looks at its field), makes the compiler copy the whole entry through
    /// the stack with wide stores and read fields back across two of them,
    /// a store-forwarding stall that costs more than the rest of a wake
    /// (perf annotate: bounded(1) queue and barrier between tasks).
    #[inline(always)]
    fn leave(&mut self, i: usize) -> Option<P>
    where
        P: Copy,
    {
        let entry = self.live().get(i)?;
        debug_assert!(entry.waker.0.is_none(), "its waker leaves first");
        let payload = entry.payload;
        if i == 0 {
            self.head += 1;
            if self.head == self.entries.len() {
                // Empty: start again at the front of the buffer.
                self.clear();
            }
        } else {
            drop(self.entries.remove(self.head + i));
        }
        Some(payload)
    }

    /// Empties the buffer once every entry in it has left the list (or been
    /// woken: none has a waker left).
    #[inline]
    fn clear(&mut self)
    where
        P: Copy,
    {
        debug_assert!(self.entries.iter().all(|e| e.waker.0.is_none()));
        // SAFETY: shortening a `Vec` only forgets the entries past the new
        // length, and these own nothing (no waker; ids, times and a `Copy`
        // payload). `clear()` would run their destructors out of line, a
        // loop that finds nothing to do, on every wake that empties the list.
        unsafe { self.entries.set_len(0) };
        self.head = 0;
    }

    /// The position of the oldest waiter for which `pred` holds, and that
    /// waiter.
    #[inline]
    pub(crate) fn find_mut(
        &mut self,
        mut pred: impl FnMut(&Entry<P>) -> bool,
    ) -> Option<(usize, &mut Entry<P>)> {
        // Nearly always the front: looked at before any search.
        let i = match self.front() {
            Some(front) if pred(front) => 0,
            _ => self.live().iter().position(pred)?,
        };
        Some((i, &mut self.live_mut()[i]))
    }

    /// Removes and wakes (deferred) every waiter; returns how many there
    /// were. Keeps the list's buffer for the next waiters.
    pub(crate) fn wake_all(&mut self) -> usize
    where
        P: Copy,
    {
        let n = self.len();
        if n == 0 {
            return 0;
        }
        // Woken in place, then cleared (see `leave`): moving each entry out
        // to wake it stalls like moving out the front entry.
        for entry in self.live_mut() {
            entry.waker.wake();
        }
        self.clear();
        n
    }

    /// Every waiter, oldest first, for in-place updates ([`Entry::wake`]).
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Entry<P>> {
        self.live_mut().iter_mut()
    }
}

impl<P> fmt::Debug for WaitList<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitList")
            .field("waiting", &self.len())
            .finish()
    }
}
