//! What a recording file holds (channels, duration), read from its headers for the
//! recordings API: a WAV's `fmt`/`data` chunks, an MP3's frame headers (the recorder writes
//! constant-bit-rate MPEG audio with no tag frame, so counting frames is exact to a frame).

use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// The audio in one recording file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioInfo {
    pub channels: u16,
    pub duration_ms: u64,
}

/// Reads a `.wav` or `.mp3` recording's info; `None` when the file is not one of ours or is
/// unreadable.
pub fn read(path: &Path) -> Option<AudioInfo> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("wav") => {
            let reader = hound::WavReader::open(path).ok()?;
            let spec = reader.spec();
            let rate = u64::from(spec.sample_rate.max(1));
            Some(AudioInfo {
                channels: spec.channels,
                duration_ms: u64::from(reader.duration()) * 1000 / rate,
            })
        }
        Some("mp3") => {
            let file = std::fs::File::open(path).ok()?;
            mp3(io::BufReader::new(file)).ok().flatten()
        }
        _ => None,
    }
}

/// Layer III bit rates in kbit/s, by bit-rate index: MPEG-1, then MPEG-2 and 2.5.
const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_LSF: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];

/// One MPEG audio frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    len: u64,
    samples: u64,
    rate: u32,
    channels: u16,
}

fn frame(h: [u8; 4]) -> Option<Frame> {
    if h[0] != 0xFF || h[1] & 0xE0 != 0xE0 {
        return None;
    }
    let version = (h[1] >> 3) & 3; // 0: MPEG-2.5, 2: MPEG-2, 3: MPEG-1
    let layer = (h[1] >> 1) & 3; // 1: Layer III
    if version == 1 || layer != 1 {
        return None;
    }
    let bitrate_index = usize::from(h[2] >> 4);
    let rate_index = usize::from((h[2] >> 2) & 3);
    if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
        return None;
    }
    let padding = u64::from((h[2] >> 1) & 1);
    let (bitrate, rates, samples, factor) = match version {
        3 => (BITRATES_V1[bitrate_index], [44100, 48000, 32000], 1152, 144),
        2 => (BITRATES_LSF[bitrate_index], [22050, 24000, 16000], 576, 72),
        _ => (BITRATES_LSF[bitrate_index], [11025, 12000, 8000], 576, 72),
    };
    let rate: u32 = rates[rate_index];
    let len = factor * u64::from(bitrate) * 1000 / u64::from(rate) + padding;
    Some(Frame {
        len,
        samples,
        rate,
        channels: if h[3] >> 6 == 3 { 1 } else { 2 },
    })
}

/// Walks the frames of an MP3 stream (after an ID3v2 tag, if any) and adds them up.
fn mp3<R: Read + Seek>(mut r: R) -> io::Result<Option<AudioInfo>> {
    let mut head = [0u8; 10];
    r.read_exact(&mut head[..4])?;
    let mut at = 0u64;
    if &head[..3] == b"ID3" {
        r.read_exact(&mut head[4..])?;
        // Synch-safe size: 7 bits per byte.
        let size = head[6..10]
            .iter()
            .fold(0u64, |acc, b| (acc << 7) | u64::from(b & 0x7F));
        at = 10 + size;
    }
    let (mut samples, mut first): (u64, Option<Frame>) = (0, None);
    let mut h = [0u8; 4];
    loop {
        r.seek(SeekFrom::Start(at))?;
        if r.read_exact(&mut h).is_err() {
            break;
        }
        let Some(f) = frame(h) else { break };
        samples += f.samples;
        first.get_or_insert(f);
        at += f.len;
    }
    Ok(first.map(|f| AudioInfo {
        channels: f.channels,
        duration_ms: samples * 1000 / u64::from(f.rate),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An MPEG-2.5 Layer III header, 8 kHz, 24 kbit/s, no padding: 216-byte frames of 576
    /// samples (72 ms).
    fn frame_bytes(mono: bool) -> Vec<u8> {
        let mut f = vec![0u8; 216];
        f[..4].copy_from_slice(&[0xFF, 0xE2, 0x38, if mono { 0xC4 } else { 0x44 }]);
        f
    }

    #[test]
    fn counts_mpeg25_frames_after_an_id3_tag() {
        let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        for _ in 0..125 {
            bytes.extend(frame_bytes(true));
        }
        let info = mp3(io::Cursor::new(bytes)).unwrap();
        assert_eq!(
            info,
            Some(AudioInfo {
                channels: 1,
                duration_ms: 9000
            })
        );
    }

    #[test]
    fn stereo_and_junk() {
        let bytes: Vec<u8> = (0..10).flat_map(|_| frame_bytes(false)).collect();
        let info = mp3(io::Cursor::new(bytes)).unwrap().unwrap();
        assert_eq!((info.channels, info.duration_ms), (2, 720));
        assert_eq!(mp3(io::Cursor::new(b"RIFF1234".to_vec())).unwrap(), None);
        assert!(frame([0xFF, 0xE2, 0xF8, 0]).is_none(), "bad bit-rate index");
    }
}
