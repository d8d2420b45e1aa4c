//! The media stages of one call, sans-IO: what happens to a packet between the relay's
//! verdict and the send, and what ringmaster sends to a leg on its own.
//!
//! # Run-loop contract (str0m style)
//!
//! * [`Stages::handle`] takes the media commands (`SetCodecs`, `Play`, `StopPlay`,
//!   `SendDtmf`, `Record`, `StopRecord`).
//! * [`Stages::on_rtp`] takes each admitted RTP packet from a leg, in place: it detects DTMF,
//!   taps audio for a recording, and — when the relay said forward — transcodes μ↔A, rewrites
//!   the payload type and splices the header into the other leg's outgoing stream
//!   ([`crate::media::splice`]). It answers whether to send. No allocation.
//! * [`Stages::poll_timeout`] says when [`Stages::on_timeout`] must run next (the next prompt
//!   frame, DTMF packet or recording flush); `on_timeout` hands the packets due to a send
//!   callback.
//! * [`Stages::poll_output`] yields [`Output`]s: events for the call core and jobs for the
//!   recording writer.
//! * [`Stages::finish`] ends prompts and the recording when the task stops.
//!
//! Time is passed in; nothing here touches a socket, a clock, a file or a thread.

mod play;
mod stream;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rtp_rs::RtpReader;

use super::codec::{AudioCodec, LegCodecs};
use super::control::{Command, Event, Leg};
use super::dtmf::{schedule, DtmfDetector, DtmfTiming, TelephoneEvent};
use super::record::{StereoTimeline, Track};
use super::splice::OutStream;
use play::{DtmfSender, Player, FRAME};

pub use play::{FRAME_TIME, MAX_BURST};

/// How often finished recording frames go to the writer.
pub const RECORD_FLUSH: Duration = Duration::from_millis(100);
/// Largest G.711 payload decoded for a recording in one piece (60 ms); larger ones go in
/// several.
const DECODE_CHUNK: usize = 480;

/// Something for the forwarder to pass on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// For the call core.
    Event(Event),
    /// For the recording writer; `id` is the call core's recording id.
    Record(RecordJob),
}

/// A recording step, in the call's terms (the forwarder maps ids to writer keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordJob {
    Open {
        id: u64,
        path: PathBuf,
        layout: crate::media::record::Layout,
    },
    /// Interleaved stereo frames starting at frame `first`.
    Frames {
        id: u64,
        first: u64,
        samples: Vec<i16>,
    },
    Close {
        id: u64,
        path: PathBuf,
    },
}

/// Per leg: its codecs, the stream towards it, what it sends us, what we send it.
#[derive(Debug, Clone)]
struct LegStage {
    codecs: LegCodecs,
    out: OutStream,
    /// Made on the leg's first telephone-event: most calls never send one, and the detector
    /// is 216 bytes per leg of every call's memory.
    detector: Option<Box<DtmfDetector>>,
    player: Option<Player>,
    dtmf: Option<DtmfSender>,
}

impl LegStage {
    /// Something of ours is going out to this leg, so relayed packets are held back.
    fn busy(&self) -> bool {
        self.player.is_some() || self.dtmf.is_some()
    }
}

#[derive(Debug, Clone)]
struct Recording {
    id: u64,
    path: PathBuf,
    timeline: StereoTimeline,
    next_flush: Instant,
}

/// The stages of one call.
#[derive(Debug, Clone)]
pub struct Stages {
    legs: [LegStage; 2],
    /// Boxed: only calls that record need its 168 bytes.
    recording: Option<Box<Recording>>,
    /// A `stream` in progress (boxed: most calls never stream).
    stream: Option<Box<stream::StreamStage>>,
    timing: DtmfTiming,
    outputs: VecDeque<Output>,
}

fn voice(leg: Leg) -> Track {
    match leg {
        Leg::A => Track::VoiceA,
        Leg::B => Track::VoiceB,
    }
}

fn prompt_to(leg: Leg) -> Track {
    match leg {
        Leg::A => Track::PromptToA,
        Leg::B => Track::PromptToB,
    }
}

impl Stages {
    /// `a` and `b`: the outgoing streams towards each leg (with random SSRC, sequence number
    /// and timestamp, RFC 3550 §5.1).
    pub fn new(a: OutStream, b: OutStream) -> Self {
        let leg = |out| LegStage {
            codecs: LegCodecs::default(),
            out,
            detector: None,
            player: None,
            dtmf: None,
        };
        Stages {
            legs: [leg(a), leg(b)],
            recording: None,
            stream: None,
            timing: DtmfTiming::default(),
            outputs: VecDeque::new(),
        }
    }

    pub fn codecs(&self, leg: Leg) -> LegCodecs {
        self.legs[leg.index()].codecs
    }

    /// Apply a command; the relay's commands change nothing here.
    pub fn handle(&mut self, command: &Command, now: Instant) {
        match command {
            Command::SetCodecs { leg, codecs } => self.legs[leg.index()].codecs = *codecs,
            Command::Play { id, leg, audio } => {
                let stage = &mut self.legs[leg.index()];
                if let Some(old) = stage.player.take() {
                    self.outputs.push_back(play_done(old.id, false));
                }
                if audio.is_empty() {
                    self.outputs.push_back(play_done(*id, true));
                } else {
                    stage.player = Some(Player::new(*id, audio.clone(), now));
                }
            }
            Command::StopPlay { id } => {
                for stage in &mut self.legs {
                    if stage.player.as_ref().is_some_and(|p| p.id == *id) {
                        stage.player = None;
                        self.outputs.push_back(play_done(*id, false));
                    }
                }
            }
            Command::SendDtmf { leg, digits } => self.send_dtmf(*leg, digits, now),
            Command::Record { id, path, layout } => {
                self.close_recording(now);
                self.outputs.push_back(Output::Record(RecordJob::Open {
                    id: *id,
                    path: path.clone(),
                    layout: *layout,
                }));
                self.recording = Some(Box::new(Recording {
                    id: *id,
                    path: path.clone(),
                    timeline: StereoTimeline::new(now),
                    next_flush: now + RECORD_FLUSH,
                }));
            }
            Command::StopRecord { id } => {
                if self.recording.as_ref().is_some_and(|r| r.id == *id) {
                    self.close_recording(now);
                }
            }
            Command::SetRemote { .. }
            | Command::SetSignallingSource { .. }
            | Command::OpenLatchWindow { .. }
            | Command::SetPayloadTypes { .. }
            | Command::SetRtpTimeout { .. }
            | Command::Bridge
            | Command::Unbridge
            | Command::SetWebRtc { .. }
            | Command::RestartIce { .. }
            | Command::SetSrtp { .. }
            | Command::Stream { .. }
            | Command::StopStream { .. }
            | Command::Stop => {}
        }
    }

    fn send_dtmf(&mut self, leg: Leg, digits: &str, now: Instant) {
        let stage = &mut self.legs[leg.index()];
        if stage.codecs.telephone_event.is_none() {
            tracing::warn!(?leg, "DTMF not sent: the leg negotiated no telephone-event");
            return;
        }
        let events = match schedule(digits, &self.timing) {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(?leg, %error, "DTMF not sent");
                return;
            }
        };
        match &mut stage.dtmf {
            Some(sender) if !sender.is_done() => sender.append(events, self.timing.gap),
            _ => stage.dtmf = Some(DtmfSender::new(events, now)),
        }
    }

    /// An admitted RTP packet from `from`. `forward`: the relay would send it to the other
    /// leg. Returns whether to send it (rewritten in place) to the other leg.
    pub fn on_rtp(&mut self, from: Leg, packet: &mut [u8], forward: bool, now: Instant) -> bool {
        let Ok(reader) = RtpReader::new(packet) else {
            return false;
        };
        let payload_type = reader.payload_type();
        let start = reader.payload_offset();
        let end = start + reader.payload().len();
        let (ssrc, seq, timestamp) = (
            reader.ssrc(),
            u16::from(reader.sequence_number()),
            reader.timestamp(),
        );
        // The agent's audio is going to the caller: what the callee says is held meanwhile.
        let stream_busy = from == Leg::B && self.stream.as_ref().is_some_and(|s| s.playing);
        let [a, b] = &mut self.legs;
        let (source, target) = match from {
            Leg::A => (a, b),
            Leg::B => (b, a),
        };
        if source.codecs.is_telephone_event(payload_type) {
            let payload = &packet[start..end];
            let detector = source
                .detector
                .get_or_insert_with(|| Box::new(DtmfDetector::new()));
            if let Some(digit) = detector.on_event(ssrc, seq, timestamp, payload) {
                self.outputs
                    .push_back(Output::Event(Event::Dtmf { leg: from, digit }));
                if let Some(stream) = &self.stream {
                    stream.digit(from, digit);
                }
            }
            let Some(target_pt) = target.codecs.telephone_event.filter(|_| forward) else {
                return false;
            };
            if target.busy() {
                return false;
            }
            let duration = TelephoneEvent::parse(payload).map_or(0, |e| e.duration);
            packet[1] = (packet[1] & 0x80) | target_pt;
            return target.out.relay(packet, u32::from(duration), now);
        }
        let law = source.codecs.law_of(payload_type);
        if let (Some(law), Some(recording)) = (law, self.recording.as_mut()) {
            tap(recording, voice(from), law, &packet[start..end], now);
        }
        if let (Some(law), Some(stream)) = (law, self.stream.as_mut()) {
            stream.tap(from, law, &packet[start..end]);
        }
        if !forward || target.busy() || stream_busy {
            return false;
        }
        let samples = match law {
            Some(law) => {
                law.transcode(target.codecs.audio, &mut packet[start..end]);
                packet[1] = (packet[1] & 0x80) | target.codecs.audio_pt;
                (end - start) as u32
            }
            None => FRAME as u32,
        };
        target.out.relay(packet, samples, now)
    }

    /// When [`Stages::on_timeout`] must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let legs = self.legs.iter().flat_map(|stage| {
            let player = stage.player.as_ref().map(|p| p.next_at);
            // A sender is cleared in the run that sends its last packet, so it always has one.
            let dtmf = stage.dtmf.as_ref().and_then(DtmfSender::next_at);
            [player, dtmf]
        });
        legs.chain([
            self.recording.as_ref().map(|r| r.next_flush),
            self.stream.as_ref().map(|s| s.next_at),
        ])
        .flatten()
        .min()
    }

    /// Send what is due at `now` through `send(leg, packet)`.
    pub fn on_timeout(&mut self, now: Instant, send: &mut dyn FnMut(Leg, &[u8])) {
        for leg in [Leg::A, Leg::B] {
            let stage = &mut self.legs[leg.index()];
            let mut buf = [0u8; 12 + FRAME];
            if let Some(sender) = stage.dtmf.as_mut() {
                let pt = stage.codecs.telephone_event.unwrap_or(101);
                while let Some(event) = sender.due(now) {
                    let header = stage.out.event(event.start, now);
                    let mut head = [0u8; 12];
                    header.write(pt, &mut head);
                    buf[..12].copy_from_slice(&head);
                    buf[12..16].copy_from_slice(&event.payload.to_bytes());
                    send(leg, &buf[..16]);
                }
                if sender.is_done() {
                    stage.dtmf = None;
                }
            }
            if let Some(player) = stage.player.as_mut() {
                let mut frame = [0i16; FRAME];
                let mut burst = 0;
                while player.due(now, burst, &mut frame) {
                    burst += 1;
                    if let Some(recording) = self.recording.as_mut() {
                        recording.timeline.push(prompt_to(leg), &frame, now);
                    }
                    // DTMF going out to the leg takes precedence; the prompt keeps its pace.
                    if stage.dtmf.is_some() {
                        continue;
                    }
                    let codec = stage.codecs.audio;
                    let header = stage.out.audio(FRAME as u32, now);
                    let mut head = [0u8; 12];
                    header.write(stage.codecs.audio_pt, &mut head);
                    buf[..12].copy_from_slice(&head);
                    for (byte, &sample) in buf[12..].iter_mut().zip(&frame) {
                        *byte = codec.encode(sample);
                    }
                    send(leg, &buf);
                }
                if player.is_done() {
                    let id = player.id;
                    stage.player = None;
                    self.outputs.push_back(play_done(id, true));
                }
            }
        }
        self.stream_out(now, send);
        if let Some(recording) = self.recording.as_mut().filter(|r| r.next_flush <= now) {
            let first = recording.timeline.flushed();
            let mut samples = Vec::new();
            recording.timeline.drain(now, &mut samples);
            recording.next_flush = now + RECORD_FLUSH;
            if !samples.is_empty() {
                self.outputs.push_back(Output::Record(RecordJob::Frames {
                    id: recording.id,
                    first,
                    samples,
                }));
            }
        }
    }

    /// A stream starts: `tracks` (A, B) are tapped into `tap`; `playout` goes to the caller.
    pub fn start_stream(
        &mut self,
        id: u64,
        tracks: [bool; 2],
        tap: tokio::sync::mpsc::Sender<crate::media::stream::Tap>,
        playout: std::sync::Arc<std::sync::Mutex<crate::media::stream::Playout>>,
        now: Instant,
    ) {
        self.stream = Some(Box::new(stream::StreamStage::new(
            id, tracks, tap, playout, now,
        )));
    }

    /// The stream `id` ends here (its tap closes, so its session ends too).
    pub fn stop_stream(&mut self, id: u64) {
        if self.stream.as_ref().is_some_and(|s| s.id == id) {
            self.stream = None;
        }
    }

    /// The agent's frame due for the caller, sent like a prompt's.
    fn stream_out(&mut self, now: Instant, send: &mut dyn FnMut(Leg, &[u8])) {
        let Some(stream) = self.stream.as_mut() else {
            return;
        };
        let mut frame = [0i16; FRAME];
        if !stream.due(now, &mut frame) {
            return;
        }
        if let Some(recording) = self.recording.as_mut() {
            recording.timeline.push(prompt_to(Leg::A), &frame, now);
        }
        let stage = &mut self.legs[Leg::A.index()];
        if stage.busy() {
            return; // a prompt or DTMF of ours is going out: it takes precedence
        }
        let codec = stage.codecs.audio;
        let header = stage.out.audio(FRAME as u32, now);
        let mut buf = [0u8; 12 + FRAME];
        let mut head = [0u8; 12];
        header.write(stage.codecs.audio_pt, &mut head);
        buf[..12].copy_from_slice(&head);
        for (byte, &sample) in buf[12..].iter_mut().zip(&frame) {
            *byte = codec.encode(sample);
        }
        send(Leg::A, &buf);
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The task is stopping: prompts end unfinished, the recording is closed.
    pub fn finish(&mut self, now: Instant) {
        for stage in &mut self.legs {
            if let Some(player) = stage.player.take() {
                self.outputs.push_back(play_done(player.id, false));
            }
            stage.dtmf = None;
        }
        self.stream = None;
        self.close_recording(now);
    }

    fn close_recording(&mut self, now: Instant) {
        let Some(mut recording) = self.recording.take() else {
            return;
        };
        let first = recording.timeline.flushed();
        let mut samples = Vec::new();
        recording.timeline.finish(now, &mut samples);
        if !samples.is_empty() {
            self.outputs.push_back(Output::Record(RecordJob::Frames {
                id: recording.id,
                first,
                samples,
            }));
        }
        self.outputs.push_back(Output::Record(RecordJob::Close {
            id: recording.id,
            path: recording.path,
        }));
    }
}

fn play_done(id: u64, completed: bool) -> Output {
    Output::Event(Event::PlayDone { id, completed })
}

/// Decode a G.711 payload onto the recording.
fn tap(recording: &mut Recording, track: Track, law: AudioCodec, payload: &[u8], now: Instant) {
    let mut decoded = [0i16; DECODE_CHUNK];
    for chunk in payload.chunks(DECODE_CHUNK) {
        for (sample, &code) in decoded.iter_mut().zip(chunk) {
            *sample = law.decode(code);
        }
        recording.timeline.push(track, &decoded[..chunk.len()], now);
    }
}

#[cfg(test)]
mod tests;
