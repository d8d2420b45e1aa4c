//! Route tables; one file per API surface.

pub mod admin;
pub mod endpoints;
pub mod health;

use actix_web::web;

pub fn configure(cfg: &mut web::ServiceConfig) {
    endpoints::configure(cfg);
    admin::configure(cfg);
    health::configure(cfg);
}
