use std::time::{Duration, Instant};

use super::*;
use crate::media::codec::{AudioCodec, LegCodecs};
use crate::media::g711;
use crate::media::prompt::Audio;
use crate::media::tone::{level, sine};

const TE: u8 = 101;

fn stages() -> Stages {
    Stages::new(
        OutStream::new(0xA, 1000, 50_000),
        OutStream::new(0xB, 2000, 60_000),
    )
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn set_codecs(stages: &mut Stages, leg: Leg, audio: AudioCodec, now: Instant) {
    let codecs = LegCodecs::new(audio, Some(TE));
    stages.handle(&Command::SetCodecs { leg, codecs }, now);
}

fn rtp(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// (payload type, marker, seq, ts, ssrc)
fn header(p: &[u8]) -> (u8, bool, u16, u32, u32) {
    (
        p[1] & 0x7F,
        p[1] & 0x80 != 0,
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    )
}

/// Run the stages' timer every 20 ms from `from` to `to`; what they sent.
fn run(stages: &mut Stages, from: Instant, to: Instant) -> Vec<(Leg, Vec<u8>)> {
    let mut sent = Vec::new();
    let mut now = from;
    while now <= to {
        if stages.poll_timeout().is_some_and(|at| at <= now) {
            stages.on_timeout(now, &mut |leg, p| sent.push((leg, p.to_vec())));
        }
        now += ms(10);
    }
    sent
}

fn events(stages: &mut Stages) -> Vec<Event> {
    std::iter::from_fn(|| stages.poll_output())
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            Output::Record(_) => None,
        })
        .collect()
}

#[test]
fn a_prompt_goes_out_in_the_legs_law_as_20_ms_packets_then_play_done() {
    let t0 = Instant::now();
    let mut stages = stages();
    set_codecs(&mut stages, Leg::A, AudioCodec::Pcma, t0);
    let tone: Audio = sine(1000.0, 8000, 1.0, 12_000.0).into();
    stages.handle(
        &Command::Play {
            id: 9,
            leg: Leg::A,
            audio: tone,
        },
        t0,
    );
    assert_eq!(stages.poll_timeout(), Some(t0));
    let sent = run(&mut stages, t0, t0 + ms(1100));
    assert_eq!(sent.len(), 50);
    let mut decoded = Vec::new();
    for (i, (leg, p)) in sent.iter().enumerate() {
        assert_eq!(*leg, Leg::A);
        assert_eq!(p.len(), 172);
        let (pt, marker, seq, ts, ssrc) = header(p);
        assert_eq!((pt, marker, ssrc), (8, i == 0, 0xA));
        assert_eq!((seq, ts), (1000 + i as u16, 50_000 + 160 * i as u32));
        decoded.extend(p[12..].iter().map(|&c| g711::alaw_to_linear(c)));
    }
    assert!(level(&decoded, 1000.0, 8000) > 11_000.0);
    assert_eq!(
        events(&mut stages),
        [Event::PlayDone {
            id: 9,
            completed: true
        }]
    );
    assert_eq!(stages.poll_timeout(), None);
}

#[test]
fn a_prompt_replaces_relayed_audio_and_the_relay_resumes_seamlessly() {
    let t0 = Instant::now();
    let mut stages = stages();
    let voice = [0xFFu8; 160];
    let mut p = rtp(0, 500, 8000, 0xBBBB, &voice);
    assert!(
        stages.on_rtp(Leg::B, &mut p, true, t0),
        "bridged audio flows to A"
    );
    assert_eq!(header(&p), (0, false, 500, 8000, 0xBBBB));
    let short: Audio = vec![100i16; 320].into();
    stages.handle(
        &Command::Play {
            id: 1,
            leg: Leg::A,
            audio: short,
        },
        t0 + ms(20),
    );
    let mut p = rtp(0, 501, 8160, 0xBBBB, &voice);
    assert!(
        !stages.on_rtp(Leg::B, &mut p, true, t0 + ms(20)),
        "held back while playing"
    );
    let sent = run(&mut stages, t0 + ms(20), t0 + ms(40));
    let seqs: Vec<(u16, u32, bool)> = sent
        .iter()
        .map(|(_, p)| header(p))
        .map(|h| (h.2, h.3, h.1))
        .collect();
    assert_eq!(seqs, [(501, 8160, true), (502, 8320, false)]);
    assert_eq!(
        events(&mut stages),
        [Event::PlayDone {
            id: 1,
            completed: true
        }]
    );
    let mut p = rtp(0, 504, 8640, 0xBBBB, &voice);
    assert!(stages.on_rtp(Leg::B, &mut p, true, t0 + ms(60)));
    assert_eq!(header(&p), (0, true, 503, 8480, 0xBBBB));
}

#[test]
fn bridged_audio_is_transcoded_between_laws() {
    let t0 = Instant::now();
    let mut stages = stages();
    set_codecs(&mut stages, Leg::A, AudioCodec::Pcmu, t0);
    set_codecs(&mut stages, Leg::B, AudioCodec::Pcma, t0);
    let tone = sine(440.0, 8000, 0.02, 9000.0);
    let ulaw: Vec<u8> = tone.iter().map(|&s| g711::linear_to_ulaw(s)).collect();
    let mut p = rtp(0, 1, 0, 0xAAAA, &ulaw);
    assert!(stages.on_rtp(Leg::A, &mut p, true, t0));
    assert_eq!(p[1], 8);
    let expected: Vec<u8> = ulaw.iter().map(|&c| g711::ulaw_to_alaw(c)).collect();
    assert_eq!(&p[12..], &expected[..]);
    // And back: A-law from B reaches A as μ-law with A's payload type.
    let alaw: Vec<u8> = tone.iter().map(|&s| g711::linear_to_alaw(s)).collect();
    let mut p = rtp(0x80 | 8, 1, 0, 0xBBBB, &alaw);
    assert!(stages.on_rtp(Leg::B, &mut p, true, t0));
    assert_eq!(p[1], 0x80, "marker kept, payload type 0");
    let back: Vec<i16> = p[12..].iter().map(|&c| g711::ulaw_to_linear(c)).collect();
    assert!(level(&back, 440.0, 8000) > 8000.0);
}

#[test]
fn dtmf_from_a_leg_is_reported_once_per_press_bridged_or_not() {
    let t0 = Instant::now();
    let mut stages = stages();
    set_codecs(&mut stages, Leg::A, AudioCodec::Pcmu, t0);
    let presses = [(1u8, 1000u32), (1, 2600), (11, 4200)];
    let mut seq = 10;
    for (event, ts) in presses {
        for (flags, duration) in [
            (0x0A, 400u16),
            (0x0A, 800),
            (0x8A, 800),
            (0x8A, 800),
            (0x8A, 800),
        ] {
            let [hi, lo] = duration.to_be_bytes();
            let mut p = rtp(TE, seq, ts, 0xAAAA, &[event, flags, hi, lo]);
            seq += 1;
            // Not bridged: detection still runs; nothing is sent.
            assert!(!stages.on_rtp(Leg::A, &mut p, false, t0));
        }
    }
    assert_eq!(
        events(&mut stages),
        [
            Event::Dtmf {
                leg: Leg::A,
                digit: '1'
            },
            Event::Dtmf {
                leg: Leg::A,
                digit: '1'
            },
            Event::Dtmf {
                leg: Leg::A,
                digit: '#'
            },
        ]
    );
    // Bridged, towards a leg without telephone-events: held back.
    let mut p = rtp(TE, seq, 9000, 0xAAAA, &[5, 0x0A, 1, 0]);
    assert!(!stages.on_rtp(Leg::A, &mut p, true, t0));
    set_codecs(&mut stages, Leg::B, AudioCodec::Pcma, t0);
    let codecs = LegCodecs {
        telephone_event: Some(96),
        ..stages.codecs(Leg::B)
    };
    stages.handle(
        &Command::SetCodecs {
            leg: Leg::B,
            codecs,
        },
        t0,
    );
    let mut p = rtp(TE, seq + 1, 9000, 0xAAAA, &[5, 0x0A, 1, 0]);
    assert!(stages.on_rtp(Leg::A, &mut p, true, t0));
    assert_eq!(p[1] & 0x7F, 96, "the other leg's telephone-event number");
}

#[test]
fn digits_sent_to_a_leg_are_rfc_4733_events_with_one_timestamp_per_press() {
    let t0 = Instant::now();
    let mut stages = stages();
    set_codecs(&mut stages, Leg::B, AudioCodec::Pcmu, t0);
    stages.handle(
        &Command::SendDtmf {
            leg: Leg::B,
            digits: "4#".into(),
        },
        t0,
    );
    let sent = run(&mut stages, t0, t0 + ms(600));
    assert_eq!(sent.len(), 10);
    let mut presses = Vec::new();
    for (i, (leg, p)) in sent.iter().enumerate() {
        assert_eq!((*leg, p.len()), (Leg::B, 16));
        let (pt, marker, seq, ts, _) = header(p);
        assert_eq!((pt, seq), (TE, 2000 + i as u16));
        if marker {
            presses.push((p[12], ts));
        } else {
            assert_eq!(
                ts,
                presses.last().map_or(0, |p| p.1),
                "one timestamp per press"
            );
        }
    }
    assert_eq!(presses.len(), 2);
    assert_eq!((presses[0].0, presses[1].0), (4, 11));
    assert!(presses[1].1 > presses[0].1);
    // Without telephone-events nothing is sent.
    stages.handle(
        &Command::SendDtmf {
            leg: Leg::A,
            digits: "1".into(),
        },
        t0,
    );
    assert!(run(&mut stages, t0, t0 + ms(300)).is_empty());
}

#[test]
fn stopping_or_replacing_a_prompt_reports_it_unfinished() {
    let t0 = Instant::now();
    let mut stages = stages();
    let long: Audio = vec![0i16; 80_000].into();
    stages.handle(
        &Command::Play {
            id: 1,
            leg: Leg::A,
            audio: long.clone(),
        },
        t0,
    );
    stages.handle(
        &Command::Play {
            id: 2,
            leg: Leg::A,
            audio: long.clone(),
        },
        t0,
    );
    stages.handle(&Command::StopPlay { id: 7 }, t0);
    stages.handle(&Command::StopPlay { id: 2 }, t0);
    stages.handle(
        &Command::Play {
            id: 3,
            leg: Leg::B,
            audio: long,
        },
        t0,
    );
    stages.handle(
        &Command::Play {
            id: 4,
            leg: Leg::A,
            audio: Audio::from(Vec::new()),
        },
        t0,
    );
    stages.finish(t0);
    assert_eq!(
        events(&mut stages),
        [
            Event::PlayDone {
                id: 1,
                completed: false
            },
            Event::PlayDone {
                id: 2,
                completed: false
            },
            Event::PlayDone {
                id: 4,
                completed: true
            },
            Event::PlayDone {
                id: 3,
                completed: false
            },
        ]
    );
}

#[test]
fn a_recording_gets_both_legs_and_the_prompts_on_the_right_channels() {
    let t0 = Instant::now();
    let mut stages = stages();
    stages.handle(
        &Command::Record {
            id: 5,
            path: "/tmp/x.wav".into(),
            layout: Default::default(),
        },
        t0,
    );
    let a = sine(700.0, 8000, 0.5, 8000.0);
    let b = sine(1300.0, 8000, 0.5, 8000.0);
    let mut frames = Vec::new();
    let mut collect = |stages: &mut Stages| {
        while let Some(output) = stages.poll_output() {
            match output {
                Output::Record(RecordJob::Frames { first, samples, .. }) => {
                    assert_eq!(first as usize, frames.len() / 2, "blocks are contiguous");
                    frames.extend(samples);
                }
                Output::Record(job) => frames_job(job),
                Output::Event(_) => {}
            }
        }
    };
    for i in 0..25u16 {
        let at = t0 + ms(20 * (u64::from(i) + 1));
        let chunk = |t: &[i16]| -> Vec<u8> {
            t[usize::from(i) * 160..usize::from(i + 1) * 160]
                .iter()
                .map(|&s| g711::linear_to_ulaw(s))
                .collect()
        };
        let mut pa = rtp(0, i, u32::from(i) * 160, 0xAAAA, &chunk(&a));
        let mut pb = rtp(0, i, u32::from(i) * 160, 0xBBBB, &chunk(&b));
        stages.on_rtp(Leg::A, &mut pa, false, at);
        stages.on_rtp(Leg::B, &mut pb, false, at);
        if stages.poll_timeout().is_some_and(|t| t <= at) {
            stages.on_timeout(at, &mut |_, _| {});
        }
        collect(&mut stages);
    }
    stages.handle(&Command::StopRecord { id: 5 }, t0 + ms(500));
    collect(&mut stages);
    let left: Vec<i16> = frames.iter().step_by(2).copied().collect();
    let right: Vec<i16> = frames.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left.len(), 4000);
    assert!(level(&left, 700.0, 8000) > 7000.0 && level(&left, 1300.0, 8000) < 200.0);
    assert!(level(&right, 1300.0, 8000) > 7000.0 && level(&right, 700.0, 8000) < 200.0);
}

/// Open comes first and Close last; both name the recording.
fn frames_job(job: RecordJob) {
    match job {
        RecordJob::Open { id, path, .. } | RecordJob::Close { id, path } => {
            assert_eq!((id, path), (5, PathBuf::from("/tmp/x.wav")));
        }
        RecordJob::Frames { .. } => {}
    }
}
