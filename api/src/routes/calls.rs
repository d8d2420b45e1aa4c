//! Call detail records: the operator's `GET /admin/v1/calls[?app=&limit=&before=]` and PIOPIY's
//! `POST /v1/piopiy/cmiuuid_cdr {appid, secret, cmiuuid}`.
//!
//! `cmiuuid_cdr` answers `{"cdr": {…}, "cdrs": […], "code": 200}`: `cdr` is the A leg's CDR
//! (or the first leg's when there is no A leg), `cdrs` every leg's, A first. Each CDR carries
//! PIOPIY's `rate` too (the pull API's name for the webhook's `call_rate`). An unknown call,
//! or one of another app, is HTTP 404 `{"code":"cmi-404","error":"call_not_found",…}` (one
//! answer for both, so ids of other apps' calls cannot be probed); bad credentials are 420 and
//! missing properties 502, as in the endpoint API. `cmuuid` is accepted for `cmiuuid`.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::store::{Cdr, CdrCursor};
use serde::Deserialize;
use serde_json::{json, Value};

use super::admin::{check_token, parse_appid};
use crate::body::{json_object, number, opt_string, string};
use crate::error::ApiError;
use crate::State;

/// CDRs per admin page unless `limit` says otherwise (1 to 1000).
const DEFAULT_LIMIT: usize = 50;

/// The operator's listing (admin listener).
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/calls", web::get().to(list));
}

/// PIOPIY's pull API for apps (main listener).
pub fn configure_public(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/piopiy/cmiuuid_cdr", web::post().to(cmiuuid_cdr));
}

#[derive(Deserialize)]
struct ListQuery {
    app: Option<String>,
    limit: Option<String>,
    before: Option<String>,
}

/// `{"calls": [CDR, …] newest first, "next": cursor | null}`; pass `next` as `before` for the
/// following page.
async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let q = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidProperty("query", "malformed query string"))?;
    let app = q.app.as_deref().map(parse_appid).transpose()?;
    let limit = match q.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=engine::actors::cdrs::MAX_PAGE).contains(&n) => n,
            _ => return Err(ApiError::InvalidProperty("limit", "must be 1 to 1000")),
        },
    };
    let before = q
        .before
        .as_deref()
        .map(str::parse::<CdrCursor>)
        .transpose()
        .map_err(|_| {
            ApiError::InvalidProperty("before", "must be a `next` value from a previous page")
        })?;
    let cdrs = state
        .engine
        .cdrs
        .list(app, limit, before.as_ref())
        .map_err(|_| ApiError::Storage)?;
    let next = (cdrs.len() == limit)
        .then(|| cdrs.last().map(|c| c.cursor().to_string()))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "calls": cdrs, "next": next })))
}

/// A CDR as the pull API shows it: the record plus `rate`.
fn pulled(cdr: &Cdr) -> Value {
    let mut v = json!(cdr);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("rate".to_owned(), json!(cdr.call_rate));
    }
    v
}

async fn cmiuuid_cdr(
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_object(payload).await?;
    let appid = number(&body, "appid")?;
    let secret = string(&body, "secret")?;
    let app = state.engine.directory.authenticate(appid, secret)?;
    let cmiuuid = match opt_string(&body, "cmiuuid")? {
        Some(c) => c,
        None => string(&body, "cmuuid").map_err(|_| ApiError::MissingProperty("cmiuuid"))?,
    };
    let cdrs = state
        .engine
        .cdrs
        .of_call(&app, cmiuuid)
        .map_err(|_| ApiError::Storage)?;
    let first = cdrs.first().ok_or(ApiError::CallMissing)?;
    Ok(HttpResponse::Ok().json(json!({
        "cdr": pulled(first),
        "cdrs": cdrs.iter().map(pulled).collect::<Vec<_>>(),
        "code": 200,
    })))
}
