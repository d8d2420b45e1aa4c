use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::*;
use crate::media::tone::{level, sine};

fn read_channels(path: &std::path::Path) -> (hound::WavSpec, Vec<i16>, Vec<i16>) {
    let Ok(reader) = hound::WavReader::open(path) else {
        panic!("cannot open {}", path.display());
    };
    let spec = reader.spec();
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.unwrap_or(0))
        .collect();
    let left = samples.iter().step_by(2).copied().collect();
    let right = samples.iter().skip(1).step_by(2).copied().collect();
    (spec, left, right)
}

fn close(sink: &RecordSink, key: u64) -> Finished {
    let (reply, answer) = oneshot::channel();
    assert!(sink.send(Job::Close { key, reply }));
    match answer.blocking_recv() {
        Ok(finished) => finished,
        Err(_) => panic!("the writer did not answer"),
    }
}

#[test]
fn a_recording_has_each_legs_tone_on_its_own_channel_for_the_time_recorded() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let path = dir.path().join("calls/one.wav");
    let Ok(mut writer) = RecordWriter::start() else {
        panic!("writer thread")
    };
    let Some(sink) = writer.sink() else {
        panic!("sink")
    };
    let key = sink.new_key();
    assert!(sink.send(Job::Open {
        key,
        path: path.clone(),
        layout: Layout::default(),
    }));

    // One second of a call, packet by packet, as the media task sees it: A sends 700 Hz,
    // B sends 1300 Hz, blocks are drained every 100 ms.
    let t0 = Instant::now();
    let mut timeline = StereoTimeline::new(t0);
    let a = sine(700.0, 8000, 1.0, 8000.0);
    let b = sine(1300.0, 8000, 1.0, 8000.0);
    for i in 0..50 {
        let at = t0 + Duration::from_millis(20 * (i as u64 + 1));
        timeline.push(Track::VoiceA, &a[i * 160..(i + 1) * 160], at);
        timeline.push(Track::VoiceB, &b[i * 160..(i + 1) * 160], at);
        if i % 5 == 4 {
            let first = timeline.flushed();
            let mut block = Vec::new();
            timeline.drain(at, &mut block);
            assert!(sink.send(Job::Frames {
                key,
                first,
                samples: block
            }));
        }
    }
    let first = timeline.flushed();
    let mut rest = Vec::new();
    timeline.finish(t0 + Duration::from_secs(1), &mut rest);
    assert!(sink.send(Job::Frames {
        key,
        first,
        samples: rest
    }));
    let finished = close(&sink, key);
    assert_eq!(
        finished,
        Finished {
            path: path.clone(),
            frames: 8000,
            ok: true
        }
    );

    let (spec, left, right) = read_channels(&path);
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert_eq!((left.len(), right.len()), (8000, 8000));
    assert!(level(&left, 700.0, 8000) > 7000.0);
    assert!(level(&left, 1300.0, 8000) < 100.0);
    assert!(level(&right, 1300.0, 8000) > 7000.0);
    assert!(level(&right, 700.0, 8000) < 100.0);
    drop(sink);
    writer.stop(true);
}

#[test]
fn lost_blocks_become_silence_and_a_bad_path_is_reported() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let Ok(mut writer) = RecordWriter::start() else {
        panic!("writer thread")
    };
    let Some(sink) = writer.sink() else {
        panic!("sink")
    };
    let key = sink.new_key();
    let path = dir.path().join("gap.wav");
    assert!(sink.send(Job::Open {
        key,
        path: path.clone(),
        layout: Layout::default(),
    }));
    assert!(sink.send(Job::Frames {
        key,
        first: 0,
        samples: vec![1; 200]
    }));
    // Frames 100..300 never arrived.
    assert!(sink.send(Job::Frames {
        key,
        first: 300,
        samples: vec![2; 200]
    }));
    let finished = close(&sink, key);
    assert_eq!((finished.frames, finished.ok), (400, true));
    let (_, left, right) = read_channels(&path);
    assert_eq!(left.len(), 400);
    assert!(left[..100].iter().all(|&s| s == 1) && right[..100].iter().all(|&s| s == 1));
    assert!(left[100..300].iter().all(|&s| s == 0));
    assert!(left[300..].iter().all(|&s| s == 2));

    // A directory where the file should be: not ok, no panic.
    let key = sink.new_key();
    assert!(sink.send(Job::Open {
        key,
        path: dir.path().to_path_buf(),
        layout: Layout::default(),
    }));
    assert!(sink.send(Job::Frames {
        key,
        first: 0,
        samples: vec![1; 20]
    }));
    let finished = close(&sink, key);
    assert_eq!((finished.frames, finished.ok), (0, false));
    drop(sink);
    writer.stop(true);
}

#[test]
fn frame_blocks_beyond_the_bound_are_dropped_but_control_jobs_are_not() {
    // A sink whose writer never reads: the disk is "stuck".
    let (jobs, _receiver) = mpsc::channel();
    let sink = RecordSink {
        jobs,
        queued: Arc::new(AtomicUsize::new(0)),
        keys: Arc::new(AtomicU64::new(1)),
    };
    let accepted = (0..MAX_QUEUED_BLOCKS + 10)
        .filter(|&i| {
            sink.send(Job::Frames {
                key: 1,
                first: i as u64,
                samples: vec![0; 2],
            })
        })
        .count();
    assert_eq!(accepted, MAX_QUEUED_BLOCKS);
    let (reply, _answer) = oneshot::channel();
    assert!(sink.send(Job::Close { key: 1, reply }));
    assert_ne!(sink.new_key(), sink.new_key());
}

/// One second of a call (A sends 700 Hz, B 1300 Hz) written in `layout`; the file's path.
fn record_one_second(dir: &std::path::Path, layout: Layout, name: &str) -> (PathBuf, Finished) {
    let path = dir.join(name);
    let Ok(mut writer) = RecordWriter::start() else {
        panic!("writer thread")
    };
    let Some(sink) = writer.sink() else {
        panic!("sink")
    };
    let key = sink.new_key();
    assert!(sink.send(Job::Open {
        key,
        path: path.clone(),
        layout,
    }));
    let t0 = Instant::now();
    let mut timeline = StereoTimeline::new(t0);
    let a = sine(700.0, 8000, 1.0, 8000.0);
    let b = sine(1300.0, 8000, 1.0, 8000.0);
    for i in 0..50 {
        let at = t0 + Duration::from_millis(20 * (i as u64 + 1));
        timeline.push(Track::VoiceA, &a[i * 160..(i + 1) * 160], at);
        timeline.push(Track::VoiceB, &b[i * 160..(i + 1) * 160], at);
    }
    let mut all = Vec::new();
    timeline.finish(t0 + Duration::from_secs(1), &mut all);
    assert!(sink.send(Job::Frames {
        key,
        first: 0,
        samples: all
    }));
    let finished = close(&sink, key);
    drop(sink);
    writer.stop(true);
    (path, finished)
}

#[test]
fn single_channel_wav_mixes_both_parties_into_one_channel() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    let layout = Layout {
        format: FileFormat::Wav,
        mono: true,
    };
    let (path, finished) = record_one_second(dir.path(), layout, "mono.wav");
    assert!(finished.ok);
    assert_eq!(finished.frames, 8000);
    let Ok(reader) = hound::WavReader::open(&path) else {
        panic!("cannot open {}", path.display());
    };
    let spec = reader.spec();
    assert_eq!((spec.channels, spec.sample_rate), (1, 8000));
    let samples: Vec<i16> = reader
        .into_samples::<i16>()
        .map(|s| s.unwrap_or(0))
        .collect();
    assert_eq!(samples.len(), 8000);
    assert!(level(&samples, 700.0, 8000) > 7000.0);
    assert!(level(&samples, 1300.0, 8000) > 7000.0);
}

#[test]
fn mp3_recordings_decode_to_both_parties_tones() {
    let Ok(dir) = tempfile::tempdir() else {
        panic!("tempdir")
    };
    for mono in [false, true] {
        let layout = Layout {
            format: FileFormat::Mp3,
            mono,
        };
        let (path, finished) = record_one_second(dir.path(), layout, &format!("r{mono}.mp3"));
        assert!(finished.ok, "{finished:?}");
        assert_eq!(finished.frames, 8000);
        let Ok(bytes) = std::fs::read(&path) else {
            panic!("no file")
        };
        // Decoded the way prompts are (symphonia, mixed to 8 kHz mono).
        let audio = match crate::media::prompt::decode(&bytes, &Default::default()) {
            Ok(a) => a,
            Err(e) => panic!("mono={mono}: the mp3 does not decode: {e}"),
        };
        assert!(audio.len() >= 7000, "mono={mono}: {} samples", audio.len());
        let middle = &audio[1000..7000];
        assert!(level(middle, 700.0, 8000) > 2000.0, "mono={mono}: A's tone");
        assert!(
            level(middle, 1300.0, 8000) > 2000.0,
            "mono={mono}: B's tone"
        );
        assert!(
            level(middle, 1000.0, 8000) < 500.0,
            "mono={mono}: not noise"
        );
    }
}
