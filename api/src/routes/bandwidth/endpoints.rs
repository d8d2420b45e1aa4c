//! `/domains/{domainId}/endpoints` and `…/{endpointId}/tokens`: SIP users of a domain.
//! `sipUri` is `sip:{name}@{domain's SIP domain}`, which is also the digest realm.
//! Update is POST (also on `/domains/endpoints/{endpointId}`, as one Bandwidth table draws
//! it); a new password or `enabled:false` drops the endpoint's registrations.

use actix_web::{web, HttpRequest, HttpResponse};
use engine::actors::bandwidth::EndpointChange;
use engine::directory::bandwidth::NewEndpoint;
use engine::store::{AppId, BwDomain, Endpoint};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::body::{created, lenient_bool, lenient_u64, ok_empty, paged, BwJson, Page};
use super::{BwError, BwUser};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/domains/endpoints/{endpointId}",
        web::post().to(update_anywhere),
    )
    .route("/domains/{domainId}/endpoints", web::get().to(list))
    .route("/domains/{domainId}/endpoints", web::post().to(create))
    .route(
        "/domains/{domainId}/endpoints/{endpointId}",
        web::get().to(get),
    )
    .route(
        "/domains/{domainId}/endpoints/{endpointId}",
        web::post().to(update),
    )
    .route(
        "/domains/{domainId}/endpoints/{endpointId}",
        web::delete().to(delete),
    )
    .route(
        "/domains/{domainId}/endpoints/{endpointId}/tokens",
        web::post().to(create_token),
    );
}

#[derive(Debug, Deserialize)]
pub struct Credentials {
    password: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointBody {
    name: Option<String>,
    description: Option<String>,
    domain_id: Option<String>,
    application_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    enabled: Option<bool>,
    credentials: Option<Credentials>,
}

#[derive(Debug, Deserialize)]
pub struct TokenBody {
    #[serde(default, deserialize_with = "lenient_u64")]
    expires: Option<u64>,
}

/// The Bandwidth view of an endpoint.
pub fn render(ep: &Endpoint) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(ep.id));
    m.insert("name".into(), json!(ep.username));
    if let Some(d) = &ep.description {
        m.insert("description".into(), json!(d));
    }
    m.insert("domainId".into(), json!(ep.bw_domain));
    if let Some(app) = ep.app {
        m.insert("applicationId".into(), json!(format!("a-{app}")));
    }
    m.insert("enabled".into(), json!(ep.enabled));
    m.insert(
        "sipUri".into(),
        json!(format!("sip:{}@{}", ep.username, ep.domain)),
    );
    m.insert(
        "credentials".into(),
        json!({ "realm": ep.domain, "username": ep.username }),
    );
    Value::Object(m)
}

/// The app an `applicationId` names, when it is one the user may use (400 otherwise, with the
/// same message for another user's and an unknown one).
fn application(state: &State, user: &BwUser, shown: &str) -> Result<AppId, BwError> {
    state
        .engine
        .bandwidth
        .owned_app(&user.account, shown)
        .map(|a| a.id)
        .map_err(|_| {
            BwError::bad_request(
                "invalid-application-id",
                "applicationId is not one of your applications",
            )
            .detail("applicationId", shown)
        })
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    page: Page,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let d = state.engine.bandwidth.domain(&user.account, &path.1)?;
    let eps = state.engine.bandwidth.endpoints(&d)?;
    Ok(paged(&req, page, eps, render))
}

async fn create(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    BwJson(body): BwJson<EndpointBody>,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let d = state.engine.bandwidth.domain(&user.account, &path.1)?;
    if body.domain_id.as_deref().is_some_and(|id| id != d.id) {
        return Err(BwError::bad_request(
            "invalid-request",
            "domainId differs from the domain of the path",
        ));
    }
    let name = body
        .name
        .ok_or_else(|| BwError::bad_request("invalid-request", "name is required"))?;
    let password = body.credentials.and_then(|c| c.password).ok_or_else(|| {
        BwError::bad_request("invalid-request", "credentials.password is required")
    })?;
    let app = match &body.application_id {
        Some(shown) => Some(application(&state, &user, shown)?),
        None => None,
    };
    let new = NewEndpoint {
        name: &name,
        password: &password,
        description: body.description,
        app,
        enabled: body.enabled.unwrap_or(true),
    };
    let ep = state.engine.bandwidth.create_endpoint(&d, &new).await?;
    let id = ep.id.clone().unwrap_or_default();
    Ok(created(&req, &id))
}

fn own_endpoint(
    state: &State,
    user: &BwUser,
    domain_id: &str,
    id: &str,
) -> Result<(BwDomain, Endpoint), BwError> {
    let d = state.engine.bandwidth.domain(&user.account, domain_id)?;
    let ep = state.engine.bandwidth.endpoint(&d, id)?;
    Ok((d, ep))
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, BwError> {
    let (_, ep) = own_endpoint(&state, &user, &path.1, &path.2)?;
    Ok(HttpResponse::Ok().json(render(&ep)))
}

async fn apply(
    state: &State,
    user: &BwUser,
    ep: Endpoint,
    body: EndpointBody,
) -> Result<HttpResponse, BwError> {
    if body.name.as_deref().is_some_and(|n| n != ep.username) {
        return Err(BwError::bad_request(
            "invalid-request",
            "the name of an endpoint cannot change",
        ));
    }
    let app = match &body.application_id {
        None => None,
        // An empty id detaches the endpoint from its application.
        Some(shown) if shown.is_empty() => Some(None),
        Some(shown) => Some(Some(application(state, user, shown)?)),
    };
    let change = EndpointChange {
        description: body.description,
        app,
        enabled: body.enabled,
        password: body.credentials.and_then(|c| c.password),
    };
    state.engine.bandwidth.update_endpoint(ep, &change).await?;
    Ok(ok_empty())
}

async fn update(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
    BwJson(body): BwJson<EndpointBody>,
) -> Result<HttpResponse, BwError> {
    let (_, ep) = own_endpoint(&state, &user, &path.1, &path.2)?;
    apply(&state, &user, ep, body).await
}

/// `POST /domains/endpoints/{endpointId}`: the update path one Bandwidth table shows.
async fn update_anywhere(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    BwJson(body): BwJson<EndpointBody>,
) -> Result<HttpResponse, BwError> {
    let ep = state
        .engine
        .bandwidth
        .domains(&user.account)?
        .iter()
        .find_map(|d| state.engine.bandwidth.endpoint(d, &path.1).ok())
        .ok_or_else(|| BwError::not_found("endpoint"))?;
    apply(&state, &user, ep, body).await
}

async fn delete(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
) -> Result<HttpResponse, BwError> {
    let (_, ep) = own_endpoint(&state, &user, &path.1, &path.2)?;
    state.engine.bandwidth.delete_endpoint(&ep).await?;
    Ok(ok_empty())
}

/// `{"expires": 3600}` → 201 `{"token", "expires"}`: the token is a digest password of the
/// endpoint's username until it expires (REGISTER accepts it like the password).
async fn create_token(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String, String)>,
    BwJson(body): BwJson<TokenBody>,
) -> Result<HttpResponse, BwError> {
    let (_, ep) = own_endpoint(&state, &user, &path.1, &path.2)?;
    let expires = body.expires.unwrap_or(3600);
    let (token, _) = state.engine.bandwidth.create_token(ep, expires).await?;
    Ok(HttpResponse::Created().json(json!({ "token": token, "expires": expires })))
}
