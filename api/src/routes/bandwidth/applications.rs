//! `/applications`: a Bandwidth application is an app whose calls are driven live
//! (`incomingcall` callback, then REST). Ids are `a-{appid}`.
//!
//! `incomingMessage*` fields are accepted and ignored (messaging is out of scope).

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::bandwidth::{AppChange, LiveAppChange};
use engine::store::{App, CallbackMethod};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{created, lenient_bool, lenient_u64, ok_empty, paged, BwJson, Page};
use super::{BwError, BwUser};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/applications", web::get().to(list))
        .route("/applications", web::post().to(create))
        .route("/applications/{appId}", web::get().to(get))
        .route("/applications/{appId}", web::post().to(update))
        .route("/applications/{appId}", web::delete().to(delete));
}

/// The request body of create and update.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppBody {
    name: Option<String>,
    incoming_call_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    incoming_call_url_callback_timeout: Option<u64>,
    incoming_call_fallback_url: Option<String>,
    callback_http_method: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    auto_answer: Option<bool>,
}

impl AppBody {
    fn change(self, state: &State) -> Result<AppChange, BwError> {
        for url in [&self.incoming_call_url, &self.incoming_call_fallback_url]
            .into_iter()
            .flatten()
        {
            check_callback_url(state, url)?;
        }
        let callback_method = match self.callback_http_method.as_deref() {
            None => None,
            Some(m) if m.eq_ignore_ascii_case("get") => Some(CallbackMethod::Get),
            Some(m) if m.eq_ignore_ascii_case("post") => Some(CallbackMethod::Post),
            Some(_) => {
                return Err(BwError::bad_request(
                    "invalid-request",
                    "callbackHttpMethod must be GET or POST",
                ))
            }
        };
        let timeout = match self.incoming_call_url_callback_timeout {
            None => None,
            Some(ms) => Some(u32::try_from(ms).map_err(|_| {
                BwError::bad_request(
                    "invalid-request",
                    "incomingCallUrlCallbackTimeout must be at most 10000 ms",
                )
            })?),
        };
        Ok(AppChange {
            name: self.name,
            live: LiveAppChange {
                incoming_call_url: self.incoming_call_url,
                incoming_call_timeout_ms: timeout,
                incoming_call_fallback_url: self.incoming_call_fallback_url,
                callback_method,
                auto_answer: self.auto_answer,
            },
        })
    }
}

/// An app-supplied callback URL must pass the engine's egress `[policy]` when it is written
/// (and again when it is used): 400 `callback-invalid-url` otherwise.
pub fn check_callback_url(state: &State, url: &str) -> Result<(), BwError> {
    state.engine.check_app_url(url).map_err(|e| {
        BwError::bad_request(
            "callback-invalid-url",
            format!("{url:?} is not allowed: {e}"),
        )
        .detail("url", url)
    })
}

/// The Bandwidth view of an application.
pub fn render(app: &App) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(app.bandwidth_id()));
    m.insert("name".into(), json!(app.name));
    match &app.live {
        Some(live) => {
            m.insert("incomingCallUrl".into(), json!(live.incoming_call_url));
            if let Some(ms) = live.incoming_call_timeout_ms {
                m.insert("incomingCallUrlCallbackTimeout".into(), json!(ms));
            }
            if let Some(url) = &live.incoming_call_fallback_url {
                m.insert("incomingCallFallbackUrl".into(), json!(url));
            }
            let method = match live.callback_method {
                CallbackMethod::Get => "get",
                CallbackMethod::Post => "post",
            };
            m.insert("callbackHttpMethod".into(), json!(method));
            m.insert("autoAnswer".into(), json!(live.auto_answer));
        }
        // A PIOPIY app the operator gave this user: its answer URL runs PCMO.
        None => {
            m.insert("incomingCallUrl".into(), json!(app.answer_url));
            m.insert("autoAnswer".into(), json!(true));
        }
    }
    Value::Object(m)
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    page: Page,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let apps = state.engine.bandwidth.applications(&user.account)?;
    Ok(paged(&req, page, apps, render))
}

async fn create(
    state: web::Data<State>,
    user: BwUser,
    BwJson(body): BwJson<AppBody>,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let change = body.change(&state)?;
    let app = state
        .engine
        .bandwidth
        .create_application(&user.account, change)
        .await?;
    Ok(created(&req, &app.bandwidth_id()))
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let app = state.engine.bandwidth.owned_app(&user.account, &path.1)?;
    Ok(HttpResponse::Ok().json(render(&app)))
}

async fn update(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    BwJson(body): BwJson<AppBody>,
) -> Result<HttpResponse, BwError> {
    let app = own_application(&state, &user, &path.1)?;
    let change = body.change(&state)?;
    state
        .engine
        .bandwidth
        .update_application(app, &change)
        .await?;
    Ok(ok_empty())
}

async fn delete(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let app = own_application(&state, &user, &path.1)?;
    state.engine.bandwidth.delete_application(&app).await?;
    Ok(ok_empty())
}

/// Only the user's own Bandwidth applications change through this API; a PIOPIY app it was
/// given is read-only here (404 like any other id, so nothing about it leaks).
fn own_application(state: &State, user: &BwUser, shown: &str) -> Result<App, BwError> {
    let app = state.engine.bandwidth.owned_app(&user.account, shown)?;
    if app.account.as_deref() != Some(user.id()) || app.live.is_none() {
        return Err(BwError::not_found("application"));
    }
    Ok(app)
}
