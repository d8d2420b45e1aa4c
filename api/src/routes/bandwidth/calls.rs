//! Bandwidth v1 `calls`: place a call the app drives live, read and list calls, and act on a
//! running call — answer, reject, hang up, transfer, record (`POST /calls/{id}`), audio,
//! DTMF, gather — plus its events. A thin translation: parse Bandwidth's JSON, check the
//! user's rights, send the engine a [`LiveCommand`], map the verdict to Bandwidth's shapes.
//!
//! A call's id is `c-` + its `cmiuuid` (the id of its CDRs). A call is the user's when its app
//! is one of the user's applications (or a PIOPIY app the user was given with `--app`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::live::LiveRequestError;
use engine::actors::sip::LivePlacement;
use engine::actors::{LivePlaceRequest, PlaceCallError};
use engine::call::live::{LiveAccepted, LiveCommand, LiveError, LiveSetup};
use engine::live::{CallFilter, CallView, Callback, CallbackMethod, Entry};
use engine::store::App;
use engine::webhook::bandwidth::iso8601;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{call_media, created, paged, BwError, BwJson, BwUser, Page};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/calls", web::post().to(create))
        .route("/calls", web::get().to(list))
        .route("/calls/{callId}", web::get().to(get))
        .route("/calls/{callId}", web::post().to(update))
        .route("/calls/{callId}/audio", web::post().to(call_media::audio))
        .route("/calls/{callId}/dtmf", web::post().to(call_media::dtmf))
        .route("/calls/{callId}/gather", web::post().to(call_media::gather))
        .route(
            "/calls/{callId}/gather/{gatherId}",
            web::get().to(call_media::get_gather),
        )
        .route(
            "/calls/{callId}/gather/{gatherId}",
            web::post().to(call_media::update_gather),
        )
        .route("/calls/{callId}/events", web::get().to(events))
        .route("/calls/{callId}/events/{eventId}", web::get().to(event))
        .route("/calls/{callId}/recordings", web::get().to(call_recordings))
        .route(
            "/calls/{callId}/transcriptions",
            web::route().to(super::out_of_scope),
        );
}

/// `POST /calls`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewCall {
    from: Option<String>,
    to: Option<String>,
    call_timeout: Option<u64>,
    callback_url: Option<String>,
    callback_timeout: Option<u32>,
    callback_http_method: Option<String>,
    fallback_url: Option<String>,
    bridge_id: Option<String>,
    conference_id: Option<String>,
    recording_enabled: Option<bool>,
    tag: Option<String>,
    sip_headers: Option<serde_json::Map<String, Value>>,
}

pub(super) fn bad(code: &'static str, msg: impl Into<String>) -> BwError {
    BwError::new(StatusCode::BAD_REQUEST, "bad-request", code, msg.into())
}

fn not_found() -> BwError {
    BwError::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "call-not-found",
        "The call does not exist",
    )
}

/// The engine's refusal in Bandwidth's words.
pub(super) fn live_error(e: LiveRequestError) -> BwError {
    let conflict = |code: &'static str, e: &dyn std::fmt::Display| {
        BwError::new(StatusCode::CONFLICT, "conflict", code, e.to_string())
    };
    match e {
        LiveRequestError::NoSuchCall => not_found(),
        LiveRequestError::Refused(r) => match r {
            LiveError::Ended => conflict("call-unavailable", &r),
            LiveError::InvalidDigits => bad("dtmf-invalid", r.to_string()),
            LiveError::AlreadyBridged => conflict("bridge-bridged-callId", &r),
            LiveError::NoSuchGather => BwError::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "gather-not-found",
                r.to_string(),
            ),
            other => conflict("call-state-invalid", &other),
        },
        LiveRequestError::Bridge(b) => super::bridges::bridge_error(b),
        LiveRequestError::Unavailable => BwError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "service-unavailable",
            "calls are not available right now",
        ),
        other => conflict("call-state-invalid", &other),
    }
}

fn method_of(text: Option<&str>) -> Result<CallbackMethod, BwError> {
    match text.map(str::to_ascii_uppercase).as_deref() {
        None | Some("POST") => Ok(CallbackMethod::Post),
        Some("GET") => Ok(CallbackMethod::Get),
        Some(_) => Err(bad(
            "callback-invalid-method",
            "callbackHttpMethod must be GET or POST",
        )),
    }
}

/// `from`/`to` and header values end up in SIP: no control characters, raw or %-encoded.
fn sip_safe(key: &str, v: &str) -> Result<(), BwError> {
    let decoded = engine::sip::message::unescape(v);
    if v.chars().chain(decoded.chars()).any(char::is_control) || v.len() > 256 {
        return Err(bad(
            "invalid-parameter",
            format!("{key} must be at most 256 characters without control characters"),
        ));
    }
    Ok(())
}

/// Bandwidth `sipHeaders`: at most 5, each named `X-…` with token characters only, values of
/// text without control characters (≤ 256): they go on the INVITE as they are.
fn sip_headers(
    h: Option<&serde_json::Map<String, Value>>,
) -> Result<Vec<pcmo::SipHeader>, BwError> {
    let Some(h) = h else {
        return Ok(Vec::new());
    };
    let token = |k: &str| {
        k.len() > 2
            && k.len() <= 64
            && k.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("x-"))
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.!%*+`'~".contains(&b))
    };
    if h.len() > 5 || !h.keys().all(|k| token(k)) {
        return Err(bad(
            "invalid-parameter",
            "sipHeaders: at most 5, each named X-… (letters, digits, - _ . ! % * + ` ' ~)",
        ));
    }
    let mut out = Vec::with_capacity(h.len());
    for (k, v) in h {
        let value = v
            .as_str()
            .ok_or_else(|| bad("invalid-parameter", format!("sipHeaders.{k} must be text")))?;
        sip_safe(k, value)?;
        out.push(pcmo::SipHeader {
            name: k.clone(),
            value: value.to_string(),
        });
    }
    Ok(out)
}

/// The callback of a call, from its request fields (the URLs pass the egress policy).
fn callback_of(
    state: &State,
    url: Option<String>,
    timeout_ms: Option<u32>,
    method: Option<&str>,
    fallback: Option<String>,
) -> Result<Option<Callback>, BwError> {
    let method = method_of(method)?;
    let Some(url) = url.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    for u in std::iter::once(&url).chain(fallback.iter()) {
        state
            .engine
            .check_app_url(u)
            .map_err(|e| bad("callback-invalid-url", e.to_string()))?;
    }
    if timeout_ms.is_some_and(|t| !(1..=10_000).contains(&t)) {
        return Err(bad(
            "invalid-parameter",
            "callbackTimeout is 1 to 10000 milliseconds",
        ));
    }
    Ok(Some(Callback {
        url,
        method,
        timeout_ms: timeout_ms.unwrap_or(10_000),
        fallback,
    }))
}

async fn create(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    body: BwJson<NewCall>,
) -> Result<HttpResponse, BwError> {
    let b = body.0;
    let from = b
        .from
        .ok_or_else(|| bad("missing-parameter", "from is required"))?;
    let to =
        b.to.ok_or_else(|| bad("missing-parameter", "to is required"))?;
    sip_safe("from", &from)?;
    sip_safe("to", &to)?;
    if b.conference_id.is_some() {
        return Err(BwError::forbidden(
            "feature-not-available",
            "Conferences are not available on this server",
        ));
    }
    let headers = sip_headers(b.sip_headers.as_ref())?;
    let timeout = b.call_timeout.unwrap_or(60);
    if !(1..=300).contains(&timeout) {
        return Err(bad("invalid-parameter", "callTimeout is 1 to 300 seconds"));
    }
    let callback = callback_of(
        &state,
        b.callback_url,
        b.callback_timeout,
        b.callback_http_method.as_deref(),
        b.fallback_url,
    )?;
    let target = super::target::resolve(&state, &user, &to)?;
    let app = target.app.clone();
    let placement = LivePlacement {
        setup: LiveSetup {
            auto_answer: true,
            call_timeout: std::time::Duration::from_secs(timeout),
            ..LiveSetup::default()
        },
        user: Some(user.account.id.clone()),
        callback,
        tag: b.tag,
        shown: Some((from.clone(), to.clone())),
        cloudua: None,
    };
    let placed = state
        .engine
        .place_live(
            app,
            LivePlaceRequest {
                from: from.trim_start_matches('+').to_string(),
                to: target.destination,
                domain: target.domain,
                headers,
                placement,
            },
        )
        .await;
    let id = match placed {
        Ok(id) => id,
        Err(PlaceCallError::Limit) => {
            return Err(BwError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "call-rate-limit",
                "the application's concurrent call limit is reached",
            ))
        }
        Err(e) => return Err(live_error_text(e)),
    };
    if b.recording_enabled == Some(true) {
        // Recording starts once the call is active; a placed call is not yet.
        let _ = state
            .engine
            .live
            .command(&id, LiveCommand::Record(true))
            .await;
    }
    if let Some(bridge) = b.bridge_id {
        let bridge = bridge.trim().to_string();
        let calls = state
            .engine
            .live
            .bridge_view(&bridge)
            .await
            .filter(|v| v.user == user.account.id)
            .map(|v| v.call_ids)
            .ok_or_else(|| super::bridges::bridge_error(engine::live::BridgeError::NotFound))?;
        let mut calls = calls;
        calls.push(id.clone());
        state
            .engine
            .live
            .bridge(&user.account.id, Some(bridge), Some(calls), None)
            .await
            .map_err(live_error)?;
    }
    Ok(created(&req, &format!("c-{id}")))
}

fn live_error_text(e: PlaceCallError) -> BwError {
    BwError::new(
        StatusCode::BAD_REQUEST,
        "bad-request",
        "call-not-placed",
        e.to_string(),
    )
}

/// Sends call `id` a command; the engine's refusal in Bandwidth's words.
pub(super) async fn command(
    state: &State,
    id: &str,
    cmd: LiveCommand,
) -> Result<LiveAccepted, BwError> {
    state.engine.live.command(id, cmd).await.map_err(live_error)
}

/// The call `c-…` of this user, or 404 (also for another user's call).
pub(super) async fn owned(state: &State, user: &BwUser, id: &str) -> Result<Entry, BwError> {
    let key = id.strip_prefix("c-").ok_or_else(not_found)?;
    let e = state.engine.live.call(key).await.ok_or_else(not_found)?;
    let mine = e.view.user.as_deref() == Some(user.account.id.as_str())
        || app_of(state, &e.view).is_some_and(|a| user.owns_app(&a));
    if mine {
        Ok(e)
    } else {
        Err(not_found())
    }
}

fn app_of(state: &State, v: &CallView) -> Option<App> {
    state.engine.directory.app(v.app).ok().flatten()
}

/// `scheme://host/v1/users/{userId}` as the client called it.
pub(super) fn base(req: &HttpRequest, user: &BwUser) -> String {
    let info = req.connection_info();
    format!(
        "{}://{}/v1/users/{}",
        info.scheme(),
        info.host(),
        user.account.id
    )
}

/// A call in Bandwidth's shape.
pub(super) fn call_json(base: &str, v: &CallView) -> Value {
    let uri = format!("{base}/calls/c-{}", v.id);
    let chargeable = match (v.active_ms, v.end_ms) {
        (Some(a), Some(e)) => (e.saturating_sub(a)).div_ceil(1000),
        _ => 0,
    };
    json!({
        "id": format!("c-{}", v.id),
        "direction": match v.direction {
            engine::live::CallDirection::In => "in",
            engine::live::CallDirection::Out => "out",
        },
        "from": v.from,
        "to": v.to,
        "state": v.state.as_str(),
        "startTime": iso8601(v.start_ms),
        "activeTime": v.active_ms.map(iso8601),
        "endTime": v.end_ms.map(iso8601),
        "chargeableDuration": chargeable,
        "callbackUrl": v.callback.as_ref().map(|c| c.url.clone()),
        "bridgeId": v.bridge,
        "tag": v.tag,
        "events": format!("{uri}/events"),
        "recordings": format!("{uri}/recordings"),
        "transcriptions": format!("{uri}/transcriptions"),
    })
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    Ok(HttpResponse::Ok().json(call_json(&base(&req, &user), &e.view)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    bridge_id: Option<String>,
    conference_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    sort_order: Option<String>,
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    page: Page,
) -> Result<HttpResponse, BwError> {
    let q = web::Query::<ListQuery>::from_query(req.query_string())
        .map_err(|_| bad("invalid-parameter", "malformed query string"))?
        .into_inner();
    if q.conference_id.is_some() {
        return Ok(paged(&req, page, Vec::<Value>::new(), Value::clone));
    }
    let filter = CallFilter {
        user: Some(user.account.id.clone()),
        bridge: q.bridge_id.map(|b| b.trim().to_string()),
        from: q.from.map(|f| f.trim_start_matches('+').to_string()),
        to: q.to.map(|t| t.trim_start_matches('+').to_string()),
    };
    let mut calls = state.engine.live.calls(filter).await;
    if q.sort_order.as_deref() == Some("asc") {
        calls.reverse();
    }
    let base = base(&req, &user);
    Ok(paged(&req, page, calls, |c| call_json(&base, c)))
}

/// `POST /calls/{id}`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CallUpdate {
    state: Option<String>,
    recording_enabled: Option<bool>,
    transfer_to: Option<String>,
    transfer_caller_id: Option<String>,
    callback_url: Option<String>,
    callback_http_method: Option<String>,
    callback_timeout: Option<u32>,
    fallback_url: Option<String>,
    tag: Option<String>,
}

async fn update(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    body: BwJson<CallUpdate>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let id = e.view.id.clone();
    let b = body.0;
    if b.callback_url.is_some() {
        let cb = callback_of(
            &state,
            b.callback_url,
            b.callback_timeout,
            b.callback_http_method.as_deref(),
            b.fallback_url,
        )?;
        if let Some(cb) = cb {
            state.engine.live.set_callback(&id, cb).await;
        }
    }
    if b.tag.is_some() {
        state.engine.live.set_tag(&id, b.tag).await;
    }
    if let Some(on) = b.recording_enabled {
        command(&state, &id, LiveCommand::Record(on)).await?;
    }
    let cmd = match b.state.as_deref() {
        None => None,
        Some("active") => Some(LiveCommand::Answer),
        Some("rejected") => Some(LiveCommand::Reject(603)),
        Some("completed") => Some(LiveCommand::Hangup),
        Some("transferring") => {
            let to = b
                .transfer_to
                .ok_or_else(|| bad("missing-parameter", "transferTo is required"))?;
            Some(transfer_script(
                &state,
                &user,
                &e.view,
                &to,
                b.transfer_caller_id,
            )?)
        }
        Some(_) => {
            return Err(bad(
                "invalid-parameter",
                "state must be active, rejected, completed or transferring",
            ))
        }
    };
    if let Some(cmd) = cmd {
        command(&state, &id, cmd).await?;
    }
    Ok(HttpResponse::Ok().finish())
}

/// A transfer is a PCMO `connect` to the new party: the call's script rings it and bridges
/// it with the caller (the machinery every PCMO call uses).
fn transfer_script(
    state: &State,
    user: &BwUser,
    call: &CallView,
    to: &str,
    caller_id: Option<String>,
) -> Result<LiveCommand, BwError> {
    sip_safe("transferTo", to)?;
    let target = super::target::resolve(state, user, to)?;
    let caller = match caller_id.as_deref() {
        None | Some("") => call.from.clone(),
        Some("private") => "anonymous".to_string(),
        Some(c) => {
            sip_safe("transferCallerId", c)?;
            c.trim_start_matches('+').to_string()
        }
    };
    let dest = match target.destination {
        // An endpoint of one of the user's domains: by its URI (the call's own app may be in
        // another domain).
        pcmo::Destination::SipUser(u) => match &target.domain {
            Some(d) => json!({"type":"sip","uri":format!("sip:{u}@{d}")}),
            None => json!({"type":"sip","user":u}),
        },
        pcmo::Destination::SipUri(u) => json!({"type":"sip","uri":u}),
        pcmo::Destination::Pstn(n) => json!({"type":"pstn","number":n}),
        pcmo::Destination::Agent(_) => return Err(bad("invalid-parameter", "transferTo")),
    };
    let script = json!([{"action":"connect","from":caller,"connect":[dest]}]).to_string();
    let script = pcmo::Script::parse(&script)
        .map_err(|_| bad("invalid-parameter", "transferTo cannot be dialled"))?;
    Ok(LiveCommand::RunScript(Box::new(script)))
}

fn event_json(ev: &engine::live::LoggedEvent) -> Value {
    json!({
        "id": ev.id,
        "time": iso8601(ev.time_ms),
        "name": ev.name,
        "data": ev.data,
    })
}

async fn events(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let v: Vec<Value> = e.events.iter().map(event_json).collect();
    Ok(HttpResponse::Ok().json(v))
}

async fn event(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let ev = e.events.iter().find(|x| x.id == path.2).ok_or_else(|| {
        BwError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "event-not-found",
            "The event does not exist",
        )
    })?;
    Ok(HttpResponse::Ok().json(event_json(ev)))
}

async fn call_recordings(
    state: web::Data<State>,
    user: BwUser,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let e = owned(&state, &user, &path.1).await?;
    let base = base(&req, &user);
    let v: Vec<Value> = e
        .recordings
        .iter()
        .map(|r| super::recordings::recording_json(&base, r))
        .collect();
    Ok(HttpResponse::Ok().json(v))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::sip_headers;

    fn check(v: serde_json::Value) -> Result<usize, String> {
        sip_headers(v.as_object())
            .map(|h| h.len())
            .map_err(|e| e.code.clone())
    }

    #[test]
    fn sip_headers_are_x_headers_of_token_names_and_plain_text() {
        assert_eq!(check(json!({"X-Account": "42", "x-trace": "a b"})), Ok(2));
        for bad in [
            json!({"Via": "x"}),
            json!({"X-a b": "x"}),
            json!({"X-": "x"}),
            json!({"X-Line": "a\r\nVia: evil"}),
            json!({"X-Enc": "a%0d%0aVia: evil"}),
            json!({"X-Num": 5}),
            json!({"X-1": "", "X-2": "", "X-3": "", "X-4": "", "X-5": "", "X-6": ""}),
        ] {
            assert!(check(bad.clone()).is_err(), "{bad}");
        }
    }
}
