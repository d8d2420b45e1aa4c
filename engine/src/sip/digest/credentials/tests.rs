//! Parser tests: real client shapes, RFC 4475's unknown scheme, escapes, white space, limits,
//! and a no-panic sweep over truncated, mutated and random input.

use super::*;

/// RFC 7616 §3.9.1, the SHA-256 request (header folding as in the RFC).
const RFC7616_SHA256: &str = "Digest username=\"Mufasa\",\r\n       \
    realm=\"http-auth@example.org\",\r\n       uri=\"/dir/index.html\",\r\n       \
    algorithm=SHA-256,\r\n       nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n       \
    nc=00000001,\r\n       cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n       \
    qop=auth,\r\n       \
    response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\",\r\n       \
    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";

/// The shape SIPp sends: no spaces, no qop.
const SIPP: &str = "Digest username=\"alice\",realm=\"example.com\",uri=\"sip:192.0.2.1:5060\",\
    nonce=\"abc\",response=\"0123456789abcdef0123456789abcdef\",algorithm=MD5";

fn base(extra: &str) -> String {
    format!(r#"Digest username="u", realm="r", nonce="n", uri="sip:r", response="x"{extra}"#)
}

#[test]
fn parses_the_rfc_7616_example() {
    let c = Credentials::parse(RFC7616_SHA256).unwrap();
    assert_eq!(c.username, "Mufasa");
    assert_eq!(c.realm, "http-auth@example.org");
    assert_eq!(c.uri, "/dir/index.html");
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.nonce, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v");
    assert_eq!(
        c.nc.as_ref().map(|nc| (nc.as_str(), nc.value())),
        Some(("00000001", 1))
    );
    assert_eq!(
        c.cnonce.as_deref(),
        Some("f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    );
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(
        c.opaque.as_deref(),
        Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
    );
}

#[test]
fn parses_sipp_without_qop_and_defaults_to_md5() {
    let c = Credentials::parse(SIPP).unwrap();
    assert_eq!((c.qop, c.nc, c.cnonce), (None, None, None));
    assert_eq!(c.uri, "sip:192.0.2.1:5060");
    let c = Credentials::parse(&base("")).unwrap();
    assert_eq!(c.algorithm, Algorithm::Md5);
}

#[test]
fn names_and_scheme_are_case_insensitive_and_values_may_be_quoted_or_bare() {
    let c = Credentials::parse(
        "dIgEsT USERNAME=\"u\", Realm=\"r\", NONCE=\"n\", Uri=sip:r, Response=x, \
         Algorithm=\"sha-256\", QOP=\"auth\", NC=\"0000000A\", CNonce=c",
    )
    .unwrap();
    assert_eq!((c.uri.as_str(), c.response.as_str()), ("sip:r", "x"));
    assert_eq!(c.algorithm, Algorithm::Sha256);
    assert_eq!(c.qop, Some(Qop::Auth));
    assert_eq!(c.nc.unwrap().value(), 10);
    assert_eq!(c.cnonce.as_deref(), Some("c"));
}

#[test]
fn quoted_strings_unescape() {
    let c = Credentials::parse(
        &base(r#", opaque="a\"b\\c\d""#).replace(r#"username="u""#, r#"username="\"q\" ålice""#),
    )
    .unwrap();
    assert_eq!(c.username, "\"q\" ålice");
    assert_eq!(c.opaque.as_deref(), Some("a\"b\\cd"));
}

#[test]
fn white_space_and_empty_elements_are_tolerated() {
    let value = "Digest\t username =\t\"u\" ,\r\n realm= \"r\",, ,nonce =\"n\",uri=\"sip:r\" \
                 ,response=\"x\" ,";
    let c = Credentials::parse(value).unwrap();
    assert_eq!((c.username.as_str(), c.realm.as_str()), ("u", "r"));
    assert!(Credentials::parse(&format!("  {}  ", base(""))).is_ok());
}

#[test]
fn unknown_parameters_are_ignored() {
    let c = Credentials::parse(&base(r#", foo="bar", baz=qux, userhash=false"#)).unwrap();
    assert_eq!(c.username, "u");
}

#[test]
fn other_schemes_are_a_distinct_error() {
    // RFC 4475 §3.1.2.2 (regaut01).
    let torture = "NoOneKnowsThisScheme opaque-data=here";
    assert_eq!(Credentials::parse(torture), Err(DigestError::UnknownScheme));
    for other in [
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "Digestive username=\"u\"",
        "Bearer x",
    ] {
        assert_eq!(
            Credentials::parse(other),
            Err(DigestError::UnknownScheme),
            "{other}"
        );
    }
}

#[test]
fn size_is_bounded() {
    let value = base("");
    let pad = MAX_CREDENTIALS_LEN - value.len() - r#", pad="""#.len();
    let exactly = base(&format!(r#", pad="{}""#, "p".repeat(pad)));
    assert_eq!(exactly.len(), MAX_CREDENTIALS_LEN);
    assert!(Credentials::parse(&exactly).is_ok());
    let over = format!("{exactly} ");
    assert_eq!(Credentials::parse(&over), Err(DigestError::TooLong));
    assert_eq!(
        Credentials::parse(&"Digest a=b,".repeat(100_000)),
        Err(DigestError::TooLong)
    );
}

#[test]
fn duplicates_are_refused() {
    assert_eq!(
        Credentials::parse(&base(r#", nonce="m""#)),
        Err(DigestError::DuplicateParam("nonce"))
    );
    assert_eq!(
        Credentials::parse(&base(r#", Realm="r""#)),
        Err(DigestError::DuplicateParam("realm"))
    );
    assert!(
        Credentials::parse(&base(", foo=1, foo=2")).is_ok(),
        "unknown ones are ignored"
    );
}

#[test]
fn missing_fields_are_named() {
    let params = [
        ("username", r#"username="u""#),
        ("realm", r#"realm="r""#),
        ("nonce", r#"nonce="n""#),
        ("uri", r#"uri="sip:r""#),
        ("response", r#"response="x""#),
    ];
    for (name, _) in params {
        let rest: Vec<&str> = params
            .iter()
            .filter(|(other, _)| *other != name)
            .map(|(_, param)| *param)
            .collect();
        let value = format!("Digest {}", rest.join(", "));
        assert_eq!(
            Credentials::parse(&value),
            Err(DigestError::MissingParam(name))
        );
    }
    assert_eq!(
        Credentials::parse(&base(", qop=auth, cnonce=c")),
        Err(DigestError::MissingParam("nc"))
    );
    assert_eq!(
        Credentials::parse(&base(", qop=auth, nc=00000001")),
        Err(DigestError::MissingParam("cnonce"))
    );
    assert_eq!(
        Credentials::parse("Digest"),
        Err(DigestError::MissingParam("username"))
    );
}

#[test]
fn unsupported_values_are_refused_clearly() {
    assert_eq!(
        Credentials::parse(&base(", qop=auth-int, nc=00000001, cnonce=c")),
        Err(DigestError::UnsupportedQop)
    );
    assert_eq!(
        Credentials::parse(&base(", algorithm=MD5-sess")),
        Err(DigestError::UnsupportedAlgorithm)
    );
    for nc in ["xyz", "000000001", "-1", "0x1"] {
        assert_eq!(
            Credentials::parse(&base(&format!(", qop=auth, cnonce=c, nc={nc}"))),
            Err(DigestError::InvalidNonceCount),
            "{nc}"
        );
    }
}

#[test]
fn malformed_input_is_refused() {
    let cases = [
        "",
        "   ",
        "Digest,username=\"u\"",
        "Digest username",
        "Digest username=",
        "Digest username=,realm=r",
        "Digest username=\"u",
        "Digest username=\"u\\",
        "Digest username=\"u\" realm=\"r\"",
        "Digest =\"u\"",
        "Digest username=\"u\"x, realm=r",
        "\"Digest\" username=u",
    ];
    for value in cases {
        assert!(
            matches!(
                Credentials::parse(value),
                Err(DigestError::Malformed { .. })
            ),
            "{value:?} gave {:?}",
            Credentials::parse(value)
        );
    }
}

#[test]
fn debug_leaves_out_the_response() {
    let c = Credentials::parse(RFC7616_SHA256).unwrap();
    let shown = format!("{c:?}");
    assert!(
        shown.contains("Mufasa") && shown.contains("<redacted>"),
        "{shown}"
    );
    assert!(!shown.contains("753927fa"), "{shown}");
}

/// A tiny deterministic generator, so the sweep is the same on every run.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn no_input_panics() {
    let mut inputs: Vec<String> = Vec::new();
    for seed in [RFC7616_SHA256, SIPP] {
        // Every prefix, and every position replaced by each character that matters to the
        // grammar.
        for end in (0..=seed.len()).filter(|&i| seed.is_char_boundary(i)) {
            inputs.push(seed[..end].to_owned());
        }
        for (i, _) in seed.char_indices() {
            for c in ['"', '\\', '=', ',', ' ', '\r', 'é', '\0'] {
                let mut mutated = seed.to_owned();
                mutated.replace_range(i..i + 1, &c.to_string());
                inputs.push(mutated);
            }
        }
    }
    let alphabet = b"Digest usernam=\",\\\t\r\nqopcn0aA-";
    let mut state = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20_000 {
        let len = (xorshift(&mut state) % 64) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| alphabet[(xorshift(&mut state) % alphabet.len() as u64) as usize])
            .collect();
        inputs.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    let mut parsed = 0;
    for input in &inputs {
        if Credentials::parse(input).is_ok() {
            parsed += 1;
        }
    }
    // The sweep reached the success path too, not only early errors.
    assert!(parsed > 100, "{parsed} of {} parsed", inputs.len());
}
