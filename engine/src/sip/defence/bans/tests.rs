use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A wrong password for `user` from `source`, the address-wide rule applying.
fn wrong<'a>(source: IpAddr, user: &'a str) -> Attempt<'a> {
    Attempt {
        source,
        user: Some(user),
        wrong_password: true,
        address_wide: true,
    }
}

#[test]
fn ten_failures_of_one_user_from_one_address_block_that_pair_only() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    for i in 0..9 {
        let at = t0 + secs(60 * i);
        assert_eq!(g.gate(at, ip(1), "alice@example.com"), None);
        let note = g.failure(at, wrong(ip(1), "alice@example.com"));
        assert!(!note.pair_blocked && !note.banned, "failure {}", i + 1);
    }
    let at = t0 + secs(599);
    let note = g.failure(at, wrong(ip(1), "alice@example.com"));
    assert_eq!(note.pair_failures, 10);
    assert!(note.pair_blocked && !note.banned);
    assert_eq!(
        g.gate(at, ip(1), "alice@example.com"),
        Some(Refusal::Pair(secs(300)))
    );
    // The address itself, other users behind it and other addresses go on.
    assert_eq!(g.banned(at, ip(1)), None);
    assert_eq!(g.gate(at, ip(1), "bob@example.com"), None);
    assert_eq!(g.gate(at, ip(2), "alice@example.com"), None);
    assert!(g.gate(at + secs(299), ip(1), "alice@example.com").is_some());
    assert_eq!(g.gate(at + secs(300), ip(1), "alice@example.com"), None);
    // After the block the count starts again from zero.
    let note = g.failure(at + secs(301), wrong(ip(1), "alice@example.com"));
    assert_eq!(note.pair_failures, 1);
}

#[test]
fn failures_spread_over_more_than_the_window_never_block() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    for i in 0..100 {
        let note = g.failure(t0 + secs(67 * i), wrong(ip(1), "alice@example.com"));
        assert!(!note.pair_blocked && !note.banned);
        assert!(note.pair_failures <= 10);
    }
}

#[test]
fn failures_for_three_users_from_one_address_ban_the_address() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    assert!(!g.failure(t0, wrong(ip(1), "100@example.com")).banned);
    assert!(!g.failure(t0, wrong(ip(1), "100@example.com")).banned);
    let note = g.failure(t0, wrong(ip(1), "101@example.com"));
    assert_eq!(note.distinct_users, 2);
    assert!(!note.banned);
    let note = g.failure(
        t0,
        Attempt {
            wrong_password: false,
            ..wrong(ip(1), "nobody@example.com")
        },
    );
    assert!(note.banned, "an unknown user counts as a third user");
    assert_eq!(g.banned(t0, ip(1)), Some(secs(300)));
    assert_eq!(g.banned(t0, ip(2)), None);
    assert_eq!(g.banned(t0 + secs(300), ip(1)), None);
}

#[test]
fn a_trunk_address_is_never_banned_whole_but_its_pairs_are_blocked() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    for n in 0..50 {
        let user = format!("{n}@example.com");
        let note = g.failure(
            t0,
            Attempt {
                address_wide: false,
                ..wrong(ip(200), &user)
            },
        );
        assert!(!note.banned);
    }
    assert_eq!(g.banned(t0, ip(200)), None);
    for _ in 0..10 {
        g.failure(
            t0,
            Attempt {
                address_wide: false,
                ..wrong(ip(200), "carrier@example.com")
            },
        );
    }
    assert!(matches!(
        g.gate(t0, ip(200), "carrier@example.com"),
        Some(Refusal::Pair(_))
    ));
}

#[test]
fn a_volume_of_nameless_failures_bans_the_address() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    let nameless = Attempt {
        source: ip(1),
        user: None,
        wrong_password: false,
        address_wide: true,
    };
    for i in 1..100 {
        let note = g.failure(t0, nameless);
        assert_eq!(note.source_failures, i);
        assert!(!note.banned);
    }
    assert!(g.failure(t0, nameless).banned);
    assert!(g.banned(t0, ip(1)).is_some());
}

/// Issue "Security", item 2: five devices on one address, one with a wrong password retrying
/// three times the threshold in every window, over three ban windows: the other four are
/// never refused.
#[test]
fn one_broken_phone_never_locks_out_the_others_behind_its_address() {
    let t0 = Instant::now();
    let cfg = BanConfig {
        window: secs(60),
        ban: secs(60),
        ..BanConfig::default()
    };
    let mut g = AuthGuard::new(cfg);
    let office = ip(10);
    let good = [
        "201@example.com",
        "202@example.com",
        "203@example.com",
        "204@example.com",
    ];
    let mut refused_broken = 0;
    for step in 0..(3 * 60) {
        let at = t0 + secs(step);
        if step % 2 == 0 {
            // The broken phone: 30 attempts per 60 s window.
            match g.gate(at, office, "205@example.com") {
                Some(Refusal::Pair(_)) => refused_broken += 1,
                Some(Refusal::UserSlowed(_)) => refused_broken += 1,
                None => {
                    let note = g.failure(at, wrong(office, "205@example.com"));
                    assert!(!note.banned, "step {step}: the address was banned");
                }
            }
        }
        for user in good {
            assert_eq!(g.banned(at, office), None, "step {step}");
            assert_eq!(g.gate(at, office, user), None, "step {step}: {user}");
            g.success(office, user);
        }
    }
    assert!(
        refused_broken > 40,
        "the broken phone was refused {refused_broken}×"
    );
}

#[test]
fn trusted_networks_are_never_refused_or_counted() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig {
        trusted: vec!["192.0.2.0/28".parse().unwrap()],
        ..BanConfig::default()
    });
    for n in 0..200 {
        let user = format!("{}@example.com", n % 7);
        assert_eq!(g.failure(t0, wrong(ip(3), &user)), FailureNote::default());
    }
    assert_eq!(g.banned(t0, ip(3)), None);
    assert_eq!(g.gate(t0, ip(3), "0@example.com"), None);
    let mapped: IpAddr = "::ffff:192.0.2.5".parse().unwrap();
    assert_eq!(
        g.failure(t0, wrong(mapped, "x@example.com")),
        FailureNote::default()
    );
    for n in 0..3 {
        g.failure(t0, wrong(ip(20), &format!("{n}@example.com")));
    }
    assert!(g.banned(t0, ip(20)).is_some(), "outside the network");
}

#[test]
fn many_wrong_passwords_for_one_user_slow_that_user_down_across_sources() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    // 30 guesses from 30 addresses: no source is banned, the user is slowed down.
    let mut last = None;
    for i in 0..30u8 {
        assert_eq!(g.gate(t0, ip(i), "alice@example.com"), None);
        last = Some(g.failure(t0, wrong(ip(i), "alice@example.com")));
    }
    let note = last.unwrap();
    assert!(note.user_slowed && !note.banned && !note.pair_blocked);
    assert_eq!(note.user_failures, 30);
    // One attempt per interval goes through; the rest wait.
    assert_eq!(g.gate(t0, ip(99), "alice@example.com"), None);
    assert_eq!(
        g.gate(t0 + secs(1), ip(98), "alice@example.com"),
        Some(Refusal::UserSlowed(secs(9)))
    );
    assert_eq!(g.gate(t0, ip(98), "bob@example.com"), None, "other users");
    assert_eq!(g.gate(t0 + secs(10), ip(98), "alice@example.com"), None);
    // The right password ends it.
    g.success(ip(98), "alice@example.com");
    assert_eq!(g.gate(t0 + secs(11), ip(98), "alice@example.com"), None);
    assert_eq!(g.gate(t0 + secs(11), ip(98), "alice@example.com"), None);
    // And once the window has passed, the slow-down ends by itself.
    for i in 0..30u8 {
        g.failure(t0, wrong(ip(i), "carol@example.com"));
    }
    assert_eq!(g.gate(t0, ip(97), "carol@example.com"), None);
    assert!(g.gate(t0, ip(97), "carol@example.com").is_some());
    assert_eq!(g.gate(t0 + secs(600), ip(97), "carol@example.com"), None);
    assert_eq!(g.gate(t0 + secs(600), ip(97), "carol@example.com"), None);
}

#[test]
fn an_operator_lifts_a_pair_block_or_an_address_ban() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig::default());
    for _ in 0..10 {
        g.failure(t0, wrong(ip(1), "alice@example.com"));
        g.failure(
            t0,
            Attempt {
                address_wide: false,
                ..wrong(ip(2), "bob@example.com")
            },
        );
    }
    g.failure(t0, wrong(ip(1), "x@example.com"));
    g.failure(t0, wrong(ip(1), "y@example.com"));
    assert!(g.banned(t0, ip(1)).is_some());
    let listed = g.list(t0);
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert_eq!(g.unban(ip(2), Some("carol")), 0);
    assert_eq!(g.unban(ip(2), Some("bob")), 1, "a name without realm");
    assert_eq!(g.gate(t0, ip(2), "bob@example.com"), None);
    assert_eq!(g.unban(ip(1), None), 2, "the ban and alice's block");
    assert_eq!(g.banned(t0, ip(1)), None);
    assert_eq!(g.gate(t0, ip(1), "alice@example.com"), None);
    assert_eq!(
        g.failure(t0, wrong(ip(1), "x@example.com")).distinct_users,
        1
    );
    assert_eq!(g.unban(ip(3), None), 0);
    assert!(g.list(t0).is_empty());
}

#[test]
fn memory_is_bounded_under_a_spray_of_sources_and_users() {
    let t0 = Instant::now();
    let mut g = AuthGuard::new(BanConfig {
        max_tracked: 100,
        failures: 2,
        distinct_users: 2,
        ..BanConfig::default()
    });
    for i in 0..10_000u32 {
        let src = IpAddr::from(i.to_be_bytes());
        let user = format!("u{i}");
        g.failure(t0, wrong(src, &user));
        g.failure(t0, wrong(src, &user));
        g.failure(t0, wrong(src, "other"));
    }
    assert!(g.addresses.len() <= 100 && g.bans.len() <= 100 && g.users.len() <= 100);
    assert!(g.pairs.len() <= 100 && g.pair_blocks.len() <= 100);
    assert_eq!(g.bans(), 100);
    assert_eq!(g.pair_blocks(), 100);
}

#[test]
fn stale_nonces_and_replays_are_no_guesses() {
    assert!(!counts_as_guess(AuthFailure::StaleNonce));
    assert!(!counts_as_guess(AuthFailure::Replay));
    assert!(counts_as_guess(AuthFailure::WrongPassword));
    assert!(counts_as_guess(AuthFailure::UnknownUser));
    assert!(counts_as_guess(AuthFailure::BadNonce));
}
