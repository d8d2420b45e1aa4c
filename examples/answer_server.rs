//! An app's answer-URL and event-URL server, the smallest useful one.
//!
//! ```sh
//! cargo run --example answer_server -- 127.0.0.1:9000 <app secret>
//! ringmaster app create --name demo --answer-url http://127.0.0.1:9000/answer \
//!     --event-url http://127.0.0.1:9000/events
//! ```
//!
//! `POST /answer` gets `{from, to, time, cmiuuid, action, appid, leg}` and returns PCMO: calls
//! to `100` ring the SIP users `alice` and `bob` together for 20 s, twice; anything else rings
//! the dialled user alone, then hangs up. `POST /events` prints each live event and CDR after
//! checking its `X-Ringmaster-Signature` (HMAC-SHA256 of `t "." body` with the app secret).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

struct Secret(String);

async fn answer(body: web::Json<Value>) -> HttpResponse {
    let to = body["to"].to_string().trim_matches('"').to_string();
    println!(
        "answer URL: call {} from {} to {to}",
        body["cmiuuid"], body["from"]
    );
    let script = if to == "100" {
        json!([
            {"action": "connect", "ring_type": "group", "timeout": 20, "loop": 2,
             "call": [{"type": "sip", "user": "alice"}, {"type": "sip", "user": "bob"}]},
            {"action": "hangup"}
        ])
    } else {
        json!([
            {"action": "connect", "timeout": 30, "call": [{"type": "sip", "user": to}]},
            {"action": "hangup"}
        ])
    };
    HttpResponse::Ok().json(script)
}

async fn events(req: HttpRequest, body: web::Bytes, secret: web::Data<Secret>) -> HttpResponse {
    let header = req
        .headers()
        .get("x-ringmaster-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    if engine::webhook::verify(&secret.0, header, &body, now, 300).is_err() {
        println!("event with a bad signature: refused");
        return HttpResponse::Unauthorized().finish();
    }
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match v["type"].as_str() {
        Some("cdr") => println!(
            "CDR   {} leg {} {} {}s",
            v["cmiuuid"], v["leg_id"], v["cdr_kind"], v["duration"]
        ),
        _ => println!("event {} leg {} {}", v["cmiuuid"], v["leg_id"], v["status"]),
    }
    HttpResponse::Ok().finish()
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9000".into());
    let secret = web::Data::new(Secret(args.next().unwrap_or_default()));
    println!("answer URL http://{addr}/answer, event URL http://{addr}/events");
    HttpServer::new(move || {
        App::new()
            .app_data(secret.clone())
            .route("/answer", web::post().to(answer))
            .route("/events", web::post().to(events))
    })
    .bind(addr)?
    .run()
    .await
}
