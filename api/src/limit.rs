//! Repeated-failure limiting for the REST API: an address whose app or admin authentication
//! failed `rest_failures` times within the window gets 429 with Retry-After for
//! `rest_block_secs`, on every route, before its request reaches a handler.
//!
//! One middleware around every route rather than checks in each handler: a failure is read
//! from the response status (420 `invalid_credentials`, 401 `unauthorized`), so a route added
//! later is covered without being told. The counting is `engine::sip::defence::AuthGuard`, the
//! same sans-IO core (capped tables) that bans SIP sources.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, ResponseError};
use engine::log_field::Escaped;
use engine::sip::defence::{AuthGuard, BanConfig};

use crate::error::ApiError;
use crate::State;

/// The per-address failure counts of the REST API.
pub struct RestGuard(Mutex<AuthGuard>);

impl RestGuard {
    pub fn new(cfg: BanConfig) -> Self {
        RestGuard(Mutex::new(AuthGuard::new(cfg)))
    }

    /// `Some(seconds)` while `ip` is blocked.
    pub fn blocked(&self, now: Instant, ip: IpAddr) -> Option<u64> {
        let mut g = self.0.lock().ok()?;
        g.banned(now, ip)
            .map(|d| (d.as_millis().div_ceil(1000) as u64).max(1))
    }

    /// Counts one failure; true when it blocked the address.
    pub fn failed(&self, now: Instant, ip: IpAddr) -> bool {
        match self.0.lock() {
            Ok(mut g) => {
                g.failure(
                    now,
                    engine::sip::defence::Attempt {
                        source: ip,
                        user: None,
                        wrong_password: false,
                        address_wide: true,
                    },
                )
                .banned
            }
            Err(_) => false,
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether a response status is an authentication failure.
fn is_auth_failure(status: u16) -> bool {
    matches!(status, 401 | 420)
}

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn limit_failures(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let ip = req.peer_addr().map(|a| a.ip());
    let state = req.app_data::<web::Data<State>>().cloned();
    let (Some(ip), Some(state)) = (ip, state) else {
        return next.call(req).await.map(|r| r.map_into_left_body());
    };
    if let Some(secs) = state.rest_guard.blocked(Instant::now(), ip) {
        // Each API answers in its own shape (the Cloud SIP UA's `{success, error}`).
        let resp = if req.path().starts_with("/mediaservice/") {
            crate::routes::cloudua::CuaError::new(
                429,
                "too_many_failures",
                format!("Too many failed authentications; retry after {secs} seconds"),
            )
            .error_response()
        } else {
            ApiError::TooManyFailures(secs).error_response()
        };
        return Ok(req.into_response(resp).map_into_right_body());
    }
    let path = req.path().to_string();
    let res = next.call(req).await?;
    let status = res.status().as_u16();
    if is_auth_failure(status) {
        let blocked = state.rest_guard.failed(Instant::now(), ip);
        tracing::info!(
            target: "security",
            event = "rest_auth_failed",
            at = unix_now(),
            source = %ip,
            path = %Escaped(&path),
            status,
            blocked,
            "REST authentication failed"
        );
    }
    Ok(res.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_failures_block_an_address_and_only_that_one() {
        let g = RestGuard::new(BanConfig {
            failures: 0,
            distinct_users: 0,
            address_failures: 10,
            ..BanConfig::default()
        });
        let t0 = Instant::now();
        let a: IpAddr = [127, 0, 0, 1].into();
        let b: IpAddr = [127, 0, 0, 2].into();
        for _ in 0..9 {
            assert!(!g.failed(t0, a));
        }
        assert_eq!(g.blocked(t0, a), None);
        assert!(g.failed(t0, a));
        assert_eq!(g.blocked(t0, a), Some(300));
        assert_eq!(g.blocked(t0, b), None);
        assert!(is_auth_failure(420) && is_auth_failure(401) && !is_auth_failure(400));
    }
}
