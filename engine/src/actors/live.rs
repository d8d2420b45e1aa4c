//! The live-call table's shell: every call registers here when it starts (so REST commands
//! find its actor), reports its live events here, and leaves when it ends. Events of calls
//! with a callback URL go out as Bandwidth callbacks (`webhook::bandwidth`), each sent on its
//! own (a slow or failing callback never holds up the call's later ones), GET or POST as the
//! app chose, signed like every webhook (for GET, over the path and query), within the
//! callback timeout, with one try of the fallback URL on failure.
//!
//! [`LiveService`] is the async face the HTTP API uses: look calls up, send them commands,
//! make and change bridges.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

pub use super::call::LiveLink;
use super::call::{BSide, CallActor, CallFinished, CallReported, Control};
use super::clock::{unix_now, wall_ms};
use super::device_callbacks::SessionRefSet;
use super::egress::AppHttp;
use crate::call::live::{LiveAccepted, LiveCommand, LiveError, LiveEvent};
use crate::live::{
    BridgeError, BridgeView, CallFilter, CallTable, CallView, CallbackMethod, Entry, Followup,
    RecordingView,
};
use crate::store::Store;
use crate::webhook::bandwidth::{self, CallbackCall};

/// Callbacks being sent at once, across all calls; past it new ones are dropped (and logged)
/// rather than queued without bound behind a slow app (each try is bounded by its timeout).
pub const MAX_CALLBACKS_IN_FLIGHT: usize = 10_000;

/// Counts a callback task while it lives.
struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

pub struct LiveActor {
    table: CallTable,
    in_flight: Arc<AtomicUsize>,
    addrs: HashMap<String, Addr<CallActor>>,
    app_http: AppHttp,
    store: Arc<dyn Store>,
    /// `http://host:port` of the HTTP API, for `callUri` and `recordingUri`.
    public_base: String,
    /// Cloud SIP UA callbacks, in order per call.
    devices: super::device_callbacks::DeviceCallbacks,
    /// Numbers the `httpTransactionId`s of device callbacks.
    next_tx: u64,
    /// This node's id when the store is shared (the live-call index is kept), else `None`.
    node: Option<String>,
}

impl LiveActor {
    pub fn new(app_http: AppHttp, store: Arc<dyn Store>, public_base: String) -> Self {
        LiveActor {
            table: CallTable::default(),
            in_flight: Arc::new(AtomicUsize::new(0)),
            addrs: HashMap::new(),
            app_http,
            store,
            public_base,
            devices: Default::default(),
            next_tx: 0,
            node: None,
        }
    }

    /// Keeps the shared live-call index under this node's id (a PostgreSQL store).
    pub fn indexed_as(mut self, node: Option<String>) -> Self {
        self.node = node;
        self
    }

    /// A device call's event: its Cloud UA callback, if it has one.
    fn device_callback(&mut self, id: &str, ev: &LiveEvent, me: Recipient<SessionRefSet>) {
        let Some(e) = self.table.get(id) else {
            return;
        };
        let Some(session) = e.view.cloudua.as_deref() else {
            return;
        };
        let Some(base) = session.callback_base.clone() else {
            return;
        };
        self.next_tx += 1;
        let tx = format!("{id}-{}", self.next_tx);
        let answered = e.view.active_ms.is_some();
        let Some((name, body)) = crate::live::cloudua::render(session, id, ev, &tx, answered)
        else {
            return;
        };
        let secret = self
            .store
            .app(e.view.app)
            .ok()
            .flatten()
            .map(|a| a.secret)
            .unwrap_or_default();
        self.devices
            .send(id, &base, name, body, secret, &self.app_http, me);
    }

    /// Renders and sends `ev`'s callback, if the call has a callback URL; returns the
    /// rendering for the call's event log.
    fn callback(&self, id: &str, ev: &LiveEvent, at_ms: u64) -> Option<(String, String)> {
        let e = self.table.get(id)?;
        let v = &e.view;
        let user = v.user.as_deref().unwrap_or("-");
        let call_id = format!("c-{id}");
        let call_uri = format!("{}/v1/users/{user}/calls/{call_id}", self.public_base);
        let recordings_uri = format!("{}/v1/users/{user}/recordings/", self.public_base);
        let app_label = format!("a-{}", v.app);
        let call = CallbackCall {
            call_id: &call_id,
            call_uri: &call_uri,
            from: &v.from,
            to: &v.to,
            tag: v.tag.as_deref(),
            application_id: Some(&app_label),
            recordings_uri: &recordings_uri,
        };
        let body = bandwidth::render(&call, ev, at_ms)?;
        let name = body["eventType"].as_str().unwrap_or("event").to_string();
        let logged = (name, body.to_string());
        let Some(cb) = v.callback.clone() else {
            return Some(logged);
        };
        // The signing key: for a Bandwidth user's call, the hex SHA-256 of the user's API
        // secret (what the user can compute; only that hash is stored); else the app's secret.
        let secret = match v.user.as_deref() {
            Some(user) => self
                .store
                .account(user)
                .ok()
                .flatten()
                .map(|a| a.secret_sha256)
                .unwrap_or_default(),
            None => self
                .store
                .app(v.app)
                .ok()
                .flatten()
                .map(|a| a.secret)
                .unwrap_or_default(),
        };
        let http = self.app_http.clone();
        let call = id.to_string();
        if self.in_flight.load(Ordering::Relaxed) >= MAX_CALLBACKS_IN_FLIGHT {
            tracing::warn!(%call, event = %body["eventType"], "callback dropped: too many in flight");
            return Some(logged);
        }
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        actix::spawn(async move {
            let _done = InFlight(in_flight);
            let timeout = Duration::from_millis(u64::from(cb.timeout_ms.clamp(1, 10_000)));
            let mut urls = vec![cb.url.clone()];
            urls.extend(cb.fallback.clone());
            for url in urls {
                match send(&http, &url, cb.method, &secret, &body, timeout).await {
                    Ok(()) => return,
                    Err(why) => {
                        tracing::info!(%call, event = %body["eventType"], why, "callback not delivered")
                    }
                }
            }
        });
        Some(logged)
    }
}

/// One try of one callback.
async fn send(
    http: &AppHttp,
    url: &str,
    method: CallbackMethod,
    secret: &str,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<(), &'static str> {
    http.check(url)
        .map_err(|_| "refused by the egress policy")?;
    let t = unix_now();
    let req = match method {
        CallbackMethod::Post => {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            let sig = crate::webhook::signature(secret, t, &bytes);
            http.client()
                .post(url)
                .header("content-type", "application/json")
                .header(crate::webhook::sign::SIGNATURE_HEADER, sig)
                .body(bytes)
        }
        CallbackMethod::Get => {
            let mut u = reqwest::Url::parse(url).map_err(|_| "not a URL")?;
            u.query_pairs_mut().extend_pairs(bandwidth::as_query(body));
            let signed = match u.query() {
                Some(q) => format!("{}?{q}", u.path()),
                None => u.path().to_string(),
            };
            let sig = crate::webhook::signature(secret, t, signed.as_bytes());
            http.client()
                .get(u)
                .header(crate::webhook::sign::SIGNATURE_HEADER, sig)
        }
    };
    let resp = req
        .timeout(timeout)
        .send()
        .await
        .map_err(|_| "unreachable or too slow")?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err("answered an error status")
    }
}

impl Actor for LiveActor {
    type Context = Context<Self>;
}

impl LiveLink {
    /// The link every call uses to report to `table`.
    pub fn to(table: &Addr<LiveActor>) -> LiveLink {
        LiveLink {
            reported: table.clone().recipient(),
            finished: table.clone().recipient(),
        }
    }
}

/// A call started (every call: script-driven ones can be held, hung up or taken over).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CallStarted {
    pub view: CallView,
    pub addr: Addr<CallActor>,
}

impl Handler<CallStarted> for LiveActor {
    type Result = ();
    fn handle(&mut self, msg: CallStarted, _: &mut Context<Self>) {
        self.addrs.insert(msg.view.id.clone(), msg.addr);
        // Shared with the other nodes (a PostgreSQL store), so a REST command for this call
        // sent to any node reaches this one; committed by the store's next group commit.
        if let Some(node) = &self.node {
            if let Err(e) = self.store.put_live_call(&msg.view.id, node) {
                tracing::warn!(error = %e, "live-call index not updated");
            }
        }
        self.table.started(msg.view);
    }
}

impl Handler<CallReported> for LiveActor {
    type Result = ();
    fn handle(&mut self, msg: CallReported, ctx: &mut Context<Self>) {
        let at = wall_ms();
        if let LiveEvent::MediaReady { b, a_codec } = &msg.event {
            let (b, a_codec) = (*b, *a_codec);
            self.table.update_cloudua(&msg.id, |s| {
                s.b = Some(b);
                s.a_codec = a_codec;
            });
        }
        let is_device = self
            .table
            .get(&msg.id)
            .is_some_and(|e| e.view.cloudua.is_some());
        let logged = if is_device {
            self.device_callback(&msg.id, &msg.event, ctx.address().recipient());
            None
        } else {
            self.callback(&msg.id, &msg.event, at)
        };
        for f in self.table.event(&msg.id, &msg.event, at, logged) {
            match f {
                Followup::LeaveBridge { other, .. } => {
                    if let Some(a) = self.addrs.get(&other) {
                        a.do_send(Control(LiveCommand::Leave));
                    }
                }
            }
        }
    }
}

impl Handler<CallFinished> for LiveActor {
    type Result = ();
    fn handle(&mut self, msg: CallFinished, _: &mut Context<Self>) {
        self.addrs.remove(&msg.id);
        if self.node.is_some() {
            if let Err(e) = self.store.delete_live_call(&msg.id) {
                tracing::warn!(error = %e, "live-call index not updated");
            }
        }
        self.devices.finished(&msg.id);
        self.table.finished(&msg.id, wall_ms());
    }
}

impl Handler<SessionRefSet> for LiveActor {
    type Result = ();
    fn handle(&mut self, msg: SessionRefSet, _: &mut Context<Self>) {
        self.table
            .update_cloudua(&msg.call, |s| s.session_ref = Some(msg.value));
    }
}

/// Reads the table.
struct Read<F, R>(F)
where
    F: FnOnce(&CallTable, &HashMap<String, Addr<CallActor>>) -> R;

impl<F, R> Message for Read<F, R>
where
    F: FnOnce(&CallTable, &HashMap<String, Addr<CallActor>>) -> R,
    R: 'static,
{
    type Result = R;
}

impl<F, R> Handler<Read<F, R>> for LiveActor
where
    F: FnOnce(&CallTable, &HashMap<String, Addr<CallActor>>) -> R,
    R: 'static,
{
    type Result = MessageResult<Read<F, R>>;
    fn handle(&mut self, msg: Read<F, R>, _: &mut Context<Self>) -> Self::Result {
        MessageResult((msg.0)(&self.table, &self.addrs))
    }
}

/// Changes the table.
struct Write<F, R>(F)
where
    F: FnOnce(&mut CallTable) -> R;

impl<F, R> Message for Write<F, R>
where
    F: FnOnce(&mut CallTable) -> R,
    R: 'static,
{
    type Result = R;
}

impl<F, R> Handler<Write<F, R>> for LiveActor
where
    F: FnOnce(&mut CallTable) -> R,
    R: 'static,
{
    type Result = MessageResult<Write<F, R>>;
    fn handle(&mut self, msg: Write<F, R>, _: &mut Context<Self>) -> Self::Result {
        MessageResult((msg.0)(&mut self.table))
    }
}

/// Why a live request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LiveRequestError {
    #[error("no such call")]
    NoSuchCall,
    #[error("{0}")]
    Refused(LiveError),
    #[error("{0}")]
    Bridge(BridgeError),
    #[error("the engine is not available")]
    Unavailable,
}

/// The HTTP API's handle on live calls.
#[derive(Clone)]
pub struct LiveService {
    addr: Addr<LiveActor>,
}

impl LiveService {
    pub fn new(addr: Addr<LiveActor>) -> Self {
        LiveService { addr }
    }

    pub fn addr(&self) -> &Addr<LiveActor> {
        &self.addr
    }

    async fn read<F, R>(&self, f: F) -> Result<R, LiveRequestError>
    where
        F: FnOnce(&CallTable, &HashMap<String, Addr<CallActor>>) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.addr
            .send(Read(f))
            .await
            .map_err(|_| LiveRequestError::Unavailable)
    }

    async fn write<F, R>(&self, f: F) -> Result<R, LiveRequestError>
    where
        F: FnOnce(&mut CallTable) -> R + Send + 'static,
        R: Send + 'static,
    {
        self.addr
            .send(Write(f))
            .await
            .map_err(|_| LiveRequestError::Unavailable)
    }

    /// The call of Cloud UA domain `domain` with `replyId` `reply` (live or recently ended).
    pub async fn device_call(&self, domain: &str, reply: &str) -> Option<CallView> {
        let (d, r) = (domain.to_string(), reply.to_string());
        self.read(move |t, _| t.by_reply(&d, &r).map(|e| e.view.clone()))
            .await
            .ok()?
    }

    /// The newest call of `domain` placed with this `sessionReferenceId`.
    pub async fn device_call_by_ref(&self, domain: &str, r: serde_json::Value) -> Option<CallView> {
        let d = domain.to_string();
        self.read(move |t, _| t.by_session_ref(&d, &r).map(|e| e.view.clone()))
            .await
            .ok()?
    }

    /// Changes a device call's session (the codec and keys its answer set).
    pub async fn update_device(
        &self,
        id: &str,
        f: impl FnOnce(&mut crate::live::cloudua::Session) + Send + 'static,
    ) {
        let id = id.to_string();
        let _ = self.write(move |t| t.update_cloudua(&id, f)).await;
    }

    /// A call's row (live or recently ended).
    pub async fn call(&self, id: &str) -> Option<Entry> {
        let id = id.to_string();
        self.read(move |t, _| t.get(&id).cloned()).await.ok()?
    }

    pub async fn calls(&self, filter: CallFilter) -> Vec<CallView> {
        self.read(move |t, _| t.list(&filter).into_iter().cloned().collect())
            .await
            .unwrap_or_default()
    }

    pub async fn recordings(&self, user: &str) -> Vec<RecordingView> {
        let user = user.to_string();
        self.read(move |t, _| t.recordings(&user).into_iter().cloned().collect())
            .await
            .unwrap_or_default()
    }

    pub async fn set_callback(&self, id: &str, cb: crate::live::Callback) -> bool {
        let id = id.to_string();
        self.write(move |t| t.set_callback(&id, cb))
            .await
            .unwrap_or(false)
    }

    pub async fn set_tag(&self, id: &str, tag: Option<String>) {
        let id = id.to_string();
        let _ = self.write(move |t| t.set_tag(&id, tag)).await;
    }

    /// Sends `cmd` to call `id` and waits for the call's verdict.
    pub async fn command(
        &self,
        id: &str,
        cmd: LiveCommand,
    ) -> Result<LiveAccepted, LiveRequestError> {
        let key = id.to_string();
        let (addr, known) = self
            .read(move |t, a| (a.get(&key).cloned(), t.get(&key).is_some()))
            .await?;
        let addr = match (addr, known) {
            (Some(a), _) => a,
            // Still in the table, its actor gone: the call has ended.
            (None, true) => return Err(LiveRequestError::Refused(LiveError::Ended)),
            (None, false) => return Err(LiveRequestError::NoSuchCall),
        };
        let gather_tag = match &cmd {
            LiveCommand::Gather(g) => Some(g.tag.clone()),
            _ => None,
        };
        let verdict = addr
            .send(Control(cmd))
            .await
            .map_err(|_| LiveRequestError::Refused(LiveError::Ended))?
            .map_err(LiveRequestError::Refused)?;
        if let (LiveAccepted::Gather(g), Some(tag)) = (verdict, gather_tag) {
            let id = id.to_string();
            self.write(move |t| t.gather_started(&id, g, tag, wall_ms()))
                .await?;
        }
        Ok(verdict)
    }

    /// Makes (`id: None`) or changes a bridge of `user`, and joins, holds or separates its
    /// calls accordingly.
    pub async fn bridge(
        &self,
        user: &str,
        id: Option<String>,
        calls: Option<Vec<String>>,
        bridge_audio: Option<bool>,
    ) -> Result<BridgeView, LiveRequestError> {
        let user = user.to_string();
        let (bridge_id, plan) = self
            .write(move |t| {
                let at = wall_ms();
                match id {
                    None => {
                        let id = format!(
                            "brg-{}",
                            crate::directory::new_secret(&mut rand::thread_rng())
                        );
                        let calls = calls.unwrap_or_default();
                        let audio = bridge_audio.unwrap_or(true);
                        t.create_bridge(id.clone(), &user, calls, audio, at)
                            .map(|p| (id, p))
                    }
                    Some(id) => {
                        if t.bridge(&id).is_none_or(|b| b.user != user) {
                            return Err(BridgeError::NotFound);
                        }
                        t.update_bridge(&id, calls, bridge_audio, at)
                            .map(|p| (id, p))
                    }
                }
            })
            .await?
            .map_err(LiveRequestError::Bridge)?;
        for c in &plan.leave {
            let _ = self.command(c, LiveCommand::Leave).await;
        }
        if let Some((x, y)) = &plan.join {
            let (ax, ay) = (self.b_anchor(x).await, self.b_anchor(y).await);
            if let (Some(ax), Some(ay)) = (ax, ay) {
                let _ = self.command(x, LiveCommand::Join { peer: ay }).await;
                let _ = self.command(y, LiveCommand::Join { peer: ax }).await;
            }
        }
        if let (Some(hold), Some(v)) = (plan.hold, self.bridge_view(&bridge_id).await) {
            for c in &v.call_ids {
                let _ = self.command(c, LiveCommand::Hold(Some(hold))).await;
            }
        }
        self.bridge_view(&bridge_id)
            .await
            .ok_or(LiveRequestError::Bridge(BridgeError::NotFound))
    }

    async fn b_anchor(&self, id: &str) -> Option<crate::media::sdp::Anchor> {
        let key = id.to_string();
        let addr = self.read(move |_, a| a.get(&key).cloned()).await.ok()??;
        addr.send(BSide).await.ok()?
    }

    pub async fn bridge_view(&self, id: &str) -> Option<BridgeView> {
        let id = id.to_string();
        self.read(move |t, _| t.bridge(&id).cloned()).await.ok()?
    }

    pub async fn bridges(&self, user: &str) -> Vec<BridgeView> {
        let user = user.to_string();
        self.read(move |t, _| t.bridges_of(&user).into_iter().cloned().collect())
            .await
            .unwrap_or_default()
    }
}
