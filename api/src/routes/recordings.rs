//! Recorded calls: `GET /admin/v1/recordings[?app=APPID]` lists them (with `format`,
//! `channels` and `duration_ms` read from each file), `GET /admin/v1/recordings/{id}` downloads
//! one (`audio/wav` or `audio/mpeg`, byte ranges supported), `DELETE
//! /admin/v1/recordings/{id}` deletes it.
//!
//! The operator's admin token opens every recording. An app may fetch or delete its own with
//! HTTP Basic authentication, `appid:secret` (what its `recording` events point it at); a
//! recording of another app, or none, is the same 404, so ids cannot be probed.

use actix_files::NamedFile;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine as _;
use engine::directory::secret_matches;
use engine::recordings::RecordingFile;
use engine::store::AppId;
use serde::Deserialize;
use serde_json::json;

use super::admin::{check_token, parse_appid};
use crate::error::ApiError;
use crate::State;

/// One recording, for its app (Basic credentials) or the operator (admin token): on every
/// listener, since apps fetch their recordings from the main one.
pub fn configure_by_id(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/recordings/{id}", web::get().to(download))
        .route("/admin/v1/recordings/{id}", web::delete().to(delete));
}

/// The listing: the operator's only.
pub fn configure_list(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/recordings", web::get().to(list));
}

#[derive(Deserialize)]
struct ListQuery {
    app: Option<String>,
}

/// One recording in a listing; `info` is what its headers say (`null`s if unreadable).
fn view(
    f: &RecordingFile,
    info: Option<engine::recordings::audio_info::AudioInfo>,
) -> serde_json::Value {
    json!({
        "recording_id": f.id,
        "appid": f.app.0,
        "bytes": f.bytes,
        "modified_at": f.modified_ms,
        "url": format!("/admin/v1/recordings/{}", f.id),
        "format": f.format(),
        "content_type": f.mime(),
        "channels": info.map(|i| i.channels),
        "duration_ms": info.map(|i| i.duration_ms),
    })
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let q = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|_| ApiError::InvalidProperty("query", "malformed query string"))?;
    let app = q.app.as_deref().map(parse_appid).transpose()?;
    let recordings = state.engine.recordings.clone();
    // The headers are read here too, off the async threads.
    let items = web::block(move || {
        recordings.list(app).map(|files| {
            files
                .iter()
                .map(|f| view(f, f.audio_info()))
                .collect::<Vec<_>>()
        })
    })
    .await
    .map_err(|_| ApiError::Storage)?
    .map_err(io_error)?;
    Ok(HttpResponse::Ok().json(json!({ "recordings": items })))
}

async fn download(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = authorised(&state, &req, &id).await?;
    let mut named = NamedFile::open_async(&file.path)
        .await
        .map_err(|_| ApiError::RecordingMissing)?;
    // Our own constant ("audio/wav" or "audio/mpeg"); were it ever unparsable, actix-files'
    // guess from the extension stands rather than a panic.
    if let Ok(mime) = file.mime().parse() {
        named = named.set_content_type(mime);
    }
    Ok(named.into_response(&req))
}

async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let file = authorised(&state, &req, &id).await?;
    let recordings = state.engine.recordings.clone();
    let id = file.id.clone();
    let gone = web::block(move || recordings.delete(&id))
        .await
        .map_err(|_| ApiError::Storage)?
        .map_err(io_error)?;
    if !gone {
        return Err(ApiError::RecordingMissing);
    }
    tracing::info!(recording = %file.id, appid = file.app.0, "recording deleted");
    Ok(HttpResponse::Ok().json(json!({"recording_id": file.id, "msg": "Deleted"})))
}

/// The recording, if the caller may have it: the admin token, or its app's credentials
/// (checked before the disk is looked at, so wrong credentials learn nothing).
async fn authorised(state: &State, req: &HttpRequest, id: &str) -> Result<RecordingFile, ApiError> {
    let app = match basic_credentials(req) {
        None => {
            check_token(state, req)?;
            None
        }
        Some((appid, secret)) => {
            let app = state
                .engine
                .directory
                .app(appid)
                .map_err(|_| ApiError::Storage)?;
            match app {
                Some(app) if secret_matches(&app.secret, &secret) => Some(app.id),
                _ => return Err(ApiError::Unauthorized),
            }
        }
    };
    let recordings = state.engine.recordings.clone();
    let wanted = id.to_string();
    let file = web::block(move || recordings.find(&wanted))
        .await
        .map_err(|_| ApiError::Storage)?
        .map_err(io_error)?
        .ok_or(ApiError::RecordingMissing)?;
    if app.is_some_and(|a| a != file.app) {
        return Err(ApiError::RecordingMissing);
    }
    Ok(file)
}

/// `Authorization: Basic base64(appid:secret)`.
fn basic_credentials(req: &HttpRequest) -> Option<(AppId, String)> {
    let value = req.headers().get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (appid, secret) = text.split_once(':')?;
    Some((AppId(appid.parse().ok()?), secret.to_string()))
}

fn io_error(e: std::io::Error) -> ApiError {
    tracing::error!(error = %e, "recordings directory unreadable");
    ApiError::Storage
}
