//! Request bodies and responses as Bandwidth clients send and expect them.
//!
//! * [`BwJson`]: a JSON body of at most [`MAX_BODY`] bytes (413 past it), malformed JSON a
//!   Bandwidth-shaped 400, `null` fields treated as absent (the Python SDK sends every unset
//!   argument as `null`); [`lenient_bool`] accepts `"true"`/`"false"` strings (the seed guide
//!   sends `"enabled":"true"`).
//! * [`created`]: 201 with an absolute `Location` ending in the new id (both SDKs take the id
//!   from its last segment); [`ok_empty`]: 200 with no body (never 204: node-bandwidth treats
//!   anything but 200/201/202 as an error).
//! * [`Page`] and [`paged`]: `page` (from 0) and `size` (25, at most 1000), with a `Link`
//!   header (`first`, `previous`, `next`) as Bandwidth sends.

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::{DeserializeOwned, Deserializer};
use serde::Deserialize;
use serde_json::Value;

use super::error::BwError;

/// Largest accepted body.
pub const MAX_BODY: usize = 64 * 1024;
/// Page size when none is asked for, and the largest allowed.
pub const DEFAULT_SIZE: usize = 25;
pub const MAX_SIZE: usize = 1000;

/// A JSON body as a Bandwidth client sends it (see the module doc).
#[derive(Debug)]
pub struct BwJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for BwJson<T> {
    type Error = BwError;
    type Future = LocalBoxFuture<'static, Result<Self, BwError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let declared = req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        let mut payload = payload.take();
        Box::pin(async move {
            if declared.is_some_and(|n| n > MAX_BODY) {
                return Err(BwError::too_large(MAX_BODY));
            }
            let mut buf = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| {
                    BwError::bad_request("invalid-request", format!("unreadable body: {e}"))
                })?;
                if buf.len() + chunk.len() > MAX_BODY {
                    return Err(BwError::too_large(MAX_BODY));
                }
                buf.extend_from_slice(&chunk);
            }
            parse(&buf).map(BwJson)
        })
    }
}

/// The pure half of [`BwJson`]: an empty body reads as `{}`.
pub fn parse<T: DeserializeOwned>(buf: &[u8]) -> Result<T, BwError> {
    if buf.len() > MAX_BODY {
        return Err(BwError::too_large(MAX_BODY));
    }
    let mut value = if buf.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice::<Value>(buf).map_err(|e| {
            BwError::bad_request("invalid-json", format!("The body is not valid JSON: {e}"))
        })?
    };
    if !value.is_object() {
        return Err(BwError::bad_request(
            "invalid-json",
            "The body must be a JSON object",
        ));
    }
    drop_nulls(&mut value);
    serde_json::from_value(value)
        .map_err(|e| BwError::bad_request("invalid-request", format!("Invalid request: {e}")))
}

/// Removes `null` members of every object, recursively: unset is the same as absent.
fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, v| !v.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// For `Option<bool>` fields: `true`/`false`, or the strings `"true"`/`"false"` (any case).
pub fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Text(String),
    }
    match Option::<B>::deserialize(d)? {
        None => Ok(None),
        Some(B::Bool(b)) => Ok(Some(b)),
        Some(B::Text(t)) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(B::Text(t)) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(B::Text(_)) => Err(serde::de::Error::custom("expected true or false")),
    }
}

/// For `Option<u64>` fields some clients send as strings (`"3600"`).
pub fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Text(String),
    }
    match Option::<N>::deserialize(d)? {
        None => Ok(None),
        Some(N::Num(n)) => Ok(Some(n)),
        Some(N::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("expected a number")),
    }
}

/// The absolute URL of this request's path (scheme and host as the client used them).
pub fn request_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), req.path())
}

/// The absolute URL of `path` (from `/v1/…`) on the host and scheme this request came in on.
pub fn absolute_url(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{}", info.scheme(), info.host(), path)
}

/// 201 Created with `Location: <this request's URL>/<id>`.
pub fn created(req: &HttpRequest, id: &str) -> HttpResponse {
    created_at(&format!(
        "{}/{}",
        request_url(req).trim_end_matches('/'),
        id
    ))
}

/// 201 Created with this `Location` (an absolute URL whose last segment is the new id).
pub fn created_at(location: &str) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// 200 with an empty body: the answer to updates and deletes.
pub fn ok_empty() -> HttpResponse {
    HttpResponse::build(StatusCode::OK).finish()
}

/// The `page`/`size` query of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub page: usize,
    pub size: usize,
}

impl FromRequest for Page {
    type Error = BwError;
    type Future = std::future::Ready<Result<Self, BwError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Page::parse(req.query_string()))
    }
}

impl Page {
    pub fn parse(query: &str) -> Result<Page, BwError> {
        let mut page = Page {
            page: 0,
            size: DEFAULT_SIZE,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let number = || {
                v.parse::<usize>().map_err(|_| {
                    BwError::bad_request("invalid-request", format!("{k} must be a number"))
                })
            };
            match k {
                "page" => page.page = number()?,
                "size" => page.size = number()?,
                _ => {}
            }
        }
        if page.size == 0 || page.size > MAX_SIZE {
            return Err(BwError::bad_request(
                "invalid-request",
                format!("size must be between 1 and {MAX_SIZE}"),
            ));
        }
        Ok(page)
    }

    /// This page's items of `all`, and whether more follow.
    pub fn slice<T>(&self, all: Vec<T>) -> (Vec<T>, bool) {
        let start = self.page.saturating_mul(self.size);
        let more = all.len() > start.saturating_add(self.size);
        let items = all.into_iter().skip(start).take(self.size).collect();
        (items, more)
    }

    /// The `Link` header value for this page of a list at `url`.
    pub fn link(&self, url: &str, more: bool) -> String {
        let at = |page: usize| format!("<{url}?page={page}&size={}>", self.size);
        let mut links = vec![format!("{}; rel=\"first\"", at(0))];
        if self.page > 0 {
            links.push(format!("{}; rel=\"previous\"", at(self.page - 1)));
        }
        if more {
            links.push(format!("{}; rel=\"next\"", at(self.page + 1)));
        }
        links.join(",")
    }
}

/// 200 with one page of `all` (rendered by `render`) and its `Link` header.
pub fn paged<T>(
    req: &HttpRequest,
    page: Page,
    all: Vec<T>,
    render: impl Fn(&T) -> Value,
) -> HttpResponse {
    let (items, more) = page.slice(all);
    let body: Vec<Value> = items.iter().map(render).collect();
    HttpResponse::Ok()
        .insert_header(("Link", page.link(&request_url(req), more)))
        .json(body)
}

/// Unix seconds as ISO 8601 UTC (`2014-06-13T22:37:05Z`), as Bandwidth shows times.
pub fn iso8601(secs: u64) -> String {
    engine::webhook::bandwidth::iso8601_seconds(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Sample {
        name: Option<String>,
        #[serde(default, deserialize_with = "lenient_bool")]
        enabled: Option<bool>,
        credentials: Option<Creds>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Creds {
        password: Option<String>,
    }

    #[test]
    fn nulls_are_absent_and_boolean_strings_are_booleans() {
        let s: Sample =
            parse(br#"{"name":null,"enabled":"true","credentials":{"password":null},"extra":1}"#)
                .unwrap();
        assert_eq!(
            s,
            Sample {
                name: None,
                enabled: Some(true),
                credentials: Some(Creds { password: None })
            }
        );
        let s: Sample = parse(br#"{"enabled":false}"#).unwrap();
        assert_eq!(s.enabled, Some(false));
        let s: Sample = parse(b"").unwrap();
        assert_eq!(s.name, None);
        assert_eq!(
            parse::<Sample>(br#"{"enabled":"yes"}"#).unwrap_err().status,
            400
        );
        assert_eq!(parse::<Sample>(b"{bad").unwrap_err().code, "invalid-json");
        assert_eq!(parse::<Sample>(b"[1]").unwrap_err().status, 400);
        let big = vec![b' '; MAX_BODY + 1];
        assert_eq!(parse::<Sample>(&big).unwrap_err().status, 413);
    }

    #[test]
    fn pages_and_links() {
        assert_eq!(Page::parse("").unwrap(), Page { page: 0, size: 25 });
        let p = Page::parse("size=2&page=1&other=x").unwrap();
        assert_eq!(p, Page { page: 1, size: 2 });
        assert!(Page::parse("size=1001").is_err());
        assert!(Page::parse("size=0").is_err());
        assert!(Page::parse("page=-1").is_err());
        let (items, more) = p.slice(vec![1, 2, 3, 4, 5]);
        assert_eq!((items, more), (vec![3, 4], true));
        let (items, more) = Page { page: 2, size: 2 }.slice(vec![1, 2, 3, 4, 5]);
        assert_eq!((items, more), (vec![5], false));
        let link = p.link("http://h/v1/users/u/domains", true);
        assert_eq!(
            link,
            "<http://h/v1/users/u/domains?page=0&size=2>; rel=\"first\",\
             <http://h/v1/users/u/domains?page=0&size=2>; rel=\"previous\",\
             <http://h/v1/users/u/domains?page=2&size=2>; rel=\"next\""
        );
    }

    #[test]
    fn iso_times() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(1_402_699_025), "2014-06-13T22:37:05Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
    }
}
