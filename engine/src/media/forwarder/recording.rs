//! The call task's side of recording: it passes the stages' [`RecordJob`]s to the engine's
//! writer thread (mapping the call's recording ids to the writer's keys) and turns the
//! writer's answers into [`Event::RecordDone`].

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::media::control::Event;
use crate::media::record::{Finished, Job, RecordSink};
use crate::media::stage::RecordJob;

/// How long a stopping task waits for the writer to finalise its recordings.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A recording closed by the call and not yet confirmed by the writer.
struct Closing {
    id: u64,
    path: PathBuf,
    answer: oneshot::Receiver<Finished>,
}

/// One call's recordings in flight.
pub(super) struct Recordings {
    sink: Option<RecordSink>,
    /// (call id, writer key) of open recordings; at most a couple at a time.
    open: Vec<(u64, u64)>,
    closing: Vec<Closing>,
}

fn done(id: u64, path: PathBuf, frames: u64, ok: bool) -> Event {
    Event::RecordDone {
        id,
        path,
        duration_ms: frames * 1000 / u64::from(crate::media::record::timeline::RATE),
        ok,
    }
}

impl Recordings {
    pub fn new(sink: Option<RecordSink>) -> Self {
        Recordings {
            sink,
            open: Vec::new(),
            closing: Vec::new(),
        }
    }

    /// Carry out a job; an event if the recording failed at once.
    pub fn handle(&mut self, job: RecordJob) -> Option<Event> {
        let Some(sink) = &self.sink else {
            tracing::warn!("recording refused: the recording writer is not running");
            return match job {
                RecordJob::Close { id, path } => Some(done(id, path, 0, false)),
                RecordJob::Open { .. } | RecordJob::Frames { .. } => None,
            };
        };
        match job {
            RecordJob::Open { id, path, layout } => {
                let key = sink.new_key();
                if sink.send(Job::Open { key, path, layout }) {
                    self.open.push((id, key));
                }
                None
            }
            RecordJob::Frames { id, first, samples } => {
                let key = self.key(id)?;
                if !sink.send(Job::Frames {
                    key,
                    first,
                    samples,
                }) {
                    tracing::debug!(id, "recording block dropped: the disk is behind");
                }
                None
            }
            RecordJob::Close { id, path } => {
                let Some(key) = self.key(id) else {
                    return Some(done(id, path, 0, false));
                };
                self.open.retain(|&(open, _)| open != id);
                let (reply, answer) = oneshot::channel();
                if !sink.send(Job::Close { key, reply }) {
                    return Some(done(id, path, 0, false));
                }
                self.closing.push(Closing { id, path, answer });
                None
            }
        }
    }

    fn key(&self, id: u64) -> Option<u64> {
        self.open
            .iter()
            .find(|(open, _)| *open == id)
            .map(|&(_, key)| key)
    }

    /// Answers that arrived; each becomes a `RecordDone`.
    pub fn poll_done(&mut self, cx: &mut Context<'_>, mut emit: impl FnMut(Event)) {
        self.closing
            .retain_mut(|closing| match Pin::new(&mut closing.answer).poll(cx) {
                Poll::Pending => true,
                Poll::Ready(answer) => {
                    let path = std::mem::take(&mut closing.path);
                    emit(match answer {
                        Ok(finished) => {
                            done(closing.id, finished.path, finished.frames, finished.ok)
                        }
                        Err(_) => done(closing.id, path, 0, false),
                    });
                    false
                }
            });
    }

    /// Wait (bounded) for the recordings still closing; their `RecordDone` events.
    pub async fn finish(self) -> Vec<Event> {
        let mut events = Vec::new();
        for closing in self.closing {
            let answer = tokio::time::timeout(CLOSE_WAIT, closing.answer).await;
            events.push(match answer {
                Ok(Ok(finished)) => done(closing.id, finished.path, finished.frames, finished.ok),
                _ => done(closing.id, closing.path, 0, false),
            });
        }
        events
    }
}
