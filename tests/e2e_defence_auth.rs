//! Issue "Security", items 1, 2 and 6, against the real binary on loopback: password guessing
//! through INVITE is counted and stopped like guessing through REGISTER; SIPVicious
//! (`svcrack`, `svwar`, installed from PyPI by scripts/setup and run unchanged) finds neither
//! a password nor an extension; one phone with a wrong password behind an office's address
//! never locks out the four working phones beside it; an operator lifts a block with
//! `ringmaster unban`.

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::sip::message::{HeaderName, Response};
use serde_json::{json, Value};
use support::http::Reply;
use support::rig::{Rig, CONFIG};
use support::rtp::Rtp;
use support::ua::Ua;
use support::wire::{metric, next, Phone, DOMAIN, SDP};
use support::Server;

const SEC: Duration = Duration::from_secs(1);

/// An app with endpoints `users`, each with password `Secret-<user>-77`.
fn endpoints(srv: &Server, users: &[&str]) {
    let passwords: Vec<String> = users.iter().map(|u| format!("Secret-{u}-77")).collect();
    let list: Vec<(&str, &str)> = users
        .iter()
        .zip(&passwords)
        .map(|(u, p)| (*u, p.as_str()))
        .collect();
    srv.app_with_endpoints(&list);
}

/// One INVITE attempt with `phone`'s password: INVITE, 407 (ACKed), INVITE with
/// Proxy-Authorization. Returns the final answer to the second INVITE, ACKed too.
fn invite_attempt(phone: &Phone, target: &str) -> Response {
    let call = format!("inv-{}", next());
    let uri = format!("sip:{target}@{DOMAIN}");
    let (ftag, branch1, branch2) = (next(), next(), next());
    let request = |cseq: u32, branch: u64, auth: &str| {
        format!(
            "INVITE {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-i{branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{DOMAIN}>;tag=f{ftag}\r\nTo: <{uri}>\r\nCall-ID: {call}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{u}@{a}>\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {len}\r\n\r\n{SDP}",
            a = phone.addr,
            u = phone.user,
            len = SDP.len(),
        )
    };
    let ack = |cseq: u32, branch: u64, r: &Response| {
        let to = r.headers.get(&HeaderName::To).unwrap_or("");
        phone.send(&format!(
            "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {a};branch=z9hG4bK-i{branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{u}@{DOMAIN}>;tag=f{ftag}\r\nTo: {to}\r\nCall-ID: {call}\r\nCSeq: {cseq} ACK\r\nContent-Length: 0\r\n\r\n",
            a = phone.addr,
            u = phone.user,
        ));
    };
    let first = phone
        .request(&request(1, branch1, ""), "INVITE")
        .expect("an answer to the INVITE");
    ack(1, branch1, &first);
    if first.status != 407 {
        return first;
    }
    let auth = phone.answer(&first, HeaderName::ProxyAuthenticate, "INVITE", &uri);
    let second = phone
        .request(
            &request(2, branch2, &format!("Proxy-Authorization: {auth}\r\n")),
            "INVITE",
        )
        .expect("an answer to the authenticated INVITE");
    ack(2, branch2, &second);
    second
}

#[test]
fn forty_wrong_password_invites_are_refused_from_the_eleventh_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    endpoints(&srv, &["alice", "bob"]);
    let mut guesser = Phone::new("alice", "", [127, 0, 0, 31], srv.sip);
    let mut statuses = Vec::new();
    for i in 0..40 {
        guesser.password = format!("guess-{i}");
        statuses.push(invite_attempt(&guesser, "bob").status);
    }
    assert!(
        statuses[..10].iter().all(|s| *s == 407),
        "the first ten get a new challenge: {statuses:?}"
    );
    assert!(
        statuses[10..].iter().all(|s| *s == 403),
        "refused from the 11th: {statuses:?}"
    );
    // Refused whatever the password: a blocked guesser learns nothing from the right one.
    guesser.password = "Secret-alice-77".into();
    assert_eq!(invite_attempt(&guesser, "bob").status, 403);

    let log = srv.log();
    let failures: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("event=\"auth_failed\"") && l.contains("method=INVITE"))
        .collect();
    assert_eq!(failures.len(), 10, "one line per judged guess:\n{log}");
    for field in ["source=127.0.0.31:", "user=alice", "reason=WrongPassword"] {
        assert!(
            failures[0].contains(field),
            "{field} missing: {}",
            failures[0]
        );
    }
    assert_eq!(log.matches("event=\"pair_blocked\"").count(), 1, "{log}");
    assert_eq!(log.matches("event=\"source_banned\"").count(), 0);

    // Only that user from that address: bob at the same address still calls in (his
    // INVITE is authenticated and goes on to the app's answer URL, here a dead one: 503).
    let bob = Phone::new("bob", "Secret-bob-77", [127, 0, 0, 31], srv.sip);
    let r = invite_attempt(&bob, "alice");
    assert_ne!(r.status, 403, "bob is not blocked");
    assert_ne!(r.status, 407, "bob's password is accepted");

    // Three users failing from one address is enumeration: the whole address goes.
    let sprayer = Phone::new("x", "", [127, 0, 0, 32], srv.sip);
    for user in ["carol", "dave", "erin"] {
        let p = Phone::new(user, "guess", [127, 0, 0, 32], srv.sip);
        assert_eq!(invite_attempt(&p, "bob").status, 407);
    }
    let r = sprayer.try_register().expect("an answer");
    assert_eq!(r.status, 403, "the address is banned");
    assert_eq!(metric(srv.http, "ringmaster_sip_banned_sources"), Some(1.0));

    // The operator lifts alice's block from .31 and the ban of .32.
    let out = srv.cli(&["unban", "127.0.0.31/alice"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("lifted 1 block"));
    assert_ne!(invite_attempt(&guesser, "bob").status, 403, "alice is back");
    let bans = srv.cli_json(&["bans", "--json"]);
    assert_eq!(bans[0]["address"], "127.0.0.32", "{bans}");
    assert!(srv.cli(&["unban", "127.0.0.32"]).status.success());
    assert_eq!(srv.cli_json(&["bans", "--json"]), json!([]));
    assert_eq!(sprayer.try_register().map(|r| r.status), Some(401));
}

/// The SIPVicious programs scripts/setup installed (or any on PATH).
fn sipvicious(tool: &str) -> PathBuf {
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/tools/sipvicious/bin")
        .join(tool);
    if local.exists() {
        return local;
    }
    assert!(
        Command::new(tool).arg("--help").output().is_ok(),
        "{tool} is not installed; run scripts/setup (pip install sipvicious)"
    );
    PathBuf::from(tool)
}

/// Runs a SIPVicious tool, bounded in time and killed by PID if it overruns; its output.
fn run_bounded(tool: &str, args: &[&str], limit: Duration) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(sipvicious(tool))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start sipvicious");
    let deadline = Instant::now() + limit;
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{tool} overran {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(out_path).unwrap_or_default()
}

#[test]
fn sipvicious_finds_no_password_and_no_extension() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    endpoints(&srv, &["alice", "100", "101"]);
    // The right password is the 20th word.
    let words: Vec<String> = (1..=30)
        .map(|i| {
            if i == 20 {
                "Secret-alice-77".to_string()
            } else {
                format!("guess{i}")
            }
        })
        .collect();
    let list = dir.path().join("words.txt");
    std::fs::write(&list, words.join("\n") + "\n").unwrap();
    let port = srv.sip.port().to_string();
    let out = run_bounded(
        "sipvicious_svcrack",
        &[
            "-u",
            "alice",
            "-d",
            list.to_str().unwrap(),
            "-p",
            &port,
            "--domain",
            DOMAIN,
            "127.0.0.1",
        ],
        60 * SEC,
    );
    assert!(!out.contains("The password for"), "svcrack: {out}");
    let log = srv.log();
    let guesses = log
        .lines()
        .filter(|l| l.contains("event=\"auth_failed\"") && l.contains("user=alice"))
        .count();
    assert_eq!(guesses, 10, "blocked within 10 judged guesses:\n{log}");
    assert_eq!(log.matches("event=\"pair_blocked\"").count(), 1);

    for method in ["REGISTER", "INVITE", "OPTIONS"] {
        let out = run_bounded(
            "sipvicious_svwar",
            &["-e90-110", "-m", method, "-p", &port, "127.0.0.1"],
            60 * SEC,
        );
        assert!(out.contains("found nothing"), "svwar -m {method}: {out}");
        assert!(!out.contains("| 100"), "svwar -m {method}: {out}");
    }
}

/// Issue "Security", item 2, end to end: five devices behind one address; one retries a
/// wrong password three times the threshold in every window over three ban windows; the
/// other four register and complete a call through the answer URL every time.
#[test]
fn one_misconfigured_phone_never_locks_out_the_office() {
    let users = ["desk1", "desk2", "desk3", "desk4", "desk5"];
    let script = json!([{"action": "connect", "connect": [{"type": "sip", "user": "desk1"}]}]);
    let config = format!("{CONFIG}[defence]\nauth_window_secs = 4\nauth_ban_secs = 4\n");
    let rig = Rig::configured(vec![Reply::Json(script)], None::<Value>, &config);
    for u in users {
        rig.endpoint(u);
    }
    let office = "127.0.0.40";
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, refused) = (Arc::new(AtomicU32::new(0)), Arc::new(AtomicU32::new(0)));
    // The broken phone: desk5 with a wrong password, one REGISTER (and its retry after the
    // challenge) every 50 ms: well over 30 attempts per 4 s window, three times the threshold.
    let broken = {
        let (stop, sent, refused) = (stop.clone(), sent.clone(), refused.clone());
        let phone = Phone::new("desk5", "wrong-password", [127, 0, 0, 40], rig.srv.sip);
        std::thread::spawn(move || {
            let deadline = Instant::now() + 25 * SEC;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if let Some(r) = phone.try_register() {
                    sent.fetch_add(1, Ordering::Relaxed);
                    if r.status == 403 {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let mut callee = Ua::bind_at(office, rig.srv.sip, DOMAIN, "desk1", "pw-desk1");
    let mut callers: Vec<Ua> = ["desk2", "desk3", "desk4"]
        .iter()
        .map(|u| Ua::bind_at(office, rig.srv.sip, DOMAIN, u, &format!("pw-{u}")))
        .collect();
    let started = Instant::now();
    let mut calls = 0;
    // Four ban windows: three blocks of the broken phone fit even on a slow machine.
    while started.elapsed() < 16 * SEC {
        callee.register(300);
        for caller in callers.iter_mut() {
            caller.register(300);
            let rtp = Rtp::bind();
            let mut out = caller.invite("desk1", rtp.addr);
            let inc = callee.expect_request("INVITE", None, 5 * SEC);
            let b = callee.answer(&inc, Rtp::bind().addr);
            let mut a = caller
                .final_response(&mut out, 5 * SEC)
                .unwrap_or_else(|s| panic!("call {calls} failed with {s}"));
            assert_eq!(caller.bye(&mut a), 200);
            callee.expect_bye(&b, 5 * SEC);
            calls += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    broken.join().unwrap();
    let (sent, refused) = (
        sent.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
    );
    assert!(calls >= 6, "{calls} calls");
    // At least three times the threshold (10) in every 4 s window, on average.
    assert!(sent >= 120, "the broken phone tried {sent} times in 16 s");
    assert!(
        refused > sent / 2,
        "the broken phone was blocked: {refused}/{sent}"
    );
    let log = rig.srv.log();
    assert!(
        log.matches("event=\"pair_blocked\"").count() >= 3,
        "blocked again in each window:\n{log}"
    );
    assert_eq!(log.matches("event=\"source_banned\"").count(), 0, "{log}");
    assert_eq!(
        rig.web.hits("/answer").len(),
        calls,
        "every call reached the app"
    );
}
