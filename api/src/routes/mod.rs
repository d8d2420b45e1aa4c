//! Route tables; one file per API surface.

pub mod admin;
pub mod bans;
pub mod calls;
pub mod endpoints;
pub mod health;
pub mod make_call;
pub mod numbers;
pub mod openapi;
pub mod recordings;
pub mod trunks;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    endpoints::configure(cfg);
    make_call::configure(cfg);
    // Before `admin`: its `/admin/v1` scope would otherwise claim these paths and answer 404.
    trunks::configure(cfg);
    numbers::configure(cfg);
    bans::configure(cfg);
    calls::configure(cfg);
    recordings::configure(cfg);
    admin::configure(cfg);
    health::configure(cfg);
    openapi::configure(cfg);
}
