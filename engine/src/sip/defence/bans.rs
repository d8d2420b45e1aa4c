//! Brute-force defence for digest authentication, sans-IO (the caller passes `now`).
//!
//! Failures are judged by who they come from, so that an attacker is stopped and a broken phone
//! stops only itself (issue "Security", item 2: four phones behind one NAT, one with a wrong
//! password, used to lock the whole office out):
//! * **per (address, user) pair**: `failures` failed attempts for one user from one address
//!   within `window` block that pair for `ban`. A brute force on one account stops there;
//!   other users behind the same address go on.
//! * **per address**, only on patterns a device does not make: failures for `distinct_users`
//!   different users within the window (enumeration, password spraying), or `address_failures`
//!   failures of any kind (a volume no retrying device reaches, which also covers credentials
//!   too broken to name a user). Then everything from the address is refused for `ban`.
//!   Callers exempt trunk source addresses from this rule (a carrier carries many users).
//! * **per user, across all sources**: once a user collects `user_failures` wrong passwords
//!   within the window, from however many addresses, that user gets one attempt per
//!   `user_interval`; the others are refused with 503 and a Retry-After, so a distributed
//!   guesser gains one guess per interval. Only wrong passwords of existing users count here.
//!
//! Addresses in `trusted` are never refused and their failures are not counted. A refused
//! attempt is not counted either: it was not judged. Every table is a [`CappedMap`], so memory
//! is bounded whatever an attacker sends.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::table::CappedMap;
use crate::egress::Cidr;
use crate::sip::auth::AuthFailure;

/// Thresholds (see the module docs); a threshold of 0 turns its rule off.
#[derive(Debug, Clone)]
pub struct BanConfig {
    /// Failures of one (address, user) pair within `window` that block the pair.
    pub failures: u32,
    pub window: Duration,
    /// How long a blocked pair or banned address is refused.
    pub ban: Duration,
    /// Distinct failing users from one address within `window` that ban the address.
    pub distinct_users: u32,
    /// Failures of any kind from one address within `window` that ban the address.
    pub address_failures: u32,
    pub user_failures: u32,
    pub user_interval: Duration,
    /// Most sources (and, separately, pairs and users) remembered at once.
    pub max_tracked: usize,
    /// Never refused, never counted.
    pub trusted: Vec<Cidr>,
}

impl Default for BanConfig {
    fn default() -> Self {
        BanConfig {
            failures: 10,
            window: Duration::from_secs(600),
            ban: Duration::from_secs(300),
            distinct_users: 3,
            address_failures: 100,
            user_failures: 30,
            user_interval: Duration::from_secs(10),
            max_tracked: 16_384,
            trusted: Vec::new(),
        }
    }
}

/// Whether a failure is a guess at a password. A stale nonce is the normal end of a nonce's
/// life and a replayed nonce count proves the password was right: neither counts.
pub fn counts_as_guess(f: AuthFailure) -> bool {
    !matches!(f, AuthFailure::StaleNonce | AuthFailure::Replay)
}

/// One failed attempt, as the caller saw it.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub source: IpAddr,
    /// The identity that was checked (`user@realm`), when the credentials named one.
    pub user: Option<&'a str>,
    /// A wrong password of an existing user (feeds the per-user slow-down).
    pub wrong_password: bool,
    /// Whether the address-wide rule applies (false for trunk source addresses).
    pub address_wide: bool,
}

/// What one failure led to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FailureNote {
    /// Failures of this (address, user) pair within the window, this one included.
    pub pair_failures: u32,
    /// This failure blocked the pair.
    pub pair_blocked: bool,
    /// Failures from this address within the window, this one included.
    pub source_failures: u32,
    /// Distinct failing users from this address within the window.
    pub distinct_users: u32,
    /// This failure banned the whole address.
    pub banned: bool,
    /// Wrong passwords for this user within the window (0 when no user was given).
    pub user_failures: u32,
    /// The user is (now) slowed down.
    pub user_slowed: bool,
}

/// Why an attempt is refused before it is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This user from this address is blocked for the remaining time (403).
    Pair(Duration),
    /// The user is slowed down: try again after this (503 Retry-After).
    UserSlowed(Duration),
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

/// An address's recent failures, each with a digest of the user it named (0: none).
#[derive(Debug, Default)]
struct AddressRecord(VecDeque<(Instant, u64)>);

impl AddressRecord {
    /// Adds one failure; answers (failures, distinct users) within the window.
    fn push(&mut self, now: Instant, window: Duration, cap: usize, user: u64) -> (u32, u32) {
        while self
            .0
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= window)
        {
            self.0.pop_front();
        }
        self.0.push_back((now, user));
        while self.0.len() > cap.max(1) {
            self.0.pop_front();
        }
        let mut users: Vec<u64> = self.0.iter().map(|(_, u)| *u).filter(|u| *u != 0).collect();
        users.sort_unstable();
        users.dedup();
        (self.0.len() as u32, users.len() as u32)
    }
}

#[derive(Debug, Default)]
struct UserRecord {
    recent: Recent,
    next_try: Option<Instant>,
}

/// A non-zero digest of a user name (0 means "no user").
fn user_digest(user: &str) -> u64 {
    let mut h = DefaultHasher::new();
    user.hash(&mut h);
    h.finish().max(1)
}

/// The bans, blocks and slow-downs of one engine.
#[derive(Debug)]
pub struct AuthGuard {
    cfg: BanConfig,
    addresses: CappedMap<IpAddr, AddressRecord>,
    bans: CappedMap<IpAddr, Instant>,
    pairs: CappedMap<(IpAddr, String), Recent>,
    pair_blocks: CappedMap<(IpAddr, String), Instant>,
    users: CappedMap<String, UserRecord>,
}

impl AuthGuard {
    pub fn new(cfg: BanConfig) -> Self {
        AuthGuard {
            addresses: CappedMap::new(cfg.max_tracked),
            bans: CappedMap::new(cfg.max_tracked),
            pairs: CappedMap::new(cfg.max_tracked),
            pair_blocks: CappedMap::new(cfg.max_tracked),
            users: CappedMap::new(cfg.max_tracked),
            cfg,
        }
    }

    /// Whether `source` is in a trusted network (an IPv4-mapped IPv6 source, as a dual-stack
    /// socket reports it, in its IPv4 form too).
    pub fn trusted(&self, source: IpAddr) -> bool {
        let plain = source.to_canonical();
        self.cfg
            .trusted
            .iter()
            .any(|n| n.contains(source) || n.contains(plain))
    }

    /// `Some(remaining)` while the whole of `source` is banned.
    pub fn banned(&mut self, now: Instant, source: IpAddr) -> Option<Duration> {
        let until = *self.bans.get(&source)?;
        if until > now {
            return Some(until - now);
        }
        self.bans.remove(&source);
        None
    }

    /// Before an attempt for `user` (`name@realm`) from `source` is judged: `Some` when it is
    /// refused. An attempt let through a slow-down uses the user's slot.
    pub fn gate(&mut self, now: Instant, source: IpAddr, user: &str) -> Option<Refusal> {
        if self.trusted(source) {
            return None;
        }
        let pair = (source, user.to_string());
        if let Some(until) = self.pair_blocks.get(&pair).copied() {
            if until > now {
                return Some(Refusal::Pair(until - now));
            }
            self.pair_blocks.remove(&pair);
        }
        self.user_gate(now, user).map(Refusal::UserSlowed)
    }

    fn user_gate(&mut self, now: Instant, user: &str) -> Option<Duration> {
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

    /// Records one judged, failed attempt.
    pub fn failure(&mut self, now: Instant, a: Attempt<'_>) -> FailureNote {
        let mut note = FailureNote::default();
        if self.trusted(a.source) {
            return note;
        }
        let (window, ban) = (self.cfg.window, self.cfg.ban);
        if let (Some(user), true) = (a.user, self.cfg.failures > 0) {
            let pair = (a.source, user.to_string());
            note.pair_failures = self
                .pairs
                .entry_or_insert_with(pair.clone(), Recent::default)
                .push(now, window, self.cfg.failures);
            if note.pair_failures >= self.cfg.failures {
                self.pairs.remove(&pair);
                *self.pair_blocks.entry_or_insert_with(pair, || now) = now + ban;
                note.pair_blocked = true;
            }
        }
        let (volume, distinct) = (self.cfg.address_failures, self.cfg.distinct_users);
        if a.address_wide && (volume > 0 || distinct > 0) {
            let cap = volume.max(distinct).max(16) as usize;
            let who = a.user.map_or(0, user_digest);
            let (n, users) = self
                .addresses
                .entry_or_insert_with(a.source, AddressRecord::default)
                .push(now, window, cap, who);
            note.source_failures = n;
            note.distinct_users = users;
            if (volume > 0 && n >= volume) || (distinct > 0 && users >= distinct) {
                self.addresses.remove(&a.source);
                *self.bans.entry_or_insert_with(a.source, || now) = now + ban;
                note.banned = true;
            }
        }
        if let (Some(user), true) = (a.user, a.wrong_password && self.cfg.user_failures > 0) {
            let (window, cap) = (self.cfg.window, self.cfg.user_failures);
            let rec = self
                .users
                .entry_or_insert_with(user.to_string(), UserRecord::default);
            note.user_failures = rec.recent.push(now, window, cap);
            note.user_slowed = note.user_failures >= cap;
        }
        note
    }

    /// The user proved their password: their slow-down ends, and so does the count of their
    /// pair (a phone whose password was fixed starts clean).
    pub fn success(&mut self, source: IpAddr, user: &str) {
        self.users.remove(&user.to_string());
        self.pairs.remove(&(source, user.to_string()));
    }

    /// The operator lifts a block: with `user` (`name@realm`, or `name` for every realm),
    /// that pair's block and counts; without, the address's ban, its counts and every pair
    /// block it has. Answers how many blocks went.
    pub fn unban(&mut self, source: IpAddr, user: Option<&str>) -> usize {
        let names = |key: &str| match user {
            None => true,
            Some(u) => key == u || key.rsplit_once('@').is_some_and(|(name, _)| name == u),
        };
        self.pairs
            .retain(|(ip, key), _| *ip != source || !names(key));
        let before = self.pair_blocks.len();
        self.pair_blocks
            .retain(|(ip, key), _| *ip != source || !names(key));
        let mut lifted = before - self.pair_blocks.len();
        if user.is_none() {
            self.addresses.remove(&source);
            lifted += usize::from(self.bans.remove(&source).is_some());
        }
        lifted
    }

    /// What is refused at `now`: banned addresses and blocked pairs, with the time left.
    pub fn list(&self, now: Instant) -> Vec<(IpAddr, Option<String>, Duration)> {
        let mut out: Vec<_> = Vec::new();
        self.bans.for_each(|ip, until| {
            if *until > now {
                out.push((*ip, None, *until - now));
            }
        });
        self.pair_blocks.for_each(|(ip, user), until| {
            if *until > now {
                out.push((*ip, Some(user.clone()), *until - now));
            }
        });
        out.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        out
    }

    /// Sources banned now (including bans that expired but were not looked at since).
    pub fn bans(&self) -> usize {
        self.bans.len()
    }

    /// (address, user) pairs blocked now (as [`AuthGuard::bans`] counts).
    pub fn pair_blocks(&self) -> usize {
        self.pair_blocks.len()
    }
}

#[cfg(test)]
mod tests;
