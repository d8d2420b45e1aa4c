//! Bandwidth v1 `recordings`: the user's calls' recordings (list, one, and the media: the
//! stereo WAV ringmaster wrote). Recordings of calls that ended longer ago than the live
//! table remembers are in the operator's recordings API.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use engine::live::RecordingView;
use engine::webhook::bandwidth::iso8601;
use serde_json::{json, Value};

use super::{paged, BwError, BwUser, Page};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/recordings", web::get().to(list))
        .route("/recordings/{recordingId}", web::get().to(get))
        .route("/media/{name}", web::get().to(media_file));
}

pub(super) fn recording_json(base: &str, r: &RecordingView) -> Value {
    json!({
        "id": r.id,
        "startTime": iso8601(r.start_ms),
        "endTime": iso8601(r.end_ms),
        "call": format!("{base}/calls/c-{}", r.call),
        // Bandwidth's shape: the SDKs download `media/<name>` by the URL's last segment.
        "media": format!("{base}/media/{}.wav", r.id),
        "state": if r.ok { "complete" } else { "error" },
    })
}

fn not_found() -> BwError {
    BwError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "recording-not-found",
        "The recording does not exist",
    )
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    page: Page,
) -> Result<HttpResponse, BwError> {
    let base = super::calls::base(&req, &user);
    let all = state.engine.live.recordings(&user.account.id).await;
    Ok(paged(&req, page, all, |r| recording_json(&base, r)))
}

async fn find(state: &State, user: &BwUser, id: &str) -> Result<RecordingView, BwError> {
    state
        .engine
        .live
        .recordings(&user.account.id)
        .await
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(not_found)
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let r = find(&state, &user, &path.1).await?;
    Ok(HttpResponse::Ok().json(recording_json(&super::calls::base(&req, &user), &r)))
}

/// `GET /media/{id}.wav`: a recording's file (other media are not stored here).
async fn media_file(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let id = path.1.strip_suffix(".wav").ok_or_else(not_found)?;
    let r = find(&state, &user, id).await?;
    let file = state
        .engine
        .recordings
        .find(&r.id)
        .ok()
        .flatten()
        .ok_or_else(not_found)?;
    // Blocking file read off the async workers; recordings are bounded by the operator's
    // retention settings.
    let bytes = web::block(move || std::fs::read(file.path))
        .await
        .map_err(|_| not_found())?
        .map_err(|_| not_found())?;
    Ok(HttpResponse::Ok().content_type("audio/wav").body(bytes))
}
