//! Cloud SIP UA callbacks on the wire: each device call has one delivery task that POSTs its
//! callbacks to `{callbackBaseUrl}/{name}` in order (a device must see `callAnswered` before
//! `callHungup`), each signed like every webhook and tried up to [`TRIES`] times with a
//! doubling pause. `newRemoteCall` goes the same way (directly, not through the durable
//! outbox: its answer may carry the `sessionReferenceId`, which the task then copies into
//! the session's later callbacks and reports to the live-call table).
//!
//! Bounds: [`QUEUE`] callbacks wait per call (past it they are dropped and logged); each try
//! is bounded by [`TIMEOUT`]; a task ends when its call has ended and its queue is empty.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;
use serde_json::Value;

use super::clock::unix_now;
use super::egress::AppHttp;

/// Tries per callback.
pub const TRIES: u32 = 4;
/// The first pause between tries (then doubled).
pub const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// Callbacks waiting per call.
pub const QUEUE: usize = 64;
/// One try's limit.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer body read from a device's callback server.
const MAX_ANSWER: usize = 64 * 1024;

/// A device's answer set the session's `sessionReferenceId`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SessionRefSet {
    pub call: String,
    pub value: Value,
}

struct Job {
    url: String,
    name: &'static str,
    body: Value,
}

/// The delivery tasks of the device calls in progress.
#[derive(Default)]
pub struct DeviceCallbacks {
    queues: HashMap<String, tokio::sync::mpsc::Sender<Job>>,
}

impl DeviceCallbacks {
    /// Queues `name` with `body` for call `call`, starting its task if needed.
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        call: &str,
        base: &str,
        name: &'static str,
        body: Value,
        secret: String,
        http: &AppHttp,
        table: Recipient<SessionRefSet>,
    ) {
        let url = format!("{}/{name}", base.trim_end_matches('/'));
        let tx = self.queues.entry(call.to_string()).or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
            actix::spawn(deliver(rx, http.clone(), secret, call.to_string(), table));
            tx
        });
        if tx.try_send(Job { url, name, body }).is_err() {
            tracing::warn!(%call, callback = name, "device callback dropped: queue full");
        }
    }

    /// The call ended: its task ends once its queue is sent.
    pub fn finished(&mut self, call: &str) {
        self.queues.remove(call);
    }
}

async fn deliver(
    mut rx: tokio::sync::mpsc::Receiver<Job>,
    http: AppHttp,
    secret: String,
    call: String,
    table: Recipient<SessionRefSet>,
) {
    let mut session_ref: Option<Value> = None;
    while let Some(job) = rx.recv().await {
        let mut body = job.body;
        if let (Some(r), Some(obj)) = (&session_ref, body.as_object_mut()) {
            obj.entry("sessionReferenceId").or_insert_with(|| r.clone());
        }
        let mut pause = FIRST_PAUSE;
        for attempt in 1..=TRIES {
            match post(&http, &job.url, &secret, &body).await {
                Ok(answer) => {
                    let chosen = (job.name == "newRemoteCall")
                        .then(|| answer.get("sessionReferenceId").cloned())
                        .flatten()
                        .filter(|v| !v.is_null());
                    if let Some(v) = chosen {
                        session_ref = Some(v.clone());
                        table.do_send(SessionRefSet {
                            call: call.clone(),
                            value: v,
                        });
                    }
                    break;
                }
                Err(why) => {
                    tracing::info!(%call, callback = job.name, attempt, why, "device callback not delivered");
                    if attempt < TRIES {
                        tokio::time::sleep(pause).await;
                        pause *= 2;
                    }
                }
            }
        }
    }
}

/// One try: the device's JSON answer (`null` when it is not JSON).
async fn post(
    http: &AppHttp,
    url: &str,
    secret: &str,
    body: &Value,
) -> Result<Value, &'static str> {
    http.check(url)
        .map_err(|_| "refused by the egress policy")?;
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let sig = crate::webhook::signature(secret, unix_now(), &bytes);
    let mut resp = http
        .client()
        .post(url)
        .header("content-type", "application/json")
        .header(crate::webhook::sign::SIGNATURE_HEADER, sig)
        .body(bytes)
        .timeout(TIMEOUT)
        .send()
        .await
        .map_err(|_| "unreachable or too slow")?;
    if !resp.status().is_success() {
        return Err("answered an error status");
    }
    // Read at most MAX_ANSWER bytes: a device's server cannot make us buffer more.
    let mut answer = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|_| "answer cut short")? {
        if answer.len() + chunk.len() > MAX_ANSWER {
            return Ok(Value::Null);
        }
        answer.extend_from_slice(&chunk);
    }
    Ok(serde_json::from_slice(&answer).unwrap_or(Value::Null))
}
