//! The call core (`engine::call::Call`), stateful: an inbound or placed call on a virtual clock
//! gets a bounded sequence of what the shell, the app and the phones can do to it: answer-URL
//! replies (a few real PCMO scripts or arbitrary text), fetch failures, B-leg responses with
//! any status (with good, held or garbage SDP, or none), transaction timeouts, BYE, re-INVITE,
//! INFO and OPTIONS from either side (in or out of CSeq order), ACKs, the caller's CANCEL, media
//! events, digits, loaded or failed prompts, clock jumps, raw SIP bytes parsed and fed as a
//! request or a response of a leg, and the app's live commands (which switch the call between
//! its script and live control). The driver plays the shell like `engine/tests/common/
//! call_rig.rs` does (media always allocates, targets resolve from a table, rings run in real
//! fork cores) but keeps everything outstanding for the fuzzer to answer, in any order.
//!
//! Properties besides "no panic": once the input is used up and the phones, the app and the
//! media task behave (CANCELs get 487, requests the call sent get 200, fetches and prompts
//! fail, prompts end, the caller hangs up, silent branches time out) and the clock runs hours
//! ahead, the call reports `Finished` exactly once; every leg that reported anything reported
//! exactly one terminal event and one CDR; every request the call was given (the caller's
//! INVITE included) got exactly one final response (a relayed re-INVITE still waiting for the
//! other leg when the call finishes gets 487).
#![no_main]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::Bytes;
use engine::call::fork::{Fork, ForkOutput};
use engine::call::media_actions::AudioFailure;
use engine::call::report::{EventStatus, Report};
use engine::call::{
    Call, CallSetup, Contact, Input, LegId, OutboundCall, Output, Purpose, Resolution, RingId,
};
use engine::media::sdp::Anchor;
use engine::media::{Command, Event, Leg};
use engine::sip::message::{
    parse, response_to, HeaderName, HeaderView, Message, Method, Request, Response, Uri,
};
use engine::sip::transaction::TxId;
use engine::sip::Peer;
use libfuzzer_sys::fuzz_target;
use pcmo::{Destination, FetchError};

#[path = "call_dialog/driver.rs"]
mod driver;
use driver::*;

const A_SDP: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";

/// Scripts the app can answer with: connect (group, sequential, looping, video), bridge, menus,
/// prompts, a recording, hangups, an unregistered and an unroutable target.
const SCRIPTS: [&str; 10] = [
    r#"[{"action":"connect","ring_type":"group","timeout":20,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]},{"action":"hangup"}]"#,
    r#"[{"action":"connect","timeout":10,"duration":60,"call":[{"type":"sip","user":"bob"},{"type":"sip","user":"carol"}]},{"action":"connect","call":[{"type":"sip","user":"carol"}]}]"#,
    r#"[{"action":"connect","ring_type":"group","timeout":5,"loop":2,"call":[{"type":"sip","user":"bob"}]},{"action":"hangup"}]"#,
    r#"[{"action":"bridge","from":914471000000,"duration":30,"connect":[{"type":"pstn","number":919876543210}]}]"#,
    r#"[{"action":"play_get_input","action_url":"https://app.example.com/menu","file_name":"menu.wav","max_digit":1,"max_retry":2,"timeout":5},{"action":"hangup"}]"#,
    r#"[{"action":"speak","text":"hello"},{"action":"record"},{"action":"connect","call":[{"type":"sip","user":"carol"}]},{"action":"hangup"}]"#,
    r#"[{"action":"input","action_url":"https://app.example.com/dtmf","max_digit":4,"timeout":10},{"action":"play_get_input","prompt":{"type":"say","say":"Press 1"},"input":["dtmf"],"dtmf":{"max_digits":1,"first_digit_timeout":5},"retries":{"max":1},"on_result":{"type":"url","url":"https://example.com/r"}}]"#,
    r#"[{"action":"connect","call_type":"video","call":[{"type":"sip","user":"bob"}]},{"action":"play","file_url":"https://cdn.example.com/x.wav"}]"#,
    r#"[{"action":"connect","timeout":30,"call":[{"type":"sip","user":"nobody"},{"type":"sip","uri":"sip:x@nowhere.invalid"}]},{"action":"hangup"}]"#,
    r#"[{"action":"hangup"}]"#,
];

#[derive(Arbitrary, Debug)]
enum Script {
    Fixed(u8),
    Text(String),
}

impl Script {
    fn text(&self) -> String {
        match self {
            Script::Fixed(i) => SCRIPTS[usize::from(*i) % SCRIPTS.len()].to_string(),
            Script::Text(t) => t.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Sdp {
    None,
    Good,
    /// `a=sendonly` on 0.0.0.0, as phones put a call on hold.
    Hold,
    Garbage(String),
}

impl Sdp {
    fn body(&self, n: u32) -> Option<String> {
        let n = n % 250;
        match self {
            Sdp::None => None,
            Sdp::Good => Some(format!("v=0\r\no=b{n} 1 1 IN IP4 198.51.100.{n}\r\ns=-\r\nc=IN IP4 198.51.100.{n}\r\nt=0 0\r\nm=audio 5000{n} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n")),
            Sdp::Hold => Some(format!("v=0\r\no=b{n} 1 2 IN IP4 198.51.100.{n}\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5000{n} RTP/AVP 0\r\na=sendonly\r\n")),
            Sdp::Garbage(g) => Some(g.clone()),
        }
    }
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum InDialog {
    Bye,
    Reinvite,
    Info,
    Options,
}

#[derive(Arbitrary, Debug)]
enum Op {
    AnswerUrl(Script),
    AnswerUrlFails(u16),
    /// An action URL's reply, to the n-th outstanding fetch.
    ActionUrl {
        pick: u8,
        reply: Option<Script>,
    },
    /// A branch answers its INVITE.
    BResponse {
        pick: u8,
        status: u16,
        sdp: Sdp,
    },
    /// A branch's INVITE transaction failed (timeout, broken connection).
    BTimeout {
        pick: u8,
    },
    /// A request in a leg's dialog, from the phone (`pick` 0 is A).
    Request {
        pick: u8,
        method: InDialog,
        sdp: Sdp,
        /// Reuse the last CSeq (a retransmission or out of order).
        stale: bool,
    },
    Ack {
        pick: u8,
    },
    CallerCancels,
    AckTimeout,
    /// The n-th request the call sent gets this status (100..=699).
    AnswerSent {
        pick: u8,
        status: u16,
    },
    SentFails {
        pick: u8,
    },
    Digit {
        b_side: bool,
        digit: u8,
    },
    RtpTimeout {
        b_side: bool,
    },
    /// The n-th prompt playing ends.
    PlayDone {
        pick: u8,
        completed: bool,
    },
    RecordDone {
        pick: u8,
        ok: bool,
    },
    /// The n-th prompt loading is loaded (this many samples) or fails.
    AudioLoaded {
        pick: u8,
        samples: Option<u16>,
    },
    /// The media task delivers what it owes (PlayDone after StopPlay, RecordDone after Stop).
    MediaCatchesUp,
    /// An app's live command (`engine::call::live`): taking the call over from its script,
    /// handing it to one, answering, hanging up, prompts, gathers, bridges with another call.
    Live {
        command: u8,
        arg: u8,
    },
    Advance {
        ms: u16,
    },
    /// Raw bytes, parsed: a request in leg `pick`'s dialog, or a response for branch `pick`
    /// (or for the `pick`-th request the call sent).
    Raw {
        pick: u8,
        to_sent: bool,
        bytes: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Setup {
    /// A call ringmaster places (to bob) with this script, instead of an inbound one.
    outbound: Option<Option<u8>>,
    fallback: Option<u8>,
    a_sdp: Sdp,
    media_fails: bool,
}

#[derive(Arbitrary, Debug)]
struct Case {
    setup: Setup,
    ops: Vec<Op>,
}

/// `CALL_DIALOG_TRACE=1` prints every step and output (to read a crash).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("CALL_DIALOG_TRACE").is_some())
}

fn short(o: &Output) -> String {
    match o {
        Output::Respond { tx, response } => format!("respond {tx:?} {}", response.status),
        Output::Send { leg, request, .. } => format!("send {leg:?} {}", request.method),
        Output::Report(Report::Event(e)) => format!("event {:?} {:?}", e.leg, e.status),
        Output::Report(Report::Cdr(c)) => format!("cdr {:?} {}", c.leg, c.cause),
        other => {
            let s = format!("{other:?}");
            s.chars().take(100).collect()
        }
    }
}

static SCRIPTS_PARSE: std::sync::Once = std::sync::Once::new();

fuzz_target!(|case: Case| {
    SCRIPTS_PARSE.call_once(|| {
        for s in SCRIPTS {
            assert!(pcmo::Script::parse(s).is_ok(), "fixed script invalid: {s}");
        }
    });
    let Case { setup, ops } = case;
    if trace() {
        eprintln!("setup: {setup:?}");
    }
    let now = Instant::now();
    let call_setup = CallSetup {
        cmiuuid: "call-1".into(),
        appid: 1234567,
        answer_url: "http://127.0.0.1:9/answer".into(),
        fallback: setup.fallback.map(|i| Script::Fixed(i).text()),
        from: "alice".into(),
        to: "5000".into(),
        contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
        domain: "test.local".into(),
        local_ip: "203.0.113.1".parse().unwrap(),
        max_forwards: 70,
        recordings_dir: "/var/lib/ringmaster/recordings/1234567".into(),
        seed: 7,
        contacts: Default::default(),
        srtp: engine::call::sdes::SrtpSetup {
            policy: Default::default(),
            keys: [
                engine::media::srtp::MasterKey::new([1; 30]),
                engine::media::srtp::MasterKey::new([2; 30]),
            ],
        },
    };
    let sdp = setup.a_sdp.body(10).unwrap_or_default();
    let sdp = if matches!(setup.a_sdp, Sdp::Good) {
        A_SDP.to_string()
    } else {
        sdp
    };
    let mut invite_text = format!(
        "INVITE sip:5000@test.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bKa1\r\nFrom: <sip:alice@test.local>;tag=at\r\nTo: <sip:5000@test.local>\r\nCall-ID: a-call\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@192.0.2.10:5062>\r\nMax-Forwards: 70\r\n"
    );
    if !sdp.is_empty() {
        invite_text.push_str("Content-Type: application/sdp\r\n");
    }
    invite_text.push_str("\r\n");
    invite_text.push_str(&sdp);
    let Ok(Message::Request(a_invite)) = parse(Bytes::from(invite_text)) else {
        return;
    };
    let a_tx = TxId(1);
    let inbound = setup.outbound.is_none();
    let call = match setup.outbound {
        None => {
            let peer = Peer::udp("192.0.2.10:5062".parse().unwrap());
            Call::new(call_setup, a_tx, a_invite.clone(), peer, now, 1_000_000)
        }
        Some(script) => {
            let out = OutboundCall {
                to: Destination::SipUser("bob".into()),
                script: script.and_then(|i| pcmo::Script::parse(&Script::Fixed(i).text()).ok()),
                max_duration: Some(Duration::from_secs(60)),
                extra_params: Some("{\"crm\":42}".into()),
                request_id: "req-1".into(),
                headers: Vec::new(),
            };
            Call::outbound(call_setup, out, now, 1_000_000)
        }
    };
    let mut d = Driver {
        call,
        start: now,
        now,
        finished: 0,
        inbound,
        a_invite,
        a_tx,
        a_ok: None,
        forks: HashMap::new(),
        branches: Vec::new(),
        pending: Vec::new(),
        timers: Vec::new(),
        next_tx: 100,
        finals: if inbound {
            HashMap::from([(a_tx, 0)])
        } else {
            HashMap::new()
        },
        cseq: HashMap::new(),
        answer_fetch: false,
        fetches: Vec::new(),
        loads: Vec::new(),
        plays: Vec::new(),
        records: Vec::new(),
        owed: Vec::new(),
        media_fails: setup.media_fails,
        relayed: Vec::new(),
        terminal: HashMap::new(),
    };
    d.drain();
    for op in ops.into_iter().take(64) {
        d.step(op);
    }
    if trace() {
        eprintln!("settle");
    }
    d.settle();
    assert_eq!(d.finished, 1, "the call reports Finished exactly once");
    for (leg, (hangups, cdrs)) in &d.terminal {
        assert_eq!(
            (*hangups, *cdrs),
            (1, 1),
            "leg {leg:?}: exactly one terminal event and one CDR"
        );
    }
    for (tx, n) in &d.finals {
        assert_eq!(*n, 1, "request on {tx:?}: exactly one final response");
    }
});
