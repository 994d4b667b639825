//! A rendezvous queue's second half of a push: its item is in the one-item
//! slot, and the push completes only once a pop takes it (see
//! [`Rendezvous`](super::Rendezvous)).
//!
//! The first half is an ordinary push into a queue of capacity 1: pushers
//! wait in line for the slot, with the container's fairness. Once in the
//! slot, the item is offered to the waiting poppers like any pushed item,
//! and `try_pop` may take it. The pusher then waits in `rv.confirm`, woken
//! by the pop that removes its item (`Core::remove`) or by `close`.
//!
//! A pusher that gives up — its deadline passed, its future was dropped, or
//! the queue was closed — before its item was taken removes the item from
//! the slot again, so a push that fails or is cancelled never delivered its
//! item. If the item had been promised to a popper that has not run yet,
//! that popper finds the slot empty and queues up again (`PopOp::poll_op`).

use std::task::{Context, Poll};

use super::super::error::PushTimeoutError;
use super::ops::{Deposit, PushOp};
use super::{Core, State};
use crate::engine::is_own_parker;
use crate::waiters::NewWaker;

impl<T> Core<T> {
    /// Takes a rendezvous pusher's item back out of the slot: the undoing
    /// of [`Core::insert`] (the slot is free again for the next pusher, and
    /// the item no longer counts as an unfinished task).
    fn withdraw_deposit(&self, state: &mut State<T>) -> T {
        debug_assert_eq!(state.items.len(), 1, "a rendezvous slot holds one item");
        let item = state.items.pop().expect("the deposit is still in the slot");
        self.hints.note(state.items.len(), self.limit);
        // `task_done` calls beyond the pushes may have used its count up.
        if state.unfinished > 0 {
            state.unfinished -= 1;
            if state.unfinished == 0 {
                state.join_generation = state.join_generation.wrapping_add(1);
                state.join_waiting.wake_all();
            }
        }
        self.offer_slot(state);
        item
    }

    /// Ends a rendezvous pusher's wait now (deadline, cancellation): `Ok`
    /// if a pop took its item, else the item is taken back and handed to
    /// `fail` after the lock is released (the item's drop is user code).
    pub(super) fn settle_deposit<E>(
        &self,
        deposit: Deposit,
        fail: impl FnOnce(T) -> E,
    ) -> Result<(), E> {
        let mut state = self.lock();
        if let Some(ticket) = &deposit.ticket {
            state.rv.confirm.remove(ticket);
        }
        if state.rv.taken >= deposit.seq {
            return Ok(());
        }
        let item = self.withdraw_deposit(&mut state);
        drop(state);
        Err(fail(item))
    }
}

impl<T> PushOp<'_, T> {
    /// Waits for a pop to take our item from the slot: `Ok` once one did;
    /// the item back in [`PushTimeoutError::Closed`] if the queue is closed
    /// first.
    pub(super) fn poll_deposited(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), PushTimeoutError<T>>> {
        let core = self.core;
        let deposit = self.deposit.as_mut().expect("deposited");
        // The waker is cloned before the lock (user code), unless it is the
        // blocking driver's own.
        let mut fresh = match &mut deposit.ticket {
            Some(ticket) => ticket.fresh(cx),
            None => (!is_own_parker(cx.waker())).then(|| NewWaker::of(cx)),
        };
        loop {
            let mut state = core.lock();
            if state.rv.taken >= deposit.seq || state.closed {
                drop(state);
                let deposit = self.deposit.take().expect("deposited");
                return Poll::Ready(core.settle_deposit(deposit, PushTimeoutError::Closed));
            }
            if let Some(ticket) = &deposit.ticket {
                if state.rv.confirm.still_waiting(ticket, fresh.take(), cx) {
                    return Poll::Pending;
                }
            }
            // Not registered yet (or woken with nothing changed, which
            // nothing does): join the line, with a waker.
            if let Some(waker) = fresh.take().or_else(|| NewWaker::if_own(cx)) {
                deposit.ticket = Some(state.rv.confirm.push(Some(waker), cx, ()));
                return Poll::Pending;
            }
            drop(state);
            fresh = Some(NewWaker::of(cx));
        }
    }
}
