//! Bearer tokens of PIOPIY's v3 API (`Authorization: Bearer <token>`), made by the operator
//! with `ringmaster token create --app APPID`. A token names its app and carries an HMAC-SHA256
//! under the app's secret: `rm3.<appid>.<nonce>.<mac>`. Nothing is stored: a token is checked
//! by recomputing its MAC, so every token of an app stays valid until the app's secret
//! changes (or the app is deleted). Pure; the shell reads the app.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::store::AppId;

const PREFIX: &str = "rm3";
/// Longest token looked at (anything longer is refused before parsing).
const MAX_LEN: usize = 200;

fn mac(secret: &str, appid: u64, nonce: &str) -> String {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    m.update(format!("{PREFIX}.{appid}.{nonce}").as_bytes());
    hex::encode(m.finalize().into_bytes())
}

/// A new token for app `appid` whose secret is `secret`.
pub fn issue(appid: AppId, secret: &str, rng: &mut impl Rng) -> String {
    let nonce = hex::encode(rng.gen::<[u8; 12]>());
    format!(
        "{PREFIX}.{}.{nonce}.{}",
        appid.0,
        mac(secret, appid.0, &nonce)
    )
}

/// The app a token claims to be of (unchecked): the shell reads that app's secret.
pub fn claimed_app(token: &str) -> Option<AppId> {
    if token.len() > MAX_LEN {
        return None;
    }
    let mut parts = token.split('.');
    (parts.next()? == PREFIX).then_some(())?;
    parts.next()?.parse().ok().map(AppId)
}

/// Whether `token` is a token of `appid` under `secret`.
pub fn verify(token: &str, appid: AppId, secret: &str) -> bool {
    if token.len() > MAX_LEN {
        return false;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [prefix, app, nonce, given] = parts.as_slice() else {
        return false;
    };
    if *prefix != PREFIX || app.parse::<u64>().ok() != Some(appid.0) {
        return false;
    }
    let want = mac(secret, appid.0, nonce);
    want.as_bytes().ct_eq(given.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_token_verifies_for_its_app_and_secret_only() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let t = issue(AppId(42), "s3cret", &mut rng);
        assert_eq!(claimed_app(&t), Some(AppId(42)));
        assert!(verify(&t, AppId(42), "s3cret"));
        assert!(!verify(&t, AppId(42), "other"));
        assert!(!verify(&t, AppId(43), "s3cret"));
        let forged = t.replace("rm3.42.", "rm3.43.");
        assert!(!verify(&forged, AppId(43), "s3cret"));
        let mut cut = t.clone();
        cut.pop();
        assert!(!verify(&cut, AppId(42), "s3cret"));
        assert_eq!(claimed_app("Bearer"), None);
        assert_eq!(claimed_app(&"x".repeat(500)), None);
    }
}
