//! One delivery attempt: a signed POST, classified for the retry policy.

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};

use super::OutboxConfig;
use crate::store::Delivery;
use crate::webhook::retry::{parse_retry_after, Outcome};
use crate::webhook::sign::{signature, ATTEMPT_HEADER, DELIVERY_ID_HEADER, SIGNATURE_HEADER};

/// Most response body bytes read (and thrown away) so the connection can be reused.
const DRAIN_LIMIT: usize = 64 * 1024;

/// How an attempt went, for the worker.
#[derive(Debug)]
pub(super) struct Attempted {
    pub seq: u64,
    pub id: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    pub outcome: Outcome,
    /// For the log: the status or the transport error.
    pub detail: String,
}

/// The client every attempt shares: the timeouts, no redirects (a redirected POST would turn
/// into a GET without its body), a `User-Agent` naming us.
pub(super) fn client(config: &OutboxConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ringmaster/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// POSTs `d` signed with `secret` at `t` (Unix seconds). Never fails: every error is an
/// [`Outcome`].
pub(super) async fn post(http: reqwest::Client, d: Delivery, secret: String, t: u64) -> Attempted {
    let attempt = d.attempt + 1;
    let request = http
        .post(&d.url)
        .header(CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(&secret, t, d.body.as_bytes()))
        .header(DELIVERY_ID_HEADER, &d.id)
        .header(ATTEMPT_HEADER, attempt)
        .body(d.body);
    let (outcome, detail) = match request.send().await {
        Ok(mut response) => {
            let code = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, t));
            let mut read = 0;
            while let Ok(Some(chunk)) = response.chunk().await {
                read += chunk.len();
                if read > DRAIN_LIMIT {
                    break;
                }
            }
            (
                Outcome::Status { code, retry_after },
                format!("HTTP {code}"),
            )
        }
        Err(e) => {
            let outcome = if e.is_builder() {
                Outcome::Unsendable
            } else if e.is_timeout() {
                Outcome::TimedOut
            } else if e.is_connect() {
                Outcome::ConnectFailed
            } else {
                Outcome::Transport
            };
            (outcome, error_chain(&e))
        }
    };
    Attempted {
        seq: d.seq,
        id: d.id,
        attempt,
        outcome,
        detail,
    }
}

/// An error and its causes on one line ("error sending request: ... Connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
