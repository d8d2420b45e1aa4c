//! Call recording: a pure time line ([`timeline`]) that lays both legs' audio onto a stereo
//! 8 kHz 16-bit frame sequence, and the writer thread ([`RecordWriter`]) that puts frames into
//! files: WAV or MP3, one channel per leg or both mixed to mono ([`Layout`], [`file`]).
//!
//! # Contract
//!
//! * The media task never touches the disk: it sends [`Job`]s over a channel to one writer
//!   thread per media engine, which holds every open file. The channel is bounded by a count
//!   of queued frame blocks ([`MAX_QUEUED_BLOCKS`]); when the disk falls that far behind, new
//!   blocks are dropped rather than letting memory grow or the media thread wait, and the
//!   writer fills the hole with silence (each block carries its first frame's index), so the
//!   channels stay aligned with the call's time.
//! * `Open` creates the file (and its directory); `Close` finalises the WAV header and answers
//!   with the path, the frames written and whether everything went to disk.
//! * When the engine stops, the thread finishes the jobs queued, finalises the files still
//!   open and ends.

mod file;
pub mod timeline;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use file::OpenFile;
pub use file::{FileFormat, Layout};
pub use timeline::{StereoTimeline, Track};

/// Frame blocks that may wait for the disk (all calls together); at the usual 100 ms per
/// block, 25 s of audio for one call or a few seconds each for many.
pub const MAX_QUEUED_BLOCKS: usize = 256;

/// The result of one recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    pub path: PathBuf,
    /// Frames in the file (8000 per second), whatever its layout.
    pub frames: u64,
    /// Everything was written and the header finalised.
    pub ok: bool,
}

/// Work for the writer thread. `key` tells recordings apart across calls.
#[derive(Debug)]
pub enum Job {
    Open {
        key: u64,
        path: PathBuf,
        layout: Layout,
    },
    /// Interleaved stereo frames starting at frame `first` of the recording.
    Frames {
        key: u64,
        first: u64,
        samples: Vec<i16>,
    },
    Close {
        key: u64,
        reply: oneshot::Sender<Finished>,
    },
}

/// The sending side, one per call task (cheap to clone).
#[derive(Debug, Clone)]
pub struct RecordSink {
    jobs: mpsc::Sender<Job>,
    queued: Arc<AtomicUsize>,
    keys: Arc<AtomicU64>,
}

impl RecordSink {
    /// A key no other recording of this engine uses.
    pub fn new_key(&self) -> u64 {
        self.keys.fetch_add(1, Ordering::Relaxed)
    }

    /// Queue a job without waiting. Frame blocks beyond the bound are dropped (`false`);
    /// `Open` and `Close` always go through unless the thread is gone.
    pub fn send(&self, job: Job) -> bool {
        let frames = matches!(job, Job::Frames { .. });
        if frames && self.queued.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUED_BLOCKS {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        let sent = self.jobs.send(job).is_ok();
        if frames && !sent {
            self.queued.fetch_sub(1, Ordering::AcqRel);
        }
        sent
    }
}

/// The writer thread of one media engine.
#[derive(Debug)]
pub struct RecordWriter {
    sink: Option<RecordSink>,
    thread: Option<JoinHandle<()>>,
}

impl RecordWriter {
    // The recorder thread: WAV writes block, so they get their own thread, off the media
    // runtime.
    #[allow(clippy::disallowed_methods)]
    pub fn start() -> std::io::Result<Self> {
        let (jobs, receiver) = mpsc::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let thread = {
            let queued = Arc::clone(&queued);
            std::thread::Builder::new()
                .name("media-record".into())
                .spawn(move || write_loop(receiver, queued))?
        };
        Ok(RecordWriter {
            sink: Some(RecordSink {
                jobs,
                queued,
                keys: Arc::new(AtomicU64::new(1)),
            }),
            thread: Some(thread),
        })
    }

    /// A sender for a call task; `None` once the writer is stopping.
    pub fn sink(&self) -> Option<RecordSink> {
        self.sink.clone()
    }

    /// Let the thread end once every call task dropped its sink; with `wait`, wait for it
    /// (the files are final then).
    pub fn stop(&mut self, wait: bool) {
        self.sink = None;
        if let Some(thread) = self.thread.take().filter(|_| wait) {
            let _ = thread.join();
        }
    }
}

impl Drop for RecordWriter {
    fn drop(&mut self) {
        self.stop(false);
    }
}

fn write_loop(jobs: mpsc::Receiver<Job>, queued: Arc<AtomicUsize>) {
    let mut files: HashMap<u64, OpenFile> = HashMap::new();
    for job in jobs {
        match job {
            Job::Open { key, path, layout } => {
                files.insert(key, OpenFile::create(path, layout));
            }
            Job::Frames {
                key,
                first,
                samples,
            } => {
                queued.fetch_sub(1, Ordering::AcqRel);
                if let Some(file) = files.get_mut(&key) {
                    file.write(first, &samples);
                }
            }
            Job::Close { key, reply } => {
                if let Some(file) = files.remove(&key) {
                    let _ = reply.send(file.finish());
                }
            }
        }
    }
    // Every sink is gone: finalise what is still open.
    for (_, file) in files {
        file.finish();
    }
}

#[cfg(test)]
mod tests;
