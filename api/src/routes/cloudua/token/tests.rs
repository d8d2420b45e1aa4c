use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;

use super::*;
use engine::store::AppId;

const RSA_PRIVATE: &str = include_str!("../../../../tests/data/cloudua/rsa_private.pem");
const RSA_PUBLIC: &str = include_str!("../../../../tests/data/cloudua/rsa_public.pem");
const EC_PRIVATE: &str = include_str!("../../../../tests/data/cloudua/ec_private.pem");
const EC_PUBLIC: &str = include_str!("../../../../tests/data/cloudua/ec_public.pem");
const SECRET: &str = "0123456789abcdef0123456789abcdef-test";
const NOW: u64 = 1_800_000_000;

fn domain(secret: bool, pem: Option<&str>) -> CloudUaDomain {
    CloudUaDomain {
        name: "acme.cua.example".into(),
        app: AppId(1),
        hs256_secret: secret.then(|| SECRET.to_string()),
        public_key_pem: pem.map(str::to_string),
        issuer: None,
        audience: None,
        callback_base_url: None,
        created_at: 0,
    }
}

fn claims() -> Value {
    json!({"aud": "acme.cua.example", "exp": NOW + 300, "iat": NOW})
}

fn hs(c: &Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        c,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// A token signed by hand: `alg` as given, HMAC-SHA256 under `key` (the alg-confusion attack
/// and `none` cannot be made with the library, rightly).
fn forged(alg: &str, c: &Value, key: Option<&[u8]>) -> String {
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT"}).to_string());
    let body = URL_SAFE_NO_PAD.encode(c.to_string());
    let input = format!("{head}.{body}");
    let sig = match key {
        Some(k) => {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(k).unwrap();
            mac.update(input.as_bytes());
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
        None => String::new(),
    };
    format!("{input}.{sig}")
}

#[test]
fn the_three_algorithms_verify_with_their_keys() {
    let d = domain(true, Some(RSA_PUBLIC));
    assert_eq!(verify(&d, &hs(&claims()), NOW), Ok(()));
    let rs = encode(
        &Header::new(Algorithm::RS256),
        &claims(),
        &EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_eq!(verify(&d, &rs, NOW), Ok(()));
    let es = encode(
        &Header::new(Algorithm::ES256),
        &claims(),
        &EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    assert!(verify(&d, &es, NOW).is_err(), "an RSA domain has no EC key");
    assert_eq!(verify(&domain(false, Some(EC_PUBLIC)), &es, NOW), Ok(()));
    assert_eq!(key_algorithm(RSA_PUBLIC), Some("RS256"));
    assert_eq!(key_algorithm(EC_PUBLIC), Some("ES256"));
    assert_eq!(
        key_algorithm("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        None
    );
}

#[test]
fn time_is_honoured_with_leeway() {
    let d = domain(true, None);
    let mut c = claims();
    c["exp"] = json!(NOW - 61);
    assert!(verify(&d, &hs(&c), NOW).is_err(), "expired");
    c["exp"] = json!(NOW - 30);
    assert_eq!(verify(&d, &hs(&c), NOW), Ok(()), "within the skew");
    let mut c = claims();
    c["nbf"] = json!(NOW + 600);
    assert!(verify(&d, &hs(&c), NOW).is_err(), "not yet valid");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    assert!(verify(&d, &hs(&c), NOW).is_err(), "exp is required");
}

#[test]
fn the_token_must_name_the_domain() {
    let d = domain(true, None);
    let mut c = claims();
    c["aud"] = json!("other.cua.example");
    assert!(verify(&d, &hs(&c), NOW).is_err());
    c["aud"] = json!(["x", "acme.cua.example"]);
    assert_eq!(verify(&d, &hs(&c), NOW), Ok(()));
    let c = json!({"domain": "acme.cua.example", "exp": NOW + 60});
    assert_eq!(verify(&d, &hs(&c), NOW), Ok(()));
    let c = json!({"domain": "other.cua.example", "aud": "acme.cua.example", "exp": NOW + 60});
    assert!(
        verify(&d, &hs(&c), NOW).is_err(),
        "both present: both must agree"
    );
    let c = json!({"exp": NOW + 60});
    assert!(verify(&d, &hs(&c), NOW).is_err(), "a token for no domain");
    let mut with_iss = domain(true, None);
    with_iss.issuer = Some("acme-backend".into());
    assert!(verify(&with_iss, &hs(&claims()), NOW).is_err());
    let mut c = claims();
    c["iss"] = json!("acme-backend");
    assert_eq!(verify(&with_iss, &hs(&c), NOW), Ok(()));
}

#[test]
fn forgeries_are_refused() {
    let d = domain(true, Some(RSA_PUBLIC));
    let rsa_only = domain(false, Some(RSA_PUBLIC));
    // HS256 "signed" with the RSA public key's text (the classic alg confusion).
    let confused = forged("HS256", &claims(), Some(RSA_PUBLIC.as_bytes()));
    assert!(verify(&rsa_only, &confused, NOW).is_err());
    assert!(verify(&d, &confused, NOW).is_err());
    assert!(verify(&d, &forged("none", &claims(), None), NOW).is_err());
    assert!(verify(
        &d,
        &forged("HS256", &claims(), Some(b"wrong key wrong key wrong key!!")),
        NOW
    )
    .is_err());
    // The right key still verifies the hand-made token: the forger is what is refused.
    assert_eq!(
        verify(
            &d,
            &forged("HS256", &claims(), Some(SECRET.as_bytes())),
            NOW
        ),
        Ok(())
    );
    for junk in ["", "a.b", "a.b.c", "....", &"x".repeat(MAX_TOKEN + 1)] {
        assert!(verify(&d, junk, NOW).is_err(), "{junk:.20}");
    }
}
