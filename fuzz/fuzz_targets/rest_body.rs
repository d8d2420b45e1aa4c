//! REST request bodies on arbitrary bytes: the api crate's body reader and property helpers,
//! read the way the routes read them (endpoint API and `pcmo_make_call`). Property: never a
//! panic; every failure is an `ApiError` with an HTTP status.
#![no_main]

use actix_web::ResponseError;
use api::body::{number, object, opt_number, opt_string, string};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let body = match object(data) {
        Ok(b) => b,
        Err(e) => {
            let _ = e.error_response();
            return;
        }
    };
    for key in ["appid", "page", "duration"] {
        if let Err(e) = number(&body, key) {
            let _ = e.error_response();
        }
        let _ = opt_number(&body, key);
    }
    for key in ["secret", "username", "password", "answer_url"] {
        let _ = string(&body, key);
        if let Ok(Some(u)) = opt_string(&body, key) {
            let _ = engine::directory::check_url(u);
        }
    }
    if let Some(v) = body.get("pcmo") {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = pcmo::Script::parse(&text);
    }
});
