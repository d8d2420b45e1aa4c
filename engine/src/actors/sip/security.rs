//! The SIP actor's side of the defences (`sip::defence`): the per-source ban gate every request
//! passes, the gate after a password check (a blocked (address, user) pair, a slowed-down
//! user), one structured security event per authentication failure, the operator's list and
//! unban, the settings applied after start, graceful drain and the counters `/metrics` shows.
//!
//! Security events go to the `security` log target, one line each, with the fields `at` (Unix
//! seconds), `source`, `method`, `user`, `realm`, `reason`, and what followed (`pair_failures`,
//! `failures` from that source in the window, `distinct_users`, `blocked`, `banned`,
//! `user_slowed`). Values that come from the wire are written [`Escaped`], so a user name
//! cannot forge a log line.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::SipActor;
use crate::actors::clock::unix_now;
use crate::config::DefenceSettings;
use crate::log_field::{escaped_opt, Escaped};
use crate::sip::auth::{AuthFailure, Identity};
use crate::sip::defence::{counts_as_guess, Attempt, AuthGuard, Refusal};
use crate::sip::message::{HeaderName, HeaderView, Method, Request, Response};
use crate::sip::uas::reject_with;
use crate::sip::Peer;

/// Settings of the defences, applied once the engine runs (and again on any later change).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ApplyDefences {
    pub defence: DefenceSettings,
    pub tcp_incomplete_timeout: Duration,
    pub tcp_idle_timeout: Duration,
    pub max_transactions_per_source: usize,
    pub max_tcp_connections_per_source: usize,
}

/// Start draining: new calls get 503 with Retry-After `retry_after`; everything else is
/// served. Answers with the number of live calls.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "usize")]
pub struct Drain {
    pub retry_after: Duration,
}

/// Counters for `/metrics` and leak checks.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "SipStats")]
pub struct GetSipStats;

/// What [`GetSipStats`] answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SipStats {
    pub transactions: usize,
    pub live_calls: usize,
    pub banned_sources: usize,
    pub blocked_pairs: usize,
    pub flood_dropped: u64,
    pub tracked_sources: usize,
    pub tcp_connections: usize,
    pub draining: bool,
}

/// A username and realm for the log when no credentials were checked: the To URI's.
fn to_identity(req: &Request) -> (String, String) {
    let to = req.hdr_to().ok();
    let sip = to.as_ref().and_then(|t| t.uri.as_sip());
    (
        sip.and_then(|u| u.user_unescaped()).unwrap_or_default(),
        sip.map(|u| u.host.to_string().to_ascii_lowercase())
            .unwrap_or_default(),
    )
}

/// Whole seconds, rounded up (a client that waits Retry-After must find the gate open), at
/// least 1.
fn ceil_secs(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

/// Lift a block (`ringmaster unban ADDR[/USER]`): answers how many blocks went.
#[derive(Message, Debug, Clone)]
#[rtype(result = "usize")]
pub struct Unban {
    pub source: IpAddr,
    /// `name@realm`, or a bare name for every realm; None: the whole address.
    pub user: Option<String>,
}

/// What is refused now (`ringmaster bans`).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Vec<BanEntry>")]
pub struct ListBans;

/// One refused address, or (address, user) pair, and the seconds left.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BanEntry {
    pub address: IpAddr,
    /// Set for a blocked pair; absent for a whole-address ban.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub seconds_left: u64,
}

impl SipActor {
    /// The per-source ban, before anything else is done for a request: `Some` is the 403.
    pub(super) fn ban_gate(&mut self, req: &Request, peer: &Peer, tag: &str) -> Option<Response> {
        let remaining = self.guard.banned(Instant::now(), peer.addr.ip())?;
        let mut r = reject_with(req, 403, tag, "banned");
        r.headers
            .push(HeaderName::RetryAfter, ceil_secs(remaining).to_string());
        Some(r)
    }

    /// After the credentials of `who` were checked and before the verdict is told: `Some`
    /// is the refusal to send instead — 403 while this user is blocked from this address,
    /// 503 while the user is slowed down — whatever the password was, so a refused guess
    /// teaches nothing. Refused attempts are not counted.
    pub(crate) fn attempt_gate(
        &mut self,
        req: &Request,
        peer: &Peer,
        who: &Identity,
        tag: &str,
    ) -> Option<Response> {
        let refusal = self
            .guard
            .gate(Instant::now(), peer.addr.ip(), &who.key())?;
        let (status, phrase, wait) = match refusal {
            Refusal::Pair(left) => (403, "blocked", left),
            Refusal::UserSlowed(wait) => {
                tracing::warn!(
                    target: "security",
                    event = "auth_slowed",
                    at = unix_now(),
                    source = %peer.addr,
                    method = %req.method,
                    user = %Escaped(&who.user),
                    realm = %Escaped(&who.realm),
                    retry_after = ceil_secs(wait),
                    "attempt refused: too many wrong passwords for this user"
                );
                (503, "too many failed attempts", wait)
            }
        };
        let mut r = reject_with(req, status, tag, phrase);
        r.headers
            .push(HeaderName::RetryAfter, ceil_secs(wait).to_string());
        Some(r)
    }

    /// Admission answered `response` (a challenge, a 403...): what to send instead. While the
    /// checked identity is blocked or slowed down, the gate's refusal (and nothing counted);
    /// otherwise `response`, with a failed password check counted and logged.
    pub(super) fn refused(
        &mut self,
        req: &Request,
        peer: &Peer,
        tag: &str,
        who: Option<&Identity>,
        failure: Option<AuthFailure>,
        response: Response,
    ) -> Response {
        if let Some(refusal) = who.and_then(|w| self.attempt_gate(req, peer, w, tag)) {
            return refusal;
        }
        if let Some(reason) = failure {
            self.auth_failed(req, peer, who, reason);
        }
        response
    }

    /// Records and logs one failed authentication, whatever the method (REGISTER, INVITE,
    /// endpoint or trunk credentials): the security event, the (address, user) count (which
    /// may block the pair), the address-wide count (which may ban the address; not for trunk
    /// source addresses) and, for a wrong password, the per-user count.
    pub(crate) fn auth_failed(
        &mut self,
        req: &Request,
        peer: &Peer,
        who: Option<&Identity>,
        reason: AuthFailure,
    ) {
        let key = who.map(Identity::key);
        let source = peer.addr.ip();
        let address_wide = !self.is_trunk_source(source);
        let note = counts_as_guess(reason).then(|| {
            self.guard.failure(
                Instant::now(),
                Attempt {
                    source,
                    user: key.as_deref(),
                    wrong_password: reason == AuthFailure::WrongPassword,
                    address_wide,
                },
            )
        });
        let (user, realm) = match who {
            Some(w) => (w.user.clone(), w.realm.clone()),
            None => to_identity(req),
        };
        let note = note.unwrap_or_default();
        tracing::info!(
            target: "security",
            event = "auth_failed",
            at = unix_now(),
            source = %peer.addr,
            method = %req.method,
            user = %Escaped(&user),
            realm = %Escaped(&realm),
            ?reason,
            pair_failures = note.pair_failures,
            failures = note.source_failures,
            distinct_users = note.distinct_users,
            blocked = note.pair_blocked,
            banned = note.banned,
            user_slowed = note.user_slowed,
            "authentication failed"
        );
        if note.pair_blocked {
            tracing::warn!(
                target: "security",
                event = "pair_blocked",
                at = unix_now(),
                source = %source,
                user = %Escaped(&user),
                realm = %Escaped(&realm),
                secs = self.ban_secs,
                "too many failed authentications for this user from this address: blocked"
            );
        }
        if note.banned {
            tracing::warn!(
                target: "security",
                event = "source_banned",
                at = unix_now(),
                source = %source,
                secs = self.ban_secs,
                distinct_users = note.distinct_users,
                failures = note.source_failures,
                "failures for several users or too many failures: source banned"
            );
        }
    }

    /// A successful authentication ends the user's slow-down and its pair's count.
    pub(crate) fn auth_succeeded(&mut self, peer: &Peer, who: &Identity) {
        self.guard.success(peer.addr.ip(), &who.key());
    }

    /// Whether `ip` is a trunk's source address (exempt from address-wide bans: a carrier
    /// carries many users).
    fn is_trunk_source(&self, ip: IpAddr) -> bool {
        self.calls
            .as_ref()
            .is_some_and(|d| d.trunks.trunk_for_source(ip).is_some())
    }

    /// During a drain, a new INVITE (no To tag) gets 503 with Retry-After.
    pub(super) fn drain_gate(&self, req: &Request, tag: &str) -> Option<Response> {
        let retry = self.draining?;
        if req.method != Method::Invite || super::has_to_tag(req) {
            return None;
        }
        let mut r = reject_with(req, 503, tag, "shutting down");
        r.headers
            .push(HeaderName::RetryAfter, ceil_secs(retry).to_string());
        Some(r)
    }
}

impl Handler<ApplyDefences> for SipActor {
    type Result = ();
    fn handle(&mut self, msg: ApplyDefences, _ctx: &mut Context<Self>) {
        self.guard = AuthGuard::new(msg.defence.bans());
        self.ban_secs = msg.defence.auth_ban_secs;
        self.layer
            .set_max_per_source(msg.max_transactions_per_source);
        if let Some(s) = &self.sockets {
            s.set_defences(
                msg.defence.rate(),
                msg.tcp_incomplete_timeout,
                msg.tcp_idle_timeout,
                msg.max_tcp_connections_per_source,
            );
        }
    }
}

impl Handler<Unban> for SipActor {
    type Result = usize;
    fn handle(&mut self, msg: Unban, _ctx: &mut Context<Self>) -> usize {
        let lifted = self.guard.unban(msg.source, msg.user.as_deref());
        tracing::warn!(
            target: "security",
            event = "unban",
            at = unix_now(),
            source = %msg.source,
            user = %escaped_opt(msg.user.as_deref()),
            lifted,
            "an operator lifted blocks"
        );
        lifted
    }
}

impl Handler<ListBans> for SipActor {
    type Result = MessageResult<ListBans>;
    fn handle(&mut self, _msg: ListBans, _ctx: &mut Context<Self>) -> Self::Result {
        let list = self.guard.list(Instant::now());
        MessageResult(
            list.into_iter()
                .map(|(address, user, left)| BanEntry {
                    address,
                    user,
                    seconds_left: ceil_secs(left),
                })
                .collect(),
        )
    }
}

impl Handler<Drain> for SipActor {
    type Result = usize;
    fn handle(&mut self, msg: Drain, _ctx: &mut Context<Self>) -> usize {
        if self.draining.is_none() {
            tracing::info!(
                live_calls = self.routes.total_calls(),
                "draining: new calls are refused"
            );
        }
        self.draining = Some(msg.retry_after);
        self.routes.total_calls()
    }
}

impl Handler<GetSipStats> for SipActor {
    type Result = MessageResult<GetSipStats>;
    fn handle(&mut self, _msg: GetSipStats, _ctx: &mut Context<Self>) -> Self::Result {
        let (flood_dropped, tracked_sources) = self
            .sockets
            .as_ref()
            .map(|s| s.flood_stats())
            .unwrap_or_default();
        MessageResult(SipStats {
            transactions: self.layer.len(),
            live_calls: self.routes.total_calls(),
            banned_sources: self.guard.bans(),
            blocked_pairs: self.guard.pair_blocks(),
            flood_dropped,
            tracked_sources,
            tcp_connections: self.sockets.as_ref().map_or(0, |s| s.connections()),
            draining: self.draining.is_some(),
        })
    }
}
