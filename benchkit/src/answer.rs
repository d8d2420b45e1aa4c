//! `benchkit answer --listen 127.0.0.1:9000 [--user bob] [--workers 1] [--stream WS_URL]`: every
//! POST (any path) gets `[{"action":"connect","connect":[{"type":"sip","user":"<user>"}]}]`
//! (or `[{"action":"stream","ws_url":WS_URL}]`); other events are
//! answered 200 and dropped. Prints the number of requests served when stopped (SIGTERM/INT).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use actix_web::{web, App, HttpResponse, HttpServer};

use crate::Opts;

pub fn run(opts: &Opts) -> anyhow::Result<()> {
    let listen = opts.get("listen").unwrap_or("127.0.0.1:9000").to_string();
    let user = opts.get("user").unwrap_or("bob").to_string();
    let workers: usize = opts.num("workers", 1)?;
    // `--stream ws://…`: every call is streamed to that agent instead (the stream benchmark).
    let script = match opts.get("stream") {
        Some(ws) => serde_json::json!([{"action": "stream", "ws_url": ws}]),
        None => {
            serde_json::json!([{"action": "connect", "connect": [{"type": "sip", "user": user}]}])
        }
    }
    .to_string();
    let served = Arc::new(AtomicU64::new(0));
    let counter = served.clone();
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || {
            let script = script.clone();
            let counter = counter.clone();
            // The handler takes the request body: actix-web closes a connection whose body
            // was left unread, and a real app reads the event it is sent (measured: without
            // it every call cost ringmaster a new TCP connection).
            App::new().default_service(web::to(move |_event: web::Bytes| {
                counter.fetch_add(1, Ordering::Relaxed);
                let body = script.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }))
        })
        .workers(workers)
        .bind(&listen)?
        .run()
        .await
    })?;
    println!("answer server: {} requests", served.load(Ordering::Relaxed));
    Ok(())
}
