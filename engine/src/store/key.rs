//! Key encoding shared by the backends.
//!
//! Keys are byte strings whose order is the order callers page in:
//!
//! * app: `id` as big-endian `u64` (so byte order is numeric order);
//! * endpoint and bindings: `domain \0 username`, the domain lower-cased;
//! * endpoint-by-app index: `id_be \0 username \0 domain`. The brief's index key was
//!   `id_be \0 username`; the domain is appended so that two endpoints of one app with the same
//!   username in different domains cannot collide, while the order stays username order.
//! * trunk: its name; number: its digits; number-by-app index: `id_be \0 digits`;
//! * CDR: `cmiuuid \0 leg_id` (a call's legs are adjacent); the newest-first indexes put the
//!   CDR's `time` (ms, big-endian) in front: `time_be cmiuuid \0 leg_id`, and per app
//!   `id_be time_be cmiuuid \0 leg_id`;
//! * outbox delivery: its `seq`, big-endian (so iteration is enqueue order).
//!
//! A NUL byte inside a domain or username would make two different pairs encode to the same key,
//! so such names are refused with [`StoreError::InvalidKey`] rather than escaped: no valid SIP
//! user or host name contains one.

use crate::sip::registrar::Aor;

use super::{AppId, StoreError};

/// The separator between key parts.
const SEP: u8 = 0;

/// The lower-cased domain, after checking both parts for NUL bytes.
pub(crate) fn normalize(domain: &str, username: &str) -> Result<String, StoreError> {
    if domain.as_bytes().contains(&SEP) {
        return Err(StoreError::InvalidKey("domain"));
    }
    if username.as_bytes().contains(&SEP) {
        return Err(StoreError::InvalidKey("username"));
    }
    Ok(domain.to_ascii_lowercase())
}

pub(crate) fn app(id: AppId) -> [u8; 8] {
    id.0.to_be_bytes()
}

/// `domain \0 username`: the key of an endpoint and of its AOR's bindings.
pub(crate) fn endpoint(domain: &str, username: &str) -> Result<Vec<u8>, StoreError> {
    let domain = normalize(domain, username)?;
    let mut key = Vec::with_capacity(domain.len() + 1 + username.len());
    key.extend_from_slice(domain.as_bytes());
    key.push(SEP);
    key.extend_from_slice(username.as_bytes());
    Ok(key)
}

/// `id_be \0`: every index key of one app starts with this.
pub(crate) fn app_index_prefix(id: AppId) -> [u8; 9] {
    let mut prefix = [SEP; 9];
    prefix[..8].copy_from_slice(&app(id));
    prefix
}

/// `id_be \0 username \0 domain`.
pub(crate) fn app_index(id: AppId, domain: &str, username: &str) -> Result<Vec<u8>, StoreError> {
    let domain = normalize(domain, username)?;
    let mut key = Vec::with_capacity(9 + username.len() + 1 + domain.len());
    key.extend_from_slice(&app_index_prefix(id));
    key.extend_from_slice(username.as_bytes());
    key.push(SEP);
    key.extend_from_slice(domain.as_bytes());
    Ok(key)
}

/// A single-part key (trunk name, number) after checking it for NUL bytes.
pub(crate) fn plain(part: &str, what: &'static str) -> Result<Vec<u8>, StoreError> {
    if part.as_bytes().contains(&SEP) {
        return Err(StoreError::InvalidKey(what));
    }
    Ok(part.as_bytes().to_vec())
}

/// `id_be \0 digits`: a number in its app's index.
pub(crate) fn number_index(id: AppId, digits: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = app_index_prefix(id).to_vec();
    key.extend_from_slice(&plain(digits, "number")?);
    Ok(key)
}

/// `cmiuuid \0`: every CDR key of one call starts with this.
pub(crate) fn call_prefix(cmiuuid: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = plain(cmiuuid, "cmiuuid")?;
    key.push(SEP);
    Ok(key)
}

/// `cmiuuid \0 leg_id`: a CDR.
pub(crate) fn cdr(cmiuuid: &str, leg_id: &str) -> Result<Vec<u8>, StoreError> {
    let mut key = call_prefix(cmiuuid)?;
    key.extend_from_slice(&plain(leg_id, "leg id")?);
    Ok(key)
}

/// `time_be cmiuuid \0 leg_id`: a CDR in the newest-first index; the CDR key is `[8..]`.
pub(crate) fn cdr_by_time(time: u64, cdr_key: &[u8]) -> Vec<u8> {
    let mut key = time.to_be_bytes().to_vec();
    key.extend_from_slice(cdr_key);
    key
}

/// `id_be time_be cmiuuid \0 leg_id`: a CDR in its app's newest-first index; the CDR key is
/// `[16..]`.
pub(crate) fn cdr_by_app(id: AppId, time: u64, cdr_key: &[u8]) -> Vec<u8> {
    let mut key = app(id).to_vec();
    key.extend_from_slice(&cdr_by_time(time, cdr_key));
    key
}

/// The time and CDR key of a [`cdr_by_time`] entry; `None` for a key too short to be one
/// (a damaged store: the caller reports it, never panics).
pub(crate) fn split_cdr_by_time(entry: &[u8]) -> Option<(u64, &[u8])> {
    let (time, cdr_key) = entry.split_first_chunk::<8>()?;
    Some((u64::from_be_bytes(*time), cdr_key))
}

/// The time index key (`time_be cdr_key`) inside a [`cdr_by_app`] entry.
pub(crate) fn time_key_of_cdr_by_app(entry: &[u8]) -> Option<&[u8]> {
    let (_, by_time) = entry.split_first_chunk::<8>()?;
    split_cdr_by_time(by_time).map(|_| by_time)
}

pub(crate) fn delivery(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Decodes a bindings key back into its address of record.
pub(crate) fn aor_of(key: &[u8]) -> Result<Aor, StoreError> {
    let corrupt = |reason: &str| StoreError::Corrupt {
        key: printable(key),
        reason: reason.to_owned(),
    };
    let sep = key
        .iter()
        .position(|&b| b == SEP)
        .ok_or_else(|| corrupt("no separator in a bindings key"))?;
    let domain = std::str::from_utf8(&key[..sep]).map_err(|_| corrupt("domain is not UTF-8"))?;
    let user = std::str::from_utf8(&key[sep + 1..]).map_err(|_| corrupt("user is not UTF-8"))?;
    Ok(Aor::new(user, domain))
}

/// `owner \0 child`: the index keys of the Bandwidth model (a user's domains, a domain's
/// endpoints by username), both parts checked for NUL bytes.
pub(crate) fn pair(owner: &str, child: &str, what: &'static str) -> Result<Vec<u8>, StoreError> {
    let mut key = plain(owner, what)?;
    key.push(SEP);
    key.extend_from_slice(&plain(child, what)?);
    Ok(key)
}

/// `owner \0`: every [`pair`] key of one owner starts with this.
pub(crate) fn pair_prefix(owner: &str, what: &'static str) -> Result<Vec<u8>, StoreError> {
    let mut key = plain(owner, what)?;
    key.push(SEP);
    Ok(key)
}

/// A key as text for error messages: NUL and other non-printables escaped (`\x00`).
pub(crate) fn printable(key: &[u8]) -> String {
    key.escape_ascii().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_keys_fold_the_domain_case_only() {
        assert_eq!(
            endpoint("Example.COM", "Alice").unwrap(),
            b"example.com\0Alice"
        );
    }

    #[test]
    fn nul_bytes_are_refused() {
        assert!(matches!(
            endpoint("a\0b", "c"),
            Err(StoreError::InvalidKey("domain"))
        ));
        assert!(matches!(
            app_index(AppId(1), "a", "b\0c"),
            Err(StoreError::InvalidKey("username"))
        ));
    }

    #[test]
    fn app_ids_sort_numerically_and_index_keys_by_username() {
        assert!(app(AppId(2)) < app(AppId(256)));
        let a = app_index(AppId(7), "z.example", "alice").unwrap();
        let b = app_index(AppId(7), "a.example", "bob").unwrap();
        assert!(a < b);
        assert!(a.starts_with(&app_index_prefix(AppId(7))));
        assert!(!a.starts_with(&app_index_prefix(AppId(8))));
    }

    #[test]
    fn cdr_keys_order_by_time_then_call_then_leg() {
        let a = cdr("call-1", "a").unwrap();
        assert_eq!(a, b"call-1\0a");
        assert!(cdr("call-1", "b")
            .unwrap()
            .starts_with(&call_prefix("call-1").unwrap()));
        assert!(!cdr("call-10", "a")
            .unwrap()
            .starts_with(&call_prefix("call-1").unwrap()));
        assert!(cdr_by_time(255, &a) < cdr_by_time(256, &a));
        assert!(cdr_by_app(AppId(1), u64::MAX, &a) < cdr_by_app(AppId(2), 0, &a));
        assert_eq!(&cdr_by_app(AppId(1), 9, &a)[16..], a.as_slice());
        assert!(matches!(
            cdr("c", "a\0"),
            Err(StoreError::InvalidKey("leg id"))
        ));
        assert!(matches!(
            number_index(AppId(1), "1\x002"),
            Err(StoreError::InvalidKey("number"))
        ));
    }

    #[test]
    fn cdr_index_keys_split_back_and_short_ones_are_refused() {
        let by_time = cdr_by_time(42, b"call\0a");
        assert_eq!(split_cdr_by_time(&by_time), Some((42, &b"call\0a"[..])));
        let by_app = cdr_by_app(AppId(7), 42, b"call\0a");
        assert_eq!(time_key_of_cdr_by_app(&by_app), Some(&by_time[..]));
        assert_eq!(split_cdr_by_time(b"short"), None);
        assert_eq!(time_key_of_cdr_by_app(&by_app[..12]), None);
    }

    #[test]
    fn aor_round_trips_through_its_key() {
        let key = endpoint("example.com", "alice").unwrap();
        assert_eq!(aor_of(&key).unwrap(), Aor::new("alice", "example.com"));
        assert!(matches!(aor_of(b"nosep"), Err(StoreError::Corrupt { .. })));
    }
}
