//! Building responses from requests (RFC 3261 §8.2.6.2) and the identifiers a UA invents
//! (branches, tags).

use bytes::Bytes;
use rand::Rng;

use super::{reason_phrase, HeaderName, Headers, Request, Response, MAGIC_COOKIE};

/// A response to `req`: Via (all), From, To, Call-ID and CSeq copied; the To tag added when
/// the status is above 100 and the request's To has none.
pub fn response_to(req: &Request, status: u16, to_tag: Option<&str>) -> Response {
    response_from_headers(&req.headers, status, to_tag)
}

/// Like [`response_to`] from bare headers: what a stateless 400 for an unparseable request
/// can echo.
pub fn response_from_headers(headers: &Headers, status: u16, to_tag: Option<&str>) -> Response {
    let mut out = Headers::with_capacity(8);
    for h in headers.iter() {
        match h.name {
            HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                out.push(h.name.clone(), h.value.clone())
            }
            HeaderName::To => {
                let mut v = h.value.clone();
                if status > 100 && !has_tag(&v) {
                    if let Some(tag) = to_tag {
                        v.push_str(";tag=");
                        v.push_str(tag);
                    }
                }
                out.push(HeaderName::To, v)
            }
            _ => {}
        }
    }
    Response {
        status,
        reason: reason_phrase(status).to_string(),
        headers: out,
        body: Bytes::new(),
    }
}

/// True when a To/From value carries a `tag` header parameter (outside the URI's brackets).
fn has_tag(v: &str) -> bool {
    let after = match v.rfind('>') {
        Some(i) => &v[i..],
        None => v,
    };
    after
        .split(';')
        .skip(1)
        .any(|p| p.trim_start().to_ascii_lowercase().starts_with("tag"))
}

/// A new RFC 3261 branch: the magic cookie and 16 random characters.
pub fn new_branch(rng: &mut impl Rng) -> String {
    let mut s = String::with_capacity(MAGIC_COOKIE.len() + 16);
    s.push_str(MAGIC_COOKIE);
    push_random(&mut s, rng, 16);
    s
}

/// A new From/To tag or Call-ID part: random alphanumerics.
pub fn new_token(rng: &mut impl Rng, len: usize) -> String {
    let mut s = String::with_capacity(len);
    push_random(&mut s, rng, len);
    s
}

fn push_random(s: &mut String, rng: &mut impl Rng, n: usize) {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    for _ in 0..n {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::message::{parse, Message};
    use rand::SeedableRng;

    #[test]
    fn copies_the_right_headers_and_adds_a_tag() {
        let raw = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h1;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP h2;branch=z9hG4bK2\r\nFrom: <sip:b@example.com>;tag=f\r\nTo: <sip:a@example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nSubject: x\r\n\r\n";
        let Ok(Message::Request(req)) = parse(Bytes::from(raw)) else {
            panic!()
        };
        let r = response_to(&req, 200, Some("t1"));
        assert_eq!(r.headers.get_all(&HeaderName::Via).count(), 2);
        assert_eq!(
            r.headers.get(&HeaderName::To),
            Some("<sip:a@example.com>;tag=t1")
        );
        assert!(r.headers.get(&HeaderName::Subject).is_none());
        let r100 = response_to(&req, 100, Some("t1"));
        assert_eq!(
            r100.headers.get(&HeaderName::To),
            Some("<sip:a@example.com>")
        );
    }

    #[test]
    fn keeps_an_existing_tag() {
        assert!(has_tag("<sip:a@example.com>;tag=x"));
        assert!(!has_tag("<sip:a@example.com;tag=inuri>"));
        assert!(has_tag("sip:a@example.com;tag=x"));
    }

    #[test]
    fn branches_carry_the_cookie() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let b = new_branch(&mut rng);
        assert!(b.starts_with("z9hG4bK") && b.len() == 23);
        assert_ne!(b, new_branch(&mut rng));
    }
}
