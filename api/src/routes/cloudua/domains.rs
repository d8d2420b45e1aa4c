//! Cloud UA domains in the admin API (what `ringmaster cloudua domain …` calls):
//! `POST /admin/v1/cloudua/domains {name, appid, hs256_secret?, public_key?, issuer?,
//! audience?, callback_base_url?}`, `GET /admin/v1/cloudua/domains`,
//! `DELETE /admin/v1/cloudua/domains/{name}`. A domain needs at least one verification key;
//! a public key must be an RSA or EC P-256 key in PEM. Secrets never come back out.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::store::{AppId, CloudUaDomain};
use serde_json::{json, Value};

use super::token::{key_algorithm, MIN_SECRET};
use crate::body::{json_object, number, opt_string, string};
use crate::error::ApiError;
use crate::routes::admin::check_token;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/cloudua/domains", web::post().to(add))
        .route("/admin/v1/cloudua/domains", web::get().to(list))
        .route("/admin/v1/cloudua/domains/{name}", web::delete().to(delete));
}

fn domain_json(d: &CloudUaDomain) -> Value {
    let mut algorithms = Vec::new();
    if d.hs256_secret.is_some() {
        algorithms.push("HS256");
    }
    if let Some(alg) = d.public_key_pem.as_deref().and_then(key_algorithm) {
        algorithms.push(alg);
    }
    json!({
        "name": d.name,
        "app": d.app.0,
        "algorithms": algorithms,
        "issuer": d.issuer,
        "audience": d.audience,
        "callback_base_url": d.callback_base_url,
        "created_at": d.created_at,
    })
}

/// A DNS-like name: 1–253 of `a-z 0-9 . -`, lower-cased.
fn valid_name(name: &str) -> Option<String> {
    let name = name.trim().to_ascii_lowercase();
    let ok = (1..=253).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    ok.then_some(name)
}

async fn add(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let name = valid_name(string(&body, "name")?).ok_or(ApiError::InvalidProperty(
        "name",
        "1-253 letters, digits, dots and dashes",
    ))?;
    let app = AppId(number(&body, "appid")?);
    let secret = opt_string(&body, "hs256_secret")?.map(str::to_string);
    if secret.as_ref().is_some_and(|s| s.len() < MIN_SECRET) {
        return Err(ApiError::InvalidProperty(
            "hs256_secret",
            "at least 32 bytes (RFC 7518 §3.2)",
        ));
    }
    let public_key = opt_string(&body, "public_key")?.map(str::to_string);
    if public_key
        .as_deref()
        .is_some_and(|k| key_algorithm(k).is_none())
    {
        return Err(ApiError::InvalidProperty(
            "public_key",
            "not an RSA or EC P-256 public key in PEM",
        ));
    }
    if secret.is_none() && public_key.is_none() {
        return Err(ApiError::InvalidProperty(
            "hs256_secret",
            "a domain needs an HS256 secret or a public key",
        ));
    }
    let callback = opt_string(&body, "callback_base_url")?.map(str::to_string);
    if let Some(url) = &callback {
        state
            .engine
            .check_app_url(url)
            .map_err(|_| ApiError::InvalidProperty("callback_base_url", "refused by [policy]"))?;
    }
    let d = CloudUaDomain {
        name,
        app,
        hs256_secret: secret,
        public_key_pem: public_key,
        issuer: opt_string(&body, "issuer")?.map(str::to_string),
        audience: opt_string(&body, "audience")?.map(str::to_string),
        callback_base_url: callback,
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    if state.engine.directory.app(app).ok().flatten().is_none() {
        return Err(ApiError::NoSuchApp);
    }
    state.engine.add_cloudua_domain(&d).await?;
    Ok(HttpResponse::Created().json(domain_json(&d)))
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let all: Vec<Value> = state
        .engine
        .cloudua_domains()?
        .iter()
        .map(domain_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "domains": all })))
}

async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let name = path.trim().to_ascii_lowercase();
    state.engine.delete_cloudua_domain(&name).await?;
    Ok(HttpResponse::Ok().json(json!({ "name": name, "msg": "Deleted" })))
}
