//! PIOPIY SIP endpoint API: `POST /v1/endpoint/{add_sip,update_sip,get_sip,list_sip,remove_sip}`
//! with `appid` and `secret` in every JSON body (reference/piopiy-sip-endpoint-api.md).
//!
//! One documented difference: passwords are stored only as digest HA1 values, so `get_sip` and
//! `list_sip` return `"password": null` unless the operator enabled `reveal_sip_passwords`.
//! `add_sip` and `update_sip` echo the password the client just sent, as PIOPIY does.
//! `add_sip` and `get_sip` add two fields for browser apps: `webrtc_domain` (what a piopiyjs
//! app passes to `login`) and `wss_URL` (for JsSIP and SIP.js).

use actix_web::{web, HttpResponse};
use engine::store::{App, Endpoint};
use serde_json::{json, Map, Value};

use crate::body::{json_object, number, opt_number, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1/endpoint")
            .route("/add_sip", web::post().to(add_sip))
            .route("/update_sip", web::post().to(update_sip))
            .route("/get_sip", web::post().to(get_sip))
            .route("/list_sip", web::post().to(list_sip))
            .route("/remove_sip", web::post().to(remove_sip)),
    );
}

/// Reads the body and authenticates the app. Missing `appid`/`secret` is 502 (PIOPIY);
/// an unknown app and a wrong secret give the same 420.
async fn authed(
    state: &State,
    payload: web::Payload,
) -> Result<(App, Map<String, Value>), ApiError> {
    let body = json_object(payload).await?;
    let appid = number(&body, "appid")?;
    let secret = string(&body, "secret")?;
    let app = state.engine.directory.authenticate(appid, secret)?;
    Ok((app, body))
}

fn details(state: &State, ep: &Endpoint, password: Option<String>) -> Value {
    json!({
        "code": "cmi-200",
        "username": ep.username,
        "password": password,
        "connect_URL": state.engine.connect_url(),
        // For browser apps (null while the wss listener is off): piopiyjs's `login` domain,
        // and the URL JsSIP and SIP.js connect to.
        "webrtc_domain": state.engine.webrtc_domain(),
        "wss_URL": state.engine.wss_url(),
        "audio": true,
        "video": true,
        "type": "SIP",
        "realm": ep.domain,
        "sip_uri": format!("sip:{}@{}", ep.username, ep.domain),
        "enabled": ep.enabled,
    })
}

async fn add_sip(state: web::Data<State>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let (app, body) = authed(&state, payload).await?;
    let username = string(&body, "username")?;
    let password = string(&body, "password")?;
    let ep = state
        .engine
        .directory
        .add_endpoint(&app, username, password)
        .await?;
    Ok(HttpResponse::Ok().json(details(&state, &ep, Some(password.to_string()))))
}

async fn update_sip(
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, body) = authed(&state, payload).await?;
    let username = string(&body, "username")?;
    let password = string(&body, "password")?;
    let ep = state
        .engine
        .directory
        .update_password(&app, username, password)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": "cmi-200",
        "username": ep.username,
        "password": password,
        "msg": "Updated successfully",
    })))
}

async fn get_sip(state: web::Data<State>, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let (app, body) = authed(&state, payload).await?;
    let username = string(&body, "username")?;
    let ep = state.engine.directory.endpoint(&app, username)?;
    let password = state.engine.directory.reveal(&ep);
    Ok(HttpResponse::Ok().json(details(&state, &ep, password)))
}

async fn list_sip(
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, body) = authed(&state, payload).await?;
    // Pages count from 1 (10 records each); an absent page is the first.
    let page = opt_number(&body, "page")?.unwrap_or(1).max(1) as usize;
    let (rows, count) = state.engine.directory.list_endpoints(&app, page)?;
    let rows: Vec<Value> = rows
        .iter()
        .map(|ep| {
            json!({
                "username": ep.username,
                "password": state.engine.directory.reveal(ep),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "code": "cmi-200",
        "list": { "count": count, "rows": rows },
        "page": page,
    })))
}

async fn remove_sip(
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (app, body) = authed(&state, payload).await?;
    let username = string(&body, "username")?;
    state
        .engine
        .directory
        .remove_endpoint(&app, username)
        .await?;
    Ok(HttpResponse::Ok().json(json!({
        "code": "cmi-200",
        "username": username,
        "msg": "Removed successfully",
    })))
}
