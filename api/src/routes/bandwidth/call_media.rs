//! Bandwidth v1 media on a live call: `POST /calls/{id}/audio` (speech through espeak-ng, or a
//! file; loop; an empty one stops), `…/dtmf` (RFC 4733 out) and `…/gather` with
//! `GET`/`POST …/gather/{gatherId}`. Routes are listed in `calls::configure`.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::live::LiveRequestError;
use engine::call::live::{
    GatherSpec, LiveAccepted, LiveCommand, LiveError, LivePrompt, LiveSource,
};
use engine::webhook::bandwidth::{gather_id, iso8601};
use serde::Deserialize;
use serde_json::json;

use super::calls::{bad, base, command, live_error, owned};
use super::{created, BwError, BwJson, BwUser};
use crate::State;

/// `POST /calls/{id}/audio` (and the prompt of a gather).
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct Audio {
    file_url: Option<String>,
    sentence: Option<String>,
    gender: Option<String>,
    locale: Option<String>,
    voice: Option<String>,
    loop_enabled: Option<bool>,
    tag: Option<String>,
}

/// Bandwidth's voices by gender: the male ones; every other name is female.
const MALE_VOICES: &[&str] = &["dave", "paul", "jorge", "bernard", "stefan", "luca"];

/// An audio request as a prompt, or `None` for "stop" (an empty `fileUrl` or `sentence`).
pub(super) fn prompt_of(state: &State, a: Audio) -> Result<Option<LivePrompt>, BwError> {
    let looped = a.loop_enabled.unwrap_or(false);
    let source = match (a.sentence, a.file_url) {
        (Some(s), _) if s.is_empty() => return Ok(None),
        (_, Some(u)) if u.is_empty() => return Ok(None),
        (Some(s), _) => {
            if s.chars().count() > 1000 {
                return Err(bad(
                    "invalid-parameter",
                    "sentence: at most 1000 characters",
                ));
            }
            let gender = match (a.gender.as_deref(), a.voice.as_deref()) {
                (Some(g), _) => g.to_ascii_lowercase(),
                (None, Some(v)) if MALE_VOICES.contains(&v.to_ascii_lowercase().as_str()) => {
                    "male".into()
                }
                _ => "female".into(),
            };
            let voice = pcmo::Voice {
                voice_id: Some(gender),
                language: Some(a.locale.unwrap_or_else(|| "en_US".into())),
                speed: None,
            };
            LiveSource::Speak { text: s, voice }
        }
        (None, Some(u)) => {
            state
                .engine
                .check_app_url(&u)
                .map_err(|e| bad("invalid-parameter", format!("fileUrl: {e}")))?;
            LiveSource::File { url: u }
        }
        (None, None) => return Err(bad("missing-parameter", "fileUrl or sentence is required")),
    };
    Ok(Some(LivePrompt {
        source,
        looped,
        tag: a.tag,
    }))
}

pub(super) async fn audio(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    body: BwJson<Audio>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let cmd = match prompt_of(&state, body.0)? {
        Some(p) => LiveCommand::Play(p),
        None => LiveCommand::StopAudio,
    };
    command(&state, &e.view.id, cmd).await?;
    Ok(HttpResponse::Ok().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Dtmf {
    dtmf_out: Option<String>,
}

pub(super) async fn dtmf(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    body: BwJson<Dtmf>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let digits = body
        .0
        .dtmf_out
        .ok_or_else(|| bad("missing-parameter", "dtmfOut is required"))?;
    command(&state, &e.view.id, LiveCommand::SendDtmf(digits)).await?;
    Ok(HttpResponse::Ok().finish())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct NewGather {
    max_digits: Option<usize>,
    inter_digit_timeout: Option<u64>,
    terminating_digits: Option<String>,
    tag: Option<String>,
    prompt: Option<GatherPrompt>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GatherPrompt {
    #[serde(flatten)]
    audio: Audio,
    bargeable: Option<bool>,
}

pub(super) async fn gather(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: BwJson<NewGather>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let g = body.0;
    let max_digits = g.max_digits.unwrap_or(30);
    if !(1..=30).contains(&max_digits) {
        return Err(bad("invalid-parameter", "maxDigits is 1 to 30"));
    }
    let inter = g.inter_digit_timeout.unwrap_or(5);
    if !(1..=30).contains(&inter) {
        return Err(bad(
            "invalid-parameter",
            "interDigitTimeout is 1 to 30 seconds",
        ));
    }
    let terminating = g.terminating_digits.unwrap_or_else(|| "#".into());
    if terminating.len() > 12 || !engine::call::live::valid_digits(&format!("0{terminating}")) {
        return Err(bad(
            "invalid-parameter",
            "terminatingDigits: DTMF digits only",
        ));
    }
    let (prompt, bargeable) = match g.prompt {
        Some(p) => (prompt_of(&state, p.audio)?, p.bargeable.unwrap_or(true)),
        None => (None, true),
    };
    let spec = GatherSpec {
        max_digits,
        inter_digit_timeout: std::time::Duration::from_secs(inter),
        terminating_digits: terminating,
        prompt,
        bargeable,
        tag: g.tag,
    };
    let verdict = command(&state, &e.view.id, LiveCommand::Gather(spec)).await?;
    let LiveAccepted::Gather(n) = verdict else {
        return Err(live_error(LiveRequestError::Refused(
            LiveError::NoSuchGather,
        )));
    };
    Ok(created(&req, &gather_id(n)))
}

async fn find_gather(
    state: &State,
    user: &BwUser,
    call: &str,
    gather: &str,
) -> Result<(engine::live::Entry, engine::live::GatherView), BwError> {
    let e = owned(state, user, call).await?;
    let n = engine::live::parse_gather_id(gather);
    let g = e
        .gathers
        .iter()
        .find(|g| Some(g.id) == n)
        .cloned()
        .ok_or_else(|| live_error(LiveRequestError::Refused(LiveError::NoSuchGather)))?;
    Ok((e, g))
}

pub(super) async fn get_gather(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, BwError> {
    let (e, g) = find_gather(&state, &user, &path.1, &path.2).await?;
    let base = base(&req, &user);
    Ok(HttpResponse::Ok().json(json!({
        "id": gather_id(g.id),
        "state": if g.completed { "completed" } else { "started" },
        "reason": g.reason.map(|r| r.as_str()),
        "digits": g.digits,
        "createdTime": iso8601(g.created_ms),
        "completedTime": g.completed_ms.map(iso8601),
        "call": format!("{base}/calls/c-{}", e.view.id),
        "tag": g.tag,
    })))
}

#[derive(Deserialize)]
pub(super) struct GatherUpdate {
    state: Option<String>,
}

pub(super) async fn update_gather(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
    body: BwJson<GatherUpdate>,
) -> Result<HttpResponse, BwError> {
    let (e, g) = find_gather(&state, &user, &path.1, &path.2).await?;
    if body.0.state.as_deref() != Some("completed") {
        return Err(bad("invalid-parameter", "state must be completed"));
    }
    if !g.completed {
        command(&state, &e.view.id, LiveCommand::StopGather(g.id)).await?;
    }
    Ok(HttpResponse::Ok().finish())
}
