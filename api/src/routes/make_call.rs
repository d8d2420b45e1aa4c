//! PIOPIY's `POST /v1/pcmo_make_call`: `{appid, secret, from, to, duration?, extra_params?,
//! pcmo? | answer_url?}` → `{"code":200,"status":"progress","request_id":..}`. ringmaster
//! dials `to` (a number through the trunk, or a SIP user of the app) and runs the inline
//! script, or the script its answer URL returns, once the call is answered.

use actix_web::{web, HttpResponse};
use engine::actors::{PlaceCallError, PlaceRequest};
use serde_json::{json, Value};

use crate::body::{json_object, number, opt_number, opt_string, string};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/v1/pcmo_make_call", web::post().to(make_call));
}

/// A value that PIOPIY documents as a number but clients also send as a string.
fn number_or_string(
    body: &serde_json::Map<String, Value>,
    key: &'static str,
) -> Result<String, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Err(ApiError::MissingProperty(key)),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(_) => Err(ApiError::InvalidProperty(
            key,
            "must be a number or a string",
        )),
    }
}

/// `from` and `to` end up in SIP headers (From, To, the Request-URI): no control characters,
/// neither raw nor percent-encoded (a From user is percent-decoded on its way through a trunk
/// call), so no value can start a header line of its own.
fn header_safe(key: &'static str, value: &str) -> Result<(), ApiError> {
    let decoded = engine::sip::message::unescape(value);
    if value.chars().chain(decoded.chars()).any(char::is_control) {
        return Err(ApiError::InvalidProperty(
            key,
            "must not contain control characters (CR, LF, ...), raw or %-encoded",
        ));
    }
    Ok(())
}

async fn make_call(
    state: web::Data<State>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if state.draining.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ApiError::Draining(state.drain_retry_secs));
    }
    let body = json_object(payload).await?;
    let appid = number(&body, "appid")?;
    let secret = string(&body, "secret")?;
    let app = state.engine.directory.authenticate(appid, secret)?;
    let from = number_or_string(&body, "from")?;
    let to = number_or_string(&body, "to")?;
    header_safe("from", &from)?;
    header_safe("to", &to)?;
    let duration = opt_number(&body, "duration")?;
    if duration.is_some_and(|d| !(10..=14_400).contains(&d)) {
        return Err(ApiError::InvalidProperty(
            "duration",
            "must be between 10 and 14400 seconds",
        ));
    }
    let script = match body.get("pcmo") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(pcmo::Script::parse(&text).map_err(ApiError::InvalidScript)?)
        }
    };
    let answer_url = opt_string(&body, "answer_url")?.map(str::to_string);
    if let Some(u) = &answer_url {
        engine::directory::check_url(u)
            .map_err(|_| ApiError::InvalidProperty("answer_url", "must be an http(s) URL"))?;
        // An address host the egress policy refuses is known now; a name is checked when the
        // call resolves it. The app's own stored answer URL is the operator's, not checked.
        if *u != app.answer_url && state.engine.check_app_url(u).is_err() {
            return Err(ApiError::InvalidProperty(
                "answer_url",
                "its address is not allowed (loopback, private and other special addresses \
                 need [policy] allow_networks)",
            ));
        }
    }
    let extra_params = body.get("extra_params").filter(|v| !v.is_null()).cloned();
    let request = PlaceRequest {
        from,
        to,
        script,
        answer_url,
        duration,
        extra_params,
    };
    let request_id = state
        .engine
        .place_call(app, request)
        .await
        .map_err(|e| match e {
            PlaceCallError::InvalidTo => {
                ApiError::InvalidProperty("to", "must be a phone number or a SIP user of the app")
            }
            PlaceCallError::Limit => ApiError::CallLimit,
            _ => ApiError::Storage,
        })?;
    Ok(HttpResponse::Ok().json(json!({
        "code": 200,
        "status": "progress",
        "request_id": request_id,
        "data": { "status": "progress", "request_id": request_id },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_refuse_control_characters_raw_or_encoded() {
        for bad in [
            "1000\r\nX-Evil: yes",
            "1000\n",
            "a\0",
            "1000%0D%0AX-Evil",
            "1000%0a",
            "%09",
        ] {
            assert!(header_safe("from", bad).is_err(), "{bad:?}");
        }
        for good in ["1000", "+14155550100", "alice", "50%25", "a b"] {
            assert!(header_safe("from", good).is_ok(), "{good:?}");
        }
    }
}
