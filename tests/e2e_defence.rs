//! Password guessing against the real binary on loopback: a brute force on one user from one
//! address is blocked after 10 failures (403 for that user from there, even the right
//! password), while the address's other traffic and the owner of the attacked account from
//! another address go on (whole-address bans: tests/e2e_defence_auth.rs); a guesser spread over
//! many addresses slows the attacked user down (503 with Retry-After), and the owner gets in
//! once the Retry-After has passed. Every failure is one structured security log line.

mod support;

use std::time::Duration;

use engine::sip::message::HeaderName;
use support::wire::{metric, options, udp_exchange, udp_on, Phone};
use support::Server;

/// An app and an endpoint `alice` with `password`.
fn endpoint(srv: &Server, password: &str) {
    srv.app_with_endpoints(&[("alice", password)]);
}

#[test]
fn a_brute_force_from_one_address_is_blocked_and_the_owner_still_registers_from_another() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start(dir.path(), &[]);
    endpoint(&srv, "Right-Password-1");

    let mut attacker = Phone::new("alice", "", [127, 0, 0, 1], srv.sip);
    for i in 0..10 {
        attacker.password = format!("guess-{i}");
        let r = attacker.register();
        assert_eq!(r.status, 401, "guess {i} is refused with a new challenge");
    }
    // Blocked: refused whatever the password, even the right one.
    attacker.password = "Right-Password-1".into();
    let r = attacker.register();
    assert_eq!(r.status, 403, "the 11th attempt");
    let retry: u64 = r
        .headers
        .get(&HeaderName::RetryAfter)
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(
        (295..=300).contains(&retry),
        "blocked for 5 minutes, got {retry}"
    );
    let sock = udp_on([127, 0, 0, 1]);
    let from = sock.local_addr().unwrap();
    assert_eq!(
        udp_exchange(
            &sock,
            srv.sip,
            &options(from, srv.sip),
            Duration::from_secs(2)
        ),
        Some(200),
        "only that user from that address is blocked, not the address"
    );

    // The owner, from another loopback address, is not affected.
    let owner = Phone::new("alice", "Right-Password-1", [127, 0, 0, 3], srv.sip);
    assert_eq!(owner.register().status, 200);
    assert_eq!(metric(srv.http, "ringmaster_sip_banned_sources"), Some(0.0));

    // One security event per failure, with time, source, user, realm and reason.
    let log = srv.log();
    let events: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("security") && l.contains("event=\"auth_failed\""))
        .collect();
    assert_eq!(events.len(), 10, "{log}");
    for e in &events {
        for field in [
            " at=",
            "source=127.0.0.1:",
            "method=REGISTER",
            "user=alice",
            "realm=test.local",
            "reason=WrongPassword",
        ] {
            assert!(e.contains(field), "{field} missing in {e}");
        }
    }
    assert!(events[9].contains("blocked=true"), "{}", events[9]);
    assert_eq!(
        log.matches("event=\"pair_blocked\"").count(),
        1,
        "one block event"
    );
    assert_eq!(log.matches("event=\"source_banned\"").count(), 0);
}

#[test]
fn many_addresses_guessing_one_user_slow_that_user_down() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ringmaster.toml");
    std::fs::write(
        &cfg,
        "[defence]\nauth_ban_failures = 0\nuser_slowdown_failures = 3\nuser_slowdown_interval_secs = 2\n",
    )
    .unwrap();
    let srv = Server::start(dir.path(), &["--config", cfg.to_str().unwrap()]);
    endpoint(&srv, "Right-Password-1");

    for (i, ip) in [[127, 0, 0, 4], [127, 0, 0, 5], [127, 0, 0, 6]]
        .into_iter()
        .enumerate()
    {
        let guesser = Phone::new("alice", &format!("guess-{i}"), ip, srv.sip);
        assert_eq!(guesser.register().status, 401);
    }
    // Slowed down: one attempt per interval gets its password checked...
    let guesser = Phone::new("alice", "guess-3", [127, 0, 0, 7], srv.sip);
    assert_eq!(guesser.register().status, 401);
    // ...and the next one within the interval waits, whoever sends it.
    let owner = Phone::new("alice", "Right-Password-1", [127, 0, 0, 8], srv.sip);
    let r = owner.register();
    assert_eq!(r.status, 503, "slowed down");
    let retry: u64 = r
        .headers
        .get(&HeaderName::RetryAfter)
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    std::thread::sleep(Duration::from_secs(retry));
    assert_eq!(
        owner.register().status,
        200,
        "after Retry-After the owner gets in"
    );
    // The success ends the slow-down.
    assert_eq!(owner.register().status, 200);
    assert!(srv.log().contains("event=\"auth_slowed\""));
}
