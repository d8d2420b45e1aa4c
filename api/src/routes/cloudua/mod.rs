//! iotcomms' Cloud SIP UA media-service API (`/mediaservice/{domain}/…jwt`): thin devices
//! place and answer SIP calls over REST and send their own RTP. A thin translation onto the
//! engine's live calls: the device is a live call's B side ([`engine::call::live::DeviceMedia`]),
//! its callbacks a rendering of the call's live events (`engine::live::cloudua`).
//!
//! Every route answers `OPTIONS` (CORS preflight) and carries
//! `Access-Control-Allow-Origin: *`. Success is `{"success": true}`, failure
//! `{"success": false, "error": {"code", "message"}}`: 400 `bad_request` /
//! `codec_unsupported`, 401 `unauthorized` (one body whatever the reason), 403 `forbidden`
//! (`[policy]`), 404 `not_found` (unknown or finished `replyId`), 409 `conflict` (the call's
//! state), 429 `rate_limited` (per domain), 503 `unavailable`.

mod calls;
pub mod domains;
mod reply;
pub mod token;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use engine::store::CloudUaDomain;
use serde_json::{json, Map, Value};

use crate::State;

/// The routes under `/mediaservice/{domain}/`.
pub const ROUTES: [&str; 4] = [
    "placeremotecalljwt",
    "answerremotecalljwt",
    "sendremotecallringbackjwt",
    "hangupcalljwt",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/mediaservice/{domain}/placeremotecalljwt",
        web::post().to(calls::place),
    )
    .route(
        "/mediaservice/{domain}/answerremotecalljwt",
        web::post().to(reply::answer),
    )
    .route(
        "/mediaservice/{domain}/sendremotecallringbackjwt",
        web::post().to(reply::ringback),
    )
    .route(
        "/mediaservice/{domain}/hangupcalljwt",
        web::post().to(reply::hangup),
    );
    for r in ROUTES {
        cfg.route(
            &format!("/mediaservice/{{domain}}/{r}"),
            web::method(actix_web::http::Method::OPTIONS).to(preflight),
        );
    }
}

/// A failure in the media service's shape.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CuaError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl CuaError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        CuaError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> Self {
        CuaError::new(400, "bad_request", message)
    }

    fn unauthorized() -> Self {
        CuaError::new(401, "unauthorized", "invalid or missing token")
    }

    pub fn not_found() -> Self {
        CuaError::new(404, "not_found", "unknown or finished replyId")
    }
}

impl ResponseError for CuaError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        r.insert_header(("Access-Control-Allow-Origin", "*"));
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header(("WWW-Authenticate", "Bearer"));
        }
        r.json(json!({
            "success": false,
            "error": {"code": self.code, "message": self.message},
        }))
    }
}

/// `{"success": true}` and more fields.
pub(crate) fn ok(extra: Value) -> HttpResponse {
    let mut body = Map::new();
    body.insert("success".into(), Value::Bool(true));
    if let Value::Object(m) = extra {
        body.extend(m);
    }
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .json(Value::Object(body))
}

async fn preflight() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "POST, OPTIONS"))
        .insert_header((
            "Access-Control-Allow-Headers",
            "Authorization, Content-Type",
        ))
        .insert_header(("Access-Control-Max-Age", "600"))
        .json(json!({}))
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The domain the request is for, once its bearer token verified and its rate allows it.
pub(crate) fn authorize(state: &State, req: &HttpRequest) -> Result<CloudUaDomain, CuaError> {
    let name = req
        .match_info()
        .get("domain")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    // An unknown domain is refused like a bad token: the API does not tell which exist.
    let domain = state
        .engine
        .cloudua_domain(&name)
        .ok()
        .flatten()
        .ok_or_else(CuaError::unauthorized)?;
    if let Err(why) = token::verify(&domain, token, unix_now()) {
        tracing::info!(target: "security", domain = %name, why = why.0, "Cloud UA token refused");
        return Err(CuaError::unauthorized());
    }
    if state.cloudua_rate.check(&name).is_err() {
        return Err(CuaError::new(
            429,
            "rate_limited",
            "too many requests for this domain",
        ));
    }
    Ok(domain)
}

/// The request body as a JSON object (at most `crate::body::MAX_BODY` bytes).
pub(crate) async fn body(payload: web::Payload) -> Result<Map<String, Value>, CuaError> {
    crate::body::json_object(payload)
        .await
        .map_err(|e| CuaError::bad(e.to_string()))
}
