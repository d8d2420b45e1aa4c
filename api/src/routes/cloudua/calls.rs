//! Placing a call from a device, and the checks of the fields every command shares (codec,
//! receive address, telephone-event payload type, crypto, sessionReferenceId).

use std::net::{IpAddr, SocketAddr};

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::sip::LivePlacement;
use engine::actors::{LivePlaceRequest, PlaceCallError};
use engine::call::live::{DeviceMedia, LiveSetup};
use engine::live::cloudua::{crypto_of, Session, DEVICE_EVENT_PT};
use engine::media::codec::AudioCodec;
use engine::media::srtp::{LegKeys, MasterKey};
use engine::store::{App, CloudUaDomain};
use pcmo::Destination;
use serde_json::{json, Map, Value};

use super::{authorize, body, ok, CuaError};
use crate::State;

/// How long a placed call may ring (the media service's default).
const PLACE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The largest `sessionReferenceId`, serialized.
const MAX_SESSION_REF: usize = 1024;
/// At most this many `crypto` elements are read.
const MAX_CRYPTO: usize = 8;

pub(super) fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, CuaError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(CuaError::bad(format!("{key} must be a string"))),
    }
}

fn required<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, CuaError> {
    text(m, key)?.ok_or_else(|| CuaError::bad(format!("{key} is required")))
}

/// `codec`: PCMU or PCMA (PCMU when absent). GSM is named but not carried.
pub(super) fn codec(m: &Map<String, Value>) -> Result<AudioCodec, CuaError> {
    match text(m, "codec")?.map(str::to_ascii_uppercase).as_deref() {
        None | Some("PCMU") => Ok(AudioCodec::Pcmu),
        Some("PCMA") => Ok(AudioCodec::Pcma),
        Some(other) => Err(CuaError::new(
            400,
            "codec_unsupported",
            format!("codec {other} is not supported: use PCMU or PCMA"),
        )),
    }
}

/// `receiveIp`/`receivePort`, allowed by `[policy]`.
pub(super) fn receive_addr(state: &State, m: &Map<String, Value>) -> Result<SocketAddr, CuaError> {
    let ip: IpAddr = required(m, "receiveIp")?
        .trim()
        .parse()
        .map_err(|_| CuaError::bad("receiveIp must be an IP address"))?;
    let port = match m.get("receivePort") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|p| (1..=65_535).contains(p))
    .ok_or_else(|| CuaError::bad("receivePort must be a port number (1-65535)"))?;
    state.engine.check_media_address(ip).map_err(|r| {
        CuaError::new(
            403,
            "forbidden",
            format!("receiveIp refused by the media policy ({:?})", r.class),
        )
    })?;
    Ok(SocketAddr::new(ip, port as u16))
}

/// `telephoneEventPayloadType`: a dynamic payload type (96-127), 101 when absent.
pub(super) fn event_pt(m: &Map<String, Value>) -> Result<u8, CuaError> {
    match m.get("telephoneEventPayloadType") {
        None | Some(Value::Null) => Ok(DEVICE_EVENT_PT),
        Some(v) => v
            .as_u64()
            .filter(|p| (96..=127).contains(p))
            .map(|p| p as u8)
            .ok_or_else(|| CuaError::bad("telephoneEventPayloadType must be 96-127")),
    }
}

/// The device's first usable `crypto` element (its own key), if it sent any.
pub(super) fn device_crypto(
    m: &Map<String, Value>,
) -> Result<Option<engine::media::sdp::crypto::CryptoAttr>, CuaError> {
    let list = match m.get("crypto") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(a)) if a.is_empty() => return Ok(None),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(CuaError::bad("crypto must be an array")),
    };
    list.iter()
        .take(MAX_CRYPTO)
        .find_map(crypto_of)
        .map(Some)
        .ok_or_else(|| {
            CuaError::bad(
                "no usable crypto: AES_CM_128_HMAC_SHA1_80 or _32 with inline:<30-byte key>",
            )
        })
}

pub(super) fn session_ref(m: &Map<String, Value>) -> Result<Option<Value>, CuaError> {
    match m.get("sessionReferenceId") {
        None | Some(Value::Null) => Ok(None),
        Some(v) if v.to_string().len() <= MAX_SESSION_REF => Ok(Some(v.clone())),
        Some(_) => Err(CuaError::bad(
            "sessionReferenceId is too large (1 KiB at most)",
        )),
    }
}

/// A From user part: 1-64 of RFC 3261's user characters that need no escaping.
fn valid_user(u: &str) -> bool {
    (1..=64).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/#".contains(&b))
}

/// Where `destinationUri` leads for the domain's app: one of its endpoints, a number
/// through a trunk, or another SIP address (dialled under the egress policy).
fn destination(
    state: &State,
    app: &App,
    uri: &str,
) -> Result<(Destination, Option<String>), CuaError> {
    let uri = uri.trim();
    if uri.len() > 256
        || uri
            .bytes()
            .any(|b| b.is_ascii_control() || b" <>\"".contains(&b))
    {
        return Err(CuaError::bad("destinationUri is not a SIP URI"));
    }
    let number = |s: &str| {
        let digits = s.strip_prefix('+').unwrap_or(s);
        ((1..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.to_string())
    };
    let Some(rest) = uri.strip_prefix("sip:") else {
        return number(uri.strip_prefix("tel:").unwrap_or(uri))
            .map(|d| (Destination::Pstn(d), None))
            .ok_or_else(|| CuaError::bad("destinationUri must be a sip: URI or a number"));
    };
    let (user, host) = rest
        .split_once('@')
        .ok_or_else(|| CuaError::bad("destinationUri needs a user and a host"))?;
    let host = host
        .split([';', '?', ':'])
        .next()
        .unwrap_or(host)
        .to_ascii_lowercase();
    let own = host == app.domain || state.engine.domains.is_own(&host);
    if !own {
        return Ok((Destination::SipUri(uri.to_string()), None));
    }
    if host == app.domain && state.engine.directory.endpoint(app, user).is_ok() {
        return Ok((
            Destination::SipUser(user.to_string()),
            Some(app.domain.clone()),
        ));
    }
    if let Some(d) = number(user) {
        return Ok((Destination::Pstn(d), None));
    }
    Err(CuaError::new(
        403,
        "forbidden",
        "destinationUri is not an endpoint of this domain's app",
    ))
}

fn callback_base(
    state: &State,
    d: &CloudUaDomain,
    m: &Map<String, Value>,
) -> Result<String, CuaError> {
    let base = match text(m, "callbackBaseUrl")? {
        Some(u) => u.trim().to_string(),
        None => d
            .callback_base_url
            .clone()
            .ok_or_else(|| CuaError::bad("callbackBaseUrl is required (the domain has none)"))?,
    };
    state
        .engine
        .check_app_url(&base)
        .map_err(|_| CuaError::new(403, "forbidden", "callbackBaseUrl refused by [policy]"))?;
    Ok(base)
}

fn app_of(state: &State, d: &CloudUaDomain) -> Result<App, CuaError> {
    state
        .engine
        .directory
        .app(d.app)
        .ok()
        .flatten()
        .ok_or_else(|| CuaError::new(503, "unavailable", "the domain's app is gone"))
}

pub(super) async fn place(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, CuaError> {
    let d = authorize(&state, &req)?;
    let m = body(payload).await?;
    let app = app_of(&state, &d)?;
    let dest_uri = required(&m, "destinationUri")?.trim().to_string();
    let source = required(&m, "sourceUser")?.trim().to_string();
    if !valid_user(&source) {
        return Err(CuaError::bad("sourceUser must be 1-64 SIP user characters"));
    }
    let codec = codec(&m)?;
    let rtp = receive_addr(&state, &m)?;
    let event_pt = event_pt(&m)?;
    let crypto = device_crypto(&m)?;
    let session_ref = session_ref(&m)?;
    let base = callback_base(&state, &d, &m)?;
    let (to, domain) = destination(&state, &app, &dest_uri)?;
    let our_key = MasterKey::new(rand::random());
    let (srtp, answer_crypto) = match &crypto {
        Some(c) => (
            Some(Box::new(LegKeys {
                suite: c.suite,
                inbound: c.key.clone(),
                outbound: our_key.clone(),
            })),
            Some(json!([{
                "suite": c.suite.name(),
                "id": c.tag,
                "config": format!("inline:{}", base64_key(&our_key)),
            }])),
        ),
        None => (None, None),
    };
    let reply_id = engine::directory::new_secret(&mut rand::thread_rng());
    let session = Session {
        domain: d.name.clone(),
        reply_id: reply_id.clone(),
        session_ref,
        callback_base: Some(base),
        placed: true,
        source_user: source.clone(),
        destination_uri: dest_uri,
        sip_call_id: None,
        device_codec: Some(codec),
        our_key,
        answer_crypto,
        b: None,
        a_codec: None,
    };
    let placement = LivePlacement {
        setup: LiveSetup {
            auto_answer: true,
            call_timeout: PLACE_TIMEOUT,
            answer_timeout: None,
            ring_at_once: true,
            device: Some(DeviceMedia {
                rtp,
                codec,
                event_pt,
                srtp,
            }),
        },
        user: None,
        callback: None,
        tag: None,
        shown: None,
        cloudua: Some(Box::new(session)),
    };
    let placed = state
        .engine
        .place_live(
            app,
            LivePlaceRequest {
                from: source,
                to,
                domain,
                headers: Vec::new(),
                placement,
            },
        )
        .await;
    match placed {
        Ok(id) => Ok(ok(json!({"callId": id, "replyId": reply_id}))),
        Err(PlaceCallError::Limit) => Err(CuaError::new(
            503,
            "call_limit",
            "the app's concurrent call limit is reached",
        )),
        Err(_) => Err(CuaError::new(
            503,
            "unavailable",
            "calls cannot be placed now",
        )),
    }
}

fn base64_key(k: &MasterKey) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(k.as_bytes())
}
