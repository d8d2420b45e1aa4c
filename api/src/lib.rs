//! ringmaster's HTTP surface: the PIOPIY-style REST API, the admin API the CLI talks to,
//! health and metrics.
//!
//! Contract: [`run`] starts the engine, binds HTTP, and serves until the process is asked to
//! stop (SIGINT/SIGTERM), then drains calls, stops the outbox and flushes the store
//! ([`drain`]). Route handlers only translate between HTTP and the engine's services; every
//! error leaves as an [`error::ApiError`] with a stable code. Repeated authentication failures
//! from one address are limited by [`limit`].

pub mod body;
pub mod drain;
pub mod error;
pub mod forward;
pub mod limit;
pub mod routes;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use engine::actors::sip::ApplyDefences;
use engine::actors::{Engine, StartError};
use engine::config::Settings;

/// Shared by every worker.
pub struct State {
    pub engine: Engine,
    pub started: Instant,
    /// Failed authentications per client address (429 past the limit).
    pub rest_guard: limit::RestGuard,
    /// Set when a drain began: no new calls.
    pub draining: AtomicBool,
    /// Retry-After of what a drain refuses.
    pub drain_retry_secs: u64,
    /// `[http] metrics_token`: `/metrics` wants it as a bearer token when set.
    pub metrics_token: Option<String>,
    /// Per-user request rate of the Bandwidth API (`[bandwidth] rate_per_sec`, `burst`).
    pub bandwidth_rate: routes::bandwidth::rate::UserRate,
    /// Per-domain request rate of the Cloud SIP UA API (`[cloudua] rate_per_sec`, `burst`).
    pub cloudua_rate: routes::bandwidth::rate::UserRate,
}

/// Why the server did not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error(transparent)]
    Engine(#[from] StartError),
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Server(#[source] std::io::Error),
    /// `[http] metrics_token` is set but blank: refused rather than read as "no token".
    #[error(
        "[http] metrics_token (RINGMASTER_METRICS_TOKEN) is empty: set a token or leave it unset"
    )]
    EmptyMetricsToken,
}

/// Builds the actix-web app (also used by tests with `actix_web::test`).
pub fn app_config(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// Starts everything and serves until stopped. Must run inside an actix `System`.
pub async fn run(settings: Settings) -> Result<(), RunError> {
    if settings
        .http
        .metrics_token
        .as_deref()
        .is_some_and(|t| t.trim().is_empty())
    {
        return Err(RunError::EmptyMetricsToken);
    }
    let engine = Engine::start(&settings).await?;
    tracing::info!(
        sip = %engine.sip_bound,
        advertised = %engine.sip_advertised,
        domain = %engine.domains.default_domain(),
        "SIP listening on UDP and TCP"
    );
    engine.sip.do_send(ApplyDefences {
        defence: settings.defence.clone(),
        tcp_incomplete_timeout: Duration::from_secs(settings.sip.tcp_incomplete_timeout_secs),
        tcp_idle_timeout: Duration::from_secs(settings.sip.tcp_idle_timeout_secs),
        max_transactions_per_source: settings.sip.max_transactions_per_source,
        max_tcp_connections_per_source: settings.sip.max_tcp_connections_per_source,
    });
    let drain_timeout = Duration::from_secs(settings.calls.drain_timeout_secs);
    let state = web::Data::new(State {
        engine: engine.clone(),
        started: Instant::now(),
        rest_guard: limit::RestGuard::new(settings.defence.rest_bans()),
        draining: AtomicBool::new(false),
        drain_retry_secs: drain_timeout.as_secs().max(1),
        metrics_token: settings.http.metrics_token.clone(),
        bandwidth_rate: routes::bandwidth::rate::UserRate::new(
            settings.bandwidth.rate_per_sec,
            settings.bandwidth.burst,
        ),
        cloudua_rate: routes::bandwidth::rate::UserRate::new(
            settings.cloudua.rate_per_sec,
            settings.cloudua.burst,
        ),
    });
    let addr = settings.http_listen;
    let admin_addr = settings.http.admin_listen;
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(app_state.clone())
            .wrap(from_fn(forward::forward_to_owner))
            .wrap(from_fn(limit::limit_failures));
        match admin_addr {
            None => app.configure(app_config),
            Some(_) => app
                .app_data(web::Data::new(routes::admin::AdminElsewhere))
                .configure(routes::configure_public),
        }
    })
    .workers(2)
    // Signals are ours: the first one drains calls before HTTP stops (see `drain`).
    .disable_signals()
    .shutdown_timeout(5)
    .bind(addr)
    .map_err(|source| RunError::Bind { addr, source })?;
    // The internal listener other nodes forward call commands to: the same routes (the
    // forwarded request carries the app's own credentials).
    let server = match settings.cluster.internal_listen {
        Some(addr) => server
            .bind(addr)
            .map_err(|source| RunError::Bind { addr, source })?,
        None => server,
    };
    // HTTPS: the same routes with the certificate of SIP TLS and WSS (its resolver follows a
    // SIGHUP reload).
    let server = match (settings.http.https_listen, &engine.certs) {
        (Some(addr), Some(certs)) => {
            let tls = (*certs.clone().server_config()).clone();
            server
                .bind_rustls_0_23(addr, tls)
                .map_err(|source| RunError::Bind { addr, source })?
        }
        _ => server,
    };
    for a in server.addrs() {
        tracing::info!(http = %a, admin = admin_addr.is_none(), "HTTP API listening");
    }
    // The admin API on its own listener: one worker is plenty for an operator's CLI.
    let admin = match admin_addr {
        None => None,
        Some(addr) => {
            let admin_state = state.clone();
            let admin = HttpServer::new(move || {
                App::new()
                    .app_data(admin_state.clone())
                    .wrap(from_fn(limit::limit_failures))
                    .configure(routes::configure_admin)
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(5)
            .bind(addr)
            .map_err(|source| RunError::Bind { addr, source })?;
            for a in admin.addrs() {
                tracing::info!(http = %a, "admin API listening");
            }
            Some(admin.run())
        }
    };
    let admin_handle = admin.as_ref().map(|a| a.handle());
    let mut admin_serving = admin.map(actix_web::rt::spawn);
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        token = %settings.data_dir.join("admin.token").display(),
        "ready"
    );
    let server = server.run();
    let http = server.handle();
    let mut serving = actix_web::rt::spawn(server);
    let admin_ended = async {
        match admin_serving.as_mut() {
            Some(s) => s.await,
            None => std::future::pending().await,
        }
    };
    let signalled = tokio::select! {
        _ = drain::signalled() => true,
        // An HTTP server ended by itself: nothing to drain for.
        ended = &mut serving => {
            if let Ok(Err(e)) = ended {
                return Err(RunError::Server(e));
            }
            false
        }
        ended = admin_ended => {
            if let Ok(Err(e)) = ended {
                return Err(RunError::Server(e));
            }
            false
        }
    };
    if signalled {
        tracing::info!("signal received: draining (a second signal exits at once)");
        drain::exit_on_second_signal();
        drain::drain_calls(&state, drain_timeout).await;
        http.stop(true).await;
        if let Some(h) = &admin_handle {
            h.stop(true).await;
        }
        if let Ok(Err(e)) = serving.await {
            return Err(RunError::Server(e));
        }
    }
    // What the outbox has not delivered stays pending in the store for the next start.
    engine.outbox.shutdown().await;
    if let Err(e) = engine.flush().await {
        tracing::error!(error = %e, "final store flush failed");
    }
    tracing::info!("stopped");
    Ok(())
}
