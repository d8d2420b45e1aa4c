//! The call actor: the shell around one `call::Call`. It carries out the core's outputs —
//! SIP through the SIP actor, media through the call's media task, the answer and action URLs
//! over HTTP, rings through group-ring actors, reports to the app's sink — and turns what
//! comes back into the core's inputs. No call logic lives here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use pcmo::{Destination, FetchError};

use super::audio;
use super::clock::{unix_now, wall_ms};
use super::fork::{CancelTargets, ForkActor, ForkReport};
use super::sip::routes::{
    CallEnded, CallSignal, RequestKey, Respond, RouteDialog, SendAck, SendRequest, SipLink,
    TxOutcome, TxReport,
};
use crate::call::dialog::DialogId;
use crate::call::fork::{ClientAuth, ForkEvent};
use crate::call::report::Report;
use crate::call::resolve::{self, Lookup};
use crate::call::{Call, Input, LegId, Output, Purpose, Resolution, RingId};
use crate::media::{Leg, MediaControl, MediaEngine, Prompts};
use crate::store::{App, Store, Trunk};

/// Where a call's reports go (the app's event URL through the outbox, the CDR store).
pub trait ReportSink: Send + Sync + 'static {
    /// `seq` numbers the call's reports from 1, in the order the call made them;
    /// `request_id` is the REST request that placed the call, if one did.
    fn deliver(&self, app: &App, call: &CallRef<'_>, seq: u64, report: &Report);
}

/// Which call a report is about.
#[derive(Debug, Clone, Copy)]
pub struct CallRef<'a> {
    pub cmiuuid: &'a str,
    pub request_id: Option<&'a str>,
}

/// Largest answer/action URL body read (the PCMO limit).
const MAX_SCRIPT_BYTES: usize = 256 * 1024;

/// What every call actor shares.
#[derive(Clone)]
pub struct CallEnv {
    /// The SIP actor, as the recipients a call (and its group rings) sends to.
    pub sip: Arc<SipLink>,
    pub media: Arc<MediaEngine>,
    /// The operator's URLs: the app's stored answer URL.
    pub http: reqwest::Client,
    /// Every other URL of the app's, under the egress policy (which also holds SIP targets).
    pub app_http: super::egress::AppHttp,
    pub store: Arc<dyn Store>,
    pub reports: Arc<dyn ReportSink>,
    pub trunks: super::TrunkService,
    /// Our Contact for dialogs.
    pub contact: String,
    /// Total time allowed for the answer URL (connect timeout is in the client).
    pub fetch_timeout: Duration,
    pub prompts: Arc<Prompts>,
    pub download_timeout: Duration,
    /// The live-call table: every call registers, live events go there.
    pub live: Option<LiveLink>,
    /// Concurrent `stream`s per app.
    pub streams: Arc<super::stream_slots::StreamSlots>,
    /// This node among others sharing the store: which nodes are alive, the routing key.
    pub cluster: Option<super::cluster::Cluster>,
}

/// Where a call reports to the live-call table (recipients, so a call does not know the
/// table's actor).
#[derive(Clone)]
pub struct LiveLink {
    pub reported: Recipient<CallReported>,
    pub finished: Recipient<CallFinished>,
}

/// A live event of a call.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallReported {
    pub id: String,
    pub event: crate::call::live::LiveEvent,
}

/// A call's actor stopped.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallFinished {
    pub id: String,
}

#[derive(Message)]
#[rtype(result = "()")]
struct MediaSignal(crate::media::Event);

pub struct CallActor {
    call: Call,
    app: App,
    env: Arc<CallEnv>,
    media: Option<MediaControl>,
    /// The video task, when a connect asked for video.
    video: Option<MediaControl>,
    pending: HashMap<RequestKey, (LegId, Purpose)>,
    forks: HashMap<RingId, Addr<ForkActor>>,
    /// The dialogs routed to this call (forgotten when it ends).
    dialogs: Vec<(DialogId, LegId)>,
    /// The caller's dialog of an inbound call (routed at start).
    a_dialog: Option<DialogId>,
    reports_sent: u64,
    /// The app's stream slot while this call streams.
    stream_slot: Option<super::stream_slots::StreamSlot>,
}

impl CallActor {
    pub fn new(call: Call, app: App, env: Arc<CallEnv>, a_dialog: Option<DialogId>) -> Self {
        CallActor {
            call,
            app,
            env,
            media: None,
            video: None,
            pending: HashMap::new(),
            forks: HashMap::new(),
            dialogs: Vec::new(),
            a_dialog,
            reports_sent: 0,
            stream_slot: None,
        }
    }

    fn input(&mut self, ctx: &mut Context<Self>, input: Input) {
        self.call.handle(Instant::now(), wall_ms(), input);
        self.drain(ctx);
    }

    fn drain(&mut self, ctx: &mut Context<Self>) {
        while let Some(out) = self.call.poll() {
            match out {
                Output::Respond { tx, response } => {
                    self.env.sip.respond.do_send(Respond { tx, response })
                }
                Output::Send {
                    leg,
                    purpose,
                    request,
                    peer,
                } => {
                    let key = RequestKey::next();
                    self.pending.insert(key, (leg, purpose));
                    self.env.sip.send.do_send(SendRequest {
                        key,
                        request,
                        peer,
                        owner: ctx.address().recipient(),
                    });
                }
                Output::SendAck { request, peer } => {
                    self.env.sip.ack.do_send(SendAck { request, peer })
                }
                Output::AllocateMedia => self.allocate_media(ctx),
                Output::AllocateVideo => self.allocate_video(),
                Output::VideoMedia(cmd) => {
                    if let Some(v) = &self.video {
                        if let Err(e) = v.send(cmd) {
                            tracing::debug!(call = %self.call.cmiuuid(), error = %e, "video command not delivered");
                        }
                    }
                }
                Output::Media(mut cmd) => {
                    // A stream's credentials are the shell's to add: the app's secret signs
                    // the upgrade, the egress policy checks the agent's address.
                    if let crate::media::Command::Stream { id, spec } = &mut cmd {
                        spec.secret = self.app.secret.clone();
                        spec.policy = Some(Arc::new(self.env.app_http.policy().clone()));
                        self.stream_slot = None;
                        match self.env.streams.take(self.app.id.0) {
                            Some(slot) => self.stream_slot = Some(slot),
                            None => {
                                let why = format!(
                                    "the app's limit of {} concurrent streams is reached",
                                    self.env.streams.max()
                                );
                                let end = crate::media::stream::StreamEnd::Failed(why);
                                ctx.address().do_send(MediaSignal(
                                    crate::media::Event::StreamDone { id: *id, end },
                                ));
                                continue;
                            }
                        }
                    }
                    if let Some(m) = &self.media {
                        if let Err(e) = m.send(cmd) {
                            tracing::debug!(call = %self.call.cmiuuid(), error = %e, "media command not delivered");
                        }
                    }
                }
                Output::Fetch {
                    fetch_id,
                    url,
                    body,
                } => self.fetch(ctx, fetch_id, url, body),
                Output::Resolve { ring, targets } => {
                    tracing::debug!(call = %self.call.cmiuuid(), ring = ring.0, targets = targets.len(), "resolving");
                    let (store, trunks, app, domain, account) = (
                        self.env.store.clone(),
                        self.env.trunks.clone(),
                        self.app.id.0,
                        self.app.domain.clone(),
                        self.app.account.clone(),
                    );
                    let egress = self.env.app_http.clone();
                    let cluster = self.env.cluster.clone();
                    let fut = async move {
                        let snapshot = trunks.list();
                        let mut results = Vec::with_capacity(targets.len());
                        for (id, d) in targets {
                            let r = resolve_target(
                                &d,
                                store.as_ref(),
                                &trunks,
                                &snapshot,
                                Tenant {
                                    app,
                                    domain: &domain,
                                    account: account.as_deref(),
                                },
                                egress.policy(),
                                cluster.as_ref(),
                            );
                            results.push((id, r.await));
                        }
                        results
                    };
                    ctx.spawn(fut.into_actor(self).map(move |results, act, ctx| {
                        act.input(ctx, Input::Resolved { ring, results })
                    }));
                }
                Output::StartFork { ring, branches } => {
                    tracing::debug!(call = %self.call.cmiuuid(), ring = ring.0, branches = branches.len(), "ringing");
                    let fork = ForkActor::new(
                        ring,
                        branches,
                        &self.env.contact,
                        ctx.address().recipient(),
                        Arc::clone(&self.env.sip),
                    )
                    .start();
                    self.forks.insert(ring, fork);
                }
                Output::CancelFork { ring, targets } => {
                    if let Some(f) = self.forks.get(&ring) {
                        f.do_send(CancelTargets(targets));
                    }
                }
                Output::Timer { id, at } => {
                    let delay = at.saturating_duration_since(Instant::now());
                    ctx.run_later(delay, move |act, ctx| act.input(ctx, Input::Timer(id)));
                }
                Output::Report(r) => {
                    self.reports_sent += 1;
                    let call = CallRef {
                        cmiuuid: self.call.cmiuuid(),
                        request_id: self.call.request_id(),
                    };
                    self.env
                        .reports
                        .deliver(&self.app, &call, self.reports_sent, &r);
                }
                Output::LoadAudio { media_id, request } => {
                    let fut = audio::load(
                        self.env.prompts.clone(),
                        self.env.app_http.clone(),
                        request,
                        self.env.download_timeout,
                    );
                    ctx.spawn(fut.into_actor(self).map(move |result, act, ctx| {
                        act.input(ctx, Input::AudioLoaded { media_id, result })
                    }));
                }
                Output::Live(event) => {
                    if let Some(live) = &self.env.live {
                        live.reported.do_send(CallReported {
                            id: self.call.cmiuuid().to_string(),
                            event,
                        });
                    }
                }
                Output::Finished => {
                    if let Some(live) = &self.env.live {
                        live.finished.do_send(CallFinished {
                            id: self.call.cmiuuid().to_string(),
                        });
                    }
                    self.env.sip.ended.do_send(CallEnded {
                        appid: self.app.id.0,
                        dialogs: std::mem::take(&mut self.dialogs),
                        owner: ctx.address().recipient(),
                    });
                    ctx.stop();
                }
            }
        }
    }

    fn allocate_media(&mut self, ctx: &mut Context<Self>) {
        // Events go straight from the media thread to this actor's mailbox. They come at
        // signalling pace: a latch per stream and window, a digit per key press, one per
        // prompt or recording, and the final counters.
        let me = ctx.address();
        let sink = Box::new(move |event| me.do_send(MediaSignal(event)));
        match self.env.media.allocate_call_with(sink) {
            Ok(call) => {
                let (a, b) = (call.anchor(Leg::A), call.anchor(Leg::B));
                let webrtc = call.webrtc();
                self.media = Some(call.into_control());
                self.call.handle(
                    Instant::now(),
                    wall_ms(),
                    Input::MediaReady { a, b, webrtc },
                );
            }
            Err(e) => {
                tracing::warn!(call = %self.call.cmiuuid(), error = %e, "media allocation failed");
                self.call
                    .handle(Instant::now(), wall_ms(), Input::MediaFailed);
            }
        }
    }

    /// A second media task for video: a plain relay (the call core sends it no prompts or
    /// recordings). Its events say nothing the call needs, so they are dropped.
    fn allocate_video(&mut self) {
        let input = match self.env.media.allocate_call_with(Box::new(|_| {})) {
            Ok(call) => {
                let (a, b) = (call.anchor(Leg::A), call.anchor(Leg::B));
                self.video = Some(call.into_control());
                Input::VideoReady { a, b }
            }
            Err(e) => {
                tracing::warn!(call = %self.call.cmiuuid(), error = %e, "video ports not allocated");
                Input::VideoFailed
            }
        };
        self.call.handle(Instant::now(), wall_ms(), input);
    }

    /// POSTs to the answer or an action URL, signed like every webhook. The app's stored
    /// answer URL is the operator's and fetched as it is; any other URL is the app's own and
    /// goes through the egress policy, its failures all told to the app alike.
    fn fetch(
        &mut self,
        ctx: &mut Context<Self>,
        fetch_id: Option<pcmo::FetchId>,
        url: String,
        body: serde_json::Value,
    ) {
        // An app created without an answer URL: its calls run its own script, or the
        // built-in one, with no HTTP at all (a call it placed by REST named its own URL).
        if fetch_id.is_none() && self.app.answer_url.is_empty() && self.call.request_id().is_none()
        {
            let script = match &self.app.fallback_pcmo {
                Some(script) => script.clone(),
                None => {
                    let to = super::first_call::dialled(&body);
                    let is_user = self
                        .env
                        .store
                        .endpoint(&self.app.domain, &to)
                        .ok()
                        .flatten()
                        .is_some_and(|e| e.is_of(self.app.id));
                    super::first_call::builtin_script(&to, is_user)
                }
            };
            // Fed after this batch of outputs, as a fetched script would be.
            ctx.spawn(fut::ready(()).map(move |(), act: &mut Self, ctx| {
                act.input(ctx, Input::AnswerScript(Ok(script)))
            }));
            return;
        }
        let app_url = (url != self.app.answer_url).then(|| self.env.app_http.clone());
        let http = match &app_url {
            Some(a) => a.client().clone(),
            None => self.env.http.clone(),
        };
        let call = self.call.cmiuuid().to_string();
        let secret = self.app.secret.clone();
        let timeout = self
            .app
            .answer_timeout_ms
            .map_or(self.env.fetch_timeout, |ms| {
                Duration::from_millis(ms.into())
            });
        let fut = async move {
            let Some(app_url) = app_url else {
                return post_for_script(&http, &url, &secret, &body, timeout).await;
            };
            if let Err(e) = app_url.check(&url) {
                tracing::info!(target: "security", %call, error = %e, "app URL refused");
                return Err(FetchError::NotFetched);
            }
            post_for_script(&http, &url, &secret, &body, timeout)
                .await
                .map_err(|failure| {
                    tracing::info!(%call, ?failure, "app URL not fetched");
                    FetchError::NotFetched
                })
        };
        ctx.spawn(
            fut.into_actor(self)
                .map(move |result, act, ctx| match fetch_id {
                    None => act.input(ctx, Input::AnswerScript(result)),
                    Some(fetch_id) => {
                        // An action URL the engine did not fetch reads as unreachable to the
                        // script, as it always has.
                        let result = result.map_err(|f| match f {
                            FetchError::NotFetched => FetchError::Unreachable,
                            other => other,
                        });
                        act.input(ctx, Input::ScriptFetched { fetch_id, result })
                    }
                }),
        );
    }

    fn route(&mut self, dialog: DialogId, leg: LegId, ctx: &mut Context<Self>) {
        self.dialogs.push((dialog.clone(), leg));
        self.env.sip.route.do_send(RouteDialog {
            dialog,
            leg,
            owner: ctx.address().recipient(),
        });
    }
}

/// Whose call is being resolved: its app, the app's SIP domain, the Bandwidth user.
#[derive(Clone, Copy)]
struct Tenant<'a> {
    app: u64,
    domain: &'a str,
    account: Option<&'a str>,
}

/// Where a target can be reached right now. [`resolve::plan`] decides what to look up, this
/// looks it up — a SIP user's endpoint and live registrations in the store (which every
/// REGISTER updates before its 200), a SIP URI's host under the egress policy, a trunk's host
/// and credentials — and the matching function of `call::resolve` decides.
async fn resolve_target(
    d: &Destination,
    store: &dyn Store,
    trunks: &super::TrunkService,
    snapshot: &[Trunk],
    tenant: Tenant<'_>,
    egress: &crate::egress::EgressPolicy,
    cluster: Option<&super::cluster::Cluster>,
) -> Resolution {
    let Tenant {
        app,
        domain,
        account,
    } = tenant;
    let views = snapshot.iter().map(|t| resolve::TrunkView {
        name: &t.name,
        host: &t.host,
        port: t.port,
        transport: t.transport,
    });
    let mut plan = resolve::plan(d, domain, views);
    // A SIP URI in one of the Bandwidth domains of the call's user is that user's endpoint
    // (looked up here, never in the DNS).
    if let (Lookup::Address(t), Some(account)) = (&plan, account) {
        let host = t.host.to_ascii_lowercase();
        let user = t.user();
        let ours = store
            .bw_domains_of_account(account)
            .unwrap_or_default()
            .into_iter()
            .any(|d| d.sip_domain == host);
        if let (true, Some(user)) = (ours, user) {
            plan = Lookup::User(crate::sip::registrar::Aor::new(user, &host));
        }
    }
    match plan {
        Lookup::Decided(r) => r,
        Lookup::User(aor) => {
            let owner = store
                .endpoint(&aor.domain, &aor.user)
                .ok()
                .flatten()
                .and_then(|ep| {
                    // A Bandwidth endpoint is a target of every call of its domain's user,
                    // whichever application (or none) it names; any other endpoint belongs
                    // to its own app only (one without an app is nobody's target).
                    let same_user = account.is_some()
                        && ep.bw_domain.as_deref().is_some_and(|d| {
                            store.bw_domain(d).ok().flatten().map(|d| d.account)
                                == account.map(str::to_string)
                        });
                    let owner_app = if same_user {
                        Some(app)
                    } else {
                        ep.app.map(|a| a.0)
                    };
                    Some(resolve::Owner {
                        app: owner_app?,
                        enabled: ep.enabled,
                    })
                });
            let bindings = store.bindings(&aor).unwrap_or_default();
            // Bindings of other nodes ring through them while they are alive.
            let nodes = cluster.map_or_else(crate::cluster::NodeView::single, |c| c.view());
            let key = cluster.map(|c| c.key());
            resolve::user_contacts(app, owner, &aor, &bindings, wall_ms() / 1000, &nodes, key)
        }
        Lookup::Address(target) => {
            let verdict = super::egress::lookup_allowed(egress, &target.host, target.port).await;
            resolve::at_address(target, verdict)
        }
        Lookup::Trunk(target) => {
            let addr = lookup(&target.host, target.port).await;
            // Opened only for a trunk that resolves: the decision needs them only then.
            let auth = addr
                .and_then(|_| snapshot.iter().find(|t| t.name == target.name))
                .and_then(|t| trunks.credentials(t).ok().flatten())
                .map(|c| ClientAuth {
                    username: c.username,
                    password: c.password,
                });
            resolve::through_trunk(target, addr, auth)
        }
    }
}

/// An IP literal, or the first address a name resolves to (RFC 3263 SRV/NAPTR not done).
async fn lookup(host: &str, port: u16) -> Option<std::net::SocketAddr> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Some(std::net::SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host, port)).await.ok()?.next()
}

async fn post_for_script(
    http: &reqwest::Client,
    url: &str,
    secret: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<String, FetchError> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let t = unix_now();
    let resp = http
        .post(url)
        .timeout(timeout)
        .header("content-type", "application/json")
        .header(
            "x-ringmaster-signature",
            crate::webhook::signature(secret, t, &bytes),
        )
        .body(bytes)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                FetchError::Timeout
            } else {
                FetchError::Unreachable
            }
        })?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status().as_u16()));
    }
    if resp
        .content_length()
        .is_some_and(|l| l as usize > MAX_SCRIPT_BYTES)
    {
        return Err(FetchError::TooLarge);
    }
    let mut resp = resp;
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > MAX_SCRIPT_BYTES {
                    return Err(FetchError::TooLarge);
                }
            }
            Ok(None) => break,
            Err(e) => {
                return Err(if e.is_timeout() {
                    FetchError::Timeout
                } else {
                    FetchError::Unreachable
                })
            }
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

impl Actor for CallActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // An inbound call's A dialog is known now; a placed call's once A answers.
        if let Some(a) = self.a_dialog.take() {
            self.route(a, LegId::A, ctx);
        }
        self.drain(ctx);
    }
}

impl Handler<CallSignal> for CallActor {
    type Result = ();
    fn handle(&mut self, msg: CallSignal, ctx: &mut Context<Self>) {
        let input = match msg {
            CallSignal::Request { leg, tx, request } => Input::Request {
                leg,
                tx,
                request: *request,
            },
            CallSignal::Ack { leg } => Input::Ack { leg },
            CallSignal::CallerCancelled => Input::CallerCancelled,
            CallSignal::AckTimeout => Input::AckTimeout,
        };
        self.input(ctx, input);
    }
}

impl Handler<TxReport> for CallActor {
    type Result = ();
    fn handle(&mut self, msg: TxReport, ctx: &mut Context<Self>) {
        let Some((leg, purpose)) = self.pending.get(&msg.key).copied() else {
            return;
        };
        let input = match msg.outcome {
            TxOutcome::Response(response) => {
                if response.status >= 200 {
                    self.pending.remove(&msg.key);
                }
                Input::Response {
                    leg,
                    purpose,
                    response,
                }
            }
            TxOutcome::Failed => {
                self.pending.remove(&msg.key);
                Input::RequestFailed { leg, purpose }
            }
        };
        self.input(ctx, input);
    }
}

impl Handler<ForkReport> for CallActor {
    type Result = ();
    fn handle(&mut self, msg: ForkReport, ctx: &mut Context<Self>) {
        if let ForkEvent::Answered { leg, dialog, .. } = &msg.event {
            // From now on the B leg's in-dialog requests (its BYE) come to this call.
            self.route(dialog.id(), *leg, ctx);
        }
        if let ForkEvent::Done = msg.event {
            self.forks.remove(&msg.ring);
        }
        self.input(
            ctx,
            Input::Fork {
                ring: msg.ring,
                event: msg.event,
            },
        );
    }
}

impl Handler<MediaSignal> for CallActor {
    type Result = ();
    fn handle(&mut self, msg: MediaSignal, ctx: &mut Context<Self>) {
        if let crate::media::Event::StreamDone { .. } = &msg.0 {
            self.stream_slot = None;
        }
        if let crate::media::Event::Stats(s) = &msg.0 {
            let foreign = s.a_to_b.dropped.foreign_source + s.b_to_a.dropped.foreign_source;
            let srtp = s.a_to_b.dropped.srtp + s.b_to_a.dropped.srtp;
            tracing::debug!(call = %self.call.cmiuuid(), a_to_b = s.a_to_b.packets, b_to_a = s.b_to_a.packets, foreign, srtp, "media stats");
        }
        self.input(ctx, Input::Media(msg.0));
    }
}

/// An app's live command for this call; answered with the call core's verdict.
#[derive(Message)]
#[rtype(result = "Result<crate::call::live::LiveAccepted, crate::call::live::LiveError>")]
pub struct Control(pub crate::call::live::LiveCommand);

impl Handler<Control> for CallActor {
    type Result = Result<crate::call::live::LiveAccepted, crate::call::live::LiveError>;
    fn handle(&mut self, msg: Control, ctx: &mut Context<Self>) -> Self::Result {
        let verdict = self.call.command(Instant::now(), wall_ms(), msg.0);
        self.drain(ctx);
        verdict
    }
}

/// The call's B-side ports (where a bridged call sends this call its audio).
#[derive(Message)]
#[rtype(result = "Option<crate::media::sdp::Anchor>")]
pub struct BSide;

impl Handler<BSide> for CallActor {
    type Result = Option<crate::media::sdp::Anchor>;
    fn handle(&mut self, _: BSide, _: &mut Context<Self>) -> Self::Result {
        self.call.b_anchor()
    }
}
