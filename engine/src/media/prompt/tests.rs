use std::io::Cursor;
use std::time::Duration;

use super::tts::arguments;
use super::*;
use crate::media::tone::{level, sine};

const MP3_TONE: &[u8] = include_bytes!("testdata/tone-1k-22k.mp3");

fn wav_bytes(spec: hound::WavSpec, frames: &[Vec<f64>]) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let Ok(mut writer) = hound::WavWriter::new(&mut out, spec) else {
        panic!("wav writer");
    };
    for frame in frames {
        for &value in frame {
            let written = match (spec.sample_format, spec.bits_per_sample) {
                (hound::SampleFormat::Float, _) => writer.write_sample(value as f32),
                (_, 8) => writer.write_sample((value * 127.0) as i8),
                (_, 16) => writer.write_sample((value * 32767.0) as i16),
                (_, bits) => {
                    writer.write_sample((value * ((1i64 << (bits - 1)) - 1) as f64) as i32)
                }
            };
            assert!(written.is_ok());
        }
    }
    assert!(writer.finalize().is_ok());
    out.into_inner()
}

/// `seconds` of a 1 kHz tone at half scale, one value per channel per frame; channel 1 (if
/// any) carries silence so that the downmix halves the level.
fn tone_frames(rate: u32, channels: u16, seconds: f64) -> Vec<Vec<f64>> {
    sine(1000.0, rate, seconds, 16384.0)
        .iter()
        .map(|&s| {
            let mut frame = vec![f64::from(s) / 32768.0];
            frame.resize(usize::from(channels), 0.0);
            frame
        })
        .collect()
}

fn spec(rate: u32, channels: u16, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// Checks a decoded half-second 1 kHz tone: length ±1 and level.
fn assert_tone(audio: &[i16], seconds: f64, expected_level: f64) {
    let expected = seconds * 8000.0;
    assert!(
        (audio.len() as f64 - expected).abs() <= 1.0,
        "{} samples, expected {expected}",
        audio.len()
    );
    let body = &audio[400..audio.len() - 400];
    let at = level(body, 1000.0, 8000);
    assert!(
        (at - expected_level).abs() < expected_level * 0.05,
        "1 kHz at {at}, expected {expected_level}"
    );
}

#[test]
fn pcm_wavs_of_every_depth_rate_and_layout_decode_to_8_khz_mono() {
    let limits = PromptLimits::default();
    for (rate, channels, bits, float) in [
        (8000, 1, 16, false),
        (8000, 1, 8, false),
        (16_000, 1, 24, false),
        (22_050, 1, 32, false),
        (44_100, 2, 16, false),
        (48_000, 2, 32, true),
    ] {
        let bytes = wav_bytes(
            spec(rate, channels, bits, float),
            &tone_frames(rate, channels, 0.5),
        );
        let audio =
            decode(&bytes, &limits).unwrap_or_else(|e| panic!("{rate}/{channels}/{bits}: {e}"));
        // Stereo: the tone is on one channel only, so the mid signal has half its level.
        let expected = if channels == 2 { 8192.0 } else { 16384.0 };
        assert_tone(&audio, 0.5, expected);
    }
}

#[test]
fn g711_wavs_decode_through_the_tables() {
    // A μ-law WAV by hand: hound does not write format tag 7.
    let codes: Vec<u8> = sine(1000.0, 8000, 0.5, 16384.0)
        .iter()
        .map(|&s| crate::media::g711::linear_to_ulaw(s))
        .collect();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(4 + 26 + 8 + codes.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&18u32.to_le_bytes());
    for field in [7u16, 1] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    for field in [1u16, 8, 0] {
        bytes.extend_from_slice(&field.to_le_bytes());
    }
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(codes.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&codes);
    let audio = decode(&bytes, &PromptLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_tone(&audio, 0.5, 16384.0);
    bytes[20] = 0x55; // an encoding nobody supports
    assert!(matches!(
        decode(&bytes, &PromptLimits::default()),
        Err(PromptError::WavEncoding { tag: 0x55 })
    ));
}

#[test]
fn a_streamed_wav_is_read_up_to_its_real_end() {
    let mut bytes = wav_bytes(spec(22_050, 1, 16, false), &tone_frames(22_050, 1, 0.5));
    // What `espeak-ng --stdout` writes: sizes it cannot know, as 0x7FFFF000.
    bytes[4..8].copy_from_slice(&0x7FFF_F024u32.to_le_bytes());
    bytes[40..44].copy_from_slice(&0x7FFF_F000u32.to_le_bytes());
    let audio = decode(&bytes, &PromptLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_tone(&audio, 0.5, 16384.0);
}

#[test]
fn mp3_decodes_to_the_tone() {
    let audio = decode(MP3_TONE, &PromptLimits::default()).unwrap_or_else(|e| panic!("{e}"));
    // One second at 22.05 kHz; the encoder's delay and padding may add a frame or so.
    let seconds = audio.len() as f64 / 8000.0;
    assert!((0.95..=1.15).contains(&seconds), "{seconds} s");
    let middle = &audio[2000..6000];
    let at = level(middle, 1000.0, 8000);
    let expected = 12_000.0;
    assert!((at - expected).abs() < expected * 0.1, "1 kHz at {at}");
    assert!(level(middle, 2000.0, 8000) < 300.0);
}

#[test]
fn limits_and_garbage_give_clear_errors() {
    let limits = PromptLimits {
        max_bytes: 20_000,
        max_duration: Duration::from_secs(1),
        ..PromptLimits::default()
    };
    let long = wav_bytes(spec(8000, 1, 8, false), &tone_frames(8000, 1, 1.5));
    assert!(
        matches!(decode(&long, &limits), Err(PromptError::TooLong { max }) if max == Duration::from_secs(1))
    );
    let big = wav_bytes(spec(8000, 1, 16, false), &tone_frames(8000, 1, 1.5));
    assert!(matches!(
        decode(&big, &limits),
        Err(PromptError::TooLarge {
            len: 24_044,
            max: 20_000
        })
    ));
    assert!(matches!(
        decode(b"hello world", &limits),
        Err(PromptError::UnknownFormat)
    ));
    assert!(matches!(
        decode(b"RIFF\0\0\0\0WAVE", &limits),
        Err(PromptError::WavLayout { .. })
    ));
    let empty = wav_bytes(spec(8000, 1, 16, false), &[]);
    assert!(matches!(decode(&empty, &limits), Err(PromptError::Empty)));
    let mp3_limits = PromptLimits {
        max_duration: Duration::from_millis(500),
        ..PromptLimits::default()
    };
    assert!(matches!(
        decode(MP3_TONE, &mp3_limits),
        Err(PromptError::TooLong { .. })
    ));
    assert!(matches!(
        decode(&[0xFF, 0xFB, 0, 0, 0, 0], &limits),
        Err(PromptError::Mp3(_) | PromptError::Empty)
    ));
}

#[test]
fn files_are_loaded_only_from_inside_the_prompts_directory() {
    let Ok(root) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let prompts = root.path().join("prompts");
    let nested = prompts.join("ivr");
    assert!(std::fs::create_dir_all(&nested).is_ok());
    let wav = wav_bytes(spec(8000, 1, 16, false), &tone_frames(8000, 1, 0.5));
    assert!(std::fs::write(nested.join("welcome.wav"), &wav).is_ok());
    assert!(std::fs::write(root.path().join("secret.wav"), &wav).is_ok());
    let limits = PromptLimits::default();

    let audio = load_file(&prompts, "ivr/welcome.wav", &limits).unwrap_or_else(|e| panic!("{e}"));
    assert_tone(&audio, 0.5, 16384.0);
    let outside = root.path().join("secret.wav");
    for name in [
        "../secret.wav",
        "ivr/../../secret.wav",
        outside.to_str().unwrap_or("/"),
        "",
        "./ivr/welcome.wav",
        "ivr\\welcome.wav",
    ] {
        assert!(
            matches!(
                load_file(&prompts, name, &limits),
                Err(PromptError::BadName { .. })
            ),
            "{name:?} was not refused"
        );
    }
    #[cfg(unix)]
    {
        assert!(std::os::unix::fs::symlink(&outside, prompts.join("link.wav")).is_ok());
        assert!(matches!(
            load_file(&prompts, "link.wav", &limits),
            Err(PromptError::BadName { .. })
        ));
    }
    assert!(matches!(
        load_file(&prompts, "missing.wav", &limits),
        Err(PromptError::Read { .. })
    ));

    // Through the library: the second load comes from the cache.
    let library = Prompts::new(&prompts, 1 << 20, limits);
    let first = library
        .file("ivr/welcome.wav")
        .unwrap_or_else(|e| panic!("{e}"));
    let second = library
        .file("ivr/welcome.wav")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(std::sync::Arc::ptr_eq(&first, &second));
}

#[test]
fn speak_settings_map_to_espeak_arguments() {
    let request = SpeakRequest {
        text: "--help me".into(),
        voice: Some("female".into()),
        language: Some("en_US".into()),
        speed: Some(2.0),
    };
    let args = arguments(&request).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(args, ["--stdout", "--stdin", "-v", "en-us+f3", "-s", "350"]);
    assert!(
        !args.iter().any(|a| a.contains("help")),
        "the text is never an argument"
    );
    let slow = SpeakRequest {
        speed: Some(0.1),
        voice: Some("klatt".into()),
        ..SpeakRequest::new("hi")
    };
    assert_eq!(
        arguments(&slow).unwrap_or_default(),
        ["--stdout", "--stdin", "-v", "en+klatt", "-s", "88"]
    );
    let hostile = SpeakRequest {
        language: Some("-w/etc/passwd".into()),
        ..SpeakRequest::new("hi")
    };
    assert!(matches!(
        arguments(&hostile),
        Err(PromptError::BadVoice { .. })
    ));
}

#[test]
fn tts_errors_are_clear() {
    let missing = Tts::new("/nonexistent/espeak-ng", PromptLimits::default());
    assert!(!missing.available());
    assert!(matches!(
        missing.synthesize(&SpeakRequest::new("hello")),
        Err(PromptError::TtsUnavailable)
    ));
    let tts = Tts::default();
    assert!(matches!(
        tts.synthesize(&SpeakRequest::new("  ")),
        Err(PromptError::EmptyText)
    ));
    let limits = PromptLimits {
        max_text_chars: 3,
        ..PromptLimits::default()
    };
    assert!(matches!(
        Tts::new("espeak-ng", limits).synthesize(&SpeakRequest::new("hello")),
        Err(PromptError::TextTooLong { len: 5, max: 3 })
    ));
}

#[cfg(unix)]
#[test]
fn the_tts_program_gets_the_text_on_stdin_and_is_killed_when_late() {
    use std::os::unix::fs::PermissionsExt;
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let script = |name: &str, body: &str| {
        let path = dir.path().join(name);
        assert!(std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).is_ok());
        assert!(std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).is_ok());
        path
    };
    let args_file = dir.path().join("args");
    let stdin_file = dir.path().join("stdin");
    let spy = script(
        "spy",
        &format!(
            "echo \"$@\" > {}; cat > {}; exit 3",
            args_file.display(),
            stdin_file.display()
        ),
    );
    let result =
        Tts::new(&spy, PromptLimits::default()).synthesize(&SpeakRequest::new("; rm -rf /"));
    assert!(matches!(
        result,
        Err(PromptError::TtsFailed { code: Some(3) })
    ));
    assert_eq!(
        std::fs::read_to_string(&stdin_file).ok().as_deref(),
        Some("; rm -rf /")
    );
    let args = std::fs::read_to_string(&args_file).unwrap_or_default();
    assert_eq!(args.trim(), "--stdout --stdin -v en -s 175");

    let slow = script("slow", "sleep 5");
    let limits = PromptLimits {
        tts_timeout: Duration::from_millis(200),
        ..PromptLimits::default()
    };
    let started = std::time::Instant::now();
    let result = Tts::new(&slow, limits).synthesize(&SpeakRequest::new("hello"));
    assert!(matches!(result, Err(PromptError::TtsTimeout { .. })));
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn espeak_ng_speaks_when_installed() {
    if !tts_available() {
        eprintln!("espeak-ng is not installed: only the error paths were checked");
        return;
    }
    let library = Prompts::new(".", 1 << 22, PromptLimits::default());
    let request = SpeakRequest::new("Welcome to ringmaster. Press one for sales.");
    let audio = library.speak(&request).unwrap_or_else(|e| panic!("{e}"));
    let seconds = audio.len() as f64 / 8000.0;
    assert!((1.0..10.0).contains(&seconds), "{seconds} s of speech");
    assert!(
        crate::media::tone::rms(&audio) > 500.0,
        "speech is not silence"
    );
    let again = library.speak(&request).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        std::sync::Arc::ptr_eq(&audio, &again),
        "the second time comes from the cache"
    );
}
