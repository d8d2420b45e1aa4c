//! The Bandwidth App Platform v1 API under `/v1/users/{userId}/` on the public listener
//! (reference/bandwidth-*.md, compat-fields §b6): a thin translation between Bandwidth's JSON
//! and the engine's `BandwidthService`.
//!
//! Conventions every resource follows (the SDKs `bandwidth-sdk` 3.1.0 and `node-bandwidth`
//! 4.0.0 rely on them):
//! * [`BwUser`] authenticates HTTP Basic `token:secret` for the `{userId}` of the path, and
//!   holds the user to its rate (429 `rate-limit-reached`);
//! * every resource is walled per user: another user's ids are 404, like unknown ones;
//! * bodies through [`BwJson`] (64 KiB, `null` = absent, `"true"` strings), errors as
//!   [`BwError`] (`{category, code, message, details}`);
//! * creates answer 201 with an absolute `Location` ending in the id, updates and deletes 200
//!   with no body (never 204), lists page with `page`/`size` and a `Link` header.
//!
//! Out of scope, answered with a Bandwidth-shaped 403: conferences, transcriptions, ordering
//! and releasing numbers (the operator assigns them: `ringmaster number add`), messaging.

pub mod applications;
pub mod auth;
pub mod body;
pub mod bridges;
mod call_media;
pub mod calls;
pub mod domains;
pub mod endpoints;
pub mod error;
pub mod numbers;
pub mod rate;
pub mod recordings;
mod target;

use actix_web::{web, HttpResponse};

pub use auth::BwUser;
pub use body::{absolute_url, created, created_at, ok_empty, paged, BwJson, Page};
pub use error::BwError;

/// The path every route of this API is under. The resource modules' `configure` functions
/// register their routes relative to it (`/domains`, `/calls/{callId}`, …), inside one scope;
/// handlers read the user id from `BwUser`, not from the path.
pub const BASE: &str = "/v1/users/{userId}";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(BASE)
            .configure(applications::configure)
            .configure(domains::configure)
            .configure(endpoints::configure)
            .configure(numbers::configure)
            .configure(calls::configure)
            .configure(bridges::configure)
            .configure(recordings::configure)
            .route("/conferences{rest:.*}", web::route().to(out_of_scope))
            .route("/messages{rest:.*}", web::route().to(out_of_scope))
            .default_service(web::route().to(unknown)),
    );
}

/// Conferences and messaging are not offered (README, "Bandwidth App Platform v1").
async fn out_of_scope(_user: BwUser) -> Result<HttpResponse, BwError> {
    Err(BwError::forbidden(
        "feature-not-available",
        "Conferences, transcriptions and messaging are not available on this server",
    ))
}

async fn unknown(_user: BwUser) -> Result<HttpResponse, BwError> {
    Err(BwError::not_found("resource"))
}
