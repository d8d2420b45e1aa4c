//! Issue 5 ("Media in calls"), end to end: the real binary on loopback, callers that are SIPp
//! (signalling, RFC 4733 digits from SIPp's own captures) or our test UA, and RTP received,
//! decoded and measured by the test (`support::audio`).
//!
//! The "Must show": `speak` then `play` of a WAV heard by a SIPp caller (1), RFC 4733
//! digits from SIPp collected by `play_get_input` up to the finish key (2), the prompt
//! replayed on no input then the script going on (3), `record` of a bridged call with a tone
//! per side on its own channel (4), a PCMU caller and a PCMA callee hearing each other (5).
//! SIP INFO digits, `file_url` prompts and the recordings API are in `e2e_media_more.rs`.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};
use support::audio::{
    bursts, decode, loud_frames, read_wav, seconds, tone_frames, write_tone_wav, Capture, Law,
    Packet, FRAME,
};
use support::caller::SippCaller;
use support::http::Reply;
use support::rig::{api_raw, Auth, Rig};

const SEC: Duration = Duration::from_secs(1);

/// `count` is `expected` within `pct` percent.
fn assert_about(what: &str, count: usize, expected: usize, pct: usize) {
    let slack = expected * pct / 100;
    assert!(
        count + slack >= expected && count <= expected + slack,
        "{what}: {count}, expected {expected} ± {pct}%"
    );
}

/// The packets are one RTP stream as a phone expects it: one SSRC, sequence numbers one
/// apart (nothing is lost or reordered on loopback), timestamps never going back.
fn assert_one_stream(packets: &[Packet]) {
    let ssrcs: HashSet<u32> = packets.iter().map(|p| p.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "one SSRC across the prompts: {ssrcs:x?}");
    for w in packets.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.wrapping_add(1), "sequence numbers");
        let step = w[1].timestamp.wrapping_sub(w[0].timestamp);
        assert!(
            (160..1 << 30).contains(&step),
            "timestamp step {step} between seq {} and {}",
            w[0].seq,
            w[1].seq
        );
    }
}

/// (1) A SIPp caller hears `speak` then `play` of a WAV (16 kHz stereo: mixed down and
/// resampled), in its law at real-time pace, then ringmaster hangs up (the script ran out).
#[test]
fn speak_then_play_reach_a_sipp_caller_as_audio_of_the_right_length() {
    let script = json!([
        {"action": "speak", "text": "Welcome to ringmaster. This is a test of speech."},
        {"action": "play", "file_name": "tone.wav"}
    ]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    rig.endpoint("alice");
    let tone_secs = 1.5;
    write_tone_wav(
        &rig.dir.path().join("prompts/tone.wav"),
        1000.0,
        16_000,
        2,
        tone_secs,
    );
    let mut caller = SippCaller::start(
        &rig.srv,
        rig.dir.path(),
        "alice",
        "5000",
        "uac_media_listen.xml",
        30 * SEC,
        &[],
    );
    let (code, errors) = caller.finish(40 * SEC);
    assert_eq!(
        code,
        0,
        "SIPp caller: {errors}\nserver log:\n{}",
        rig.srv.log()
    );

    let packets = caller.capture.packets();
    assert!(
        packets
            .iter()
            .all(|p| p.payload_type == 0 && p.payload.len() == FRAME),
        "20 ms PCMU packets only"
    );
    assert_one_stream(&packets);
    let samples = decode(&packets, Law::Mu);
    let tone = tone_frames(&samples, 1000.0);
    assert_about("20 ms frames of the WAV's tone", tone, 75, 10);
    let first_tone = samples
        .chunks_exact(FRAME)
        .position(|f| tone_frames(f, 1000.0) == 1)
        .unwrap();
    let speech = &samples[..first_tone * FRAME];
    let spoken = seconds(loud_frames(speech) * FRAME);
    assert!(spoken > 0.5, "{spoken} s of speech before the WAV");
    // After the tone, at most its last partial frame (and one of resampling's ring-down).
    let tail = loud_frames(&samples[(first_tone + tone) * FRAME..]);
    assert!(tail <= 2, "{tail} loud frames after the tone");
    // Real-time pace: the audio took about as long to arrive as it lasts.
    let span = packets.last().unwrap().at - packets[0].at;
    let audio = seconds(samples.len());
    assert!(
        span.as_secs_f64() > 0.9 * audio,
        "{audio} s of audio arrived in {span:?}"
    );
    rig.assert_alive();
}

/// (2) SIPp keys 1 2 3 # (RFC 4733, payload type 101) during a v3 `play_get_input`: the
/// action URL gets `dtmf: "123"` (`#` is the finish key), signed, and the script it returns
/// runs: the caller hears it, then gets its `hangup` as a BYE.
#[test]
fn play_get_input_collects_rfc4733_digits_from_sipp_up_to_the_finish_key() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.web.set_replies(vec![Reply::Json(json!([{
        "action": "play_get_input",
        "prompt": {"type": "say", "say": "Please key in your code, then press the pound key."},
        "dtmf": {"max_digits": 8, "finish_on_key": "#",
                 "first_digit_timeout": 10, "inter_digit_timeout": 5},
        "on_result": {"type": "url", "url": rig.web.url("/digits")}
    }]))]);
    rig.web.route(
        "/digits",
        Reply::Json(json!([
            {"action": "speak", "text": "Thank you. Goodbye."},
            {"action": "hangup"}
        ])),
    );
    rig.endpoint("alice");
    let mut caller = SippCaller::start(
        &rig.srv,
        rig.dir.path(),
        "alice",
        "5000",
        "uac_media_dtmf.xml",
        30 * SEC,
        &["-set", "wait_ms", "1000"],
    );
    let hits = rig.web.wait_hits("/digits", 20 * SEC, |h| !h.is_empty());
    let (code, errors) = caller.finish(30 * SEC);
    assert_eq!(
        code,
        0,
        "SIPp caller: {errors}\nserver log:\n{}",
        rig.srv.log()
    );
    assert_eq!(rig.web.hits("/digits").len(), 1, "one action-URL request");
    let body = hits[0].json();
    assert_eq!(body["dtmf"], "123", "{body}");
    assert_eq!(body["from"], "alice");
    assert_eq!(body["to"], 5000);
    let cmiuuid = body["cmiuuid"].as_str().expect("cmiuuid");
    assert_eq!(body["cmuuid"], cmiuuid);
    hits[0]
        .verify_signature(&rig.secret)
        .expect("action-URL request signed");

    let (before, after): (Vec<Packet>, Vec<Packet>) = caller
        .capture
        .audio(Law::Mu)
        .into_iter()
        .partition(|p| p.at < hits[0].at);
    let prompt = seconds(loud_frames(&decode(&before, Law::Mu)) * FRAME);
    let thanks = seconds(loud_frames(&decode(&after, Law::Mu)) * FRAME);
    assert!(prompt > 0.3, "{prompt} s of the prompt before the digits");
    assert!(thanks > 0.4, "{thanks} s of the returned script's speech");
}

/// (3) Legacy `play_get_input` with `max_retry: 2` and no digits: the prompt is heard three
/// times, `timeout` apart; then the action URL gets `dtmf: ""` and its script plays.
#[test]
fn play_get_input_without_digits_replays_the_prompt_then_goes_on() {
    let rig = Rig::start(vec![Reply::Status(500)]);
    rig.web.set_replies(vec![Reply::Json(json!([{
        "action": "play_get_input", "file_name": "menu.wav", "max_digit": 1,
        "max_retry": 2, "timeout": 2, "action_url": rig.web.url("/menu")
    }]))]);
    rig.web.route(
        "/menu",
        Reply::Json(json!([{"action": "play", "file_name": "next.wav"}])),
    );
    let prompts = rig.dir.path().join("prompts");
    write_tone_wav(&prompts.join("menu.wav"), 800.0, 8000, 1, 0.5);
    write_tone_wav(&prompts.join("next.wav"), 1600.0, 8000, 1, 0.5);
    rig.endpoint("alice");
    let mut alice = rig.phone("alice");
    let cap = Capture::bind();
    let mut out = alice.invite("5000", cap.addr);
    let d = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered for the prompt");
    alice.expect_bye(&d, 30 * SEC);

    let hits = rig.web.hits("/menu");
    assert_eq!(hits.len(), 1, "one action-URL request, after the retries");
    assert_eq!(hits[0].json()["dtmf"], "", "{}", hits[0].json());
    let heard = bursts(&cap.audio(Law::Mu), Duration::from_millis(700));
    let summary: Vec<(usize, usize)> = heard
        .iter()
        .map(|b| {
            let s = decode(b, Law::Mu);
            (tone_frames(&s, 800.0), tone_frames(&s, 1600.0))
        })
        .collect();
    assert_eq!(
        heard.len(),
        4,
        "prompt ×3 then the next script: {summary:?}"
    );
    for (menu, next) in &summary[..3] {
        assert_about("menu frames", *menu, 25, 12);
        assert_eq!(*next, 0);
    }
    assert_eq!(summary[3].0, 0);
    assert_about("next frames", summary[3].1, 25, 12);
    for w in heard.windows(2) {
        let gap = w[1][0].at - w[0].last().unwrap().at;
        assert!(gap > Duration::from_millis(1600), "{gap:?} between prompts");
    }
    assert!(hits[0].at > heard[2].last().unwrap().at && hits[0].at < heard[3][0].at);
}

/// A recording event that arrived on the event URL, checked: signed and complete.
fn recording_event(rig: &Rig) -> Value {
    let hits = rig.web.wait_hits("/events", 15 * SEC, |h| {
        h.iter().any(|h| h.json()["type"] == "recording")
    });
    let hit = hits
        .iter()
        .find(|h| h.json()["type"] == "recording")
        .unwrap();
    hit.verify_signature(&rig.secret)
        .expect("recording event signed");
    let ev = hit.json();
    assert_eq!(ev["status"], "complete", "{ev}");
    let id = ev["recording_id"].as_str().expect("recording_id");
    assert_eq!(ev["url"], format!("/admin/v1/recordings/{id}"));
    assert_eq!(ev["appid"], rig.appid);
    ev
}

/// (4) `record` then `connect`: the caller sends 600 Hz, the callee 1400 Hz, for 2 s each.
/// The WAV downloaded through the API is stereo 8 kHz, the caller's tone on the left, the
/// callee's on the right, each about 2 s long, and neither leaks into the other channel.
#[test]
fn record_of_a_bridged_call_puts_each_side_on_its_own_channel() {
    let script = json!([
        {"action": "record"},
        {"action": "connect", "call": [{"type": "sip", "user": "bob"}]}
    ]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let (cap_a, cap_b) = (Capture::bind(), Capture::bind());
    let mut out = alice.invite("5000", cap_a.addr);
    let mut d_a = alice
        .final_response(&mut out, 5 * SEC)
        .expect("answered to record");
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let d_b = bob.answer(&inv, cap_b.addr);
    let to_a = d_a.remote_rtp.expect("ringmaster's port for alice");
    let to_b = d_b.remote_rtp.expect("ringmaster's port for bob");
    let ta = cap_a.send_tone(to_a, Law::Mu, 600.0, 2.0);
    let tb = cap_b.send_tone(to_b, Law::Mu, 1400.0, 2.0);
    ta.join().unwrap();
    tb.join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    assert_eq!(alice.bye(&mut d_a), 200);
    bob.expect_bye(&d_b, 5 * SEC);

    let ev = recording_event(&rig);
    let url = ev["url"].as_str().unwrap();
    let (status, wav) = api_raw(&rig.srv, "GET", url, Auth::Admin);
    assert_eq!(status, 200);
    let (spec, ch) = read_wav(&wav);
    assert_eq!((spec.channels, spec.sample_rate), (2, 8000));
    let length = seconds(ch[0].len());
    assert!((2.0..8.0).contains(&length), "{length} s recorded");
    assert_about("caller's tone, left", tone_frames(&ch[0], 600.0), 100, 10);
    assert_about("callee's tone, right", tone_frames(&ch[1], 1400.0), 100, 10);
    assert_eq!(tone_frames(&ch[0], 1400.0), 0, "callee on the left");
    assert_eq!(tone_frames(&ch[1], 600.0), 0, "caller on the right");
    let ms = ev["duration_ms"].as_u64().expect("duration_ms");
    assert!(
        (ms as f64 / 1000.0 - length).abs() < 0.5,
        "event says {ms} ms, file has {length} s"
    );
}

/// An SDP answer with PCMA only (and telephone-event).
fn pcma_sdp(rtp: std::net::SocketAddr) -> String {
    format!(
        "v=0\r\no=ua 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        rtp.port()
    )
}

/// (5) A PCMU-only caller bridged to a callee that answers PCMA: each hears the other's tone
/// in its own law (payload type and decoding), cleanly.
#[test]
fn pcmu_caller_and_pcma_callee_hear_each_other() {
    let script = json!([{"action": "connect", "call": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    let (mut alice, mut bob) = (rig.phone("alice"), rig.phone("bob"));
    let (cap_a, cap_b) = (Capture::bind(), Capture::bind());
    let mut out = alice.invite("5000", cap_a.addr);
    let inv = bob.expect_request("INVITE", None, 5 * SEC);
    let offer = String::from_utf8_lossy(&inv.req.body).to_string();
    let m_line = offer.lines().find(|l| l.starts_with("m=audio")).unwrap();
    assert!(
        m_line.split_whitespace().skip(3).any(|pt| pt == "8"),
        "PCMA offered to bob: {m_line}"
    );
    bob.reply_with(&inv, 200, Some(pcma_sdp(cap_b.addr)));
    bob.expect_request("ACK", Some(inv.call_id()), 5 * SEC);
    let mut d_a = alice.final_response(&mut out, 5 * SEC).expect("bridged");
    let to_a = d_a.remote_rtp.unwrap();
    let to_b = support::ua::sdp_audio_addr(&inv.req.body).unwrap();
    let ta = cap_a.send_tone(to_a, Law::Mu, 600.0, 2.0);
    let tb = cap_b.send_tone(to_b, Law::A, 1400.0, 2.0);
    ta.join().unwrap();
    tb.join().unwrap();
    cap_a.wait_quiet(Duration::from_millis(300), 5 * SEC);
    cap_b.wait_quiet(Duration::from_millis(300), 5 * SEC);
    assert_eq!(alice.bye(&mut d_a), 200);

    let (at_a, at_b) = (cap_a.packets(), cap_b.packets());
    assert!(
        at_a.iter().all(|p| p.payload_type == 0),
        "alice gets PCMU only"
    );
    assert!(
        at_b.iter().all(|p| p.payload_type == 8),
        "bob gets PCMA only"
    );
    let heard_a = decode(&at_a, Law::Mu);
    let heard_b = decode(&at_b, Law::A);
    assert_about(
        "bob's tone at alice",
        tone_frames(&heard_a, 1400.0),
        100,
        10,
    );
    assert_about("alice's tone at bob", tone_frames(&heard_b, 600.0), 100, 10);
    assert_eq!(tone_frames(&heard_a, 600.0), 0, "alice hears herself");
    assert_eq!(tone_frames(&heard_b, 1400.0), 0, "bob hears himself");
}
