//! Apps and SIP endpoints as the operator and the PIOPIY-style API see them: the rules for
//! names and passwords, and how records are built from what a client sends. Pure: the store
//! writes, the clock and the key file belong to the shell (`actors::directory`).
//!
//! Passwords never reach a record in clear: an endpoint keeps the digest HA1 values for its
//! realm (MD5 and SHA-256), and, only when the operator enabled `reveal_sip_passwords`, a copy
//! sealed with ChaCha20-Poly1305 under a key in the data directory.

pub mod bandwidth;
pub mod number;
pub mod seal;
pub mod token;
pub mod trunk;

pub use crate::sip::registrar::Domains;

use rand::Rng;

use crate::sip::digest::{ha1, Algorithm};
use crate::store::{App, AppId, Endpoint};

/// Why a directory request is refused. Each kind maps to one stable API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    #[error("invalid username: {0}")]
    InvalidUsername(&'static str),
    #[error("invalid password: {0}")]
    InvalidPassword(&'static str),
    #[error("invalid app: {0}")]
    InvalidApp(&'static str),
    #[error("username already exists")]
    UsernameTaken,
    #[error("username does not exist")]
    NoSuchEndpoint,
    #[error("app does not exist")]
    NoSuchApp,
    #[error("invalid appid or secret")]
    BadCredentials,
    #[error("storage failure")]
    Store,
}

/// Usernames: 1–64 characters from `A–Z a–z 0–9 . _ ~ -` and `+`, starting with a letter or
/// digit. A strict subset of RFC 3261 `user` that needs no escaping anywhere (URIs, logs,
/// JSON), so `sip:username@realm` is always literally what the operator typed.
pub fn check_username(u: &str) -> Result<(), DirectoryError> {
    if u.is_empty() {
        return Err(DirectoryError::InvalidUsername("must not be empty"));
    }
    if u.len() > 64 {
        return Err(DirectoryError::InvalidUsername("at most 64 characters"));
    }
    if !u.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(DirectoryError::InvalidUsername(
            "must start with a letter or digit",
        ));
    }
    if !u
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'~' | b'-' | b'+'))
    {
        return Err(DirectoryError::InvalidUsername(
            "only letters, digits and . _ ~ - + are allowed",
        ));
    }
    Ok(())
}

/// Passwords: 6–128 printable ASCII characters without spaces (what every SIP client can
/// type and send, and what Bandwidth's minimum of 6 allows).
pub fn check_password(p: &str) -> Result<(), DirectoryError> {
    if p.len() < 6 {
        return Err(DirectoryError::InvalidPassword("at least 6 characters"));
    }
    if p.len() > 128 {
        return Err(DirectoryError::InvalidPassword("at most 128 characters"));
    }
    if !p.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(DirectoryError::InvalidPassword(
            "printable ASCII without spaces only",
        ));
    }
    Ok(())
}

/// A SIP domain name: a DNS name or an IP literal, lower-cased.
pub fn check_domain(d: &str) -> Result<String, DirectoryError> {
    let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if ok || d.parse::<std::net::IpAddr>().is_ok() {
        Ok(d)
    } else {
        Err(DirectoryError::InvalidApp(
            "domain is not a valid host name",
        ))
    }
}

/// An http(s) URL (answer and event URLs).
pub fn check_url(u: &str) -> Result<(), DirectoryError> {
    let lower = u.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))
        .ok_or(DirectoryError::InvalidApp(
            "URLs must start with http:// or https://",
        ))?;
    if rest.is_empty() || u.len() > 2048 || u.chars().any(char::is_whitespace) {
        return Err(DirectoryError::InvalidApp("malformed URL"));
    }
    Ok(())
}

/// What an operator gives to create an app.
#[derive(Debug, Clone)]
pub struct NewApp {
    pub name: String,
    pub answer_url: String,
    pub event_url: Option<String>,
    /// The app's own SIP domain; the engine's default domain when `None`.
    pub domain: Option<String>,
    /// PCMO run when the answer URL fails (already checked by the caller).
    pub fallback_pcmo: Option<String>,
    /// The app's own answer-URL time budget (ms); the engine's default when `None`.
    pub answer_timeout_ms: Option<u32>,
}

/// The range allowed for an app's answer-URL budget: below half a second even a healthy app
/// server on another continent fails; past 30 s the caller has long hung up.
pub const ANSWER_TIMEOUT_MS: std::ops::RangeInclusive<u32> = 500..=30_000;

/// Builds a validated app record with a fresh id and secret.
pub fn build_app(
    new: &NewApp,
    default_domain: &str,
    now: u64,
    rng: &mut impl Rng,
) -> Result<App, DirectoryError> {
    let name = new.name.trim();
    if name.is_empty() || name.len() > 128 {
        return Err(DirectoryError::InvalidApp(
            "name must be 1 to 128 characters",
        ));
    }
    // No answer URL: the app's calls run its default script or the built-in one.
    if !new.answer_url.is_empty() {
        check_url(&new.answer_url)?;
    }
    if let Some(e) = &new.event_url {
        check_url(e)?;
    }
    let domain = match &new.domain {
        Some(d) => check_domain(d)?,
        None => default_domain.to_ascii_lowercase(),
    };
    Ok(App {
        // Seven digits, as PIOPIY app ids look; random so ids say nothing about other apps.
        id: AppId(rng.gen_range(1_000_000..10_000_000)),
        name: name.to_string(),
        secret: new_secret(rng),
        answer_url: new.answer_url.clone(),
        event_url: new.event_url.clone(),
        domain,
        fallback_pcmo: new.fallback_pcmo.clone(),
        answer_timeout_ms: match new.answer_timeout_ms {
            Some(ms) if !ANSWER_TIMEOUT_MS.contains(&ms) => {
                return Err(DirectoryError::InvalidApp(
                    "answer_timeout_ms must be between 500 and 30000",
                ))
            }
            ms => ms,
        },
        created_at: now,
        account: None,
        live: None,
    })
}

/// A secret in the shape PIOPIY shows (a random UUID, 122 bits of entropy).
pub fn new_secret(rng: &mut impl Rng) -> String {
    let mut b: [u8; 16] = rng.gen();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Builds an endpoint record for `app` (HA1 values for the app's realm).
pub fn build_endpoint(
    app: &App,
    username: &str,
    password: &str,
    sealed_password: Option<Vec<u8>>,
    now: u64,
) -> Result<Endpoint, DirectoryError> {
    check_username(username)?;
    check_password(password)?;
    Ok(Endpoint {
        app: Some(app.id),
        domain: app.domain.clone(),
        username: username.to_string(),
        ha1_md5: ha1(Algorithm::Md5, username, &app.domain, password),
        ha1_sha256: ha1(Algorithm::Sha256, username, &app.domain, password),
        enabled: true,
        sealed_password,
        created_at: now,
        updated_at: now,
        id: None,
        description: None,
        bw_domain: None,
        tokens: Vec::new(),
    })
}

/// Compares secrets in time independent of where they differ.
pub fn secret_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn username_rules() {
        assert!(check_username("alice").is_ok());
        assert!(check_username("1001").is_ok());
        assert!(check_username("a.b_c~d-e+f").is_ok());
        assert!(check_username("").is_err());
        assert!(check_username("-x").is_err());
        assert!(check_username("al ice").is_err());
        assert!(check_username("al@ice").is_err());
        assert!(check_username(&"a".repeat(65)).is_err());
    }

    #[test]
    fn password_rules() {
        assert!(check_password("secret1").is_ok());
        assert!(check_password("short").is_err());
        assert!(check_password("has space").is_err());
        assert!(check_password(&"x".repeat(129)).is_err());
    }

    #[test]
    fn apps_get_ids_secrets_and_domains() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let new = NewApp {
            name: "Demo".into(),
            answer_url: "http://127.0.0.1:9000/answer".into(),
            event_url: None,
            domain: None,
            fallback_pcmo: None,
            answer_timeout_ms: None,
        };
        let app = build_app(&new, "PBX.example.com", 1, &mut rng).unwrap();
        assert!((1_000_000..10_000_000).contains(&app.id.0));
        assert_eq!(app.domain, "pbx.example.com");
        assert_eq!(app.secret.len(), 36);
        let bad = NewApp {
            answer_url: "ftp://x".into(),
            ..new.clone()
        };
        assert!(build_app(&bad, "d", 1, &mut rng).is_err());
        let slow = NewApp {
            answer_timeout_ms: Some(40_000),
            ..new.clone()
        };
        assert!(build_app(&slow, "d", 1, &mut rng).is_err());
        let patient = NewApp {
            answer_timeout_ms: Some(8_000),
            ..new.clone()
        };
        let app = build_app(&patient, "d", 1, &mut rng).unwrap();
        assert_eq!(app.answer_timeout_ms, Some(8_000));
        let own = NewApp {
            domain: Some("Sip.Example.ORG.".into()),
            ..new
        };
        assert_eq!(
            build_app(&own, "d", 1, &mut rng).unwrap().domain,
            "sip.example.org"
        );
    }

    #[test]
    fn endpoints_store_ha1_only() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let app = build_app(
            &NewApp {
                name: "a".into(),
                answer_url: "https://x/a".into(),
                event_url: None,
                domain: Some("example.com".into()),
                fallback_pcmo: None,
                answer_timeout_ms: None,
            },
            "d",
            1,
            &mut rng,
        )
        .unwrap();
        let ep = build_endpoint(&app, "alice", "wonderland", None, 5).unwrap();
        let json = serde_json::to_string(&ep).unwrap();
        assert!(!json.contains("wonderland"));
        assert_eq!(
            ep.ha1_md5,
            ha1(Algorithm::Md5, "alice", "example.com", "wonderland")
        );
        assert_eq!(ep.ha1_sha256.len(), 64);
    }

    #[test]
    fn secret_comparison() {
        assert!(secret_matches("abc", "abc"));
        assert!(!secret_matches("abc", "abd"));
        assert!(!secret_matches("abc", "ab"));
        assert!(!secret_matches("abc", ""));
    }
}
