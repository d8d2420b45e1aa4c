//! Liveness and Prometheus metrics.

use actix_web::{web, HttpResponse};
use serde_json::json;

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

async fn metrics(state: web::Data<State>) -> HttpResponse {
    let regs = state
        .engine
        .registrations(None)
        .map(|r| r.len())
        .unwrap_or(0);
    let apps = state.engine.directory.apps().map(|a| a.len()).unwrap_or(0);
    let uptime = state.started.elapsed().as_secs();
    let sip = state
        .engine
        .sip
        .send(engine::actors::sip::GetSipStats)
        .await
        .unwrap_or_default();
    let mut body = format!(
        "# HELP ringmaster_registrations Live SIP registration bindings.\n\
         # TYPE ringmaster_registrations gauge\n\
         ringmaster_registrations {regs}\n\
         # HELP ringmaster_apps Apps configured.\n\
         # TYPE ringmaster_apps gauge\n\
         ringmaster_apps {apps}\n\
         # HELP ringmaster_uptime_seconds Seconds since start.\n\
         # TYPE ringmaster_uptime_seconds counter\n\
         ringmaster_uptime_seconds {uptime}\n"
    );
    let gauges: [(&str, &str, u64); 8] = [
        (
            "sip_transactions",
            "Live SIP transactions (returns to its baseline when idle).",
            sip.transactions as u64,
        ),
        ("calls_live", "Calls up now.", sip.live_calls as u64),
        (
            "sip_banned_sources",
            "Source addresses banned after failed authentications.",
            sip.banned_sources as u64,
        ),
        (
            "sip_flood_dropped_total",
            "SIP messages dropped by the per-source rate limit.",
            sip.flood_dropped,
        ),
        (
            "sip_tracked_sources",
            "Source addresses the rate limit tracks.",
            sip.tracked_sources as u64,
        ),
        (
            "sip_tcp_connections",
            "Open SIP TCP connections.",
            sip.tcp_connections as u64,
        ),
        (
            "rtp_foreign_dropped_total",
            "RTP/RTCP packets refused because their source was not the leg's (latching).",
            state.engine.media.foreign_dropped(),
        ),
        (
            "draining",
            "1 while a graceful drain is under way.",
            u64::from(sip.draining),
        ),
    ];
    for (name, help, value) in gauges {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        body.push_str(&format!(
            "# HELP ringmaster_{name} {help}\n# TYPE ringmaster_{name} {kind}\nringmaster_{name} {value}\n"
        ));
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
