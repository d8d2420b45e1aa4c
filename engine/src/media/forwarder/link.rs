//! The path between the call core and one call's media task: a bounded command queue and the
//! event sink, in one small shared allocation.
//!
//! Why not two tokio channels: a tokio `mpsc` channel allocates its shared state with padded
//! counters and its first block of 32 slots at creation, ~2.9 KiB per call for the pair, held
//! for the whole call although a call sees about ten commands and a handful of events. Here the
//! queue is a `VecDeque` that holds memory only while commands wait, and events go straight
//! to a sink the owner gives (the call actor's address), with no queue or relay task between.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use crate::media::control::{Command, Event};

/// Where a media task's events go. Called on the media thread, so it must not block; the
/// call actor's sink posts to its mailbox.
pub type EventSink = Box<dyn FnMut(Event) + Send>;

/// Commands waiting at most; a call sends about ten in its life, in bursts at signalling pace.
pub(super) const COMMAND_QUEUE: usize = 32;

#[derive(Default)]
struct State {
    commands: VecDeque<Command>,
    /// The task's waker, once it found the queue empty.
    waker: Option<Waker>,
    /// Live [`Sender`]s; the task ends when the last one goes.
    senders: usize,
    /// The task has ended: sends fail with `Stopped`.
    closed: bool,
}

#[derive(Default)]
pub(super) struct Link {
    state: Mutex<State>,
}

/// Why a command was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SendError {
    Full,
    Closed,
}

impl Link {
    /// A new link with one sender, and the task's end of it.
    pub fn pair() -> (Sender, Receiver) {
        let link = Arc::new(Link::default());
        lock(&link.state).senders = 1;
        (
            Sender {
                link: Arc::clone(&link),
            },
            Receiver { link },
        )
    }
}

/// The call core's end: cheap to clone.
pub(super) struct Sender {
    link: Arc<Link>,
}

impl Sender {
    pub fn send(&self, command: Command) -> Result<(), SendError> {
        let mut state = lock(&self.link.state);
        if state.closed {
            return Err(SendError::Closed);
        }
        if state.commands.len() >= COMMAND_QUEUE {
            return Err(SendError::Full);
        }
        state.commands.push_back(command);
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl Clone for Sender {
    fn clone(&self) -> Self {
        lock(&self.link.state).senders += 1;
        Sender {
            link: Arc::clone(&self.link),
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let mut state = lock(&self.link.state);
        state.senders -= 1;
        let waker = (state.senders == 0).then(|| state.waker.take()).flatten();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The media task's end. Dropping it (the task ended or was cancelled) closes the link.
pub(super) struct Receiver {
    link: Arc<Link>,
}

impl Receiver {
    /// The next command; `Ready(None)` once every sender is gone and the queue is empty.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Command>> {
        let mut state = lock(&self.link.state);
        if let Some(command) = state.commands.pop_front() {
            if state.commands.is_empty() {
                // Give the burst's buffer back: commands are rare, the call long.
                state.commands = VecDeque::new();
            }
            return Poll::Ready(Some(command));
        }
        if state.senders == 0 {
            return Poll::Ready(None);
        }
        if !state
            .waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            state.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let mut state = lock(&self.link.state);
        state.closed = true;
        state.commands = VecDeque::new();
        state.waker = None;
    }
}

/// A poisoned lock only means a panic elsewhere while holding it; the queue is still sound.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn poll(rx: &mut Receiver) -> Poll<Option<Command>> {
        rx.poll_recv(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn commands_come_out_in_order_and_the_queue_is_bounded() {
        let (tx, mut rx) = Link::pair();
        for _ in 0..COMMAND_QUEUE {
            assert_eq!(tx.send(Command::Bridge), Ok(()));
        }
        assert_eq!(tx.send(Command::Unbridge), Err(SendError::Full));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(Command::Bridge)));
        assert_eq!(tx.send(Command::Unbridge), Ok(()));
        for _ in 1..COMMAND_QUEUE {
            assert_eq!(poll(&mut rx), Poll::Ready(Some(Command::Bridge)));
        }
        assert_eq!(poll(&mut rx), Poll::Ready(Some(Command::Unbridge)));
        assert_eq!(poll(&mut rx), Poll::Pending);
    }

    #[test]
    fn the_task_ends_when_the_last_sender_goes_after_the_queued_commands() {
        let (tx, mut rx) = Link::pair();
        let second = tx.clone();
        tx.send(Command::Bridge).unwrap_or_else(|e| panic!("{e:?}"));
        drop(tx);
        assert_eq!(poll(&mut rx), Poll::Ready(Some(Command::Bridge)));
        assert_eq!(poll(&mut rx), Poll::Pending);
        drop(second);
        assert_eq!(poll(&mut rx), Poll::Ready(None));
    }

    #[test]
    fn sends_after_the_task_ended_say_closed() {
        let (tx, rx) = Link::pair();
        drop(rx);
        assert_eq!(tx.send(Command::Bridge), Err(SendError::Closed));
    }
}
