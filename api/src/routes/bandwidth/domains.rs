//! `/domains`: a user's SIP domains (`{name}.{[bandwidth] domain_suffix}`), at most 100 each.
//! Deleting a domain deletes its endpoints (and their registrations).

use actix_web::{web, HttpRequest, HttpResponse};
use engine::store::BwDomain;
use serde::Deserialize;
use serde_json::{json, Value};

use super::body::{created, ok_empty, paged, request_url, BwJson, Page};
use super::{BwError, BwUser};
use crate::State;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/domains", web::get().to(list))
        .route("/domains", web::post().to(create))
        .route("/domains/{domainId}", web::get().to(get))
        .route("/domains/{domainId}", web::delete().to(delete));
}

#[derive(Debug, Deserialize)]
pub struct DomainBody {
    name: Option<String>,
    description: Option<String>,
}

/// The Bandwidth view of a domain; `base` is the URL of the `/domains` collection.
pub fn render(d: &BwDomain, base: &str) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "endpoints": format!("{base}/{}/endpoints", d.id),
    })
}

/// The URL of `/v1/users/{userId}/domains` as the client reached it.
fn collection_url(req: &HttpRequest, user: &BwUser) -> String {
    let full = request_url(req);
    let marker = format!("/users/{}/domains", user.id());
    match full.find(&marker) {
        Some(at) => format!("{}{marker}", &full[..at]),
        None => full,
    }
}

async fn list(
    state: web::Data<State>,
    user: BwUser,
    page: Page,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let domains = state.engine.bandwidth.domains(&user.account)?;
    let base = collection_url(&req, &user);
    Ok(paged(&req, page, domains, |d| render(d, &base)))
}

async fn create(
    state: web::Data<State>,
    user: BwUser,
    BwJson(body): BwJson<DomainBody>,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let required = |v: Option<String>, what: &str| {
        v.ok_or_else(|| {
            BwError::bad_request("invalid-request", format!("{what} is required"))
                .detail("field", what)
        })
    };
    let name = required(body.name, "name")?;
    let description = required(body.description, "description")?;
    let d = state
        .engine
        .bandwidth
        .create_domain(&user.account, &name, &description)
        .await?;
    Ok(created(&req, &d.id))
}

async fn get(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
    req: HttpRequest,
) -> Result<HttpResponse, BwError> {
    let d = state.engine.bandwidth.domain(&user.account, &path.1)?;
    Ok(HttpResponse::Ok().json(render(&d, &collection_url(&req, &user))))
}

async fn delete(
    state: web::Data<State>,
    user: BwUser,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, BwError> {
    let d = state.engine.bandwidth.domain(&user.account, &path.1)?;
    state.engine.bandwidth.remove_domain(&d).await?;
    Ok(ok_empty())
}
