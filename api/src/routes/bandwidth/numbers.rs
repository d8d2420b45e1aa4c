//! `/phoneNumbers`: the numbers the operator assigned to the user's applications
//! (`ringmaster number add`), in Bandwidth's shape; an application may move a number among
//! its user's applications. Ordering and releasing numbers is the operator's job: 403
//! `number-ordering-unavailable`.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::store::Number;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{iso8601, ok_empty, paged, BwJson, Page};
use super::{BwError, BwUser};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/phoneNumbers", web::get().to(list))
        .route("/phoneNumbers", web::post().to(order))
        .route("/phoneNumbers/{numberId}", web::get().to(get))
        .route("/phoneNumbers/{numberId}", web::post().to(update))
        .route("/phoneNumbers/{numberId}", web::delete().to(order));
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberBody {
    name: Option<String>,
    application_id: Option<String>,
}

/// `n-{digits}`: a number's id.
pub fn number_id(n: &Number) -> String {
    format!("n-{}", n.number)
}

/// North American numbers as `(NXX) NXX-XXXX`, others as they are dialled in E.164.
fn national(digits: &str) -> String {
    match digits.strip_prefix('1') {
        Some(rest) if rest.len() == 10 => {
            format!("({}) {}-{}", &rest[..3], &rest[3..6], &rest[6..])
        }
        _ => format!("+{digits}"),
    }
}

pub fn render(n: &Number) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(number_id(n)));
    m.insert("number".into(), json!(format!("+{}", n.number)));
    m.insert("nationalNumber".into(), json!(national(&n.number)));
    if let Some(name) = &n.name {
        m.insert("name".into(), json!(name));
    }
    m.insert("applicationId".into(), json!(format!("a-{}", n.app)));
    m.insert("createdTime".into(), json!(iso8601(n.created_at)));
    Value::Object(m)
}

fn own_number(state: &State, user: &BwUser, id: &str) -> Result<Number, BwError> {
    // `n-{digits}`, or the number itself (`+15554443333`: node-bandwidth's `get` takes either).
    let digits = id
        .strip_prefix("n-")
        .or_else(|| id.strip_prefix('+'))
        .unwrap_or(id);
    Ok(state.engine.bandwidth.number(&user.account, digits)?)
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    page: Page,
    req: HttpRequest,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, BwError> {
    let mut numbers = state.engine.bandwidth.numbers(&user.account)?;
    // The one filter that means something here: `applicationId`.
    if let Some((_, app)) = query.iter().find(|(k, _)| k == "applicationId") {
        numbers.retain(|n| &format!("a-{}", n.app) == app);
    }
    Ok(paged(&req, page, numbers, render))
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    Ok(HttpResponse::Ok().json(render(&own_number(&state, &user, &path.1)?)))
}

async fn update(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    BwJson(body): BwJson<NumberBody>,
) -> Result<HttpResponse, BwError> {
    let mut n = own_number(&state, &user, &path.1)?;
    if let Some(shown) = &body.application_id {
        let app = state
            .engine
            .bandwidth
            .owned_app(&user.account, shown)
            .map_err(|_| {
                BwError::bad_request(
                    "invalid-application-id",
                    "applicationId is not one of your applications",
                )
                .detail("applicationId", shown.as_str())
            })?;
        n.app = app.id;
    }
    if let Some(name) = body.name {
        n.name = Some(name);
    }
    state.engine.bandwidth.update_number(&n).await?;
    Ok(ok_empty())
}

/// Ordering (POST) and releasing (DELETE) numbers: the operator's job here.
async fn order(_user: BwUser) -> Result<HttpResponse, BwError> {
    Err(BwError::forbidden(
        "number-ordering-unavailable",
        "Numbers are assigned by the operator (ringmaster number add); \
         ordering and releasing numbers is not available through this API",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_bandwidth_shape() {
        let n = Number {
            number: "15554443333".into(),
            app: engine::store::AppId(1234567),
            created_at: 1_402_699_025,
            name: Some("front".into()),
        };
        let v = render(&n);
        assert_eq!(v["id"], "n-15554443333");
        assert_eq!(v["number"], "+15554443333");
        assert_eq!(v["nationalNumber"], "(555) 444-3333");
        assert_eq!(v["applicationId"], "a-1234567");
        assert_eq!(v["createdTime"], "2014-06-13T22:37:05Z");
        assert_eq!(national("4930555000"), "+4930555000");
    }
}
