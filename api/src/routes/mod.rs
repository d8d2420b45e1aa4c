//! Route tables; one file per API surface.

pub mod admin;
pub mod bandwidth;
pub mod bans;
pub mod call_action;
pub mod calls;
pub mod cloudua;
pub mod endpoints;
pub mod health;
pub mod make_call;
pub mod numbers;
pub mod openapi;
pub mod recordings;
pub mod trunks;
pub mod users;

use actix_web::web;

/// Every route on one listener (the default).
pub fn configure(cfg: &mut web::ServiceConfig) {
    configure_public(cfg);
    configure_admin_only(cfg);
}

/// What apps use (and health, metrics, the API document): the main listener when the admin API
/// has its own (`[http] admin_listen`). An app's own recordings are here too.
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    endpoints::configure(cfg);
    bandwidth::configure(cfg);
    cloudua::configure(cfg);
    make_call::configure(cfg);
    call_action::configure(cfg);
    calls::configure_public(cfg);
    recordings::configure_by_id(cfg);
    health::configure(cfg);
    openapi::configure(cfg);
}

/// The admin listener (`[http] admin_listen`): the admin API with health and metrics.
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    recordings::configure_by_id(cfg);
    configure_admin_only(cfg);
    health::configure(cfg);
}

/// The routes only the admin token opens.
fn configure_admin_only(cfg: &mut web::ServiceConfig) {
    // Before `admin`: its `/admin/v1` scope would otherwise claim these paths and answer 404.
    trunks::configure(cfg);
    numbers::configure(cfg);
    cloudua::domains::configure(cfg);
    bans::configure(cfg);
    users::configure(cfg);
    calls::configure_admin(cfg);
    call_action::configure_admin(cfg);
    recordings::configure_list(cfg);
    admin::configure(cfg);
}
