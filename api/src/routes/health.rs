//! Liveness and Prometheus metrics.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
}

/// 200 while serving; 503 with `"status": "draining"` once a drain began (load balancers stop
/// sending new work).
async fn health(state: web::Data<State>) -> HttpResponse {
    let draining = state.draining.load(std::sync::atomic::Ordering::Relaxed);
    let mut resp = if draining {
        HttpResponse::ServiceUnavailable()
    } else {
        HttpResponse::Ok()
    };
    resp.json(json!({
        "status": if draining { "draining" } else { "ok" },
        "sip": state.engine.sip_bound.to_string(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// How long a scrape waits for the SIP actor's snapshot; a SIP thread busy with a flood must
/// not hold the scrape (it then shows the previous SIP values).
const SIP_STATS_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Prometheus text. The gauges are kept up to date where things change (`engine::metrics`);
/// a scrape only copies the SIP actor's O(1) snapshot and the uptime, then encodes. With
/// `[http] metrics_token` set, only `Authorization: Bearer <token>` is answered.
async fn metrics(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    if let Some(token) = &state.metrics_token {
        if !super::admin::bearer_matches(&req, token) {
            return Err(ApiError::MetricsUnauthorized);
        }
    }
    let m = engine::metrics::metrics();
    m.record_uptime(state.started.elapsed().as_secs());
    m.record_rtp_foreign(state.engine.media.foreign_dropped());
    let stats = state.engine.sip.send(engine::actors::sip::GetSipStats);
    match tokio::time::timeout(SIP_STATS_WAIT, stats).await {
        Ok(Ok(sip)) => m.record_sip(&sip),
        _ => tracing::warn!("metrics: no SIP snapshot in time; previous SIP values served"),
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.encode()))
}
