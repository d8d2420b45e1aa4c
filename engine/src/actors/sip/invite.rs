//! A new INVITE in the SIP actor: admission by `call::admission` (trunk and number, or a
//! registered endpoint with 407 digest), the app's call limit, then a call actor.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::routes::SipLink;
use super::SipActor;
use crate::actors::call::{CallActor, CallEnv, ReportSink};
use crate::actors::clock::{unix_now, wall_ms};
use crate::actors::{NumberService, TrunkService};
use crate::call::admission::{admit_invite, CallDirectory, InviteAdmission};
use crate::call::{Call, CallSetup, LegId};
use crate::media::{MediaEngine, Prompts};
use crate::sip::auth::StoredCredentials;
use crate::sip::digest::{self, Algorithm};
use crate::sip::message::{response_to, HeaderName, HeaderView, Request};
use crate::sip::registrar::EndpointAuth;
use crate::sip::transaction::TxId;
use crate::sip::uas::reject_with;
use crate::sip::Peer;
use crate::store::{AppId, Store};

/// What calls need from the engine.
#[derive(Clone)]
pub struct CallDeps {
    pub media: Arc<MediaEngine>,
    /// For the operator's URLs (the app's stored answer URL).
    pub http: reqwest::Client,
    /// For every URL the app supplies, under the egress policy.
    pub app_http: crate::actors::egress::AppHttp,
    pub reports: Arc<dyn ReportSink>,
    pub trunks: TrunkService,
    pub numbers: NumberService,
    /// Our Contact header value.
    pub contact: String,
    /// Address for SDP `o=` lines.
    pub local_ip: IpAddr,
    pub fetch_timeout: Duration,
    /// Concurrent calls per app; past it new calls get 503.
    pub max_calls_per_app: usize,
    /// Prompt files, downloads and text to speech, with their cache.
    pub prompts: Arc<Prompts>,
    /// How long a `file_url` download may take.
    pub download_timeout: Duration,
    /// Recordings go to `<recordings_root>/<appid>/`.
    pub recordings_root: std::path::PathBuf,
}

/// Admission's view of trunks, numbers and endpoints.
struct Directory<'a> {
    store: &'a dyn Store,
    deps: &'a CallDeps,
}

impl CallDirectory for Directory<'_> {
    fn trunk_for_source(&self, ip: IpAddr) -> Option<String> {
        self.deps.trunks.trunk_for_source(ip).map(|t| t.name)
    }

    fn app_for_number(&self, digits: &str) -> Option<u64> {
        self.deps
            .numbers
            .app_for_number(digits)
            .ok()
            .flatten()
            .map(|a| a.0)
    }

    fn endpoint(&self, domain: &str, user: &str) -> Option<(EndpointAuth, u64)> {
        let ep = self.store.endpoint(domain, user).ok().flatten()?;
        Some((
            EndpointAuth {
                credentials: StoredCredentials {
                    ha1_md5: ep.ha1_md5,
                    ha1_sha256: ep.ha1_sha256,
                },
                enabled: ep.enabled,
            },
            ep.app.0,
        ))
    }

    fn trunk_by_username(&self, realm: &str, user: &str) -> Option<(String, StoredCredentials)> {
        let trunk = self.deps.trunks.trunk_by_username(user)?;
        let clear = self.deps.trunks.credentials(&trunk).ok().flatten()?;
        Some((
            trunk.name,
            StoredCredentials {
                ha1_md5: digest::ha1(Algorithm::Md5, &clear.username, realm, &clear.password),
                ha1_sha256: digest::ha1(Algorithm::Sha256, &clear.username, realm, &clear.password),
            },
        ))
    }
}

impl SipActor {
    /// The call actors' shared environment: one per SIP actor, not a copy per call (its
    /// strings and handles were ~300 bytes of every call).
    fn call_env(&mut self, deps: &CallDeps, ctx: &mut Context<Self>) -> Arc<CallEnv> {
        let env = self.call_env.get_or_insert_with(|| {
            Arc::new(CallEnv {
                sip: Arc::new(SipLink::new(&ctx.address())),
                media: deps.media.clone(),
                http: deps.http.clone(),
                app_http: deps.app_http.clone(),
                store: self.store.clone(),
                reports: deps.reports.clone(),
                trunks: deps.trunks.clone(),
                contact: deps.contact.clone(),
                fetch_timeout: deps.fetch_timeout,
                prompts: deps.prompts.clone(),
                download_timeout: deps.download_timeout,
            })
        });
        Arc::clone(env)
    }

    pub(super) fn on_invite(
        &mut self,
        tx: TxId,
        req: Request,
        peer: Peer,
        tag: String,
        ctx: &mut Context<Self>,
    ) {
        let Some(deps) = self.calls.clone() else {
            return self.respond(tx, reject_with(&req, 503, &tag, "calls not enabled"));
        };
        // Loop detection: every B2BUA hop costs one (RFC 3261 §16.3 step 3 in spirit).
        if req
            .headers
            .get(&HeaderName::MaxForwards)
            .and_then(|v| v.trim().parse::<u32>().ok())
            == Some(0)
        {
            return self.respond(tx, response_to(&req, 483, Some(&tag)));
        }
        let store = self.store.clone();
        let dir = Directory {
            store: store.as_ref(),
            deps: &deps,
        };
        let decision = admit_invite(
            &mut self.auth,
            &self.domains,
            &dir,
            unix_now(),
            &req,
            peer.addr.ip(),
            &tag,
        );
        let (appid, from, to) = match decision {
            InviteAdmission::Respond {
                response,
                failure,
                identity,
            } => {
                let answer = self.refused(&req, &peer, &tag, identity.as_ref(), failure, *response);
                return self.respond(tx, answer);
            }
            InviteAdmission::Accept {
                appid,
                from,
                to,
                identity,
                ..
            } => {
                if let Some(who) = &identity {
                    if let Some(refused) = self.attempt_gate(&req, &peer, who, &tag) {
                        return self.respond(tx, refused);
                    }
                    self.auth_succeeded(&peer, who);
                }
                (appid, from, to)
            }
        };
        let Ok(Some(app)) = store.app(AppId(appid)) else {
            return self.respond(tx, reject_with(&req, 404, &tag, "no app"));
        };
        if self.routes.calls_of(appid) >= deps.max_calls_per_app {
            tracing::warn!(
                appid,
                limit = deps.max_calls_per_app,
                "app call limit reached; 503"
            );
            // The app hears about the refused call as an error event of a call that never was.
            let refused = crate::directory::new_secret(&mut rand::thread_rng());
            let call = crate::actors::call::CallRef {
                cmiuuid: &refused,
                request_id: None,
            };
            let problem = crate::call::report::Report::ScriptError {
                code: "call_limit".into(),
                path: String::new(),
                message: format!(
                    "{} concurrent calls: the limit is reached; the call got 503",
                    deps.max_calls_per_app
                ),
                at_ms: wall_ms(),
            };
            deps.reports.deliver(&app, &call, 1, &problem);
            let mut r = reject_with(&req, 503, &tag, "call limit reached");
            r.headers.push(HeaderName::RetryAfter, "10");
            return self.respond(tx, r);
        }
        // What identifies the caller's dialog must be readable (admission read From already).
        if req.call_id().is_none() || req.hdr_from().is_err() {
            return self.respond(tx, response_to(&req, 400, Some(&tag)));
        }
        let cmiuuid = crate::directory::new_secret(&mut rand::thread_rng());
        let setup = CallSetup {
            cmiuuid: cmiuuid.clone(),
            appid,
            answer_url: app.answer_url.clone(),
            fallback: app.fallback_pcmo.clone(),
            from,
            to,
            contact: deps.contact.clone(),
            domain: app.domain.clone(),
            local_ip: deps.local_ip,
            recordings_dir: deps.recordings_root.join(appid.to_string()),
            max_forwards: req
                .headers
                .get(&HeaderName::MaxForwards)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(70),
            seed: rand::random(),
        };
        let wall = wall_ms();
        let call = Call::new(setup, tx, req, peer, Instant::now(), wall);
        // Known now (checked above), so routed at once: the caller may BYE before the actor
        // runs. By Call-ID and tags, so an INVITE that reuses a live call's Call-ID gets its
        // own route beside the live one, never over it.
        let a_dialog = call.a_dialog_id();
        let env = self.call_env(&deps, ctx);
        tracing::info!(call = %cmiuuid, appid, "call started");
        let actor = CallActor::new(call, app, env, a_dialog.clone()).start();
        self.routes.invite(tx, actor.clone().recipient());
        if let Some(a_dialog) = a_dialog {
            self.routes.dialog(a_dialog, actor.recipient(), LegId::A);
        }
        self.routes.call_started(appid);
    }
}

/// Place a call over REST (`pcmo_make_call`).
#[derive(Message)]
#[rtype(result = "Result<(), PlaceError>")]
pub struct PlaceCall {
    pub app: crate::store::App,
    /// The caller id the dialled party sees.
    pub from: String,
    /// Who is dialled, as the app wrote it.
    pub to: String,
    /// The answer URL to fetch once answered (when there is no inline script).
    pub answer_url: String,
    pub call: crate::call::OutboundCall,
    pub cmiuuid: String,
}

/// Why a call could not be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    #[error("calls are not enabled")]
    Disabled,
    #[error("the app's concurrent call limit is reached")]
    Limit,
}

impl Handler<PlaceCall> for SipActor {
    type Result = Result<(), PlaceError>;

    fn handle(&mut self, msg: PlaceCall, ctx: &mut Context<Self>) -> Self::Result {
        let deps = self.calls.clone().ok_or(PlaceError::Disabled)?;
        let appid = msg.app.id.0;
        if self.routes.calls_of(appid) >= deps.max_calls_per_app {
            return Err(PlaceError::Limit);
        }
        let setup = CallSetup {
            cmiuuid: msg.cmiuuid.clone(),
            appid,
            answer_url: msg.answer_url,
            fallback: msg.app.fallback_pcmo.clone(),
            from: msg.from,
            to: msg.to,
            contact: deps.contact.clone(),
            domain: msg.app.domain.clone(),
            local_ip: deps.local_ip,
            max_forwards: 70,
            recordings_dir: deps.recordings_root.join(appid.to_string()),
            seed: rand::random(),
        };
        let call = Call::outbound(setup, msg.call, Instant::now(), wall_ms());
        let env = self.call_env(&deps, ctx);
        tracing::info!(call = %msg.cmiuuid, appid, "placing a call");
        CallActor::new(call, msg.app, env, None).start();
        self.routes.call_started(appid);
        Ok(())
    }
}
