//! The commands on a call the device already has: answer or ring back a call to it, hang up
//! any of its calls. Each names the call by its `replyId` (or, to hang up, the placement's
//! `sessionReferenceId`), within the token's domain only.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::live::LiveRequestError;
use engine::call::live::{DeviceMedia, LiveCommand, LiveError};
use engine::live::CallView;
use engine::media::srtp::LegKeys;
use engine::store::CloudUaDomain;
use serde_json::{json, Map, Value};

use super::calls::{codec, device_crypto, event_pt, receive_addr, session_ref, text};
use super::{authorize, body, ok, CuaError};
use crate::State;

/// The request's domain, body and the call it names.
async fn named_call(
    state: &State,
    req: &HttpRequest,
    payload: web::Payload,
    by_ref: bool,
) -> Result<(Map<String, Value>, CallView), CuaError> {
    let d = authorize(state, req)?;
    let m = body(payload).await?;
    let call = call_of(state, &d, &m, by_ref).await?;
    Ok((m, call))
}

/// The live call `replyId` (or, for `hangupcalljwt`, `sessionReferenceId`) names.
async fn call_of(
    state: &State,
    d: &CloudUaDomain,
    m: &Map<String, Value>,
    by_ref: bool,
) -> Result<CallView, CuaError> {
    let found = match text(m, "replyId")? {
        Some(r) => state.engine.live.device_call(&d.name, r.trim()).await,
        None if by_ref => match session_ref(m)? {
            Some(r) => state.engine.live.device_call_by_ref(&d.name, r).await,
            None => return Err(CuaError::bad("replyId or sessionReferenceId is required")),
        },
        None => return Err(CuaError::bad("replyId is required")),
    };
    match found {
        Some(v) if v.end_ms.is_none() => Ok(v),
        _ => Err(CuaError::not_found()),
    }
}

fn refused(e: LiveRequestError) -> CuaError {
    match e {
        LiveRequestError::NoSuchCall | LiveRequestError::Refused(LiveError::Ended) => {
            CuaError::not_found()
        }
        LiveRequestError::Refused(e) => CuaError::new(409, "conflict", e.to_string()),
        _ => CuaError::new(503, "unavailable", "the call cannot be reached now"),
    }
}

pub(super) async fn answer(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, CuaError> {
    let (m, call) = named_call(&state, &req, payload, false).await?;
    let session = call.cloudua.clone().ok_or_else(CuaError::not_found)?;
    if session.placed {
        return Err(CuaError::new(
            409,
            "conflict",
            "the device placed this call",
        ));
    }
    let codec = codec(&m)?;
    let rtp = receive_addr(&state, &m)?;
    let event_pt = event_pt(&m)?;
    let srtp = device_crypto(&m)?.map(|c| {
        Box::new(LegKeys {
            suite: c.suite,
            inbound: c.key,
            outbound: session.our_key.clone(),
        })
    });
    let chosen_ref = session_ref(&m)?;
    let live = &state.engine.live;
    let media = DeviceMedia {
        rtp,
        codec,
        event_pt,
        srtp,
    };
    live.command(&call.id, LiveCommand::Device(media))
        .await
        .map_err(refused)?;
    live.update_device(&call.id, move |s| {
        s.device_codec = Some(codec);
        if chosen_ref.is_some() {
            s.session_ref = chosen_ref;
        }
    })
    .await;
    live.command(&call.id, LiveCommand::Answer)
        .await
        .map_err(refused)?;
    Ok(ok(json!({})))
}

pub(super) async fn ringback(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, CuaError> {
    let (_, call) = named_call(&state, &req, payload, false).await?;
    state
        .engine
        .live
        .command(&call.id, LiveCommand::Ringback)
        .await
        .map_err(refused)?;
    Ok(ok(json!({})))
}

/// Before the answer a called device's hang-up is a busy (486) and a placed call's a
/// CANCEL; after it, a BYE.
pub(super) async fn hangup(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, CuaError> {
    let (_, call) = named_call(&state, &req, payload, true).await?;
    let placed = call.cloudua.as_ref().is_some_and(|s| s.placed);
    let live = &state.engine.live;
    if !placed {
        match live.command(&call.id, LiveCommand::Reject(486)).await {
            Ok(_) => return Ok(ok(json!({}))),
            Err(LiveRequestError::Refused(LiveError::NotRinging)) => {}
            Err(e) => return Err(refused(e)),
        }
    }
    live.command(&call.id, LiveCommand::Hangup)
        .await
        .map_err(refused)?;
    Ok(ok(json!({})))
}
