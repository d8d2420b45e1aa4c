//! Bandwidth v1 `bridges`: join two of the user's calls (`bridgeAudio` true: they hear each
//! other; false: both on hold), change a bridge's calls or hold, read bridges and their calls,
//! and play audio to a bridge's calls. The engine's live table checks the states; this checks
//! that every call is the user's.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::live::LiveRequestError;
use engine::call::live::LiveCommand;
use engine::live::{BridgeError, BridgeView};
use engine::webhook::bandwidth::iso8601;
use serde::Deserialize;
use serde_json::{json, Value};

use super::call_media::{prompt_of, Audio};
use super::calls::live_error;
use super::{created, paged, BwError, BwJson, BwUser, Page};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/bridges", web::post().to(create))
        .route("/bridges", web::get().to(list))
        .route("/bridges/{bridgeId}", web::get().to(get))
        .route("/bridges/{bridgeId}", web::post().to(update))
        .route("/bridges/{bridgeId}/calls", web::get().to(calls))
        .route("/bridges/{bridgeId}/audio", web::post().to(audio));
}

/// A bridge refusal in Bandwidth's words.
pub(super) fn bridge_error(e: BridgeError) -> BwError {
    let (status, category, code) = match &e {
        BridgeError::NotFound => (StatusCode::NOT_FOUND, "not-found", "bridge-not-found"),
        BridgeError::CallBridged(_) => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bridge-bridged-callId",
        ),
        BridgeError::Completed => (StatusCode::CONFLICT, "conflict", "bridge-invalid-state"),
        BridgeError::TooManyCalls => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bridge-too-many-calls",
        ),
        BridgeError::UnknownCall(_) => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "bridge-invalid-callId",
        ),
        _ => (StatusCode::CONFLICT, "conflict", "call-unavailable"),
    };
    BwError::new(status, category, code, e.to_string())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BridgeBody {
    bridge_audio: Option<bool>,
    call_ids: Option<Vec<String>>,
}

/// The engine ids of `call_ids` (`c-…`), each checked to be one of the user's calls (another
/// user's call reads as unknown, like a call that does not exist).
async fn own_calls(
    state: &State,
    user: &BwUser,
    call_ids: Vec<String>,
) -> Result<Vec<String>, BwError> {
    let mut ids = Vec::with_capacity(call_ids.len());
    for c in call_ids {
        let key = c.trim().strip_prefix("c-").unwrap_or("").to_string();
        let mine = state
            .engine
            .live
            .call(&key)
            .await
            .is_some_and(|e| e.view.user.as_deref() == Some(user.account.id.as_str()));
        if !mine {
            return Err(bridge_error(BridgeError::UnknownCall(c)));
        }
        ids.push(key);
    }
    Ok(ids)
}

fn bridge_json(base: &str, b: &BridgeView) -> Value {
    let uri = format!("{base}/bridges/{}", b.id);
    json!({
        "id": b.id,
        "state": b.state.as_str(),
        "bridgeAudio": b.bridge_audio,
        "callIds": b.call_ids.iter().map(|c| format!("c-{c}")).collect::<Vec<_>>(),
        "calls": format!("{uri}/calls"),
        "createdTime": iso8601(b.created_ms),
        "activatedTime": b.activated_ms.map(iso8601),
        "completedTime": b.completed_ms.map(iso8601),
    })
}

async fn create(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    body: BwJson<BridgeBody>,
) -> Result<HttpResponse, BwError> {
    let b = body.0;
    let calls = own_calls(&state, &user, b.call_ids.unwrap_or_default()).await?;
    let v = state
        .engine
        .live
        .bridge(&user.account.id, None, Some(calls), b.bridge_audio)
        .await
        .map_err(live_error)?;
    Ok(created(&req, &v.id))
}

async fn owned(state: &State, user: &BwUser, id: &str) -> Result<BridgeView, BwError> {
    state
        .engine
        .live
        .bridge_view(id)
        .await
        .filter(|b| b.user == user.account.id)
        .ok_or_else(|| bridge_error(BridgeError::NotFound))
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let b = owned(&state, &user, &path.1).await?;
    Ok(HttpResponse::Ok().json(bridge_json(&super::calls::base(&req, &user), &b)))
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    page: Page,
) -> Result<HttpResponse, BwError> {
    let base = super::calls::base(&req, &user);
    let all = state.engine.live.bridges(&user.account.id).await;
    Ok(paged(&req, page, all, |b| bridge_json(&base, b)))
}

async fn update(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    body: BwJson<BridgeBody>,
) -> Result<HttpResponse, BwError> {
    let b = owned(&state, &user, &path.1).await?;
    let body = body.0;
    let calls = match body.call_ids {
        Some(c) => Some(own_calls(&state, &user, c).await?),
        None => None,
    };
    state
        .engine
        .live
        .bridge(&user.account.id, Some(b.id), calls, body.bridge_audio)
        .await
        .map_err(live_error)?;
    Ok(HttpResponse::Ok().finish())
}

async fn calls(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let b = owned(&state, &user, &path.1).await?;
    let base = super::calls::base(&req, &user);
    let mut out = Vec::new();
    for c in &b.call_ids {
        if let Some(e) = state.engine.live.call(c).await {
            out.push(super::calls::call_json(&base, &e.view));
        }
    }
    Ok(HttpResponse::Ok().json(out))
}

async fn audio(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    body: BwJson<Audio>,
) -> Result<HttpResponse, BwError> {
    let b = owned(&state, &user, &path.1).await?;
    let prompt = prompt_of(&state, body.0)?;
    for c in &b.call_ids {
        let cmd = match &prompt {
            Some(p) => LiveCommand::Play(p.clone()),
            None => LiveCommand::StopAudio,
        };
        match state.engine.live.command(c, cmd).await {
            Ok(_) | Err(LiveRequestError::NoSuchCall) => {}
            Err(e) => return Err(live_error(e)),
        }
    }
    Ok(HttpResponse::Ok().finish())
}
