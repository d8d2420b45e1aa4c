//! REST commands for a call another node owns, forwarded to that node.
//!
//! With several nodes sharing a PostgreSQL store, an app's command for a live call may reach
//! any node; the call runs on one (its actor, its media). The store's live-call index says
//! which; this middleware sends the request unchanged (method, path, query, headers — the
//! app's own credentials included, so the owner authenticates it as usual — and body) to that
//! node's internal listener and answers with its response. The hop is marked with an HMAC
//! under the cluster secret (`X-Ringmaster-Forwarded`), so a forwarded request is never
//! forwarded again and a forged mark is refused.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpResponse};
use futures_util::StreamExt;

use crate::State;

const MARK: &str = "x-ringmaster-forwarded";
/// A forwarded request's mark is accepted this long after it was made.
const MARK_TTL_SECS: u64 = 30;
/// Bodies of the forwarded routes are small JSON documents.
const MAX_BODY: usize = 256 * 1024;
const TIMEOUT: Duration = Duration::from_secs(10);

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the call id of a live-call command is: in the path (Bandwidth
/// `/v1/users/{user}/calls/{callId}…`) or in the JSON body (PIOPIY's actions).
#[derive(Debug, PartialEq, Eq)]
enum CallIn {
    Path(String),
    Body(&'static str),
}

fn call_in(method: &str, path: &str) -> Option<CallIn> {
    let seg: Vec<&str> = path.trim_matches('/').split('/').collect();
    match seg.as_slice() {
        ["v1", "users", _, "calls", id, ..] if !id.is_empty() => Some(CallIn::Path(id.to_string())),
        ["v3", "voice", "pcmo", "transfer"] | ["v3", "voice", "call", "hangup"]
            if method == "POST" =>
        {
            Some(CallIn::Body("call_id"))
        }
        ["v1", "call", "action"] if method == "POST" => Some(CallIn::Body("cmiuuid")),
        _ => None,
    }
}

fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default()
    })
}

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn forward_to_owner(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<State>>().cloned();
    let cluster = state.as_ref().and_then(|s| s.engine.cluster.clone());
    let (Some(state), Some(cluster)) = (state, cluster) else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let method = req.method().to_string();
    let target = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |p| p.to_string());
    if let Some(mark) = req.headers().get(MARK).and_then(|v| v.to_str().ok()) {
        // Already forwarded once: handled here, whatever the index says now.
        let ok = mark.split_once(':').is_some_and(|(t, sig)| {
            t.parse::<u64>()
                .is_ok_and(|t| unix_now().abs_diff(t) <= MARK_TTL_SECS)
                && cluster.sign(&[t, &method, &target]) == sig
        });
        if !ok {
            let resp = HttpResponse::Forbidden().json(serde_json::json!({
                "error": "forbidden", "msg": "invalid forwarding mark"
            }));
            return Ok(req.into_response(resp));
        }
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    }
    let Some(place) = call_in(&method, req.path()) else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    // The body is read here (bounded) and put back for the handler.
    let mut body = web::BytesMut::new();
    if matches!(place, CallIn::Body(_)) {
        let mut payload = req.take_payload();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > MAX_BODY {
                return Ok(req.into_response(HttpResponse::PayloadTooLarge().finish()));
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = body.clone().freeze();
        req.set_payload(actix_web::dev::Payload::from(bytes));
    }
    let id = match place {
        CallIn::Path(id) => Some(id),
        CallIn::Body(field) => serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get(field)?.as_str().map(|s| s.trim().to_string())),
    };
    let owner = match &id {
        Some(id) if state.engine.live.call(id).await.is_none() => state.engine.call_owner(id),
        _ => None,
    };
    let Some(owner) = owner else {
        return next.call(req).await.map(|r| r.map_into_boxed_body());
    };
    let resp = forward(&req, owner, &method, &target, body.freeze(), &cluster).await;
    Ok(req.into_response(resp))
}

async fn forward(
    req: &ServiceRequest,
    owner: SocketAddr,
    method: &str,
    target: &str,
    body: web::Bytes,
    cluster: &engine::actors::backend::Cluster,
) -> HttpResponse {
    let t = unix_now().to_string();
    let mark = format!("{t}:{}", cluster.sign(&[&t, method, target]));
    let Ok(m) = reqwest::Method::from_bytes(method.as_bytes()) else {
        return HttpResponse::MethodNotAllowed().finish();
    };
    let mut out = client()
        .request(m, format!("http://{owner}{target}"))
        .header(MARK, mark)
        .body(body);
    for (name, value) in req.headers() {
        let n = name.as_str();
        if matches!(n, "host" | "content-length" | "connection" | MARK) {
            continue;
        }
        out = out.header(n, value.as_bytes());
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(owner = %owner, error = %e, "forwarding a call command failed");
            return HttpResponse::BadGateway().json(serde_json::json!({
                "error": "owner_unreachable",
                "msg": "the node running this call did not answer",
            }));
        }
    };
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut resp = HttpResponse::build(status);
    for (name, value) in answer.headers() {
        if matches!(
            name.as_str(),
            "content-length" | "connection" | "transfer-encoding"
        ) {
            continue;
        }
        resp.insert_header((name.as_str(), value.as_bytes()));
    }
    match answer.bytes().await {
        Ok(b) => resp.body(b),
        Err(_) => HttpResponse::BadGateway().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_id_is_found_where_each_api_puts_it() {
        assert_eq!(
            call_in("POST", "/v1/users/u1/calls/c-42/audio"),
            Some(CallIn::Path("c-42".into()))
        );
        assert_eq!(
            call_in("GET", "/v1/users/u1/calls/c-42"),
            Some(CallIn::Path("c-42".into()))
        );
        assert_eq!(call_in("POST", "/v1/users/u1/calls"), None);
        assert_eq!(
            call_in("POST", "/v3/voice/call/hangup"),
            Some(CallIn::Body("call_id"))
        );
        assert_eq!(
            call_in("POST", "/v1/call/action"),
            Some(CallIn::Body("cmiuuid"))
        );
        assert_eq!(call_in("GET", "/v1/call/action"), None);
        assert_eq!(call_in("POST", "/v1/pcmo_make_call"), None);
    }
}
