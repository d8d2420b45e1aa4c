//! API errors: one enum, each variant with its HTTP status and a stable machine-readable code.
//!
//! The PIOPIY-style endpoint API answers `{"code":"cmi-<status>","error":"<code>","msg":"..."}`
//! with PIOPIY's own statuses (400, 420, 502); the admin API answers `{"error","msg"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use engine::directory::number::NumberError;
use engine::directory::trunk::TrunkError;
use engine::directory::DirectoryError;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("Invalid JSON body: {0}")]
    InvalidJson(String),
    #[error("Request body larger than {0} bytes")]
    TooLarge(usize),
    #[error("Missing required property: {0}")]
    MissingProperty(&'static str),
    #[error("Invalid property {0}: {1}")]
    InvalidProperty(&'static str, &'static str),
    #[error("Invalid app id or secret")]
    BadAppCredentials,
    #[error("Username already exists")]
    UsernameExists,
    #[error("Username does not exist")]
    UsernameMissing,
    #[error("Invalid username: {0}")]
    InvalidUsername(&'static str),
    #[error("Invalid password: {0}")]
    InvalidPassword(&'static str),
    #[error("Invalid app: {0}")]
    InvalidApp(&'static str),
    #[error("App does not exist")]
    NoSuchApp,
    #[error("Missing or wrong admin token")]
    Unauthorized,
    #[error("Missing or wrong metrics token")]
    MetricsUnauthorized,
    /// The trunk's name, address, transport or credentials break a rule (the rule is in the
    /// message).
    #[error("{0}")]
    InvalidTrunk(TrunkError),
    #[error("A trunk with this name exists")]
    TrunkExists,
    #[error("{0} is already an allowed source IP of another trunk")]
    IpInUse(std::net::IpAddr),
    #[error("Another trunk authenticates with this username")]
    TrunkUsernameInUse,
    #[error("Trunk does not exist")]
    TrunkMissing,
    #[error("A Cloud UA domain with this name exists, or the app has one")]
    CloudUaDomainExists,
    #[error("Cloud UA domain does not exist")]
    CloudUaDomainMissing,
    #[error("Invalid number: {0}")]
    InvalidNumber(&'static str),
    #[error("The number is already assigned")]
    NumberExists,
    #[error("Number does not exist")]
    NumberMissing,
    #[error("No call with this cmiuuid")]
    CallMissing,
    #[error("No recording with this id")]
    RecordingMissing,
    /// The call exists but the action needs another state (the reason is in the message).
    #[error("{0}")]
    CallNotLive(&'static str),
    #[error("No Bandwidth user with this id")]
    UserMissing,
    #[error("Storage failure; nothing was changed")]
    Storage,
    #[error("The PCMO script is not valid")]
    InvalidScript(pcmo::Report),
    #[error("The app's concurrent call limit is reached")]
    CallLimit,
    /// Too many failed authentications from this address; retry after this many seconds.
    #[error("Too many failed authentications; retry after {0} seconds")]
    TooManyFailures(u64),
    /// The server is shutting down and takes no new calls; retry after this many seconds.
    #[error("Shutting down; no new calls")]
    Draining(u64),
}

impl ApiError {
    /// The stable code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::TooLarge(_) => "body_too_large",
            ApiError::MissingProperty(_) => "missing_property",
            ApiError::InvalidProperty(..) => "invalid_property",
            ApiError::BadAppCredentials => "invalid_credentials",
            ApiError::UsernameExists => "username_exists",
            ApiError::UsernameMissing => "username_not_found",
            ApiError::InvalidUsername(_) => "invalid_username",
            ApiError::InvalidPassword(_) => "invalid_password",
            ApiError::InvalidApp(_) => "invalid_app",
            ApiError::NoSuchApp => "app_not_found",
            ApiError::Unauthorized | ApiError::MetricsUnauthorized => "unauthorized",
            ApiError::InvalidTrunk(_) => "invalid_trunk",
            ApiError::TrunkExists => "trunk_exists",
            ApiError::IpInUse(_) => "ip_in_use",
            ApiError::TrunkUsernameInUse => "trunk_username_in_use",
            ApiError::TrunkMissing => "trunk_not_found",
            ApiError::CloudUaDomainExists => "cloudua_domain_exists",
            ApiError::CloudUaDomainMissing => "cloudua_domain_not_found",
            ApiError::InvalidNumber(_) => "invalid_number",
            ApiError::NumberExists => "number_exists",
            ApiError::NumberMissing => "number_not_found",
            ApiError::CallMissing => "call_not_found",
            ApiError::RecordingMissing => "recording_not_found",
            ApiError::CallNotLive(_) => "call_state_invalid",
            ApiError::UserMissing => "user_not_found",
            ApiError::Storage => "storage_failure",
            ApiError::InvalidScript(_) => "invalid_pcmo",
            ApiError::CallLimit => "call_limit",
            ApiError::TooManyFailures(_) => "too_many_failures",
            ApiError::Draining(_) => "shutting_down",
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::InvalidUsername(r) => ApiError::InvalidUsername(r),
            DirectoryError::InvalidPassword(r) => ApiError::InvalidPassword(r),
            DirectoryError::InvalidApp(r) => ApiError::InvalidApp(r),
            DirectoryError::UsernameTaken => ApiError::UsernameExists,
            DirectoryError::NoSuchEndpoint => ApiError::UsernameMissing,
            DirectoryError::NoSuchApp => ApiError::NoSuchApp,
            DirectoryError::BadCredentials => ApiError::BadAppCredentials,
            _ => ApiError::Storage,
        }
    }
}

impl From<TrunkError> for ApiError {
    fn from(e: TrunkError) -> Self {
        match e {
            TrunkError::InvalidName(_)
            | TrunkError::InvalidAddress(_)
            | TrunkError::InvalidTransport
            | TrunkError::InvalidCredentials(_) => ApiError::InvalidTrunk(e),
            TrunkError::NameTaken => ApiError::TrunkExists,
            TrunkError::IpTaken(ip) => ApiError::IpInUse(ip),
            TrunkError::UsernameTaken => ApiError::TrunkUsernameInUse,
            TrunkError::NoSuchTrunk => ApiError::TrunkMissing,
            _ => ApiError::Storage,
        }
    }
}

impl From<NumberError> for ApiError {
    fn from(e: NumberError) -> Self {
        match e {
            NumberError::Invalid(r) => ApiError::InvalidNumber(r),
            NumberError::Taken => ApiError::NumberExists,
            NumberError::NoSuchNumber => ApiError::NumberMissing,
            NumberError::NoSuchApp => ApiError::NoSuchApp,
            _ => ApiError::Storage,
        }
    }
}

impl From<engine::actors::device_domains::DomainError> for ApiError {
    fn from(e: engine::actors::device_domains::DomainError) -> Self {
        use engine::actors::device_domains::DomainError;
        match e {
            DomainError::Taken => ApiError::CloudUaDomainExists,
            DomainError::NoSuchApp => ApiError::NoSuchApp,
            DomainError::NoSuchDomain => ApiError::CloudUaDomainMissing,
            _ => ApiError::Storage,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        let s = match self {
            ApiError::InvalidJson(_)
            | ApiError::InvalidProperty(..)
            | ApiError::UsernameExists
            | ApiError::UsernameMissing
            | ApiError::InvalidUsername(_)
            | ApiError::InvalidPassword(_)
            | ApiError::InvalidApp(_)
            | ApiError::InvalidTrunk(_)
            | ApiError::InvalidNumber(_) => 400,
            ApiError::Unauthorized | ApiError::MetricsUnauthorized => 401,
            ApiError::NoSuchApp
            | ApiError::TrunkMissing
            | ApiError::CloudUaDomainMissing
            | ApiError::NumberMissing
            | ApiError::CallMissing
            | ApiError::RecordingMissing
            | ApiError::UserMissing => 404,
            ApiError::TrunkExists
            | ApiError::CloudUaDomainExists
            | ApiError::IpInUse(_)
            | ApiError::TrunkUsernameInUse
            | ApiError::NumberExists
            | ApiError::CallNotLive(_) => 409,
            ApiError::TooLarge(_) => 413,
            // PIOPIY's own codes.
            ApiError::BadAppCredentials => 420,
            ApiError::MissingProperty(_) => 502,
            ApiError::Storage => 503,
            ApiError::InvalidScript(_) => 400,
            ApiError::CallLimit | ApiError::TooManyFailures(_) => 429,
            ApiError::Draining(_) => 503,
        };
        StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut body = json!({
            "code": format!("cmi-{}", status.as_u16()),
            "error": self.code(),
            "msg": self.to_string(),
        });
        // A script's problems, each with its code and JSON path (`pcmo check`'s report).
        if let ApiError::InvalidScript(report) = self {
            body["errors"] = serde_json::to_value(&report.errors).unwrap_or_default();
        }
        let mut resp = HttpResponse::build(status);
        if let ApiError::TooManyFailures(secs) | ApiError::Draining(secs) = self {
            resp.insert_header((actix_web::http::header::RETRY_AFTER, secs.to_string()));
        }
        if let ApiError::Storage = self {
            // The store's database away (a shared store), or a failed write: worth a retry.
            resp.insert_header((actix_web::http::header::RETRY_AFTER, "5"));
        }
        resp.json(body)
    }
}
