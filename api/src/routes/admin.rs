//! The operator's admin API (`/admin/v1/...`, `Authorization: Bearer <admin.token>`), used by
//! the `ringmaster` CLI: apps and registrations.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::directory::{secret_matches, NewApp};
use engine::store::{App, AppId};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::body::{json_object, opt_string, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin/v1")
            .route("/apps", web::post().to(create_app))
            .route("/apps", web::get().to(list_apps))
            .route("/apps/{appid}", web::get().to(get_app))
            .route("/apps/{appid}", web::delete().to(delete_app))
            .route("/registrations", web::get().to(registrations)),
    );
}

/// Marks the main listener's app when the admin API has a listener of its own
/// (`[http] admin_listen`): the admin token is refused there, so it never needs to travel
/// over the public listener.
pub struct AdminElsewhere;

/// Whether the request's `Authorization: Bearer` token is `secret` (compared in constant time).
pub(crate) fn bearer_matches(req: &HttpRequest, secret: &str) -> bool {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    secret_matches(secret, given.trim())
}

pub(crate) fn check_token(state: &State, req: &HttpRequest) -> Result<(), ApiError> {
    if req.app_data::<web::Data<AdminElsewhere>>().is_some() {
        return Err(ApiError::Unauthorized);
    }
    if bearer_matches(req, &state.engine.admin_token) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

fn app_json(app: &App) -> Value {
    json!({
        "appid": app.id.0,
        "name": app.name,
        "secret": app.secret,
        "realm": app.domain,
        "answer_url": app.answer_url,
        "event_url": app.event_url,
        "fallback_pcmo": app.fallback_pcmo.as_deref().and_then(|f| serde_json::from_str::<Value>(f).ok()),
        "answer_timeout_ms": app.answer_timeout_ms,
        "created_at": app.created_at,
    })
}

async fn create_app(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let new = NewApp {
        name: string(&body, "name")?.to_string(),
        // Optional: without one the app's calls run its default script (`fallback_pcmo`) or
        // the built-in one (ring the dialled user, or the number through the trunk).
        answer_url: opt_string(&body, "answer_url")?
            .unwrap_or_default()
            .to_string(),
        event_url: opt_string(&body, "event_url")?.map(str::to_string),
        domain: opt_string(&body, "domain")?.map(str::to_string),
        fallback_pcmo: fallback_pcmo(&body)?,
        answer_timeout_ms: answer_timeout_ms(&body)?,
    };
    let app = state.engine.directory.create_app(new).await?;
    Ok(HttpResponse::Created().json(app_json(&app)))
}

/// `answer_timeout_ms`: the app's own answer-URL budget, a whole number of milliseconds.
fn answer_timeout_ms(body: &serde_json::Map<String, Value>) -> Result<Option<u32>, ApiError> {
    match body.get("answer_timeout_ms") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| engine::directory::ANSWER_TIMEOUT_MS.contains(n))
            .map(Some)
            .ok_or(ApiError::InvalidProperty(
                "answer_timeout_ms",
                "must be a whole number of milliseconds between 500 and 30000",
            )),
    }
}

/// `fallback_pcmo`: a script (JSON array, or a string holding one) run when the answer URL
/// fails. Checked now, so a broken fallback is refused at once rather than at 3 a.m.
fn fallback_pcmo(body: &serde_json::Map<String, Value>) -> Result<Option<String>, ApiError> {
    let text = match body.get("fallback_pcmo") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(v @ Value::Array(_)) => v.to_string(),
        Some(_) => {
            return Err(ApiError::InvalidProperty(
                "fallback_pcmo",
                "must be a PCMO array",
            ))
        }
    };
    if !pcmo::check(&text).is_ok() {
        return Err(ApiError::InvalidProperty(
            "fallback_pcmo",
            "is not a valid PCMO script (see `ringmaster pcmo check`)",
        ));
    }
    Ok(Some(text))
}

async fn list_apps(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let apps: Vec<Value> = state
        .engine
        .directory
        .apps()?
        .iter()
        .map(app_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "apps": apps })))
}

pub(crate) fn parse_appid(raw: &str) -> Result<AppId, ApiError> {
    raw.parse::<u64>()
        .map(AppId)
        .map_err(|_| ApiError::InvalidProperty("appid", "must be a non-negative integer"))
}

async fn get_app(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let id = parse_appid(&path)?;
    let app = state.engine.directory.app(id)?.ok_or(ApiError::NoSuchApp)?;
    Ok(HttpResponse::Ok().json(app_json(&app)))
}

async fn delete_app(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let id = parse_appid(&path)?;
    state.engine.directory.delete_app(id).await?;
    Ok(HttpResponse::Ok().json(json!({ "appid": id.0, "msg": "Deleted" })))
}

#[derive(Deserialize)]
struct RegQuery {
    app: Option<u64>,
}

async fn registrations(
    state: web::Data<State>,
    req: HttpRequest,
    q: web::Query<RegQuery>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let list = state
        .engine
        .registrations(q.app.map(AppId))
        .map_err(|_| ApiError::Storage)?;
    Ok(HttpResponse::Ok().json(json!({ "registrations": list })))
}
