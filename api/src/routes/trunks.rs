//! Trunks (carriers) in the admin API: `POST/GET /admin/v1/trunks`,
//! `GET/DELETE /admin/v1/trunks/{name}`. A trunk's password is write-only: answers say
//! `"has_password": true` and never carry it.

use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use engine::directory::trunk::{parse_transport, NewTrunk};
use engine::sip::Transport;
use engine::store::Trunk;
use serde_json::{json, Map, Value};

use super::admin::check_token;
use crate::body::{json_object, opt_string, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/trunks", web::post().to(add))
        .route("/admin/v1/trunks", web::get().to(list))
        .route("/admin/v1/trunks/{name}", web::get().to(get))
        .route("/admin/v1/trunks/{name}", web::delete().to(delete));
}

fn trunk_json(t: &Trunk) -> Value {
    json!({
        "name": t.name,
        "address": t.address(),
        "host": t.host,
        "port": t.port,
        "transport": t.transport,
        "allow_ips": t.allow_ips,
        "username": t.username,
        "has_password": t.sealed_password.is_some(),
        "created_at": t.created_at,
    })
}

/// `allow_ips`: absent, `null`, or an array of IP address strings.
fn allow_ips(body: &Map<String, Value>) -> Result<Vec<IpAddr>, ApiError> {
    const RULE: &str = "must be an array of IP addresses";
    match body.get("allow_ips") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .and_then(|s| s.trim().parse().ok())
                    .ok_or(ApiError::InvalidProperty("allow_ips", RULE))
            })
            .collect(),
        Some(_) => Err(ApiError::InvalidProperty("allow_ips", RULE)),
    }
}

async fn add(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let transport = match opt_string(&body, "transport")? {
        Some(t) => parse_transport(t)?,
        None => Transport::Udp,
    };
    let new = NewTrunk {
        name: string(&body, "name")?.to_owned(),
        address: string(&body, "address")?.to_owned(),
        transport,
        allow_ips: allow_ips(&body)?,
        username: opt_string(&body, "username")?.map(str::to_owned),
        password: opt_string(&body, "password")?.map(str::to_owned),
    };
    let trunk = state.engine.trunks.add(new).await?;
    Ok(HttpResponse::Created().json(trunk_json(&trunk)))
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let trunks: Vec<Value> = state.engine.trunks.list().iter().map(trunk_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "trunks": trunks })))
}

async fn get(
    state: web::Data<State>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let trunk = state
        .engine
        .trunks
        .trunk(&name)
        .ok_or(ApiError::TrunkMissing)?;
    Ok(HttpResponse::Ok().json(trunk_json(&trunk)))
}

async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    state.engine.trunks.delete(&name).await?;
    Ok(HttpResponse::Ok().json(json!({ "name": name.as_str(), "msg": "Deleted" })))
}
