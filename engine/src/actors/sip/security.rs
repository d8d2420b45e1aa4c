//! The SIP actor's side of the defences (`sip::defence`): the per-source ban gate every request
//! passes, the per-user slow-down before a password is checked, one structured security event
//! per authentication failure, the settings applied after start, graceful drain and the
//! counters `/metrics` shows.
//!
//! Security events go to the `security` log target, one line each, with the fields `at` (Unix
//! seconds), `source`, `method`, `user`, `realm`, `reason`, and what followed (`failures` from
//! that source in the window, `banned`, `user_slowed`).

use std::time::{Duration, Instant};

use actix::prelude::*;

use super::{unix_now, SipActor};
use crate::config::DefenceSettings;
use crate::sip::auth::{AuthFailure, ChallengeKind};
use crate::sip::defence::{counts_as_guess, AuthGuard};
use crate::sip::digest::Credentials;
use crate::sip::message::{HeaderName, HeaderView, Method, Request, Response};
use crate::sip::uas::reject_with;
use crate::sip::Peer;

/// Settings of the defences, applied once the engine runs (and again on any later change).
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ApplyDefences {
    pub defence: DefenceSettings,
    pub tcp_incomplete_timeout: Duration,
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
    pub flood_dropped: u64,
    pub tracked_sources: usize,
    pub tcp_connections: usize,
    pub draining: bool,
}

/// The username and realm a request claims in its credentials (for the log and the per-user
/// slow-down), else the To URI's user and host.
pub(super) fn claimed_identity(req: &Request, kind: ChallengeKind) -> (String, String) {
    let header = match kind {
        ChallengeKind::Www => HeaderName::Authorization,
        ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
    };
    if let Some(c) = req
        .headers
        .get_all(&header)
        .find_map(|v| Credentials::parse(v).ok())
    {
        return (c.username, c.realm.to_ascii_lowercase());
    }
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

/// Whether the request carries credentials of ours to check (only those are slowed down).
fn has_credentials(req: &Request, kind: ChallengeKind) -> bool {
    let header = match kind {
        ChallengeKind::Www => HeaderName::Authorization,
        ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
    };
    let found = req
        .headers
        .get_all(&header)
        .any(|v| Credentials::parse(v).is_ok());
    found
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

    /// The per-user slow-down, before a password is checked: `Some` is the 503 to send. Call
    /// it for REGISTER (here) and for INVITEs that carry Proxy-Authorization (the call path).
    pub(crate) fn user_gate(
        &mut self,
        req: &Request,
        peer: &Peer,
        kind: ChallengeKind,
        tag: &str,
    ) -> Option<Response> {
        if !has_credentials(req, kind) {
            return None;
        }
        let (user, realm) = claimed_identity(req, kind);
        let wait = self
            .guard
            .user_gate(Instant::now(), &format!("{user}@{realm}"))?;
        tracing::warn!(
            target: "security",
            event = "auth_slowed",
            at = unix_now(),
            source = %peer.addr,
            method = %req.method,
            user = %user,
            realm = %realm,
            retry_after = ceil_secs(wait),
            "attempt refused: too many wrong passwords for this user"
        );
        let mut r = reject_with(req, 503, tag, "too many failed attempts");
        r.headers
            .push(HeaderName::RetryAfter, ceil_secs(wait).to_string());
        Some(r)
    }

    /// Records and logs one failed authentication: the security event, the per-source count
    /// (which may ban the source) and, for a wrong password, the per-user count. The call
    /// path calls it for INVITEs as the registrar path does for REGISTERs.
    pub(crate) fn auth_failed(
        &mut self,
        req: &Request,
        peer: &Peer,
        kind: ChallengeKind,
        reason: AuthFailure,
    ) {
        let (user, realm) = claimed_identity(req, kind);
        let key = format!("{user}@{realm}");
        let note = counts_as_guess(reason).then(|| {
            let wrong = (reason == AuthFailure::WrongPassword).then_some(key.as_str());
            self.guard.failure(Instant::now(), peer.addr.ip(), wrong)
        });
        tracing::info!(
            target: "security",
            event = "auth_failed",
            at = unix_now(),
            source = %peer.addr,
            method = %req.method,
            user = %user,
            realm = %realm,
            ?reason,
            failures = note.map_or(0, |n| n.source_failures),
            banned = note.is_some_and(|n| n.banned),
            user_slowed = note.is_some_and(|n| n.user_slowed),
            "authentication failed"
        );
        if note.is_some_and(|n| n.banned) {
            tracing::warn!(
                target: "security",
                event = "source_banned",
                at = unix_now(),
                source = %peer.addr.ip(),
                secs = self.ban_secs,
                "too many failed authentications: source banned"
            );
        }
    }

    /// A successful authentication ends the user's slow-down.
    pub(crate) fn auth_succeeded(&mut self, user: &str, realm: &str) {
        self.guard
            .success(&format!("{user}@{}", realm.to_ascii_lowercase()));
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
                msg.max_tcp_connections_per_source,
            );
        }
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
            flood_dropped,
            tracked_sources,
            tcp_connections: self.sockets.as_ref().map_or(0, |s| s.connections()),
            draining: self.draining.is_some(),
        })
    }
}
