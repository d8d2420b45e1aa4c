//! Phone numbers in the admin API: `POST /admin/v1/numbers {number, appid}`,
//! `GET /admin/v1/numbers[?app=APPID]`, `DELETE /admin/v1/numbers/{number}`. Numbers are E.164
//! digits; a leading `+` is accepted and dropped; JSON numbers are accepted as PIOPIY sends them.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::store::{AppId, Number};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::admin::{check_token, parse_appid};
use crate::body::{json_object, number};
use crate::error::ApiError;
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/v1/numbers", web::post().to(add))
        .route("/admin/v1/numbers", web::get().to(list))
        .route("/admin/v1/numbers/{number}", web::delete().to(delete));
}

fn number_json(n: &Number) -> Value {
    json!({ "number": n.number, "appid": n.app.0, "created_at": n.created_at })
}

/// `number` as a string (`"+14155550100"`) or a JSON number (`14155550100`).
fn phone_number(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("number") {
        None | Some(Value::Null) => Err(ApiError::MissingProperty("number")),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.to_string()),
        Some(_) => Err(ApiError::InvalidProperty(
            "number",
            "must be a string of digits or a number",
        )),
    }
}

/// `?app=APPID` (listing filter).
#[derive(Deserialize)]
pub(crate) struct ByApp {
    pub app: Option<String>,
}

impl ByApp {
    pub(crate) fn from_query(query: &str) -> Result<ByApp, ApiError> {
        web::Query::<ByApp>::from_query(query)
            .map(web::Query::into_inner)
            .map_err(|_| ApiError::InvalidProperty("query", "malformed query string"))
    }
}

async fn add(
    state: web::Data<State>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let body = json_object(payload).await?;
    let digits = phone_number(&body)?;
    let app = AppId(number(&body, "appid")?);
    let n = state.engine.numbers.add(&digits, app).await?;
    Ok(HttpResponse::Created().json(number_json(&n)))
}

async fn list(state: web::Data<State>, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let app = match ByApp::from_query(req.query_string())?.app {
        Some(raw) => Some(parse_appid(&raw)?),
        None => None,
    };
    let numbers: Vec<Value> = state
        .engine
        .numbers
        .list(app)?
        .iter()
        .map(number_json)
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "numbers": numbers })))
}

async fn delete(
    state: web::Data<State>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    check_token(&state, &req)?;
    let digits = state.engine.numbers.delete(&path).await?;
    Ok(HttpResponse::Ok().json(json!({ "number": digits, "msg": "Deleted" })))
}
