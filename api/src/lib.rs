//! ringmaster's HTTP surface: the PIOPIY-style REST API, the admin API the CLI talks to,
//! health and metrics.
//!
//! Contract: [`run`] starts the engine, binds HTTP, and serves until the process is asked to
//! stop (SIGINT/SIGTERM), then flushes the store. Route handlers only translate between HTTP
//! and the engine's services; every error leaves as an [`error::ApiError`] with a stable code.

pub mod body;
pub mod error;
pub mod routes;

use std::time::Instant;

use actix_web::{web, App, HttpServer};
use engine::actors::{Engine, StartError};
use engine::config::Settings;

/// Shared by every worker.
pub struct State {
    pub engine: Engine,
    pub started: Instant,
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
}

/// Builds the actix-web app (also used by tests with `actix_web::test`).
pub fn app_config(cfg: &mut web::ServiceConfig) {
    routes::configure(cfg);
}

/// Starts everything and serves until stopped. Must run inside an actix `System`.
pub async fn run(settings: Settings) -> Result<(), RunError> {
    let engine = Engine::start(&settings).await?;
    tracing::info!(
        sip = %engine.sip_bound,
        advertised = %engine.sip_advertised,
        domain = %engine.domains.default_domain(),
        "SIP listening on UDP and TCP"
    );
    let state = web::Data::new(State {
        engine: engine.clone(),
        started: Instant::now(),
    });
    let addr = settings.http_listen;
    let server = HttpServer::new(move || App::new().app_data(state.clone()).configure(app_config))
        .workers(2)
        .bind(addr)
        .map_err(|source| RunError::Bind { addr, source })?;
    for a in server.addrs() {
        tracing::info!(http = %a, "HTTP API listening");
    }
    tracing::info!(
        data_dir = %settings.data_dir.display(),
        token = %settings.data_dir.join("admin.token").display(),
        "ready"
    );
    server.run().await.map_err(RunError::Server)?;
    if let Err(e) = engine.flush().await {
        tracing::error!(error = %e, "final store flush failed");
    }
    tracing::info!("stopped");
    Ok(())
}
