//! A new INVITE in the SIP actor, and a call placed over REST: `call::admission` decides
//! (Max-Forwards, trunk and number or a registered endpoint with 407 digest, the app and its
//! call limit, the call's setup); this reads the store, runs the auth gate, draws the call's
//! id, tells the app of a limit refusal and starts the call actor.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::routes::SipLink;
use super::SipActor;
use crate::actors::call::{CallActor, CallEnv, ReportSink};
use crate::actors::clock::{unix_now, wall_ms};
use crate::actors::live::CallStarted;
use crate::actors::{NumberService, TrunkService};
use crate::call::admission::{
    self, admit_invite, CallApp, CallConfig, CallDirectory, CallStart, Fresh, InviteAdmission,
};
use crate::call::live::LiveSetup;
use crate::call::{Call, LegId};
use crate::live::{CallDirection, CallState, CallView, Callback};
use crate::media::{MediaEngine, Prompts};
use crate::sip::auth::StoredCredentials;
use crate::sip::digest::{self, Algorithm};
use crate::sip::message::Request;
use crate::sip::registrar::EndpointAuth;
use crate::sip::transaction::TxId;
use crate::sip::uas::reject_with;
use crate::sip::Peer;
use crate::store::{App, AppId, Store};

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
    /// Our Contact on TLS and WebSocket legs.
    pub contacts: std::sync::Arc<crate::call::contact::OurContacts>,
    /// Address for SDP `o=` lines.
    pub local_ip: IpAddr,
    pub fetch_timeout: Duration,
    /// Concurrent calls per app; past it new calls get 503.
    pub max_calls_per_app: usize,
    /// `[cloudua] answer_timeout_secs`: an inbound call to a device rings this long.
    pub cloudua_answer_timeout: Duration,
    /// `[media] max_streams_per_app`.
    pub streams: Arc<crate::actors::stream_slots::StreamSlots>,
    /// `[media] srtp`.
    pub srtp: crate::media::sdp::crypto::SrtpPolicy,
    /// Prompt files, downloads and text to speech, with their cache.
    pub prompts: Arc<Prompts>,
    /// How long a `file_url` download may take.
    pub download_timeout: Duration,
    /// Recordings go to `<recordings_root>/<appid>/`.
    pub recordings_root: std::path::PathBuf,
    /// The live-call table (REST control of running calls).
    pub live: Option<Addr<crate::actors::live::LiveActor>>,
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
                // A Bandwidth endpoint's unexpired tokens authenticate like the password.
                credentials: ep.credential_set(unix_now()),
                // Bandwidth: calls from an endpoint with no application are rejected, as
                // calls from a disabled one are (after authentication, with a 403).
                enabled: ep.enabled && ep.app.is_some(),
            },
            ep.app.map_or(0, |a| a.0),
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

/// Our SRTP master keys for a new call's two legs, from the thread's CSPRNG (seeded by the
/// operating system).
fn fresh_srtp_keys() -> [crate::media::srtp::MasterKey; 2] {
    use crate::media::srtp::MasterKey;
    [
        MasterKey::new(rand::random()),
        MasterKey::new(rand::random()),
    ]
}

/// The engine's side of every call, for admission.
fn call_config(deps: &CallDeps) -> CallConfig<'_> {
    CallConfig {
        contact: &deps.contact,
        local_ip: deps.local_ip,
        recordings_root: &deps.recordings_root,
        max_calls_per_app: deps.max_calls_per_app,
        srtp: deps.srtp,
        contacts: &deps.contacts,
    }
}

/// An app as admission sees it, its script from `answer_url`, with `running` calls.
fn call_app(app: &App, answer_url: String, running: usize) -> CallApp {
    CallApp {
        id: app.id.0,
        answer_url,
        fallback: app.fallback_pcmo.clone(),
        domain: app.domain.clone(),
        running,
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
                live: deps.live.as_ref().map(crate::actors::live::LiveLink::to),
                streams: deps.streams.clone(),
                cluster: self.cluster.clone(),
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
        let (appid, from, to, caller) = match decision {
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
                caller,
            } => {
                if let Some(who) = &identity {
                    if let Some(refused) = self.attempt_gate(&req, &peer, who, &tag) {
                        return self.respond(tx, refused);
                    }
                    self.auth_succeeded(&peer, who);
                }
                (appid, from, to, caller)
            }
        };
        let app = store.app(AppId(appid)).ok().flatten().map(|app| {
            let view = call_app(&app, app.answer_url.clone(), self.routes.calls_of(appid));
            (app, view)
        });
        let cmiuuid = crate::directory::new_secret(&mut rand::thread_rng());
        let fresh = Fresh {
            cmiuuid: cmiuuid.clone(),
            seed: rand::random(),
            srtp_keys: fresh_srtp_keys(),
        };
        let wall = wall_ms();
        let cfg = call_config(&deps);
        let (setup, app) = match admission::start_invited(&cfg, app, &req, &tag, from, to, fresh) {
            CallStart::Start { setup, app } => (*setup, app),
            CallStart::Refuse(response) => return self.respond(tx, *response),
            CallStart::Limited {
                response,
                limit,
                app,
            } => {
                tracing::warn!(appid, limit = limit.limit, "app call limit reached; 503");
                // The app hears about the refused call as an error event of a call that never
                // was (under the id it would have had).
                let call = crate::actors::call::CallRef {
                    cmiuuid: &cmiuuid,
                    request_id: None,
                };
                deps.reports.deliver(&app, &call, 1, &limit.report(wall));
                return self.respond(tx, *response);
            }
        };
        let cloudua = store.cloudua_domain_of_app(app.id).ok().flatten();
        let live = match &cloudua {
            Some(domain) => Some(device_of(domain, &req, &setup, deps.cloudua_answer_timeout)),
            None => live_of(&app),
        };
        let mut view = started_view(&setup, &app, CallDirection::In, wall, live.as_ref());
        if let (Some(_), admission::Caller::Endpoint { user, domain }) = (&live, &caller) {
            // Bandwidth shows an endpoint caller as its SIP URI.
            view.from = format!("sip:{user}@{domain}");
        }
        let call = match live {
            Some(l) => Call::new_live(setup, tx, req, peer, Instant::now(), wall, l.setup),
            None => Call::new(setup, tx, req, peer, Instant::now(), wall),
        };
        // Known now (checked above), so routed at once: the caller may BYE before the actor
        // runs. By Call-ID and tags, so an INVITE that reuses a live call's Call-ID gets its
        // own route beside the live one, never over it.
        let a_dialog = call.a_dialog_id();
        let env = self.call_env(&deps, ctx);
        tracing::info!(call = %cmiuuid, appid, "call started");
        let actor = CallActor::new(call, app, env, a_dialog.clone()).start();
        if let Some(table) = &deps.live {
            table.do_send(CallStarted {
                view,
                addr: actor.clone(),
            });
        }
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
    /// Driven by the app's live commands rather than a script.
    pub live: Option<LivePlacement>,
}

/// How a live call is set up and where its events go.
#[derive(Debug, Clone)]
pub struct LivePlacement {
    pub setup: LiveSetup,
    /// The Bandwidth user whose API places or receives it.
    pub user: Option<String>,
    pub callback: Option<Callback>,
    pub tag: Option<String>,
    /// `from` and `to` as the app wrote them (`+E.164`, `sip:` URIs), for its views and
    /// callbacks; `None`: as the call's SIP shows them.
    pub shown: Option<(String, String)>,
    /// A Cloud SIP UA device's session: its callbacks are the media service's.
    pub cloudua: Option<Box<crate::live::cloudua::Session>>,
}

/// An inbound call's live placement, when its app is a Bandwidth application: answered first
/// if it auto-answers, its events to the application's incoming-call URL.
fn live_of(app: &App) -> Option<LivePlacement> {
    let live = app.live.as_ref()?;
    let callback = (!live.incoming_call_url.is_empty()).then(|| Callback {
        url: live.incoming_call_url.clone(),
        method: match live.callback_method {
            crate::store::CallbackMethod::Get => crate::live::CallbackMethod::Get,
            crate::store::CallbackMethod::Post => crate::live::CallbackMethod::Post,
        },
        timeout_ms: live.incoming_call_timeout_ms.unwrap_or(10_000).min(10_000),
        fallback: live.incoming_call_fallback_url.clone(),
    });
    Some(LivePlacement {
        setup: LiveSetup {
            auto_answer: live.auto_answer,
            ..LiveSetup::default()
        },
        user: app.account.clone(),
        callback,
        tag: None,
        shown: None,
        cloudua: None,
    })
}

/// An inbound call's live placement when its app is a Cloud SIP UA domain's: not answered
/// until the device answers (`answerremotecalljwt`), 480 after the domain's answer timeout;
/// its callbacks go to the domain's callback base URL.
fn device_of(
    domain: &crate::store::CloudUaDomain,
    req: &crate::sip::message::Request,
    setup: &crate::call::CallSetup,
    answer_timeout: Duration,
) -> LivePlacement {
    let sip_call_id = {
        use crate::sip::message::HeaderView;
        req.call_id().map(str::to_string)
    };
    let session = crate::live::cloudua::Session::inbound(
        domain,
        crate::directory::new_secret(&mut rand::thread_rng()),
        setup.from.clone(),
        format!("sip:{}@{}", setup.to, domain.name),
        sip_call_id,
        setup.srtp.keys[1].clone(),
    );
    LivePlacement {
        setup: LiveSetup {
            auto_answer: false,
            answer_timeout: Some(answer_timeout),
            ring_at_once: false,
            ..LiveSetup::default()
        },
        user: None,
        callback: None,
        tag: None,
        shown: None,
        cloudua: Some(Box::new(session)),
    }
}

/// The call as the live-call table first sees it.
fn started_view(
    setup: &crate::call::CallSetup,
    app: &App,
    direction: CallDirection,
    wall: u64,
    live: Option<&LivePlacement>,
) -> CallView {
    let (from, to) = live
        .and_then(|l| l.shown.clone())
        .unwrap_or_else(|| (setup.from.clone(), setup.to.clone()));
    CallView {
        id: setup.cmiuuid.clone(),
        app: app.id,
        user: live.and_then(|l| l.user.clone()),
        direction,
        from,
        to,
        state: CallState::Started,
        start_ms: wall,
        active_ms: None,
        end_ms: None,
        bridge: None,
        tag: live.and_then(|l| l.tag.clone()),
        callback: live.and_then(|l| l.callback.clone()),
        cause: None,
        live: live.is_some(),
        cloudua: live.and_then(|l| l.cloudua.clone()),
    }
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
        let view = call_app(&msg.app, msg.answer_url, self.routes.calls_of(appid));
        let fresh = Fresh {
            cmiuuid: msg.cmiuuid.clone(),
            seed: rand::random(),
            srtp_keys: fresh_srtp_keys(),
        };
        let setup = admission::start_placed(&call_config(&deps), view, msg.from, msg.to, fresh)
            .map_err(|_| PlaceError::Limit)?;
        let wall = wall_ms();
        let view = started_view(
            &setup,
            &msg.app,
            CallDirection::Out,
            wall,
            msg.live.as_ref(),
        );
        let call = match msg.live {
            Some(l) => Call::outbound_live(setup, msg.call, Instant::now(), wall, l.setup),
            None => Call::outbound(setup, msg.call, Instant::now(), wall),
        };
        let env = self.call_env(&deps, ctx);
        tracing::info!(call = %msg.cmiuuid, appid, "placing a call");
        let actor = CallActor::new(call, msg.app, env, None).start();
        if let Some(table) = &deps.live {
            table.do_send(CallStarted { view, addr: actor });
        }
        self.routes.call_started(appid);
        Ok(())
    }
}
