//! PIOPIY's live actions on a running call, on the same machinery as Bandwidth's live
//! control:
//! - `POST /v1/call/action` `{appid, secret, cmiuuid, action: hold|unhold|holdToggle}` (what the
//!   `piopiy` SDK's `hold`/`unhold`/`toggle` send): the call's bridge is held (both parties hear
//!   silence) or resumed; answers `{"code":200,"status":"hold"|"unhold","cmiuuid":..}`;
//! - v3, `Authorization: Bearer <token>` (`ringmaster token create --app APPID`):
//!   `POST /v3/voice/pcmo/transfer` `{call_id, pipeline[]}` hands the call to a new PCMO
//!   pipeline, `POST /v3/voice/call/hangup` `{call_id, cause?, reason?}` ends it; both answer
//!   `{"status":"success","call_id":..}`, errors `{"status":"error","error":..,"code":..}`.
//!
//! A call of another app is "not found", like a call that does not exist.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::live::LiveRequestError;
use engine::call::live::{LiveAccepted, LiveCommand, LiveError};
use engine::store::{App, AppId};
use serde_json::{json, Value};

use crate::body::{json_object, number, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/call/action", web::post().to(action))
        .route("/v3/voice/pcmo/transfer", web::post().to(transfer))
        .route("/v3/voice/call/hangup", web::post().to(hangup));
}

/// The admin's token route (admin listener).
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/tokens", web::post().to(create_token));
}

fn call_not_found() -> ApiError {
    ApiError::CallMissing
}

/// The live call `cmiuuid` if it is `app`'s.
async fn owned_call(state: &State, app: AppId, cmiuuid: &str) -> Result<(), ApiError> {
    match state.engine.live.call(cmiuuid.trim()).await {
        Some(e) if e.view.app == app => Ok(()),
        _ => Err(call_not_found()),
    }
}

async fn action(state: web::Data<State>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = json_object(payload).await?;
    let appid = number(&body, "appid")?;
    let secret = string(&body, "secret")?;
    let app = state.engine.directory.authenticate(appid, secret)?;
    let cmiuuid = string(&body, "cmiuuid")?.to_string();
    let want = match string(&body, "action")? {
        "hold" => Some(true),
        "unhold" => Some(false),
        "holdToggle" => None,
        _ => {
            return Err(ApiError::InvalidProperty(
                "action",
                "must be hold, unhold or holdToggle",
            ))
        }
    };
    owned_call(&state, app.id, &cmiuuid).await?;
    match state
        .engine
        .live
        .command(&cmiuuid, LiveCommand::Hold(want))
        .await
    {
        Ok(LiveAccepted::Held(held)) => Ok(HttpResponse::Ok().json(json!({
            "code": 200,
            "status": if held { "hold" } else { "unhold" },
            "cmiuuid": cmiuuid,
        }))),
        Ok(_) => Err(ApiError::CallNotLive("the call is not in a bridge")),
        Err(LiveRequestError::NoSuchCall) => Err(call_not_found()),
        Err(LiveRequestError::Refused(LiveError::NotBridged)) => {
            Err(ApiError::CallNotLive("the call is not in a bridge"))
        }
        Err(_) => Err(ApiError::CallNotLive("the call has ended")),
    }
}

/// A v3 error: `{"status":"error","error":..,"code":..}` (what the `piopiy` SDK reads).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct V3Error {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl actix_web::ResponseError for V3Error {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({"status": "error", "error": self.message, "code": self.code}))
    }
}

fn v3_error(status: StatusCode, code: &'static str, message: &str) -> V3Error {
    V3Error {
        status,
        code,
        message: message.to_string(),
    }
}

/// The app of a v3 request's bearer token.
fn bearer_app(state: &State, req: &HttpRequest) -> Result<App, V3Error> {
    let unauthorized = || {
        v3_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or invalid bearer token",
        )
    };
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(unauthorized)?;
    let appid = engine::directory::token::claimed_app(token).ok_or_else(unauthorized)?;
    let app = state
        .engine
        .directory
        .app(appid)
        .ok()
        .flatten()
        .ok_or_else(unauthorized)?;
    if engine::directory::token::verify(token, app.id, &app.secret) {
        Ok(app)
    } else {
        Err(unauthorized())
    }
}

/// Reads a v3 body and its `call_id`, checked to be one of the app's live calls.
async fn v3_call(
    state: &State,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<(serde_json::Map<String, Value>, String), V3Error> {
    let app = bearer_app(state, req)?;
    let body = json_object(payload)
        .await
        .map_err(|e| v3_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()))?;
    let call_id = body
        .get("call_id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            v3_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "call_id is required",
            )
        })?;
    owned_call(state, app.id, &call_id)
        .await
        .map_err(|_| v3_error(StatusCode::NOT_FOUND, "call_not_found", "no such call"))?;
    Ok((body, call_id))
}

fn v3_outcome(
    call_id: &str,
    r: Result<LiveAccepted, LiveRequestError>,
) -> Result<HttpResponse, V3Error> {
    match r {
        Ok(_) => Ok(HttpResponse::Ok().json(json!({"status": "success", "call_id": call_id}))),
        Err(LiveRequestError::NoSuchCall) => Err(v3_error(
            StatusCode::NOT_FOUND,
            "call_not_found",
            "no such call",
        )),
        Err(e) => Err(v3_error(
            StatusCode::CONFLICT,
            "call_not_active",
            &e.to_string(),
        )),
    }
}

async fn transfer(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, V3Error> {
    let (body, call_id) = v3_call(&state, &req, payload).await?;
    let Some(pipeline) = body.get("pipeline").filter(|p| p.is_array()) else {
        return Err(v3_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "pipeline must be an array of actions",
        ));
    };
    let script = match pcmo::Script::parse(&pipeline.to_string()) {
        Ok(s) => s,
        Err(report) => {
            let first = report
                .errors
                .first()
                .map(|e| format!("{}: {}", e.path.as_str(), e.message()))
                .unwrap_or_default();
            return Err(v3_error(
                StatusCode::BAD_REQUEST,
                "invalid_pipeline",
                &first,
            ));
        }
    };
    let r = state
        .engine
        .live
        .command(&call_id, LiveCommand::RunScript(Box::new(script)))
        .await;
    v3_outcome(&call_id, r)
}

async fn hangup(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, V3Error> {
    let (_, call_id) = v3_call(&state, &req, payload).await?;
    let r = state
        .engine
        .live
        .command(&call_id, LiveCommand::Hangup)
        .await;
    v3_outcome(&call_id, r)
}

/// `POST /admin/v1/tokens {"app": APPID}` → `{"token": ..}`.
async fn create_token(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    super::admin::check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let appid = number(&body, "app")?;
    let app = state
        .engine
        .directory
        .app(AppId(appid))
        .ok()
        .flatten()
        .ok_or(ApiError::NoSuchApp)?;
    let token = engine::directory::token::issue(app.id, &app.secret, &mut rand::thread_rng());
    Ok(HttpResponse::Created().json(json!({"token": token, "app": app.id.0})))
}
