//! A tiny HTTP/1.1 receiver for webhook tests, on 127.0.0.1: records every request (the
//! ringmaster headers, the body, when it came, what it was answered) and answers what the
//! test's rule says, closing each connection after one exchange.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub delivery_id: String,
    pub attempt: u32,
    pub signature: String,
    pub body: String,
    pub at: Instant,
    /// The status it was answered.
    pub status: u16,
}

impl Request {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("webhook bodies are JSON")
    }

    /// `event_id` for events, `cdr/<leg_id>` for CDRs.
    pub fn what(&self) -> String {
        let v = self.json();
        match v["type"].as_str() {
            Some("cdr") => format!("cdr/{}", v["leg_id"].as_str().unwrap_or("")),
            _ => v["event_id"].as_str().unwrap_or("").to_owned(),
        }
    }
}

/// What to answer: a status, and whether to stop listening afterwards (so the next attempts
/// find the port closed: connection refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    StatusThenClose(u16),
}

pub type Rule = Arc<dyn Fn(&Request) -> Reply + Send + Sync>;

pub type Log = Arc<Mutex<Vec<Request>>>;

/// Serves on `listener` until a `StatusThenClose` (or for ever), recording into `log`.
pub fn serve(listener: TcpListener, log: Log, rule: Rule) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            if exchange(stream, &log, &rule).await == Some(true) {
                break;
            }
        }
    })
}

/// A receiver on a fresh port.
pub async fn start(rule: Rule) -> (SocketAddr, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Log::default();
    serve(listener, log.clone(), rule);
    (addr, log)
}

/// Handles one connection; `Some(true)` when the rule said to close the listener.
async fn exchange(mut stream: TcpStream, log: &Log, rule: &Rule) -> Option<bool> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let headers: HashMap<String, String> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers.get("content-length")?.parse().ok()?;
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let header = |name: &str| headers.get(name).cloned().unwrap_or_default();
    let mut request = Request {
        delivery_id: header("x-ringmaster-delivery-id"),
        attempt: header("x-ringmaster-attempt").parse().unwrap_or(0),
        signature: header("x-ringmaster-signature"),
        body: String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string(),
        at: Instant::now(),
        status: 0,
    };
    let reply = rule(&request);
    let (status, close) = match reply {
        Reply::Status(s) => (s, false),
        Reply::StatusThenClose(s) => (s, true),
    };
    request.status = status;
    log.lock().unwrap().push(request);
    let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
    Some(close)
}

/// Waits until `done(log)` holds, at most `limit`.
pub async fn wait_until(
    log: &Log,
    limit: Duration,
    done: impl Fn(&[Request]) -> bool,
) -> Vec<Request> {
    let deadline = Instant::now() + limit;
    loop {
        let seen = log.lock().unwrap().clone();
        if done(&seen) {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "receiver: condition not met within {limit:?}; saw {:?}",
            seen.iter()
                .map(|r| (r.what(), r.attempt, r.status))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Requests answered 2xx.
pub fn delivered(log: &[Request]) -> Vec<&Request> {
    log.iter()
        .filter(|r| (200..300).contains(&r.status))
        .collect()
}
