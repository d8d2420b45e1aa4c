//! `benchkit live`: REST-driven calls, as a Bandwidth v1 app drives them, against a running
//! ringmaster. One cycle: two calls created (`POST /calls` to two endpoints a SIPp phone
//! answers), both `answer` callbacks awaited, the two bridged (`POST /bridges`), both hung up
//! (`POST /calls/{id}` `state: completed`), both `hangup` callbacks awaited. `--concurrency`
//! cycles run at once for `--seconds`; the callbacks come to this process's own HTTP listener.
//!
//! Options: `--api http://127.0.0.1:8080 --user u-… --token t-… --secret … --to-a sip:… --to-b
//! sip:… --callback-listen 127.0.0.1:19100 --concurrency 8 --seconds 5`. Prints one line:
//! `cycles=N failed=F seconds=S cycles_per_s=R p50_ms=… p99_ms=… generator_cpu_pct=…`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::{json, Value};
use tokio::sync::Notify;

use crate::Opts;

/// What the callbacks said of one call so far.
#[derive(Default)]
struct Seen {
    answered: bool,
    ended: bool,
}

#[derive(Default)]
struct Board {
    calls: Mutex<HashMap<String, Seen>>,
    changed: Notify,
}

impl Board {
    fn record(&self, ev: &Value) {
        let (Some(id), Some(kind)) = (ev["callId"].as_str(), ev["eventType"].as_str()) else {
            return;
        };
        let mut calls = self.calls.lock().expect("board");
        let seen = calls.entry(id.to_string()).or_default();
        match kind {
            "answer" => seen.answered = true,
            "hangup" => seen.ended = true,
            _ => return,
        }
        drop(calls);
        self.changed.notify_waiters();
    }

    /// Waits until `done` holds for call `id` (bounded).
    async fn wait(&self, id: &str, done: impl Fn(&Seen) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            if self.calls.lock().expect("board").get(id).is_some_and(&done) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return false;
            }
        }
    }

    fn forget(&self, id: &str) {
        self.calls.lock().expect("board").remove(id);
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
    secret: String,
    callback: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<reqwest::Response> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&self.token, Some(&self.secret))
            .json(&body)
            .send()
            .await?;
        if !r.status().is_success() {
            anyhow::bail!("{path}: HTTP {}", r.status());
        }
        Ok(r)
    }

    async fn create(&self, to: &str) -> anyhow::Result<String> {
        let r = self
            .post(
                "/calls",
                json!({"from": "+15550001111", "to": to, "callbackUrl": self.callback}),
            )
            .await?;
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| anyhow::anyhow!("no Location"))?;
        Ok(location.rsplit('/').next().unwrap_or_default().to_string())
    }

    async fn cycle(&self, board: &Board, a: &str, b: &str) -> anyhow::Result<()> {
        let (x, y) = tokio::try_join!(self.create(a), self.create(b))?;
        for id in [&x, &y] {
            if !board.wait(id, |s| s.answered).await {
                anyhow::bail!("{id} not answered");
            }
        }
        self.post("/bridges", json!({"callIds": [x, y], "bridgeAudio": true}))
            .await?;
        let hang = json!({"state": "completed"});
        let (px, py) = (format!("/calls/{x}"), format!("/calls/{y}"));
        tokio::try_join!(self.post(&px, hang.clone()), self.post(&py, hang.clone()))?;
        for id in [&x, &y] {
            if !board.wait(id, |s| s.ended).await {
                anyhow::bail!("{id} not hung up");
            }
            board.forget(id);
        }
        Ok(())
    }
}

/// This process's CPU time so far (user + system), from `/proc/self/stat` (Linux; 100 ticks
/// per second, the kernel's USER_HZ on every Linux we run on), so the generator's own load is
/// reported beside the server's.
fn own_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let listen = opts.req("callback-listen")?.to_string();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        base: format!("{}/v1/users/{}", opts.req("api")?, opts.req("user")?),
        token: opts.req("token")?.to_string(),
        secret: opts.req("secret")?.to_string(),
        callback: format!("http://{listen}/cb"),
    });
    let (a, b) = (opts.req("to-a")?.to_string(), opts.req("to-b")?.to_string());
    let concurrency: usize = opts.num("concurrency", 4)?;
    let seconds: f64 = opts.num("seconds", 5.0)?;
    let board = Arc::new(Board::default());
    actix_web::rt::System::new().block_on(async move {
        let sink = board.clone();
        let server = HttpServer::new(move || {
            let sink = sink.clone();
            App::new().default_service(web::to(move |body: web::Bytes| {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    sink.record(&v);
                }
                async { HttpResponse::Ok().finish() }
            }))
        })
        .workers(1)
        .bind(&listen)?
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let until = Instant::now() + Duration::from_secs_f64(seconds);
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, board, a, b) = (client.clone(), board.clone(), a.clone(), b.clone());
            tasks.push(actix_web::rt::spawn(async move {
                let (mut ok, mut failed, mut times) = (0u64, 0u64, Vec::new());
                while Instant::now() < until {
                    let t = Instant::now();
                    match client.cycle(&board, &a, &b).await {
                        Ok(()) => {
                            ok += 1;
                            times.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(e) => {
                            failed += 1;
                            eprintln!("cycle failed: {e}");
                        }
                    }
                }
                (ok, failed, times)
            }));
        }
        let (mut ok, mut failed, mut times) = (0u64, 0u64, Vec::new());
        for t in tasks {
            let (o, f, ts) = t.await?;
            ok += o;
            failed += f;
            times.extend(ts);
        }
        let wall = start.elapsed().as_secs_f64();
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| {
            times
                .get(((times.len() as f64 * p) as usize).min(times.len().saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "cycles={ok} failed={failed} seconds={wall:.2} cycles_per_s={:.1} p50_ms={:.1} p99_ms={:.1} generator_cpu_pct={:.0}",
            ok as f64 / wall,
            pct(0.5),
            pct(0.99),
            own_cpu_seconds() / wall * 100.0
        );
        handle.stop(true).await;
        anyhow::Ok(())
    })
}
