//! Bandwidth users in the admin API (admin token): `POST /admin/v1/users {"apps":[APPID…]}`
//! → `{"user_id","token","secret"}` (the secret is shown only here, once),
//! `GET /admin/v1/users`, `DELETE /admin/v1/users/{id}` (with its domains, endpoints and
//! applications). `ringmaster user create|list|delete` talk to these.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::bandwidth::BandwidthError;
use engine::store::{Account, AppId};
use serde_json::{json, Value};

use super::admin::check_token;
use crate::body::json_object;
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/users", web::post().to(create))
        .route("/admin/v1/users", web::get().to(list))
        .route("/admin/v1/users/{id}", web::delete().to(delete));
}

fn api_err(e: BandwidthError) -> ApiError {
    match e {
        BandwidthError::NotFound("application") => ApiError::NoSuchApp,
        BandwidthError::NotFound(_) => ApiError::UserMissing,
        _ => ApiError::Storage,
    }
}

fn user_json(a: &Account) -> Value {
    json!({
        "user_id": a.id,
        "apps": a.apps.iter().map(|id| id.0).collect::<Vec<_>>(),
        "created_at": a.created_at,
    })
}

async fn create(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let apps = match body.get("apps") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| {
                v.as_u64().map(AppId).ok_or(ApiError::InvalidProperty(
                    "apps",
                    "must be a list of app ids",
                ))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(ApiError::InvalidProperty(
                "apps",
                "must be a list of app ids",
            ))
        }
    };
    let (account, secret) = state
        .engine
        .bandwidth
        .create_account(apps)
        .await
        .map_err(api_err)?;
    Ok(HttpResponse::Ok().json(json!({
        "user_id": account.id,
        "token": account.token,
        "secret": secret,
    })))
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let users = state.engine.bandwidth.accounts().map_err(api_err)?;
    let users: Vec<Value> = users.iter().map(user_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "users": users })))
}

async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    state
        .engine
        .bandwidth
        .delete_account(&id)
        .await
        .map_err(api_err)?;
    Ok(HttpResponse::Ok().json(json!({ "user_id": id.as_str(), "deleted": true })))
}
