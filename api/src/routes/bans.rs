//! The operator's view of the SIP defences (`/admin/v1/bans`, admin token): what is refused
//! now, and lifting a block (`ringmaster bans`, `ringmaster unban ADDR[/USER]`).

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::sip::{ListBans, Unban};
use serde_json::json;

use super::admin::check_token;
use crate::body::{json_object, opt_string, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/bans", web::get().to(list))
        .route("/admin/v1/bans/lift", web::post().to(lift));
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let bans = state
        .engine
        .sip
        .send(ListBans)
        .await
        .map_err(|_| ApiError::Storage)?;
    Ok(HttpResponse::Ok().json(json!({ "bans": bans })))
}

/// `{"address": "192.0.2.7", "user": "alice"}`; without `user` the whole address is lifted.
async fn lift(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let source = string(&body, "address")?
        .trim()
        .parse()
        .map_err(|_| ApiError::InvalidProperty("address", "must be an IP address"))?;
    let user = opt_string(&body, "user")?
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let lifted = state
        .engine
        .sip
        .send(Unban {
            source,
            user: user.clone(),
        })
        .await
        .map_err(|_| ApiError::Storage)?;
    Ok(HttpResponse::Ok().json(json!({ "address": source, "user": user, "lifted": lifted })))
}
