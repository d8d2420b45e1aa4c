//! PCMO `stream` end to end: the real binary streams a call's audio to a voice agent's
//! WebSocket and plays back what the agent sends, all on loopback.
//!
//! The caller is a real softphone (Debian's baresip sending its own 700 Hz sine) or, where
//! single packets are counted, the test UA with an RTP capture; the agent is
//! tests/stream/agent.py (the `websockets` package, its own G.711, L16, WAV and Goertzel
//! detector) answering with **another** frequency, 1400 Hz, so a loop inside ringmaster
//! cannot pass. Counts, never timings:
//!
//! - μ-law at 8 kHz, Twilio dialect: both ends hear each other, 200 ± 10 frames of 160 bytes
//!   over the agent's 4 s, the upgrade's signature verifies, the agent closing the socket
//!   runs the script's next action (a prompt the caller hears);
//! - L16 at 16 kHz, PIOPIY dialect (`streamAudio` raw, `stop`): 640-byte frames, the tones
//!   survive resampling both ways, a mark comes back once its audio played, `stop` ends the
//!   stream and the script goes on;
//! - a placed call at 32 kHz: 1280-byte frames, `extra_params` as
//!   `customParameters`, a stereo 44.1 kHz WAV played, ogg, garbage and a message over 1 MiB
//!   dropped and counted;
//! - barge-in: `pause`/`resume`, then `break` and Twilio `clear` drop queued audio at once
//!   (past 120 s the queue refuses, counted); DTMF reaches the agent; the caller hanging up
//!   sends `stop`;
//! - `listen_mode: both` in a bridged call (`stream_on_answer` beside the next `connect`):
//!   two tracks, each with only its party's tone.
//!
//! Failures, Pipecat and the examples are in e2e_stream_agents.rs.

mod support;

use std::time::Duration;

use serde_json::json;
use support::audio::{decode, read_wav, tone_frames, Capture, Law, Packet};
use support::http::Reply;
use support::rig::{api_raw, Auth, Rig};
use support::stream_agent::{tone, Agent};
use support::stream_calls::{
    assert_start, hears, next_prompt, phone, rig_with, stream, AGENT_HZ, CALLEE_HZ, CALLER_HZ,
    NEXT_HZ, SEC,
};

/// μ-law, Twilio dialect, the agent closing after 4 s: both ends hear each other, 200 ± 10
/// frames of 160 bytes, the signature verifies, the next action runs.
#[test]
fn a_mulaw_stream_carries_both_tones_is_signed_and_the_agent_closing_runs_the_next_action() {
    let mut agent_box = None;
    let rig = rig_with(|rig| {
        let agent = agent_box.insert(Agent::start(rig.dir.path()));
        json!([
            stream(&agent.url("/agent?x=1"), "caller", "8000"),
            next_prompt(rig)
        ])
    });
    let mut agent = agent_box.unwrap();
    agent.secret(&rig.secret);
    agent.plan(json!([
        {"at": 0, "tone": tone("twilio", AGENT_HZ, 8.0, "realtime")},
        {"at": 4.0, "close": true}
    ]));
    let alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));

    let seen = agent.wait(0, &[CALLER_HZ, AGENT_HZ], 30 * SEC, |s| {
        s.closed_by().is_some()
    });
    assert_eq!(seen.closed_by(), Some("agent"), "{}", seen.raw);
    assert_eq!(seen.target(), "/agent?x=1");
    seen.signature()
        .unwrap_or_else(|why| panic!("X-Ringmaster-Signature: {why}; {}", seen.raw));
    assert_start(&seen, &rig, &["inbound"], "audio/x-mulaw", 8000);
    let inbound = seen.track("inbound");
    assert!(
        (190..=210).contains(&inbound.frames),
        "{} frames over the agent's 4 s: {:?}",
        inbound.frames,
        inbound
    );
    assert_eq!(inbound.frames_of(160), inbound.frames, "{inbound:?}");
    assert_eq!(inbound.bad_chunks, 0, "{inbound:?}");
    assert!(
        inbound.tone_frames(CALLER_HZ) >= 150,
        "the agent heard {} frames of the caller's {CALLER_HZ} Hz\n{}",
        inbound.tone_frames(CALLER_HZ),
        alice.log()
    );
    assert_eq!(inbound.tone_frames(AGENT_HZ), 0, "its own tone came back");
    assert_eq!(seen.tracks(), ["inbound"]);

    // The agent closed: the script's `play` runs and the caller hears it.
    let next = hears(&alice, NEXT_HZ, 50);
    assert!(next >= 50, "after the stream: {next} frames of the prompt");
    let heard = alice.heard();
    let at_caller = tone_frames(&heard, f64::from(AGENT_HZ));
    assert!(
        at_caller >= 100,
        "the caller heard {at_caller} frames of the agent's {AGENT_HZ} Hz\n{}",
        rig.srv.log()
    );
    assert!(
        tone_frames(&heard, f64::from(CALLER_HZ)) < 5,
        "the caller's own tone came back"
    );
    assert!(rig.error_events().is_empty(), "{:?}", rig.error_events());
    rig.assert_alive();
}

/// L16 at 16 kHz, PIOPIY dialect: 640-byte frames, the tones survive resampling both ways,
/// a mark comes back after its audio, `[{"action":"stop"}]` (an array, as PIOPIY's SDK sends
/// it) ends the stream with ringmaster's `stop`, and the script goes on; a `record` started
/// before the stream records through it.
#[test]
fn an_l16_stream_at_16k_resamples_both_ways_echoes_marks_stops_and_is_recorded() {
    let mut agent_box = None;
    let rig = rig_with(|rig| {
        let agent = agent_box.insert(Agent::start(rig.dir.path()));
        json!([
            {"action": "record"},
            stream(&agent.url("/agent"), "caller", "16000"),
            next_prompt(rig)
        ])
    });
    let mut agent = agent_box.unwrap();
    let mut piopiy = tone("piopiy", AGENT_HZ, 3.0, "bulk");
    piopiy["rate"] = json!(16000);
    agent.plan(json!([
        {"at": 0, "tone": piopiy},
        {"at": 0, "send": {"event": "mark", "mark": {"name": "after-3s"}}},
        {"at": 4.0, "send": [{"action": "stop"}]}
    ]));
    let alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));

    let seen = agent.wait(0, &[CALLER_HZ, AGENT_HZ], 30 * SEC, |s| {
        s.closed_by().is_some()
    });
    assert_start(&seen, &rig, &["inbound"], "audio/x-l16", 16000);
    assert_eq!(
        seen.closed_by(),
        Some("ringmaster"),
        "after the agent's stop ringmaster closes: {}",
        seen.raw
    );
    let stop = seen
        .stop()
        .unwrap_or_else(|| panic!("no stop: {}", seen.raw));
    assert_eq!(
        stop["stop"]["callSid"],
        seen.start()["start"]["callSid"],
        "{stop}"
    );
    assert_eq!(seen.events().last().map(String::as_str), Some("stop"));
    assert_eq!(seen.marks(), ["after-3s"], "{}", seen.raw);
    // The mark comes once its 3 s (150 frames) played: count the caller's frames before it.
    let before_mark: usize = seen
        .events()
        .iter()
        .take_while(|e| *e != "mark")
        .filter_map(|e| {
            e.strip_prefix("media*")
                .and_then(|n| n.parse::<usize>().ok())
        })
        .sum();
    assert!(
        (140..=165).contains(&before_mark),
        "the mark after {before_mark} frames: {:?}",
        seen.events()
    );
    let inbound = seen.track("inbound");
    assert!(
        (190..=215).contains(&inbound.frames),
        "{} frames over the agent's 4 s: {inbound:?}",
        inbound.frames
    );
    assert_eq!(inbound.frames_of(640), inbound.frames, "{inbound:?}");
    assert!(
        inbound.tone_frames(CALLER_HZ) >= 150,
        "8 → 16 kHz: {} frames of {CALLER_HZ} Hz",
        inbound.tone_frames(CALLER_HZ)
    );
    assert_eq!(inbound.tone_frames(AGENT_HZ), 0);

    let next = hears(&alice, NEXT_HZ, 50);
    assert!(next >= 50, "after the stream: {next} frames of the prompt");
    let at_caller = tone_frames(&alice.heard(), f64::from(AGENT_HZ));
    assert!(
        (100..=160).contains(&at_caller),
        "16 → 8 kHz: the caller heard {at_caller} frames of the agent's 3 s of {AGENT_HZ} Hz"
    );

    // `record` before the stream kept recording through it: the caller on the left, what the
    // caller heard (the agent) on the right.
    let hits = rig.web.wait_hits("/events", 20 * SEC, |h| {
        h.iter().any(|h| h.json()["type"] == "recording")
    });
    let ev = hits
        .iter()
        .map(|h| h.json())
        .find(|e| e["type"] == "recording")
        .unwrap();
    let url = ev["url"].as_str().expect("recording url");
    let (status, wav) = api_raw(&rig.srv, "GET", url, Auth::Admin);
    assert_eq!(status, 200, "{ev}");
    let (_, ch) = read_wav(&wav);
    let (left, right) = (&ch[0], &ch[1]);
    assert!(
        tone_frames(left, f64::from(CALLER_HZ)) >= 150,
        "the caller, left: {}",
        tone_frames(left, f64::from(CALLER_HZ))
    );
    assert!(
        tone_frames(right, f64::from(AGENT_HZ)) >= 100,
        "the agent, right: {}",
        tone_frames(right, f64::from(AGENT_HZ))
    );
    assert_eq!(
        tone_frames(left, f64::from(AGENT_HZ)),
        0,
        "the agent on the left"
    );
    rig.assert_alive();
}

/// `listen_mode: both` in a bridged call: alice (700 Hz) calls; the script's `stream` with
/// `stream_on_answer` waits beside it for the next `connect`'s callee, bob (1100 Hz): once he
/// is bridged, two tracks, `inbound` with only alice's tone, `outbound` with only bob's,
/// 200 ± 10 frames each; the agent closing leaves the bridged call as it was.
#[test]
fn listen_mode_both_in_a_bridged_call_streams_each_partys_tone_on_its_own_track() {
    let mut agent_box = None;
    let rig = rig_with(|rig| {
        let agent = agent_box.insert(Agent::start(rig.dir.path()));
        let mut both = stream(&agent.url("/both"), "both", "8000");
        both["stream_on_answer"] = json!(true);
        json!([both, {"action": "connect", "call": [{"type": "sip", "user": "bob"}]}])
    });
    let mut agent = agent_box.unwrap();
    agent.plan(json!([{"at": 4.0, "close": true}]));
    let bob = phone(&rig, "bob", CALLEE_HZ, None);
    assert!(
        bob.wait_log("200 OK", 10 * SEC),
        "bob did not register:\n{}",
        bob.log()
    );
    let alice = phone(&rig, "alice", CALLER_HZ, Some("5000"));

    let seen = agent.wait(0, &[CALLER_HZ, CALLEE_HZ], 30 * SEC, |s| {
        s.closed_by().is_some()
    });
    assert_start(&seen, &rig, &["inbound", "outbound"], "audio/x-mulaw", 8000);
    let (a, b) = (seen.track("inbound"), seen.track("outbound"));
    for (name, t, own, other) in [
        ("inbound", &a, CALLER_HZ, CALLEE_HZ),
        ("outbound", &b, CALLEE_HZ, CALLER_HZ),
    ] {
        assert!(
            (190..=210).contains(&t.frames) && t.frames_of(160) == t.frames,
            "{name}: {t:?}"
        );
        assert!(
            t.tone_frames(own) >= 150,
            "{name} carries its party's {own} Hz: {t:?}"
        );
        assert_eq!(
            t.tone_frames(other),
            0,
            "{name} carries the other's {other} Hz: {t:?}"
        );
    }
    // The bridge outlived the stream: bob still hears alice.
    let before = tone_frames(&bob.heard(), f64::from(CALLER_HZ));
    let after = hears(&bob, CALLER_HZ, before + 50);
    assert!(
        after >= before + 50,
        "bob heard {before}, then {after} frames of alice"
    );
    drop(alice);
    rig.assert_alive();
}

/// A call the app places (`pcmo_make_call` to alice) streams once alice answers, with the
/// call's `extra_params` as `customParameters`; L16 at 32 kHz: 1280-byte frames; PIOPIY `wav`
/// (stereo, 44.1 kHz) is played; `ogg`, text that is not JSON and a message over 1 MiB are
/// dropped and counted, and the stream goes on.
#[test]
fn a_placed_call_streams_at_32k_plays_stereo_wav_and_drops_bad_messages() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    let mut agent = Agent::start(rig.dir.path());
    let mut wav = tone("piopiy", AGENT_HZ, 2.0, "bulk");
    wav["rate"] = json!(44100);
    wav["format"] = json!("wav");
    wav["channels"] = json!(2);
    agent.plan(json!([
        {"at": 0, "raw": {"text": "this is not JSON"}},
        {"at": 0, "send": {"type": "streamAudio", "data": {"audioDataType": "ogg",
                           "sampleRate": 8000, "audioData": "T2dnUwACAAAAAAAAAAA="}}},
        {"at": 0, "raw": {"oversize": 1_200_000}},
        {"at": 0.2, "tone": wav},
        {"at": 4.0, "close": true}
    ]));
    let alice = phone(&rig, "alice", CALLER_HZ, None);
    assert!(
        alice.wait_log("200 OK", 10 * SEC),
        "alice did not register:\n{}",
        alice.log()
    );
    let hd = stream(&agent.url("/hd"), "caller", "32000");
    let (status, body) = rig.srv.post(
        "/v1/pcmo_make_call",
        json!({"appid": rig.appid, "secret": rig.secret, "from": "1000", "to": "alice",
               "extra_params": {"order": "42"}, "pcmo": [hd, next_prompt(&rig)]}),
    );
    assert_eq!(status, 200, "{body}");

    let seen = agent.wait(0, &[CALLER_HZ, AGENT_HZ], 30 * SEC, |s| {
        s.closed_by().is_some()
    });
    assert_eq!(
        seen.closed_by(),
        Some("agent"),
        "the stream outlived the bad messages: {}",
        seen.raw
    );
    assert_start(&seen, &rig, &["inbound"], "audio/x-l16", 32000);
    assert_eq!(
        seen.start()["start"]["customParameters"],
        json!({"order": "42"}),
        "{}",
        seen.raw
    );
    let inbound = seen.track("inbound");
    assert!(
        (190..=210).contains(&inbound.frames) && inbound.frames_of(1280) == inbound.frames,
        "{inbound:?}"
    );
    assert!(
        inbound.tone_frames(CALLER_HZ) >= 150,
        "8 → 32 kHz: {inbound:?}"
    );
    let dropped = support::wire::metric_settles(
        rig.srv.http,
        "ringmaster_stream_messages_dropped_total",
        3.0,
        5 * SEC,
    );
    assert_eq!(dropped, Some(3.0), "ogg, not JSON, over 1 MiB");

    let next = hears(&alice, NEXT_HZ, 50);
    assert!(next >= 50, "after the stream: {next} frames of the prompt");
    let at_caller = tone_frames(&alice.heard(), f64::from(AGENT_HZ));
    assert!(
        (80..=110).contains(&at_caller),
        "the caller heard {at_caller} frames of the 2 s stereo WAV"
    );
    rig.assert_alive();
}

/// Packets of `packets[from..]` that are clearly the `hz` tone.
fn tone_packets(packets: &[Packet], from: usize, hz: u32) -> usize {
    packets[from.min(packets.len())..]
        .iter()
        .filter(|p| tone_frames(&decode(std::slice::from_ref(p), Law::Mu), f64::from(hz)) == 1)
        .count()
}

/// Waits (bounded) until the capture holds `n` packets of `hz`.
fn wait_tone(cap: &Capture, hz: u32, n: usize) -> Vec<Packet> {
    cap.wait(15 * SEC, |p| tone_packets(p, 0, hz) >= n)
}

/// Barge-in: 10 s queued, paused and resumed, then `break` (PIOPIY); 130 s offered (past
/// the 120 s queue: the excess refused and counted), then Twilio `clear`: at most 3 packets
/// of the dropped audio reach the caller after the agent sent the message. Digits reach the
/// agent; the caller hanging up ends the stream with `stop`.
#[test]
fn break_and_clear_drop_ten_seconds_of_queued_audio_at_once() {
    let mut agent_box = None;
    let rig = rig_with(|rig| {
        let agent = agent_box.insert(Agent::start(rig.dir.path()));
        json!([stream(&agent.url("/barge"), "caller", "8000")])
    });
    let mut agent = agent_box.unwrap();
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let cap = Capture::bind();
    let mut out = alice.invite("5000", cap.addr);
    let mut d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered for the stream");
    let to = d.remote_rtp.expect("ringmaster's RTP address");
    let caller = cap.send_tone(to, Law::Mu, f64::from(CALLER_HZ), 16.0);
    agent.wait(0, &[], 10 * SEC, |s| !s.start().is_null());

    // 10 s, then 130 s: more than the queue holds (120 s); the excess is refused and
    // counted, per 200 ms message.
    let refused = || {
        support::wire::metric(rig.srv.http, "ringmaster_stream_audio_refused_total").unwrap_or(0.0)
    };
    let mut total_ms = 0.0;
    for (hz, seconds, stop) in [
        (AGENT_HZ, 10.0, json!({"action": "break"})),
        (1800, 130.0, json!({"event": "clear"})),
    ] {
        agent.send_tone(tone("twilio", hz, seconds, "bulk"));
        wait_tone(&cap, hz, 25);
        total_ms += seconds * 1000.0;
        agent.wait(0, &[], 20 * SEC, |s| {
            s.raw["sent"]["audio_ms"].as_f64() >= Some(total_ms)
        });
        if seconds < 60.0 {
            assert_eq!(refused(), 0.0, "{seconds} s fit in the queue");
            // PIOPIY `pause` holds the queue (at most 3 packets after it), `resume` plays on.
            agent.send(json!({"action": "pause"}));
            let paused = cap.packets().len();
            std::thread::sleep(Duration::from_millis(600));
            let late = tone_packets(&cap.packets(), paused, hz);
            assert!(late <= 3, "{late} packets after pause");
            agent.send(json!({"action": "resume"}));
            let resumed = cap.packets().len();
            let more = cap.wait(10 * SEC, |p| tone_packets(p, resumed, hz) >= 25);
            assert!(tone_packets(&more, resumed, hz) >= 25, "resume plays on");
        } else {
            // At least 60 s were taken: at most (130 - 60) / 0.2 messages refused.
            let r = refused();
            assert!((1.0..=350.0).contains(&r), "{r} messages refused of 130 s");
        }
        agent.send(stop.clone());
        let sent = cap.packets().len();
        // What arrives in the next second: at most 3 packets of the dropped audio.
        std::thread::sleep(SEC);
        let packets = cap.packets();
        let late = tone_packets(&packets, sent, hz);
        assert!(
            late <= 3,
            "{late} packets of the {hz} Hz queue after {stop}\n{}",
            rig.srv.log()
        );
        assert!(
            tone_packets(&packets, 0, hz) < 150,
            "{stop}: the queue played on"
        );
    }

    cap.press(to, '5');
    let seen = agent.wait(0, &[], 10 * SEC, |s| !s.dtmf().is_empty());
    assert_eq!(seen.dtmf(), ["5"], "{}", seen.raw);
    assert_eq!(alice.bye(&mut d), 200);
    let seen = agent.wait(0, &[CALLER_HZ], 10 * SEC, |s| s.closed_by().is_some());
    assert!(seen.stop().is_some(), "the call ended: stop; {}", seen.raw);
    assert_eq!(seen.closed_by(), Some("ringmaster"));
    assert!(seen.track("inbound").tone_frames(CALLER_HZ) >= 100);
    caller.join().unwrap();
    rig.assert_alive();
}
