//! Bandwidth's error shape: `{"category","code","message","details":[{"name","value"}]}`,
//! with the HTTP status Bandwidth uses for each category.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use engine::actors::bandwidth::BandwidthError;
use serde_json::json;

/// One Bandwidth-shaped error. Build it with the constructors; it renders itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {code}: {message}")]
pub struct BwError {
    pub status: StatusCode,
    pub category: &'static str,
    pub code: String,
    pub message: String,
    pub details: Vec<(String, String)>,
    /// `X-RateLimit-Reset` (ms since the epoch) of a 429.
    pub rate_limit_reset: Option<u64>,
}

impl BwError {
    pub fn new(
        status: StatusCode,
        category: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        BwError {
            status,
            category,
            code: code.into(),
            message: message.into(),
            details: Vec::new(),
            rate_limit_reset: None,
        }
    }

    /// 404 `not-found`: `what` (e.g. "domain") does not exist or is not this user's.
    pub fn not_found(what: &str) -> Self {
        BwError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "not-found",
            format!("The {what} was not found"),
        )
        .detail("resource", what)
    }

    /// 400 `bad-request` with Bandwidth's `code` (e.g. `invalid-request`).
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        BwError::new(StatusCode::BAD_REQUEST, "bad-request", code, message)
    }

    /// 401: the same body whether the user exists or not.
    pub fn unauthorized() -> Self {
        BwError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "unauthorized",
            "Invalid or missing credentials",
        )
    }

    /// 403 `forbidden`, for what ringmaster does not offer through this API.
    pub fn forbidden(code: impl Into<String>, message: impl Into<String>) -> Self {
        BwError::new(StatusCode::FORBIDDEN, "forbidden", code, message)
    }

    /// 409 `conflict`.
    pub fn conflict(code: impl Into<String>, message: impl Into<String>) -> Self {
        BwError::new(StatusCode::CONFLICT, "conflict", code, message)
    }

    /// 413: a body past the limit.
    pub fn too_large(limit: usize) -> Self {
        BwError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "bad-request",
            "request-too-large",
            format!("The request body is larger than {limit} bytes"),
        )
    }

    /// 429 `rate-limit-reached`, retry at `reset_ms` (ms since the epoch).
    pub fn rate_limited(reset_ms: u64) -> Self {
        let mut e = BwError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "rate-limit-reached",
            "The rate limit was reached; retry after X-RateLimit-Reset",
        );
        e.rate_limit_reset = Some(reset_ms);
        e
    }

    /// 503: the store failed (its database away, with a shared store); nothing was changed.
    pub fn internal() -> Self {
        BwError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "service-unavailable",
            "storage-unavailable",
            "Storage failure; nothing was changed; retry later",
        )
    }

    /// Adds a `details` entry.
    pub fn detail(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.details.push((name.into(), value.into()));
        self
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let details: Vec<_> = self
            .details
            .iter()
            .map(|(n, v)| json!({ "name": n, "value": v }))
            .collect();
        json!({
            "category": self.category,
            "code": self.code,
            "message": self.message,
            "details": details,
        })
    }
}

impl ResponseError for BwError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut r = HttpResponse::build(self.status);
        if let Some(reset) = self.rate_limit_reset {
            r.insert_header(("X-RateLimit-Reset", reset.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.insert_header(("WWW-Authenticate", "Basic realm=\"ringmaster\""));
        }
        r.json(self.body())
    }
}

impl From<BandwidthError> for BwError {
    fn from(e: BandwidthError) -> Self {
        match e {
            BandwidthError::Invalid(m) => BwError::bad_request("invalid-request", m),
            BandwidthError::NotFound(what) => BwError::not_found(what),
            BandwidthError::DomainNameTaken => {
                BwError::conflict("domain-name-already-exists", e.to_string())
            }
            BandwidthError::EndpointNameTaken => {
                BwError::conflict("endpoint-name-already-exists", e.to_string())
            }
            BandwidthError::DomainLimit => {
                BwError::forbidden("domain-limit-reached", e.to_string())
            }
            BandwidthError::AppHasNumbers => {
                BwError::conflict("application-has-numbers", e.to_string())
            }
            _ => BwError::internal(),
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;

    use super::*;

    #[actix_web::test]
    async fn renders_bandwidth_shape() {
        let r = BwError::not_found("domain").error_response();
        assert_eq!(r.status(), 404);
        let body: serde_json::Value =
            serde_json::from_slice(&to_bytes(r.into_body()).await.unwrap()).unwrap();
        assert_eq!(body["category"], "not-found");
        assert_eq!(body["code"], "not-found");
        assert_eq!(body["details"][0]["name"], "resource");
        assert_eq!(body["details"][0]["value"], "domain");
        let r = BwError::rate_limited(1234).error_response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers().get("X-RateLimit-Reset").unwrap(), "1234");
    }
}
