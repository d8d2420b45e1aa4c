//! The Bandwidth App Platform v1 model's rules: ids, user credentials, domain names,
//! endpoints and their tokens. Pure: the store, the clock and the randomness come from the
//! shell (`actors::bandwidth`).

use rand::Rng;
use sha2::{Digest, Sha256};

use super::{check_password, check_username, DirectoryError};
use crate::sip::digest::{ha1, Algorithm};
use crate::store::{Account, AppId, BwDomain, Endpoint, EndpointToken};

/// Bandwidth's limit of domains per user.
pub const MAX_DOMAINS_PER_ACCOUNT: usize = 100;
/// Unexpired tokens one endpoint may hold; past it, the one expiring first makes room.
pub const MAX_TOKENS_PER_ENDPOINT: usize = 10;
/// Token lifetimes (`expires`, seconds): Bandwidth's default is 3600; at most a day.
pub const TOKEN_EXPIRES: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Descriptions and names of Bandwidth resources: at most this many bytes.
pub const MAX_TEXT: usize = 1024;

const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `prefix` and `len` random lowercase letters and digits (`u-…`, `rd-…`, `re-…`).
pub fn random_id(prefix: &str, len: usize, rng: &mut impl Rng) -> String {
    let mut id = String::with_capacity(prefix.len() + len);
    id.push_str(prefix);
    for _ in 0..len {
        id.push(char::from(ALNUM[rng.gen_range(0..ALNUM.len())]));
    }
    id
}

/// Hex SHA-256 of a user's secret: what the store keeps.
pub fn secret_sha256(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A new user allowed to drive `apps` live, and its secret (shown once, never stored).
pub fn new_account(apps: Vec<AppId>, now: u64, rng: &mut impl Rng) -> (Account, String) {
    let secret = random_id("", 40, rng);
    let account = Account {
        id: random_id("u-", 20, rng),
        token: random_id("t-", 24, rng),
        secret_sha256: secret_sha256(&secret),
        apps,
        created_at: now,
    };
    (account, secret)
}

/// True when `token:secret` are this user's credentials, in time independent of where they
/// differ (the hashes are compared, so the secret's length does not show either).
pub fn account_matches(account: &Account, token: &str, secret: &str) -> bool {
    let token_ok = super::secret_matches(&account.token, token);
    let secret_ok = super::secret_matches(&account.secret_sha256, &secret_sha256(secret));
    token_ok & secret_ok
}

/// A domain name: one DNS label (1–63 letters, digits and `-`, not at either end), lower-cased.
pub fn check_domain_name(name: &str) -> Result<String, DirectoryError> {
    let n = name.trim().to_ascii_lowercase();
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !n.starts_with('-')
        && !n.ends_with('-');
    if ok {
        Ok(n)
    } else {
        Err(DirectoryError::InvalidApp(
            "name must be 1 to 63 letters, digits or '-' (a DNS label)",
        ))
    }
}

/// Free text (descriptions, application names): at most [`MAX_TEXT`] bytes, no control
/// characters (they would end up in logs and JSON).
pub fn check_text(text: &str, what: &'static str) -> Result<(), DirectoryError> {
    if text.len() > MAX_TEXT || text.chars().any(char::is_control) {
        return Err(DirectoryError::InvalidApp(what));
    }
    Ok(())
}

/// A new domain of `account`.
pub fn build_domain(
    account: &str,
    name: &str,
    description: &str,
    suffix: &str,
    now: u64,
    rng: &mut impl Rng,
) -> Result<BwDomain, DirectoryError> {
    let name = check_domain_name(name)?;
    check_text(description, "description must be at most 1024 characters")?;
    Ok(BwDomain {
        id: random_id("rd-", 24, rng),
        account: account.to_owned(),
        sip_domain: format!("{name}.{suffix}"),
        name,
        description: description.to_owned(),
        created_at: now,
    })
}

/// What a client gives to create an endpoint.
#[derive(Debug, Clone)]
pub struct NewEndpoint<'a> {
    pub name: &'a str,
    pub password: &'a str,
    pub description: Option<String>,
    pub app: Option<AppId>,
    pub enabled: bool,
}

/// A new endpoint in `domain` (HA1 values for the domain's realm).
pub fn build_endpoint(
    domain: &BwDomain,
    new: &NewEndpoint<'_>,
    now: u64,
    rng: &mut impl Rng,
) -> Result<Endpoint, DirectoryError> {
    check_username(new.name)?;
    check_password(new.password)?;
    if let Some(d) = &new.description {
        check_text(d, "description must be at most 1024 characters")?;
    }
    let realm = &domain.sip_domain;
    Ok(Endpoint {
        app: new.app,
        domain: realm.clone(),
        username: new.name.to_owned(),
        ha1_md5: ha1(Algorithm::Md5, new.name, realm, new.password),
        ha1_sha256: ha1(Algorithm::Sha256, new.name, realm, new.password),
        enabled: new.enabled,
        sealed_password: None,
        created_at: now,
        updated_at: now,
        id: Some(random_id("re-", 24, rng)),
        description: new.description.clone(),
        bw_domain: Some(domain.id.clone()),
        tokens: Vec::new(),
    })
}

/// Sets a new password (and drops every token: they were handed out for the old one's holder).
pub fn set_password(ep: &mut Endpoint, password: &str) -> Result<(), DirectoryError> {
    check_password(password)?;
    ep.ha1_md5 = ha1(Algorithm::Md5, &ep.username, &ep.domain, password);
    ep.ha1_sha256 = ha1(Algorithm::Sha256, &ep.username, &ep.domain, password);
    ep.tokens.clear();
    Ok(())
}

/// Drops the tokens that expired by `now`.
pub fn prune_tokens(ep: &mut Endpoint, now: u64) {
    ep.tokens.retain(|t| t.expires_at > now);
}

/// Adds a token valid for `expires` seconds; returns the token (the digest secret, shown
/// once). Expired tokens are pruned, and past [`MAX_TOKENS_PER_ENDPOINT`] the one expiring
/// first goes.
pub fn add_token(
    ep: &mut Endpoint,
    expires: u64,
    now: u64,
    rng: &mut impl Rng,
) -> Result<String, DirectoryError> {
    if !TOKEN_EXPIRES.contains(&expires) {
        return Err(DirectoryError::InvalidApp(
            "expires must be between 1 and 86400 seconds",
        ));
    }
    prune_tokens(ep, now);
    if ep.tokens.len() >= MAX_TOKENS_PER_ENDPOINT {
        ep.tokens.sort_by_key(|t| t.expires_at);
        ep.tokens.remove(0);
    }
    let token = random_id("", 32, rng);
    ep.tokens.push(EndpointToken {
        ha1_md5: ha1(Algorithm::Md5, &ep.username, &ep.domain, &token),
        ha1_sha256: ha1(Algorithm::Sha256, &ep.username, &ep.domain, &token),
        expires_at: now + expires,
    });
    Ok(token)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn rng() -> rand::rngs::StdRng {
        rand::rngs::StdRng::seed_from_u64(7)
    }

    #[test]
    fn ids_have_their_prefix_and_alphabet() {
        let (account, secret) = new_account(vec![AppId(5)], 9, &mut rng());
        assert!(account.id.starts_with("u-") && account.id.len() == 22);
        assert!(account.token.starts_with("t-") && account.token.len() == 26);
        assert!(account.id[2..].bytes().all(|b| ALNUM.contains(&b)));
        assert_eq!(account.secret_sha256, secret_sha256(&secret));
        assert!(!account.secret_sha256.contains(&secret));
        assert!(account_matches(&account, &account.token.clone(), &secret));
        assert!(!account_matches(&account, &account.token.clone(), "wrong"));
        assert!(!account_matches(&account, "t-wrong", &secret));
    }

    #[test]
    fn domain_names_are_dns_labels() {
        assert_eq!(
            check_domain_name("XYZ-corp-testing").unwrap(),
            "xyz-corp-testing"
        );
        for bad in ["", "-a", "a-", "a.b", "a b", &"x".repeat(64)] {
            assert!(check_domain_name(bad).is_err(), "{bad:?}");
        }
        let d = build_domain("u-1", "Acme", "desc", "bwapp.example.com", 1, &mut rng()).unwrap();
        assert_eq!(d.sip_domain, "acme.bwapp.example.com");
        assert!(d.id.starts_with("rd-"));
        assert!(build_domain("u-1", "a", "x\u{7}", "s", 1, &mut rng()).is_err());
    }

    #[test]
    fn endpoints_and_their_tokens() {
        let d = build_domain("u-1", "acme", "", "bw.example", 1, &mut rng()).unwrap();
        let new = NewEndpoint {
            name: "jsmith_mobile",
            password: "abc123",
            description: Some("phone".into()),
            app: None,
            enabled: true,
        };
        let mut ep = build_endpoint(&d, &new, 10, &mut rng()).unwrap();
        assert_eq!(ep.domain, "acme.bw.example");
        assert_eq!(
            ep.ha1_md5,
            ha1(Algorithm::Md5, "jsmith_mobile", "acme.bw.example", "abc123")
        );
        assert!(build_endpoint(
            &d,
            &NewEndpoint {
                password: "abc12",
                ..new.clone()
            },
            10,
            &mut rng()
        )
        .is_err());
        let token = add_token(&mut ep, 3600, 100, &mut rng()).unwrap();
        assert_eq!(ep.tokens.len(), 1);
        assert_eq!(ep.tokens[0].expires_at, 3700);
        assert_eq!(
            ep.tokens[0].ha1_md5,
            ha1(Algorithm::Md5, "jsmith_mobile", "acme.bw.example", &token)
        );
        assert!(add_token(&mut ep, 0, 100, &mut rng()).is_err());
        // Expired ones are pruned on the next write; the count is bounded.
        add_token(&mut ep, 10, 4000, &mut rng()).unwrap();
        assert_eq!(ep.tokens.len(), 1);
        for _ in 0..MAX_TOKENS_PER_ENDPOINT + 3 {
            add_token(&mut ep, 60, 4000, &mut rng()).unwrap();
        }
        assert_eq!(ep.tokens.len(), MAX_TOKENS_PER_ENDPOINT);
        set_password(&mut ep, "new-password").unwrap();
        assert!(ep.tokens.is_empty());
    }
}
