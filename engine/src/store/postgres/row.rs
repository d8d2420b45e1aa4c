//! One row of the shared `records` table: which record it is (`kind`, `k`), how to read its
//! current value off the mirror, and how to apply another node's value to the mirror.
//!
//! Every record kind is one JSON document under a JSON-array key (`[42]`, `["example.com",
//! "alice"]`), so a write is a list of row puts and deletes whatever the record, and one SQL
//! statement commits a whole batch.

use serde_json::Value;

use crate::sip::registrar::{Aor, Binding};
use crate::store::{
    Account, App, AppId, BwDomain, Cdr, CloudUaDomain, Delivery, Endpoint, MemoryStore, NodeInfo,
    Number, Store, StoreError, Trunk,
};

/// Which record a row holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Row {
    App(AppId),
    /// A deleted app's id, never handed out again.
    Tombstone(AppId),
    Account(String),
    BwDomain(String),
    CloudUa(String),
    /// `(lower-cased domain, username)`.
    Endpoint(String, String),
    Bindings(Aor),
    Trunk(String),
    Number(String),
    /// `(cmiuuid, leg id)`.
    Cdr(String, String),
    /// `(node, seq)`: each node delivers its own outbox.
    Delivery(String, u64),
    Node(String),
    /// A live call's id → `{"node": owner}`.
    Call(String),
}

/// A row's new value (`None`: deleted). `create` rows must not exist yet: the database
/// refuses a second node's insert of the same key, which the mirror alone cannot see.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub row: Row,
    pub data: Option<Value>,
    pub create: bool,
}

impl Row {
    pub fn kind(&self) -> &'static str {
        match self {
            Row::App(_) => "app",
            Row::Tombstone(_) => "app_deleted",
            Row::Account(_) => "account",
            Row::BwDomain(_) => "bw_domain",
            Row::CloudUa(_) => "cloudua_domain",
            Row::Endpoint(..) => "endpoint",
            Row::Bindings(_) => "bindings",
            Row::Trunk(_) => "trunk",
            Row::Number(_) => "number",
            Row::Cdr(..) => "cdr",
            Row::Delivery(..) => "delivery",
            Row::Node(_) => "node",
            Row::Call(_) => "call",
        }
    }

    /// The JSON-array key.
    pub fn key(&self) -> String {
        let v = match self {
            Row::App(id) | Row::Tombstone(id) => serde_json::json!([id.0]),
            Row::Account(s)
            | Row::BwDomain(s)
            | Row::CloudUa(s)
            | Row::Trunk(s)
            | Row::Number(s)
            | Row::Node(s)
            | Row::Call(s) => serde_json::json!([s]),
            Row::Endpoint(d, u) | Row::Cdr(d, u) => serde_json::json!([d, u]),
            Row::Bindings(aor) => serde_json::json!([aor.domain, aor.user]),
            Row::Delivery(node, seq) => serde_json::json!([node, seq]),
        };
        v.to_string()
    }

    pub fn parse(kind: &str, key: &str) -> Option<Row> {
        let parts: Vec<Value> = serde_json::from_str(key).ok()?;
        let s = |i: usize| parts.get(i)?.as_str().map(str::to_string);
        let n = |i: usize| parts.get(i)?.as_u64();
        Some(match kind {
            "app" => Row::App(AppId(n(0)?)),
            "app_deleted" => Row::Tombstone(AppId(n(0)?)),
            "account" => Row::Account(s(0)?),
            "bw_domain" => Row::BwDomain(s(0)?),
            "cloudua_domain" => Row::CloudUa(s(0)?),
            "endpoint" => Row::Endpoint(s(0)?, s(1)?),
            "bindings" => Row::Bindings(Aor::new(&s(1)?, &s(0)?)),
            "trunk" => Row::Trunk(s(0)?),
            "number" => Row::Number(s(0)?),
            "cdr" => Row::Cdr(s(0)?, s(1)?),
            "delivery" => Row::Delivery(s(0)?, n(1)?),
            "node" => Row::Node(s(0)?),
            "call" => Row::Call(s(0)?),
            _ => return None,
        })
    }

    /// Load order: what a record depends on comes first (apps before their endpoints,
    /// endpoints before their bindings, apps before CDRs so a tombstone check sees them).
    pub fn rank(&self) -> u8 {
        match self {
            Row::App(_) => 0,
            Row::Tombstone(_) => 1,
            Row::Account(_) => 2,
            Row::BwDomain(_) => 3,
            Row::CloudUa(_) => 4,
            Row::Endpoint(..) => 5,
            Row::Bindings(_) => 6,
            Row::Trunk(_) => 7,
            Row::Number(_) => 8,
            Row::Cdr(..) => 9,
            Row::Delivery(..) => 10,
            Row::Node(_) => 11,
            Row::Call(_) => 12,
        }
    }

    /// History and the outbox are kept in the node's local journal while the database is
    /// away and committed when it returns; every other write is refused meanwhile (it would be
    /// acknowledged to a client).
    pub fn kept_while_down(&self) -> bool {
        matches!(
            self,
            Row::Cdr(..) | Row::Delivery(..) | Row::Node(_) | Row::Call(_)
        )
    }

    pub fn endpoint(domain: &str, username: &str) -> Row {
        Row::Endpoint(domain.to_ascii_lowercase(), username.to_string())
    }

    pub fn bindings_of(domain: &str, username: &str) -> Row {
        Row::Bindings(Aor::new(username, domain))
    }

    pub fn cdr(cdr: &Cdr) -> Row {
        Row::Cdr(cdr.cmiuuid.as_str().to_string(), cdr.leg_id.clone())
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<Value, StoreError> {
    serde_json::to_value(v).map_err(|e| StoreError::Corrupt {
        key: "(encoding)".into(),
        reason: e.to_string(),
    })
}

/// The row's current value in the mirror (`None`: absent).
pub(crate) fn read(m: &MemoryStore, row: &Row) -> Result<Option<Value>, StoreError> {
    Ok(match row {
        Row::App(id) => m.app(*id)?.map(|a| json(&a)).transpose()?,
        Row::Tombstone(id) => m.tombstones().contains(id).then_some(Value::Bool(true)),
        Row::Account(id) => m.account(id)?.map(|a| json(&a)).transpose()?,
        Row::BwDomain(id) => m.bw_domain(id)?.map(|d| json(&d)).transpose()?,
        Row::CloudUa(name) => m.cloudua_domain(name)?.map(|d| json(&d)).transpose()?,
        Row::Endpoint(d, u) => m.endpoint(d, u)?.map(|e| json(&e)).transpose()?,
        Row::Bindings(aor) => {
            let list = m.bindings(aor)?;
            if list.is_empty() {
                None
            } else {
                Some(json(&list)?)
            }
        }
        Row::Trunk(name) => m.trunk(name)?.map(|t| json(&t)).transpose()?,
        Row::Number(digits) => m.number(digits)?.map(|n| json(&n)).transpose()?,
        Row::Cdr(call, leg) => m
            .cdrs_of_call(call)?
            .into_iter()
            .find(|c| &c.leg_id == leg)
            .map(|c| json(&c))
            .transpose()?,
        Row::Delivery(_, seq) => m
            .deliveries()?
            .into_iter()
            .find(|d| d.seq == *seq)
            .map(|d| json(&d))
            .transpose()?,
        Row::Node(id) => m
            .nodes()?
            .into_iter()
            .find(|n| &n.id == id)
            .map(|n| json(&n))
            .transpose()?,
        Row::Call(id) => m
            .live_call_node(id)?
            .map(|node| serde_json::json!({ "node": node })),
    })
}

fn decode<T: serde::de::DeserializeOwned>(row: &Row, v: &Value) -> Result<T, StoreError> {
    T::deserialize(v).map_err(|e| StoreError::Corrupt {
        key: format!("{} {}", row.kind(), row.key()),
        reason: e.to_string(),
    })
}

/// Absent is as good as deleted; present is as good as inserted.
fn settle(r: Result<(), StoreError>) -> Result<(), StoreError> {
    match r {
        Err(StoreError::NotFound) | Err(StoreError::Conflict) => Ok(()),
        other => other,
    }
}

/// Makes the mirror hold `data` (or nothing) for `row`: another node's committed write, a
/// snapshot being loaded, or a local change re-applied over a fresh snapshot.
pub(crate) fn apply(m: &MemoryStore, row: &Row, data: Option<&Value>) -> Result<(), StoreError> {
    let Some(v) = data else {
        return settle(match row {
            Row::App(id) => m.delete_app(*id),
            Row::Tombstone(_) => Ok(()),
            Row::Account(id) => m.delete_account(id),
            Row::BwDomain(id) => m.delete_bw_domain(id).map(drop),
            Row::CloudUa(name) => m.delete_cloudua_domain(name),
            Row::Endpoint(d, u) => m.delete_endpoint(d, u),
            Row::Bindings(aor) => m.put_bindings(aor, &[]),
            Row::Trunk(name) => m.delete_trunk(name),
            Row::Number(digits) => m.delete_number(digits),
            Row::Cdr(call, leg) => m.remove_cdr(call, leg).map(drop),
            Row::Delivery(_, seq) => m.delete_delivery(*seq).map(drop),
            Row::Node(id) => m.delete_node(id),
            Row::Call(id) => m.delete_live_call(id),
        });
    };
    match row {
        Row::App(id) => {
            let app: App = decode(row, v)?;
            if m.app(*id)?.is_some() {
                m.update_app(&app)
            } else {
                settle(m.insert_app(&app))
            }
        }
        Row::Tombstone(id) => {
            m.add_tombstone(*id);
            Ok(())
        }
        Row::Account(_) => m.insert_account(&decode::<Account>(row, v)?),
        Row::BwDomain(id) => {
            let d: BwDomain = decode(row, v)?;
            if m.bw_domain(id)?.as_ref() == Some(&d) {
                return Ok(());
            }
            settle(m.insert_bw_domain(&d))
        }
        Row::CloudUa(name) => {
            let d: CloudUaDomain = decode(row, v)?;
            settle(m.delete_cloudua_domain(name))?;
            m.insert_cloudua_domain(&d)
        }
        Row::Endpoint(d, u) => {
            let e: Endpoint = decode(row, v)?;
            if m.endpoint(d, u)?.is_some() {
                m.update_endpoint(&e)
            } else {
                m.insert_endpoint(&e)
            }
        }
        Row::Bindings(aor) => m.put_bindings(aor, &decode::<Vec<Binding>>(row, v)?),
        Row::Trunk(name) => {
            let t: Trunk = decode(row, v)?;
            settle(m.delete_trunk(name))?;
            m.insert_trunk(&t)
        }
        Row::Number(digits) => {
            let n: Number = decode(row, v)?;
            if m.number(digits)?.is_some() {
                m.update_number(&n)
            } else {
                m.insert_number(&n)
            }
        }
        Row::Cdr(..) => m.insert_cdr(&decode::<Cdr>(row, v)?, None).map(drop),
        Row::Delivery(..) => m.put_delivery(&decode::<Delivery>(row, v)?),
        Row::Node(_) => m.put_node(&decode::<NodeInfo>(row, v)?),
        Row::Call(id) => match v.get("node").and_then(Value::as_str) {
            Some(node) => m.put_live_call(id, node),
            None => Err(StoreError::Corrupt {
                key: format!("call {id}"),
                reason: "no node".into(),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let rows = [
            Row::App(AppId(7)),
            Row::Tombstone(AppId(8)),
            Row::endpoint("Example.COM", "al\"ice"),
            Row::bindings_of("example.com", "bob"),
            Row::Cdr("c-1".into(), "b1".into()),
            Row::Delivery("n1".into(), 99),
            Row::Node("n2".into()),
            Row::Call("c-9".into()),
            Row::Number("+911234".into()),
        ];
        for r in rows {
            assert_eq!(Row::parse(r.kind(), &r.key()), Some(r.clone()), "{r:?}");
        }
        assert_eq!(Row::parse("app", "junk"), None);
        assert_eq!(Row::parse("nope", "[1]"), None);
        assert_eq!(Row::parse("endpoint", "[1, 2]"), None);
    }
}
