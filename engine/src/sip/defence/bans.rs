//! Brute-force defence for digest authentication, sans-IO (the caller passes `now`).
//!
//! Two independent limits:
//! * **per source address**: `failures` failed attempts within `window` ban the address for
//!   `ban` (the SIP actor then refuses everything it sends with 403). Another address is not
//!   affected, so the owner of an attacked account still registers from their own phone.
//! * **per user, across all sources**: once a user collects `user_failures` wrong passwords
//!   within `window`, from however many addresses, attempts for that user are slowed down to
//!   one per `user_interval`; the others are refused with 503 and a Retry-After, before any
//!   password check, so a distributed guesser gains one guess per interval. Only wrong
//!   passwords for users that exist count here: unknown usernames need no protection, and a
//!   flood of random names then creates no per-user records at all.
//!
//! Every table is a [`CappedMap`]: memory is bounded whatever the attacker sends.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::table::CappedMap;
use crate::sip::auth::AuthFailure;

/// Thresholds (see the module docs); `failures == 0` turns the per-source ban off,
/// `user_failures == 0` the per-user slow-down.
#[derive(Debug, Clone)]
pub struct BanConfig {
    pub failures: u32,
    pub window: Duration,
    pub ban: Duration,
    pub user_failures: u32,
    pub user_interval: Duration,
    /// Most sources (and, separately, most users) remembered at once.
    pub max_tracked: usize,
}

impl Default for BanConfig {
    fn default() -> Self {
        BanConfig {
            failures: 10,
            window: Duration::from_secs(600),
            ban: Duration::from_secs(300),
            user_failures: 30,
            user_interval: Duration::from_secs(10),
            max_tracked: 16_384,
        }
    }
}

/// Whether a failure is a guess at a password. A stale nonce is the normal end of a nonce's
/// life and a replayed nonce count proves the password was right: neither counts.
pub fn counts_as_guess(f: AuthFailure) -> bool {
    !matches!(f, AuthFailure::StaleNonce | AuthFailure::Replay)
}

/// What one failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureNote {
    /// Failures from this source within the window, this one included.
    pub source_failures: u32,
    /// This failure banned the source.
    pub banned: bool,
    /// Wrong passwords for this user within the window (0 when no user was given).
    pub user_failures: u32,
    /// The user is (now) slowed down.
    pub user_slowed: bool,
}

/// Failure times within the window, at most `cap` of them.
#[derive(Debug, Default)]
struct Recent(VecDeque<Instant>);

impl Recent {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .0
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.0.pop_front();
        }
    }

    fn push(&mut self, now: Instant, window: Duration, cap: u32) -> u32 {
        self.prune(now, window);
        self.0.push_back(now);
        while self.0.len() > cap.max(1) as usize {
            self.0.pop_front();
        }
        self.0.len() as u32
    }
}

#[derive(Debug, Default)]
struct UserRecord {
    recent: Recent,
    next_try: Option<Instant>,
}

/// The per-source bans and per-user slow-downs of one engine.
#[derive(Debug)]
pub struct AuthGuard {
    cfg: BanConfig,
    sources: CappedMap<IpAddr, Recent>,
    bans: CappedMap<IpAddr, Instant>,
    users: CappedMap<String, UserRecord>,
}

impl AuthGuard {
    pub fn new(cfg: BanConfig) -> Self {
        AuthGuard {
            sources: CappedMap::new(cfg.max_tracked),
            bans: CappedMap::new(cfg.max_tracked),
            users: CappedMap::new(cfg.max_tracked),
            cfg,
        }
    }

    /// `Some(remaining)` while `source` is banned.
    pub fn banned(&mut self, now: Instant, source: IpAddr) -> Option<Duration> {
        let until = *self.bans.get(&source)?;
        if until > now {
            return Some(until - now);
        }
        self.bans.remove(&source);
        None
    }

    /// Before checking credentials for `user` (`name@realm`): `Some(retry_after)` when the
    /// user is slowed down and this attempt must wait. An attempt let through uses the slot.
    pub fn user_gate(&mut self, now: Instant, user: &str) -> Option<Duration> {
        if self.cfg.user_failures == 0 {
            return None;
        }
        let (window, threshold, interval) = (
            self.cfg.window,
            self.cfg.user_failures,
            self.cfg.user_interval,
        );
        let rec = self.users.get_mut(&user.to_string())?;
        rec.recent.prune(now, window);
        if (rec.recent.0.len() as u32) < threshold {
            rec.next_try = None;
            return None;
        }
        match rec.next_try {
            Some(at) if at > now => Some(at - now),
            _ => {
                rec.next_try = Some(now + interval);
                None
            }
        }
    }

    /// Records a failed attempt from `source`; `wrong_password_for` names the user when the
    /// failure was a wrong password of an existing user.
    pub fn failure(
        &mut self,
        now: Instant,
        source: IpAddr,
        wrong_password_for: Option<&str>,
    ) -> FailureNote {
        let mut note = FailureNote {
            source_failures: 0,
            banned: false,
            user_failures: 0,
            user_slowed: false,
        };
        if self.cfg.failures > 0 {
            let (window, cap) = (self.cfg.window, self.cfg.failures);
            let n = self
                .sources
                .entry_or_insert_with(source, Recent::default)
                .push(now, window, cap);
            note.source_failures = n;
            if n >= cap {
                self.sources.remove(&source);
                *self.bans.entry_or_insert_with(source, || now) = now + self.cfg.ban;
                note.banned = true;
            }
        }
        if let (Some(user), true) = (wrong_password_for, self.cfg.user_failures > 0) {
            let (window, cap) = (self.cfg.window, self.cfg.user_failures);
            let rec = self
                .users
                .entry_or_insert_with(user.to_string(), UserRecord::default);
            note.user_failures = rec.recent.push(now, window, cap);
            note.user_slowed = note.user_failures >= cap;
        }
        note
    }

    /// The user proved their password: their slow-down ends.
    pub fn success(&mut self, user: &str) {
        self.users.remove(&user.to_string());
    }

    /// Sources banned now (including bans that expired but were not looked at since).
    pub fn bans(&self) -> usize {
        self.bans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    #[test]
    fn ten_failures_in_ten_minutes_ban_that_source_for_five_minutes() {
        let t0 = Instant::now();
        let mut g = AuthGuard::new(BanConfig::default());
        for i in 0..9 {
            let note = g.failure(t0 + Duration::from_secs(60 * i), ip(1), None);
            assert!(!note.banned, "failure {}", i + 1);
        }
        assert_eq!(g.banned(t0 + Duration::from_secs(540), ip(1)), None);
        let note = g.failure(t0 + Duration::from_secs(599), ip(1), None);
        assert_eq!(note.source_failures, 10);
        assert!(note.banned);
        let at = t0 + Duration::from_secs(599);
        assert_eq!(g.banned(at, ip(1)), Some(Duration::from_secs(300)));
        assert_eq!(g.banned(at, ip(2)), None, "other sources are not affected");
        assert!(g.banned(at + Duration::from_secs(299), ip(1)).is_some());
        assert_eq!(g.banned(at + Duration::from_secs(300), ip(1)), None);
        // After the ban the count starts again from zero.
        assert_eq!(
            g.failure(at + Duration::from_secs(301), ip(1), None)
                .source_failures,
            1
        );
    }

    #[test]
    fn failures_spread_over_more_than_the_window_never_ban() {
        let t0 = Instant::now();
        let mut g = AuthGuard::new(BanConfig::default());
        for i in 0..100 {
            let note = g.failure(t0 + Duration::from_secs(67 * i), ip(1), None);
            assert!(!note.banned);
            assert!(note.source_failures <= 10);
        }
    }

    #[test]
    fn many_wrong_passwords_for_one_user_slow_that_user_down_across_sources() {
        let t0 = Instant::now();
        let mut g = AuthGuard::new(BanConfig::default());
        // 30 guesses from 30 addresses: no source is banned, the user is slowed down.
        let mut last = None;
        for i in 0..30u8 {
            assert_eq!(g.user_gate(t0, "alice@example.com"), None);
            last = Some(g.failure(t0, ip(i), Some("alice@example.com")));
        }
        let note = last.unwrap();
        assert!(note.user_slowed && !note.banned);
        assert_eq!(note.user_failures, 30);
        // One attempt per interval goes through; the rest wait.
        assert_eq!(g.user_gate(t0, "alice@example.com"), None);
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(1), "alice@example.com"),
            Some(Duration::from_secs(9))
        );
        assert_eq!(
            g.user_gate(t0, "bob@example.com"),
            None,
            "other users unaffected"
        );
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(10), "alice@example.com"),
            None
        );
        // The right password ends it.
        g.success("alice@example.com");
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(11), "alice@example.com"),
            None
        );
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(11), "alice@example.com"),
            None
        );
        // And once the window has passed, the slow-down ends by itself.
        for i in 0..30u8 {
            g.failure(t0, ip(i), Some("carol@example.com"));
        }
        assert_eq!(g.user_gate(t0, "carol@example.com"), None);
        assert!(g.user_gate(t0, "carol@example.com").is_some());
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(600), "carol@example.com"),
            None
        );
        assert_eq!(
            g.user_gate(t0 + Duration::from_secs(600), "carol@example.com"),
            None
        );
    }

    #[test]
    fn memory_is_bounded_under_a_spray_of_sources_and_users() {
        let t0 = Instant::now();
        let mut g = AuthGuard::new(BanConfig {
            max_tracked: 100,
            failures: 2,
            ..BanConfig::default()
        });
        for i in 0..10_000u32 {
            let src = IpAddr::from(i.to_be_bytes());
            g.failure(t0, src, Some(&format!("u{i}")));
            g.failure(t0, src, None);
        }
        assert!(g.sources.len() <= 100 && g.bans.len() <= 100 && g.users.len() <= 100);
        assert_eq!(g.bans(), 100);
    }

    #[test]
    fn stale_nonces_and_replays_are_no_guesses() {
        assert!(!counts_as_guess(AuthFailure::StaleNonce));
        assert!(!counts_as_guess(AuthFailure::Replay));
        assert!(counts_as_guess(AuthFailure::WrongPassword));
        assert!(counts_as_guess(AuthFailure::UnknownUser));
        assert!(counts_as_guess(AuthFailure::BadNonce));
    }
}
