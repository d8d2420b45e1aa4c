//! Liveness and Prometheus metrics.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics));
}

async fn health(state: web::Data<State>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
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
    let body = format!(
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
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(body)
}
