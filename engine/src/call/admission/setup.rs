//! Admission's second step, for every new call (an INVITE the first step accepted, or a call
//! placed over REST): its app must exist (404), the app may not have more calls at once than
//! `max_calls_per_app` (503 with Retry-After; the app hears of it as a `call_limit` error
//! event), and the call's [`CallSetup`] is built — here, once, for both kinds of call.
//!
//! Pure: the shell reads the app and counts its calls, and draws the call's id and seed.

use std::net::IpAddr;
use std::path::Path;

use super::max_forwards;
use crate::call::report::Report;
use crate::call::CallSetup;
use crate::sip::message::{response_to, HeaderName, HeaderView, Request, Response};
use crate::sip::uas::reject_with;

/// How long a caller refused by the call limit is asked to wait (Retry-After, seconds).
pub const LIMIT_RETRY_AFTER_SECS: u32 = 10;

/// The Max-Forwards of a call's first INVITE when the call did not come with one: placed
/// calls, and an INVITE whose header is missing or unreadable (RFC 3261 §8.1.1.6).
pub const DEFAULT_MAX_FORWARDS: u32 = 70;

/// What the engine's configuration puts in every call.
#[derive(Debug, Clone, Copy)]
pub struct CallConfig<'a> {
    /// Our Contact header value.
    pub contact: &'a str,
    /// The address put in SDP `o=` lines.
    pub local_ip: IpAddr,
    /// Recordings go to `<recordings_root>/<appid>/`.
    pub recordings_root: &'a Path,
    /// Concurrent calls per app; past it new calls are refused.
    pub max_calls_per_app: usize,
    /// `[media] srtp`.
    pub srtp: crate::media::sdp::crypto::SrtpPolicy,
    /// Our Contact on TLS and WebSocket legs.
    pub contacts: &'a std::sync::Arc<crate::call::contact::OurContacts>,
}

/// The app a new call runs for, as the shell read it, and how many of its calls run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallApp {
    pub id: u64,
    /// Where the call's script comes from: the app's answer URL, or the one a placed call
    /// names.
    pub answer_url: String,
    /// The app's fallback PCMO.
    pub fallback: Option<String>,
    pub domain: String,
    /// Its calls in progress.
    pub running: usize,
}

/// What the shell draws for a new call: its id (`cmiuuid`) and its script's random seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fresh {
    pub cmiuuid: String,
    pub seed: u64,
    /// Our SRTP master keys towards leg A and leg B (used only where a leg speaks SRTP).
    pub srtp_keys: [crate::media::srtp::MasterKey; 2],
}

/// The app has as many calls in progress as it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{limit} concurrent calls: the limit is reached")]
pub struct CallLimitReached {
    pub limit: usize,
}

impl CallLimitReached {
    /// The error event the app hears about an INVITE refused by its limit (the event of a
    /// call that never was), made at `at_ms` (Unix milliseconds).
    pub fn report(&self, at_ms: u64) -> Report {
        Report::ScriptError {
            code: "call_limit".into(),
            path: String::new(),
            message: format!("{self}; the call got 503"),
            at_ms,
        }
    }
}

/// What becomes of an INVITE admission accepted, once its app is read. The app's record
/// (`A`, the shell's, opaque here) comes back with the decisions that need it.
#[derive(Debug)]
pub enum CallStart<A> {
    /// Start the call, for `app`.
    Start { setup: Box<CallSetup>, app: A },
    /// Answer `response`.
    Refuse(Box<Response>),
    /// The app's call limit: answer `response` (503, Retry-After), and tell `app` of the
    /// refused call ([`CallLimitReached::report`]).
    Limited {
        response: Box<Response>,
        limit: CallLimitReached,
        app: A,
    },
}

/// The app's admission of an INVITE admission accepted (`from` and `to` as it returned
/// them): its app as the store holds it (`None`: gone, 404), the app's call limit, then the
/// call's setup, its Max-Forwards taken from the INVITE.
pub fn start_invited<A>(
    cfg: &CallConfig<'_>,
    app: Option<(A, CallApp)>,
    req: &Request,
    to_tag: &str,
    from: String,
    to: String,
    fresh: Fresh,
) -> CallStart<A> {
    let Some((record, app)) = app else {
        return CallStart::Refuse(Box::new(reject_with(req, 404, to_tag, "no app")));
    };
    if let Err(limit) = within_limit(cfg, &app) {
        let mut response = reject_with(req, 503, to_tag, "call limit reached");
        response
            .headers
            .push(HeaderName::RetryAfter, LIMIT_RETRY_AFTER_SECS.to_string());
        return CallStart::Limited {
            response: Box::new(response),
            limit,
            app: record,
        };
    }
    // What identifies the caller's dialog must be readable (admission read From already).
    if req.call_id().is_none() || req.hdr_from().is_err() {
        return CallStart::Refuse(Box::new(response_to(req, 400, Some(to_tag))));
    }
    let hops = max_forwards(req).unwrap_or(DEFAULT_MAX_FORWARDS);
    CallStart::Start {
        setup: Box::new(setup(cfg, app, from, to, hops, fresh)),
        app: record,
    }
}

/// A call placed over REST (`pcmo_make_call`): the app's call limit, then the call's setup.
pub fn start_placed(
    cfg: &CallConfig<'_>,
    app: CallApp,
    from: String,
    to: String,
    fresh: Fresh,
) -> Result<CallSetup, CallLimitReached> {
    within_limit(cfg, &app)?;
    Ok(setup(cfg, app, from, to, DEFAULT_MAX_FORWARDS, fresh))
}

fn within_limit(cfg: &CallConfig<'_>, app: &CallApp) -> Result<(), CallLimitReached> {
    if app.running >= cfg.max_calls_per_app {
        return Err(CallLimitReached {
            limit: cfg.max_calls_per_app,
        });
    }
    Ok(())
}

/// The one place a [`CallSetup`] is made.
fn setup(
    cfg: &CallConfig<'_>,
    app: CallApp,
    from: String,
    to: String,
    max_forwards: u32,
    fresh: Fresh,
) -> CallSetup {
    CallSetup {
        cmiuuid: fresh.cmiuuid,
        appid: app.id,
        answer_url: app.answer_url,
        fallback: app.fallback,
        from,
        to,
        contact: cfg.contact.to_string(),
        contacts: cfg.contacts.clone(),
        domain: app.domain,
        local_ip: cfg.local_ip,
        max_forwards,
        recordings_dir: cfg.recordings_root.join(app.id.to_string()),
        seed: fresh.seed,
        srtp: crate::call::sdes::SrtpSetup {
            policy: cfg.srtp,
            keys: fresh.srtp_keys,
        },
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::sip::message::{parse, Message};

    const ROOT: &str = "/var/lib/ringmaster/recordings";

    fn cfg(max_calls_per_app: usize) -> CallConfig<'static> {
        CallConfig {
            contact: "<sip:ringmaster@192.0.2.1:5060>",
            local_ip: "192.0.2.1".parse().unwrap(),
            recordings_root: Path::new(ROOT),
            max_calls_per_app,
            srtp: Default::default(),
            contacts: Box::leak(Box::default()),
        }
    }

    fn app(running: usize) -> CallApp {
        CallApp {
            id: 7,
            answer_url: "https://app.example.com/answer".into(),
            fallback: Some("[]".into()),
            domain: "seven.example.com".into(),
            running,
        }
    }

    fn fresh() -> Fresh {
        Fresh {
            cmiuuid: "c-1".into(),
            seed: 99,
            srtp_keys: [
                crate::media::srtp::MasterKey::new([1; 30]),
                crate::media::srtp::MasterKey::new([2; 30]),
            ],
        }
    }

    fn invite(hops: Option<&str>) -> Request {
        let hops = hops
            .map(|h| format!("Max-Forwards: {h}\r\n"))
            .unwrap_or_default();
        let t = format!("INVITE sip:5000@test.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1\r\nFrom: <sip:alice@test.local>;tag=f\r\nTo: <sip:5000@test.local>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n{hops}\r\n");
        match parse(Bytes::from(t)) {
            Ok(Message::Request(r)) => r,
            other => panic!("{other:?}"),
        }
    }

    /// `start_invited` for the app record "record" with `running` calls under a limit of 2.
    fn start(req: &Request, app_running: Option<usize>) -> CallStart<&'static str> {
        start_invited(
            &cfg(2),
            app_running.map(|r| ("record", app(r))),
            req,
            "t",
            "alice".into(),
            "5000".into(),
            fresh(),
        )
    }

    #[test]
    fn an_invite_under_its_apps_limit_starts_the_call_it_describes() {
        let CallStart::Start { setup, app } = start(&invite(Some("12")), Some(1)) else {
            panic!("the call did not start");
        };
        assert_eq!(app, "record", "the app's record comes back");
        assert_eq!(setup.cmiuuid, "c-1");
        assert_eq!(setup.seed, 99);
        assert_eq!(setup.appid, 7);
        assert_eq!(setup.answer_url, "https://app.example.com/answer");
        assert_eq!(setup.fallback.as_deref(), Some("[]"));
        assert_eq!((setup.from.as_str(), setup.to.as_str()), ("alice", "5000"));
        assert_eq!(setup.contact, "<sip:ringmaster@192.0.2.1:5060>");
        assert_eq!(setup.domain, "seven.example.com");
        assert_eq!(setup.local_ip, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert_eq!(setup.recordings_dir, Path::new(ROOT).join("7"));
        // B legs count down from the caller's Max-Forwards.
        assert_eq!(setup.max_forwards, 12);
    }

    #[test]
    fn an_invite_without_max_forwards_counts_from_70() {
        let CallStart::Start { setup, .. } = start(&invite(None), Some(0)) else {
            panic!("the call did not start");
        };
        assert_eq!(setup.max_forwards, DEFAULT_MAX_FORWARDS);
        assert_eq!(DEFAULT_MAX_FORWARDS, 70);
    }

    #[test]
    fn an_invite_for_an_app_that_is_gone_gets_404() {
        let CallStart::Refuse(r) = start(&invite(Some("70")), None) else {
            panic!("started without an app");
        };
        assert_eq!(r.status, 404);
    }

    #[test]
    fn an_invite_past_its_apps_limit_gets_503_retry_after_and_the_app_is_told() {
        for running in [2, 3] {
            let CallStart::Limited {
                response,
                limit,
                app,
            } = start(&invite(Some("70")), Some(running))
            else {
                panic!("{running} calls: the limit did not refuse");
            };
            assert_eq!(response.status, 503);
            assert_eq!(response.headers.get(&HeaderName::RetryAfter), Some("10"));
            assert_eq!(limit, CallLimitReached { limit: 2 });
            assert_eq!(app, "record", "the app to tell comes back");
        }
        let Report::ScriptError {
            code,
            path,
            message,
            at_ms,
        } = CallLimitReached { limit: 2 }.report(1_700_000_000_000)
        else {
            panic!("not an error event");
        };
        assert_eq!((code.as_str(), path.as_str()), ("call_limit", ""));
        assert_eq!(
            message,
            "2 concurrent calls: the limit is reached; the call got 503"
        );
        assert_eq!(at_ms, 1_700_000_000_000);
    }

    #[test]
    fn an_invite_without_a_call_id_gets_400() {
        let mut req = invite(Some("70"));
        req.headers.remove_all(&HeaderName::CallId);
        let CallStart::Refuse(r) = start(&req, Some(0)) else {
            panic!("started without a Call-ID");
        };
        assert_eq!(r.status, 400);
    }

    #[test]
    fn a_placed_call_is_held_to_the_same_limit_and_built_the_same_way() {
        let placed = |running| {
            let mut app = app(running);
            app.answer_url = "https://app.example.com/placed".into();
            start_placed(&cfg(2), app, "15550001".into(), "alice".into(), fresh())
        };
        assert_eq!(placed(2).err(), Some(CallLimitReached { limit: 2 }));
        let setup = placed(1).expect("under the limit");
        assert_eq!(setup.answer_url, "https://app.example.com/placed");
        assert_eq!(
            (setup.from.as_str(), setup.to.as_str()),
            ("15550001", "alice")
        );
        assert_eq!(setup.max_forwards, DEFAULT_MAX_FORWARDS);
        assert_eq!(setup.recordings_dir, Path::new(ROOT).join("7"));
        assert_eq!((setup.cmiuuid.as_str(), setup.seed), ("c-1", 99));
    }
}
