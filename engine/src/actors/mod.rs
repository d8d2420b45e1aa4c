//! The shells: actix actors and tokio tasks that do ringmaster's I/O around the sans-IO cores.
//!
//! [`Engine::start`] opens the store, loads the secrets, binds the SIP sockets on a dedicated
//! arbiter (thread) with the SIP actor, restores live registrations, starts the webhook outbox
//! (reloading what is pending), and returns a handle the HTTP API and the call path use. Must
//! be called inside a running actix `System`.
//!
//! Who starts whom, and how they answer: the SIP actor starts call actors (`sip/invite.rs`)
//! and registration actors (`sip/register.rs`); a call actor starts a group-ring actor per
//! connect round (`fork.rs`). A child never names its parent's type: calls and rings hold
//! [`sip::routes::SipLink`], a registration actor a [`registration::RegistrationLink`], a
//! ring its call's `Recipient<ForkReport>`. The messages live in `sip/routes.rs` or beside
//! the child that sends them, so no two files here import each other in a circle
//! (`engine/tests/module_cycles.rs` fails the build on one). Wall-clock time comes from
//! `clock`, the one place the shells read it.

mod audio;
pub mod backend;
pub mod bandwidth;
mod bindings;
pub mod call;
pub mod cdrs;
mod clock;
pub mod cluster;
pub mod device_callbacks;
pub mod device_domains;
pub mod directory;
pub mod egress;
pub mod first_call;
pub mod fork;
mod keys;
pub mod live;
pub mod numbers;
pub mod outbox;
pub mod registration;
pub mod reports;
pub mod retention;
pub mod sip;
pub mod stream_slots;
pub mod transport;
pub mod trunks;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use bindings::restore_bindings;
pub use bindings::RegistrationView;
pub use cdrs::CdrService;
use clock::unix_now;
pub use directory::DirectoryService;
pub use keys::KeyError;
pub use numbers::NumberService;
pub use outbox::{Accepted, Outbox, OutboxConfig, OutboxError, OutboxStartError, Receipt};
use reports::AppReports;
use sip::{CallDeps, EnableCalls, SipActor};
use transport::{Bound, CertStore, Sockets, StreamListen, TlsSetup};
pub use trunks::{TrunkCredentials, TrunkService};

use crate::config::Settings;
use crate::directory::seal::Sealer;
use crate::directory::Domains;
use crate::media::prompt::Tts;
use crate::media::{MediaConfig, MediaEngine, PromptLimits, Prompts};
use crate::sip::auth::{AuthConfig, Authenticator};
use crate::sip::message::{Host, Limits};
use crate::sip::registrar::RegistrarConfig;
use crate::sip::transaction::{Config as TxConfig, Timers, TransactionLayer};
use crate::sip::Transport;
use crate::store::{GroupCommit, Store, StoreError};

/// Why the engine did not start. Each says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("cannot listen for SIP on {addr} (UDP and TCP): {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen for SIP over {transport} on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        transport: Transport,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS certificate: {0}")]
    Certificate(#[from] transport::CertError),
    #[error("invalid setting: {0}")]
    Setting(String),
    #[error("the SIP thread stopped during start-up")]
    SipThread,
    #[error("media relay: {0}")]
    Media(#[from] crate::media::MediaError),
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Outbox(#[from] OutboxStartError),
}

/// The running engine, as the HTTP side sees it.
#[derive(Clone)]
pub struct Engine {
    /// The certificate of SIP TLS, WSS and HTTPS (`None` when none of them listens).
    pub certs: Option<Arc<transport::CertStore>>,
    pub directory: DirectoryService,
    /// The Bandwidth App Platform v1 model (users, applications, domains, endpoints).
    pub bandwidth: bandwidth::BandwidthService,
    pub sip: Addr<SipActor>,
    /// Where SIP is bound (UDP and TCP).
    pub sip_bound: SocketAddr,
    /// Where SIP clients should send (the `connect_URL`).
    pub sip_advertised: SocketAddr,
    /// Where SIP over TLS, WS and WSS are bound (None: off).
    pub sip_streams: StreamListen,
    pub admin_token: String,
    pub domains: Domains,
    /// Carriers: admin writes and the call path's lookups.
    pub trunks: TrunkService,
    /// Apps' phone numbers: admin writes and the call path's lookup.
    pub numbers: NumberService,
    /// Reading CDRs back (they are written through `outbox`).
    pub cdrs: CdrService,
    /// Live events and CDRs to apps' event URLs.
    pub outbox: Outbox,
    /// Recorded calls on disk.
    pub recordings: crate::recordings::Recordings,
    /// Live calls and bridges: REST control of running calls.
    pub live: live::LiveService,
    /// What apps may make the engine contact (`[policy]`).
    egress: Arc<crate::egress::EgressPolicy>,
    /// The media plane (its counters, for metrics).
    pub media: Arc<MediaEngine>,
    store: Arc<dyn Store>,
    commit: GroupCommit,
    /// This node among the nodes sharing a PostgreSQL store (`None` on sled).
    pub cluster: Option<Arc<backend::Cluster>>,
}

impl Engine {
    pub async fn start(settings: &Settings) -> Result<Engine, StartError> {
        let dir = settings.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| StartError::DataDir {
            path: dir.clone(),
            source,
        })?;
        // The embedded sled store, or a PostgreSQL store shared with other nodes.
        let opened = backend::open(settings, &dir)?;
        let store = opened.store;
        let cluster = opened.cluster.map(Arc::new);
        let commit = GroupCommit::start(store.clone())?;
        let admin_token = opened.admin_token;
        let nonce_key = opened.nonce_key;
        let sealer = opened.seal_key.map(|k| Arc::new(Sealer::new(&k)));

        let default_domain = settings.sip_domain.clone().unwrap_or_else(host_name);
        let domains = Domains::new(&default_domain);
        let apps = store.apps()?;
        for app in &apps {
            domains.add(&app.domain);
        }
        for d in bandwidth::BandwidthService::all_sip_domains(store.as_ref())? {
            domains.add(&d);
        }
        crate::metrics::metrics().apps.add(apps.len() as i64);

        let registrar_node = cluster::registrar_node(settings);
        let live = restore_bindings(store.as_ref(), registrar_node.as_deref())?;
        commit.sync().await?;

        let auth_cfg =
            AuthConfig::from_names(&settings.digest.algorithms, settings.digest.nonce_ttl_secs)
                .map_err(StartError::Setting)?;
        let limits = Limits {
            max_message: settings.sip.max_message_bytes,
            ..Limits::default()
        };
        let advertised_ip = advertised_ip(settings);
        let registrar = RegistrarConfig {
            min_expires: settings.registrar.min_expires,
            max_expires: settings.registrar.max_expires,
            default_expires: settings.registrar.default_expires,
            max_contacts: settings.registrar.max_contacts,
            node: registrar_node,
        };

        // The certificate of TLS and WSS, before anything listens: a bad one stops start-up.
        let tp = &settings.transports;
        let certs = if tp.needs_certificate() || settings.http.https_listen.is_some() {
            let mut names = vec![default_domain.clone(), "localhost".to_string()];
            for ip in [advertised_ip, Some(settings.sip_listen.ip())]
                .into_iter()
                .flatten()
                .filter(|ip| !ip.is_unspecified())
            {
                names.push(ip.to_string());
            }
            names.dedup();
            Some(Arc::new(CertStore::open(
                tp.tls_cert.as_deref(),
                tp.tls_key.as_deref(),
                &dir,
                &names,
            )?))
        } else {
            None
        };
        transport::reload_on_hangup(certs.clone());
        let https_certs = certs.clone();
        let tls_client = transport::client_config(tp.tls_trust.as_deref())?;
        let more = StreamListen {
            tls: tp.tls_listen.0,
            ws: tp.ws_listen.0,
            wss: tp.wss_listen.0,
        };
        let handshake_timeout = Duration::from_secs(tp.handshake_timeout_secs.max(1));

        // Bind first, on the SIP thread, so the advertised port is known (port 0 in tests).
        let arbiter = Arbiter::new();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let addr = settings.sip_listen;
        let max_conns = settings.sip.max_tcp_connections;
        let sip_settings = settings.sip.clone();
        let (store2, commit2, domains2) = (store.clone(), commit.clone(), domains.clone());
        arbiter.spawn(async move {
            let bound = match Bound::bind(addr, more).await {
                Ok(b) => b,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let streams = bound.stream_addrs();
            // The sockets deliver to the actor and the actor sends through the sockets: take
            // the actor's address before it runs, start the sockets, then start the actor.
            let ctx: Context<SipActor> = Context::new();
            let me = ctx.address();
            let sockets = match Sockets::start(
                bound,
                limits,
                max_conns,
                me.clone().recipient(),
                me.recipient(),
                TlsSetup {
                    certs,
                    client: Some(tls_client),
                    handshake_timeout,
                },
            ) {
                Ok(s) => s,
                Err(source) => {
                    let _ = tx.send(Err(transport::BindError {
                        addr,
                        transport: Transport::Udp,
                        source,
                    }));
                    return;
                }
            };
            let local = sockets.local_addr();
            let advertised = SocketAddr::new(advertised_ip.unwrap_or(local.ip()), local.port());
            let mut sent_by = vec![
                (
                    Transport::Udp,
                    Host::from(advertised.ip()),
                    advertised.port(),
                ),
                (
                    Transport::Tcp,
                    Host::from(advertised.ip()),
                    advertised.port(),
                ),
            ];
            for (t, a) in [
                (Transport::Tls, streams.tls),
                (Transport::Ws, streams.ws),
                (Transport::Wss, streams.wss),
            ] {
                if let Some(a) = a {
                    tracing::info!(transport = %t, listen = %a, "SIP listening");
                    sent_by.push((t, Host::from(advertised.ip()), a.port()));
                }
            }
            let layer = TransactionLayer::new(TxConfig {
                timers: Timers {
                    t1: Duration::from_millis(sip_settings.t1_ms),
                    t2: Duration::from_millis(sip_settings.t2_ms),
                    t4: Duration::from_millis(sip_settings.t4_ms),
                },
                force_rport: sip_settings.force_rport,
                sent_by,
                max_transactions: sip_settings.max_transactions,
                max_completed: sip_settings.max_completed_transactions,
                limits,
                seed: rand::random(),
            });
            let auth = Authenticator::new(nonce_key, auth_cfg);
            let mut actor = SipActor::new(layer, auth, registrar, domains2, store2, commit2);
            actor.set_sockets(sockets);
            let addr = ctx.run(actor);
            addr.do_send(sip::Restore(live));
            let _ = tx.send(Ok((addr, local, advertised, streams)));
        });
        let (sip, bound, advertised, streams) = match rx.await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) if matches!(e.transport, Transport::Udp | Transport::Tcp) => {
                return Err(StartError::Bind {
                    addr,
                    source: e.source,
                })
            }
            Ok(Err(e)) => {
                return Err(StartError::Listen {
                    addr: e.addr,
                    transport: e.transport,
                    source: e.source,
                })
            }
            Err(_) => return Err(StartError::SipThread),
        };
        // Several nodes sharing the store: the heartbeat, the proxy for this node's flows, and
        // calls to flows other nodes hold.
        if let Some(c) = cluster::start(cluster.as_deref(), settings, store.clone(), advertised) {
            sip.do_send(sip::EnableCluster(c));
        }
        let directory = DirectoryService::new(
            store.clone(),
            commit.clone(),
            domains.clone(),
            sealer,
            sip.clone().recipient(),
        );
        let bandwidth = bandwidth::BandwidthService::new(
            store.clone(),
            commit.clone(),
            domains.clone(),
            settings.bandwidth.suffix(&default_domain),
            sip.clone().recipient(),
        );
        let trunks = TrunkService::new(store.clone(), commit.clone(), dir.clone())?;
        let numbers = NumberService::new(store.clone(), commit.clone());
        let cdrs = CdrService::new(store.clone());
        let outbox = Outbox::start(
            store.clone(),
            commit.clone(),
            OutboxConfig {
                limits: settings.outbox.limits(),
                ..OutboxConfig::default()
            },
        )?;
        // Calls: the media relay on its own threads, the HTTP client for answer URLs.
        let mut media_cfg = MediaConfig::new(
            settings.rtp_ports,
            settings.sip_listen.ip(),
            advertised.ip(),
        );
        media_cfg.relay.rtp_timeout = (settings.calls.rtp_timeout_secs > 0)
            .then(|| Duration::from_secs(settings.calls.rtp_timeout_secs));
        media_cfg.relay.latch = settings.media.latch;
        let media = Arc::new(MediaEngine::new(media_cfg)?);
        // Two clients: the operator's URLs (the app's stored answer URL) as configured, and the
        // app's own under the egress policy.
        let connect_timeout = Duration::from_millis(settings.calls.answer_connect_timeout_ms);
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .build()?;
        let policy = Arc::new(settings.policy.egress());
        let app_http = egress::AppHttp::new(policy.clone(), connect_timeout)?;
        let recordings_root = settings.under_data_dir(&settings.media.recordings_dir);
        retention::Retention::new(
            store.clone(),
            crate::recordings::Recordings::new(recordings_root.clone()),
            settings.retention,
        )
        .start();
        let prompts = Arc::new(
            prompts(settings).map_err(|(path, source)| StartError::DataDir { path, source })?,
        );
        let public_base = format!(
            "http://{}",
            if settings.http_listen.ip().is_unspecified() {
                std::net::SocketAddr::new(advertised.ip(), settings.http_listen.port())
            } else {
                settings.http_listen
            }
        );
        let live_table = live::LiveActor::new(app_http.clone(), store.clone(), public_base)
            .indexed_as(cluster.as_ref().map(|c| c.node.clone()))
            .start();
        sip.do_send(EnableCalls(CallDeps {
            media: media.clone(),
            http,
            app_http,
            reports: Arc::new(AppReports::new(outbox.clone())),
            trunks: trunks.clone(),
            numbers: numbers.clone(),
            contact: format!("<sip:ringmaster@{advertised}>"),
            contacts: Arc::new(crate::call::contact::OurContacts::new(
                advertised.ip(),
                streams.tls.map(|a| a.port()),
                streams.ws.map(|a| a.port()),
                streams.wss.map(|a| a.port()),
            )),
            local_ip: advertised.ip(),
            fetch_timeout: Duration::from_millis(settings.calls.answer_timeout_ms),
            max_calls_per_app: settings.calls.max_calls_per_app,
            cloudua_answer_timeout: settings.cloudua.answer_timeout(),
            streams: stream_slots::StreamSlots::new(settings.media.max_streams_per_app),
            srtp: settings.media.srtp,
            prompts,
            download_timeout: Duration::from_millis(settings.media.download_timeout_ms),
            recordings_root: recordings_root.clone(),
            live: Some(live_table.clone()),
        }));
        Ok(Engine {
            certs: https_certs,
            live: live::LiveService::new(live_table),
            directory,
            bandwidth,
            trunks,
            numbers,
            cdrs,
            outbox,
            recordings: crate::recordings::Recordings::new(recordings_root),
            egress: policy,
            media,
            sip,
            sip_bound: bound,
            sip_advertised: advertised,
            sip_streams: streams,
            admin_token,
            domains,
            store,
            commit,
            cluster,
        })
    }

    /// The checks an app-supplied URL can get before any connection (scheme, an IP-literal
    /// host against `[policy]`); a name is checked when it is resolved, at fetch time.
    pub fn check_app_url(&self, url: &str) -> Result<(), egress::EgressError> {
        let url = reqwest::Url::parse(url).map_err(|_| egress::EgressError::NotHttp)?;
        egress::check_url(&self.egress, &url)
    }

    /// `sip:<host>:<port>`, what PIOPIY calls the `connect_URL`.
    pub fn connect_url(&self) -> String {
        format!("sip:{}", self.sip_advertised)
    }

    /// `<host>:<port>` of the wss listener at the advertised address: what a piopiyjs app
    /// passes to `login(user, password, <this>)` (piopiyjs dials `'wss://' + <this>` and uses
    /// `user@<this>` as its AOR). `None` while wss is off.
    pub fn webrtc_domain(&self) -> Option<String> {
        let wss = self.sip_streams.wss?;
        Some(SocketAddr::new(self.sip_advertised.ip(), wss.port()).to_string())
    }

    /// `wss://<host>:<port>`, the WebSocket server a JsSIP or SIP.js app connects to.
    pub fn wss_url(&self) -> Option<String> {
        self.webrtc_domain().map(|d| format!("wss://{d}"))
    }

    /// The internal HTTP address of the live node that owns call `id`, when another node does
    /// (a REST command for it is forwarded there).
    pub fn call_owner(&self, id: &str) -> Option<SocketAddr> {
        let cluster = self.cluster.as_ref()?;
        let node = self.store.live_call_node(id).ok()??;
        if node == cluster.node {
            return None;
        }
        let now = unix_now() * 1000;
        self.store
            .nodes()
            .ok()?
            .into_iter()
            .find(|n| n.id == node && n.alive_at(now, cluster.dead_after_ms))?
            .internal_http
    }

    /// Waits until every write so far is durable (used at shutdown).
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.commit.sync().await
    }
}

/// The host name, for the default SIP domain.
fn host_name() -> String {
    for p in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(p) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_ascii_lowercase();
            }
        }
    }
    "localhost".into()
}

/// The address to advertise when listening on a wildcard: the configured one, else the source
/// address the kernel would pick towards a public destination (nothing is sent), else none.
fn advertised_ip(settings: &Settings) -> Option<IpAddr> {
    if let Some(ip) = settings.advertised_address {
        return Some(ip);
    }
    if !settings.sip_listen.ip().is_unspecified() {
        return None;
    }
    let probe = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    probe.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = probe.local_addr().ok()?.ip();
    Some(if ip.is_unspecified() {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        ip
    })
}

/// A call to place over REST (`pcmo_make_call`).
#[derive(Debug, Clone)]
pub struct PlaceRequest {
    /// The caller id the dialled party sees.
    pub from: String,
    /// A number, or a SIP user of the app.
    pub to: String,
    /// An inline script, run once the call is answered.
    pub script: Option<pcmo::Script>,
    /// Where to fetch the script when there is none inline (default: the app's answer URL).
    pub answer_url: Option<String>,
    /// Caps the whole call, in seconds.
    pub duration: Option<u64>,
    /// Echoed as `extra_params` in events and CDRs.
    pub extra_params: Option<serde_json::Value>,
}

/// Why a call was not placed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceCallError {
    #[error("`to` is neither a SIP user of the app nor a phone number")]
    InvalidTo,
    #[error("the app's concurrent call limit is reached")]
    Limit,
    #[error("calls are not available right now")]
    Unavailable,
}

impl Engine {
    /// Places a call for `app`: returns its `request_id` (also its `cmiuuid`) once the call
    /// exists; the script runs when the dialled party answers.
    pub async fn place_call(
        &self,
        app: crate::store::App,
        req: PlaceRequest,
    ) -> Result<String, PlaceCallError> {
        use pcmo::action::connect::targets::Destination;
        let to = req.to.trim().to_string();
        let is_user = self
            .store
            .endpoint(&app.domain, &to)
            .ok()
            .flatten()
            .is_some_and(|e| e.is_of(app.id));
        let destination = if is_user {
            Destination::SipUser(to.clone())
        } else {
            match crate::call::admission::as_number(&to) {
                Some(digits) => Destination::Pstn(digits),
                None => return Err(PlaceCallError::InvalidTo),
            }
        };
        let request_id = crate::directory::new_secret(&mut rand::thread_rng());
        let call = crate::call::OutboundCall {
            to: destination,
            script: req.script,
            max_duration: req.duration.map(Duration::from_secs),
            extra_params: req.extra_params.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            request_id: request_id.clone(),
            headers: Vec::new(),
        };
        let answer_url = req.answer_url.unwrap_or_else(|| app.answer_url.clone());
        let placed = self
            .sip
            .send(sip::PlaceCall {
                app,
                from: req.from,
                to,
                answer_url,
                call,
                cmiuuid: request_id.clone(),
                live: None,
            })
            .await
            .map_err(|_| PlaceCallError::Unavailable)?;
        match placed {
            Ok(()) => Ok(request_id),
            Err(sip::PlaceError::Limit) => Err(PlaceCallError::Limit),
            Err(_) => Err(PlaceCallError::Unavailable),
        }
    }
}

/// A call the app places and drives live (Bandwidth `POST /calls`).
#[derive(Debug, Clone)]
pub struct LivePlaceRequest {
    pub from: String,
    /// Where to dial, already checked by the API against the app's rights.
    pub to: pcmo::Destination,
    /// The SIP domain a `SipUser` destination is in.
    pub domain: Option<String>,
    /// Extra headers of the INVITE (checked by the API).
    pub headers: Vec<pcmo::SipHeader>,
    pub placement: sip::LivePlacement,
}

impl Engine {
    /// Places a live call for `app`; returns its id once the call exists.
    pub async fn place_live(
        &self,
        mut app: crate::store::App,
        req: LivePlaceRequest,
    ) -> Result<String, PlaceCallError> {
        let id = crate::directory::new_secret(&mut rand::thread_rng());
        let to_text = req.to.to_string();
        if let Some(d) = req.domain {
            app.domain = d;
        }
        let call = crate::call::OutboundCall {
            to: req.to,
            script: None,
            max_duration: None,
            extra_params: None,
            request_id: id.clone(),
            headers: req.headers,
        };
        let placed = self
            .sip
            .send(sip::PlaceCall {
                answer_url: String::new(),
                app,
                from: req.from,
                to: to_text,
                call,
                cmiuuid: id.clone(),
                live: Some(req.placement),
            })
            .await
            .map_err(|_| PlaceCallError::Unavailable)?;
        match placed {
            Ok(()) => Ok(id),
            Err(sip::PlaceError::Limit) => Err(PlaceCallError::Limit),
            Err(_) => Err(PlaceCallError::Unavailable),
        }
    }
}

/// The prompts directory (created if missing), text to speech, and their cache. A missing
/// TTS program is not fatal (`speak` then fails with an error event) but is said at start-up.
fn prompts(settings: &Settings) -> Result<Prompts, (PathBuf, std::io::Error)> {
    let m = &settings.media;
    let dir = settings.under_data_dir(&m.prompts_dir);
    std::fs::create_dir_all(&dir).map_err(|e| (dir.clone(), e))?;
    let limits = PromptLimits {
        max_bytes: m.max_prompt_mb.saturating_mul(1024 * 1024),
        ..PromptLimits::default()
    };
    let prompts = Prompts::new(&dir, m.prompt_cache_mb.saturating_mul(1024 * 1024), limits)
        .with_tts(Tts::new(&m.tts_program, limits));
    if prompts.tts_available() {
        tracing::info!(prompts = %dir.display(), tts = %m.tts_program.display(), "media: prompts and text to speech ready");
    } else {
        tracing::warn!(
            program = %m.tts_program.display(),
            "text to speech is NOT available: `speak` and spoken prompts will fail with a \
             tts_unavailable error event (install espeak-ng: apt-get install espeak-ng)"
        );
    }
    Ok(prompts)
}
