//! MP3 prompts through `symphonia` (pure Rust, maintained; `minimp3` is not).
//!
//! Only the MPEG audio reader and decoder are compiled in (`features = ["mp3"]`). Frames that
//! fail to decode are skipped, as players do; a stream that yields nothing is an error. The
//! duration limit is enforced while decoding, since an MP3's length is only known for sure
//! once it is read.

use std::io::Cursor;

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use super::{PromptError, PromptLimits};
use crate::media::resample;

/// An ID3v2 tag, or an MPEG audio frame sync (11 set bits) at the start.
pub(super) fn is_mp3(bytes: &[u8]) -> bool {
    match bytes {
        [b'I', b'D', b'3', ..] => true,
        [0xFF, second, ..] => second & 0xE0 == 0xE0,
        _ => false,
    }
}

pub(super) fn decode(bytes: &[u8], limits: &PromptLimits) -> Result<Vec<i16>, PromptError> {
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            source,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(PromptError::Mp3)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(PromptError::Empty)?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(PromptError::Mp3(SymphoniaError::Unsupported(
            "no audio codec parameters",
        )))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(PromptError::Mp3)?;

    let mut interleaved: Vec<f32> = Vec::new();
    let mut block: Vec<f32> = Vec::new();
    let mut shape: Option<(u32, usize)> = None;
    let mut frames = 0u64;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A truncated file ends the stream like its end would.
            Err(SymphoniaError::IoError(_)) => break,
            Err(error) => return Err(PromptError::Mp3(error)),
        };
        if packet.track_id != track_id {
            continue;
        }
        let decoded = match decoder.decode(&packet) {
            Ok(decoded) => decoded,
            Err(SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_)) => continue,
            Err(error) => return Err(PromptError::Mp3(error)),
        };
        let rate = decoded.spec().rate();
        let channels = decoded.spec().channels().count();
        match shape {
            None => shape = Some((rate, channels)),
            // A stream that changes rate or channels mid-way (legal in MPEG, rare) is cut
            // at the change rather than played at the wrong speed.
            Some(first) if first != (rate, channels) => break,
            Some(_) => {}
        }
        frames += decoded.frames() as u64;
        if frames > limits.max_frames(rate) {
            return Err(PromptError::TooLong {
                max: limits.max_duration,
            });
        }
        block.resize(decoded.samples_interleaved(), 0.0);
        decoded.copy_to_slice_interleaved(&mut block[..]);
        interleaved.extend_from_slice(&block);
    }
    let Some((rate, channels)) = shape else {
        return Err(PromptError::Empty);
    };
    let channels = u16::try_from(channels).unwrap_or(u16::MAX);
    Ok(resample::to_telephony(&interleaved, rate, channels)?)
}
