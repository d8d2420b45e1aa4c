//! Reading JSON request bodies with an explicit size limit and precise errors (which property
//! is missing or malformed), rather than a framework's generic 400.

use actix_web::web;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use crate::error::ApiError;

/// Largest accepted body.
pub const MAX_BODY: usize = 64 * 1024;

/// Reads the whole body (≤ [`MAX_BODY`]) as a JSON object.
pub async fn json_object(mut payload: web::Payload) -> Result<Map<String, Value>, ApiError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::InvalidJson(e.to_string()))?;
        if buf.len() + chunk.len() > MAX_BODY {
            return Err(ApiError::TooLarge(MAX_BODY));
        }
        buf.extend_from_slice(&chunk);
    }
    object(&buf)
}

/// Parses a complete body as a JSON object (≤ [`MAX_BODY`]); the pure half of [`json_object`],
/// also what the fuzz target drives.
pub fn object(buf: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if buf.len() > MAX_BODY {
        return Err(ApiError::TooLarge(MAX_BODY));
    }
    match serde_json::from_slice::<Value>(buf) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::InvalidJson(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(ApiError::InvalidJson(e.to_string())),
    }
}

/// A required string property.
pub fn string<'a>(m: &'a Map<String, Value>, key: &'static str) -> Result<&'a str, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Err(ApiError::MissingProperty(key)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::InvalidProperty(key, "must be a string")),
    }
}

/// An optional string property (`null` counts as absent: some SDKs send unset fields so).
pub fn opt_string<'a>(
    m: &'a Map<String, Value>,
    key: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ApiError::InvalidProperty(key, "must be a string")),
    }
}

/// A required non-negative integer given as a JSON number or a string of digits (PIOPIY
/// documents numbers; clients send both).
pub fn number(m: &Map<String, Value>, key: &'static str) -> Result<u64, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Err(ApiError::MissingProperty(key)),
        Some(v) => as_number(v).ok_or(ApiError::InvalidProperty(
            key,
            "must be a non-negative integer",
        )),
    }
}

/// An optional integer, as [`number`].
pub fn opt_number(m: &Map<String, Value>, key: &'static str) -> Result<Option<u64>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => as_number(v).map(Some).ok_or(ApiError::InvalidProperty(
            key,
            "must be a non-negative integer",
        )),
    }
}

fn as_number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s)
            if !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_as_numbers_or_digit_strings() {
        let m = json!({"a": 2222223, "b": "2222223", "c": "22x", "d": -1, "e": null})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(number(&m, "a").unwrap(), 2222223);
        assert_eq!(number(&m, "b").unwrap(), 2222223);
        assert!(matches!(
            number(&m, "c"),
            Err(ApiError::InvalidProperty("c", _))
        ));
        assert!(matches!(
            number(&m, "d"),
            Err(ApiError::InvalidProperty("d", _))
        ));
        assert!(matches!(
            number(&m, "e"),
            Err(ApiError::MissingProperty("e"))
        ));
        assert!(matches!(
            number(&m, "zz"),
            Err(ApiError::MissingProperty("zz"))
        ));
        assert_eq!(opt_number(&m, "zz").unwrap(), None);
    }
}
