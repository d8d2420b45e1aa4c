//! Opus ↔ G.711 at the edge of a browser leg that speaks only Opus: the relay, the media
//! stages and the other leg keep seeing μ-law, and only this leg's packets change codec.
//!
//! libopus (through the `opus` crate) encodes from and decodes to 8 kHz mono directly, so no
//! resampler is needed: a 20 ms μ-law packet (160 samples) becomes one 20 ms Opus frame and
//! back. RTP timestamps of Opus run at 48 kHz whatever the audio bandwidth (RFC 7587 §4.1):
//! ×6 towards the browser, ÷6 from it. Sequence numbers pass unchanged (one packet in, at
//! most one out). Pure: no clock, no IO; one bridge per leg and direction pair.

use super::codec::AudioCodec;

/// Samples of 8 kHz audio in one 20 ms frame.
const FRAME: usize = 160;
/// The longest Opus packet a browser sends (120 ms) at 8 kHz.
const MAX_DECODED: usize = 960;
/// Largest Opus packet we write (well above what 20 ms of voice takes).
const MAX_OPUS: usize = 400;
/// Opus RTP clock over the telephony clock.
const CLOCK_RATIO: u32 = 6;

/// Why the codec could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("libopus: {0}")]
pub struct OpusError(#[from] opus::Error);

/// One browser leg's Opus encoder and decoder.
pub struct OpusBridge {
    encoder: opus::Encoder,
    decoder: opus::Decoder,
    /// μ-law samples waiting for a whole 20 ms frame (relayed packets of odd sizes).
    pending: Vec<i16>,
    pcm: Vec<i16>,
}

impl std::fmt::Debug for OpusBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusBridge").finish_non_exhaustive()
    }
}

impl OpusBridge {
    pub fn new() -> Result<Self, OpusError> {
        let mut encoder = opus::Encoder::new(8000, opus::Channels::Mono, opus::Application::Voip)?;
        // Narrowband voice: 24 kb/s is transparent for what G.711 carries.
        encoder.set_bitrate(opus::Bitrate::Bits(24_000))?;
        Ok(OpusBridge {
            encoder,
            decoder: opus::Decoder::new(8000, opus::Channels::Mono)?,
            pending: Vec::with_capacity(FRAME * 2),
            pcm: vec![0; MAX_DECODED],
        })
    }

    /// An Opus payload from the browser → μ-law samples appended to `out`; returns how many.
    /// A packet libopus cannot decode yields nothing (like a lost packet).
    pub fn decode(&mut self, opus: &[u8], out: &mut Vec<u8>) -> usize {
        let Ok(samples) = self.decoder.decode(opus, &mut self.pcm, false) else {
            return 0;
        };
        out.extend(
            self.pcm[..samples]
                .iter()
                .map(|&s| AudioCodec::Pcmu.encode(s)),
        );
        samples
    }

    /// A G.711 payload (`law`) for the browser → the Opus frames it completes (usually one),
    /// each passed to `emit` with its offset in samples from the start of this payload
    /// (negative when the frame began in an earlier payload).
    pub fn encode(&mut self, law: AudioCodec, g711: &[u8], emit: &mut impl FnMut(i64, &[u8])) {
        let carried = self.pending.len() as i64;
        self.pending.extend(g711.iter().map(|&c| law.decode(c)));
        let mut buf = [0u8; MAX_OPUS];
        let mut start = -carried;
        let mut used = 0;
        while self.pending.len() - used >= FRAME {
            let frame = &self.pending[used..used + FRAME];
            if let Ok(len) = self.encoder.encode(frame, &mut buf) {
                emit(start, &buf[..len]);
            }
            used += FRAME;
            start += FRAME as i64;
        }
        self.pending.drain(..used);
    }
}

/// An Opus RTP timestamp (48 kHz) as the telephony clock's.
pub fn to_telephony_clock(opus_ts: u32) -> u32 {
    opus_ts / CLOCK_RATIO
}

/// A telephony-clock timestamp as Opus's (48 kHz).
pub fn to_opus_clock(ts: u32) -> u32 {
    ts.wrapping_mul(CLOCK_RATIO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tone;

    fn tone(freq: f32, samples: usize, from: usize) -> Vec<u8> {
        (from..from + samples)
            .map(|i| {
                let s = (2.0 * std::f32::consts::PI * freq * i as f32 / 8000.0).sin() * 8000.0;
                AudioCodec::Pcmu.encode(s as i16)
            })
            .collect()
    }

    #[test]
    fn a_tone_survives_g711_to_opus_and_back() {
        let mut bridge = OpusBridge::new().unwrap();
        let mut decoded = Vec::new();
        for n in 0..25 {
            let g711 = tone(700.0, FRAME, n * FRAME);
            let mut frames = Vec::new();
            bridge.encode(AudioCodec::Pcmu, &g711, &mut |at, opus| {
                frames.push((at, opus.to_vec()))
            });
            assert_eq!(frames.len(), 1, "one 20 ms frame per 20 ms packet");
            assert_eq!(frames[0].0, 0);
            assert!(frames[0].1.len() < 160, "Opus is smaller than G.711");
            assert_eq!(bridge.decode(&frames[0].1, &mut decoded), FRAME);
        }
        // After the codec's start-up, the 700 Hz tone dominates a 1,100 Hz probe.
        let pcm: Vec<i16> = decoded[FRAME * 10..]
            .iter()
            .map(|&c| AudioCodec::Pcmu.decode(c))
            .collect();
        let at = |f| tone::level(&pcm, f, 8000);
        assert!(
            at(700.0) > 20.0 * at(1100.0),
            "{} vs {}",
            at(700.0),
            at(1100.0)
        );
    }

    #[test]
    fn odd_packet_sizes_are_regrouped_into_20_ms_frames() {
        let mut bridge = OpusBridge::new().unwrap();
        let mut starts = Vec::new();
        for n in 0..4 {
            bridge.encode(AudioCodec::Pcma, &[0xd5; 240], &mut |at, _| {
                starts.push((n, at))
            });
        }
        // 960 samples: six frames, the 2nd and 5th starting inside the previous packet.
        assert_eq!(
            starts,
            vec![(0, 0), (1, -80), (1, 80), (2, 0), (3, -80), (3, 80)]
        );
    }

    #[test]
    fn garbage_from_the_browser_decodes_to_nothing() {
        let mut bridge = OpusBridge::new().unwrap();
        let mut out = Vec::new();
        assert_eq!(bridge.decode(&[0xff; 3], &mut out), 0);
        assert!(out.is_empty());
        assert_eq!(to_telephony_clock(to_opus_clock(1234)), 1234);
    }
}
