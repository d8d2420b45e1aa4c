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

pub(crate) fn check_token(state: &State, req: &HttpRequest) -> Result<(), ApiError> {
    let given = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if secret_matches(&state.engine.admin_token, given.trim()) {
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
        answer_url: string(&body, "answer_url")?.to_string(),
        event_url: opt_string(&body, "event_url")?.map(str::to_string),
        domain: opt_string(&body, "domain")?.map(str::to_string),
    };
    let app = state.engine.directory.create_app(new).await?;
    Ok(HttpResponse::Created().json(app_json(&app)))
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
