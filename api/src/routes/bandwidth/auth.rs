//! HTTP Basic `token:secret` of the user named by the `{userId}` path segment.
//!
//! An unknown user id, another user's credentials, a wrong secret and a missing or malformed
//! header all answer the same 401 body, after the same work (the secret's hash is compared
//! against a dummy when the user does not exist). The 401 counts as a failed authentication for
//! the per-address limiter (`crate::limit`), like every 401. An authenticated user is then held
//! to its request rate (`rate`).

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use base64::Engine as _;
use engine::store::{Account, App};

use super::error::BwError;
use crate::State;

/// The authenticated Bandwidth user of a `/v1/users/{userId}/…` request.
#[derive(Debug, Clone)]
pub struct BwUser {
    pub account: Account,
}

impl BwUser {
    /// True when this user may use `app`: its own Bandwidth application, or a PIOPIY app the
    /// operator gave it (`ringmaster user create --app`).
    pub fn owns_app(&self, app: &App) -> bool {
        engine::actors::bandwidth::BandwidthService::owns(&self.account, app)
    }

    /// The user id.
    pub fn id(&self) -> &str {
        &self.account.id
    }
}

/// `(token, secret)` of an `Authorization: Basic …` header.
pub fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (token, secret) = text.split_once(':')?;
    Some((token.to_owned(), secret.to_owned()))
}

fn authenticate(req: &HttpRequest) -> Result<BwUser, BwError> {
    let state = req
        .app_data::<web::Data<State>>()
        .ok_or_else(BwError::internal)?;
    let user_id = req.match_info().get("userId").unwrap_or_default();
    let (token, secret) = basic_credentials(req).unwrap_or_default();
    let account = state
        .engine
        .bandwidth
        .authenticate(user_id, &token, &secret)
        .ok_or_else(BwError::unauthorized)?;
    state
        .bandwidth_rate
        .check(&account.id)
        .map_err(BwError::rate_limited)?;
    Ok(BwUser { account })
}

impl FromRequest for BwUser {
    type Error = BwError;
    type Future = std::future::Ready<Result<Self, BwError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(authenticate(req))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    #[test]
    fn basic_header_parsing() {
        let enc = base64::engine::general_purpose::STANDARD.encode("t-abc:s3cr:et");
        let req = TestRequest::default()
            .insert_header(("Authorization", format!("Basic {enc}")))
            .to_http_request();
        assert_eq!(
            basic_credentials(&req),
            Some(("t-abc".into(), "s3cr:et".into()))
        );
        for bad in ["Bearer x", "Basic !!!", "Basic"] {
            let req = TestRequest::default()
                .insert_header(("Authorization", bad))
                .to_http_request();
            assert_eq!(basic_credentials(&req), None, "{bad}");
        }
    }
}
