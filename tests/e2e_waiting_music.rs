//! Issue 20: v3 connect's `waiting_music`, end to end. A SIPp caller (it accepts the 183 and
//! listens at its SDP's port) calls; the script rings bob with a 500 Hz music file (1 s long,
//! so hearing it for 2.5 s shows the loop). While bob rings the caller hears the music as
//! early media; once bob answers (and sends 1400 Hz) the caller hears bob, and the music
//! never again.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::audio::{decode, tone_frames, write_tone_wav, Capture, Law};
use support::caller::SippCaller;
use support::http::Reply;
use support::rig::Rig;

const SEC: Duration = Duration::from_secs(1);

#[test]
fn a_sipp_caller_hears_the_waiting_music_while_bob_rings_and_bob_after_the_answer() {
    let script = json!([{"action": "connect",
        "params": {"caller_id": "14155550100",
                   "options": {"ring_timeout_sec": 30, "waiting_music": "music.wav"}},
        "endpoints": [{"type": "sip", "user": "bob"}]}]);
    let rig = Rig::start(vec![Reply::Json(script)]);
    for u in ["alice", "bob"] {
        rig.endpoint(u);
    }
    write_tone_wav(
        &rig.dir.path().join("prompts/music.wav"),
        500.0,
        8000,
        1,
        1.0,
    );
    let mut bob = rig.phone("bob");
    let mut caller = SippCaller::start(
        &rig.srv,
        rig.dir.path(),
        "alice",
        "5000",
        "uac_media_listen.xml",
        30 * SEC,
        &[],
    );
    let inv = bob.expect_request("INVITE", None, 10 * SEC);
    bob.reply(&inv, 180, None);
    std::thread::sleep(Duration::from_millis(2500));
    let answered_at = Instant::now();
    let cap_b = Capture::bind();
    let mut d_b = bob.answer(&inv, cap_b.addr);
    let to_b = d_b.remote_rtp.expect("ringmaster's port for bob");
    cap_b.send_tone(to_b, Law::Mu, 1400.0, 1.5).join().unwrap();
    caller
        .capture
        .wait_quiet(Duration::from_millis(300), 5 * SEC);
    assert_eq!(bob.bye(&mut d_b), 200);
    let (code, errors) = caller.finish(20 * SEC);
    assert_eq!(
        code,
        0,
        "SIPp caller: {errors}\nserver log:\n{}",
        rig.srv.log()
    );

    let packets = caller.capture.packets();
    let split = packets
        .iter()
        .position(|p| p.at >= answered_at)
        .unwrap_or(packets.len());
    let before = decode(&packets[..split], Law::Mu);
    let after = decode(&packets[split..], Law::Mu);
    let music = tone_frames(&before, 500.0);
    assert!(
        music > 60,
        "{music} frames of music while bob rang (more than the 1 s file: looped)"
    );
    let bob_frames = tone_frames(&after, 1400.0);
    assert!(
        bob_frames > 50,
        "{bob_frames} frames of bob after the answer"
    );
    let first_bob = after
        .chunks_exact(160)
        .position(|f| tone_frames(f, 1400.0) == 1)
        .unwrap();
    let late_music = tone_frames(&after[first_bob * 160..], 500.0);
    assert_eq!(late_music, 0, "music after bob was heard");
    rig.assert_alive();
}
