//! `benchkit provision --http http://127.0.0.1:8080 --appid N --secret S --count 10000
//! [--prefix u] [--password-prefix pass-] [--concurrency 32]`: adds users `u1..uN` with
//! passwords `pass-u1..`; prints how long it took. An existing user (400 username_exists) counts
//! as done, so a rerun is harmless.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::Opts;

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let base = opts.req("http")?.trim_end_matches('/').to_string();
    let appid: u64 = opts.req("appid")?.parse()?;
    let secret = opts.req("secret")?.to_string();
    let count: usize = opts.num("count", 10_000)?;
    let prefix = opts.get("prefix").unwrap_or("u").to_string();
    let pw_prefix = opts.get("password-prefix").unwrap_or("pass-").to_string();
    let concurrency: usize = opts.num("concurrency", 32)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    let failed = rt.block_on(async move {
        let client = reqwest::Client::new();
        let next = Arc::new(AtomicUsize::new(1));
        let failed = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (client, next, failed) = (client.clone(), next.clone(), failed.clone());
            let (base, secret, prefix, pw_prefix) = (
                base.clone(),
                secret.clone(),
                prefix.clone(),
                pw_prefix.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i > count {
                        break;
                    }
                    let user = format!("{prefix}{i}");
                    let body = json!({"appid": appid, "secret": secret, "username": user,
                                      "password": format!("{pw_prefix}{user}")});
                    let why = match client
                        .post(format!("{base}/v1/endpoint/add_sip"))
                        .json(&body)
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => None,
                        Ok(r) => {
                            let status = r.status();
                            let text = r.text().await.unwrap_or_default();
                            (!text.contains("username_exists")).then(|| format!("{status} {text}"))
                        }
                        Err(e) => Some(e.to_string()),
                    };
                    if let Some(why) = why {
                        if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                            eprintln!("add_sip {user}: {why}");
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        failed.load(Ordering::Relaxed)
    });
    let secs = started.elapsed().as_secs_f64();
    println!(
        "provisioned {count} endpoints in {secs:.1} s ({:.0}/s), {failed} failed",
        count as f64 / secs
    );
    if failed > 0 {
        anyhow::bail!("{failed} endpoints could not be added");
    }
    Ok(())
}
