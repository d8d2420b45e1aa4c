//! A [`Store`] on PostgreSQL, shared by every node that names the same database.
//!
//! The shape (why): the trait is synchronous and called inside actor handlers, so a database
//! round trip must never sit on that path. Each node therefore keeps a **mirror** of the whole
//! shared state in memory (a [`MemoryStore`], so the invariants are the same code as the
//! conformance suite checks) and answers every read from it. A write is applied to the mirror
//! at once and queued as row changes; [`Store::flush`] — called by the group-commit thread,
//! never by an actor — commits the queue to PostgreSQL in **one SQL statement** (so one round
//! trip and one transaction however many writers were coalesced), which also `NOTIFY`s the
//! other nodes. Their background thread applies each change to their own mirror (the data rides
//! in the notification when it fits, else it is read back), so a write on one node is visible
//! on the others within one notification's latency. Measured against a store actor (a round
//! trip per read) and an async trait (every caller rewritten): the mirror keeps reads at memory
//! speed and the database load at one statement per group commit; its price is memory (the
//! whole state, CDRs included, per node — bounded by retention) and last-writer-wins between
//! two nodes writing the same record within one commit window (inserts of an existing key are
//! still refused by the database: `Conflict`).
//!
//! Durability is the trait's: nothing is acknowledged before `flush` returns, and `flush`
//! returns only after PostgreSQL committed. While the database is unreachable, writes a client
//! would be told about (endpoints, bindings, apps...) are refused with
//! [`StoreError::Unavailable`] (REGISTER → 503, API → 503); CDRs and the webhook outbox are
//! kept in a local journal (`pg-journal.jsonl` in the data directory, fsynced) and committed
//! when it returns; reads go on from the mirror; the node reconnects by itself, commits its
//! journal, reloads the mirror (it may have missed notifications) and carries on.

mod copy;
mod journal;
mod row;
mod schema;
pub mod secrets;
// The store's shell: its background thread and the time it reads for its logs.
#[allow(clippy::disallowed_methods)]
mod sync;
#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use postgres::{Client, NoTls, Statement};

use super::{
    Account, App, AppId, BwDomain, Cdr, CdrCursor, CloudUaDomain, Delivery, Endpoint, MemoryStore,
    NodeInfo, Number, Store, StoreError, Trunk,
};
use crate::sip::registrar::{Aor, Binding};
pub use copy::Copied;
use journal::Journal;
use row::{Change, Row};

/// How long connecting may take before the database counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Row changes applied to the mirror but not yet committed.
#[derive(Default)]
struct Pending {
    /// Not yet taken by a flush.
    changes: Vec<Change>,
    /// Taken by the flush under way.
    inflight: Vec<Change>,
}

impl Pending {
    fn touches(&self, row: &Row) -> bool {
        self.changes
            .iter()
            .chain(&self.inflight)
            .any(|c| &c.row == row)
    }
}

/// The connection flushes commit through, with its prepared statement.
struct Writer {
    client: Client,
    commit: Statement,
}

/// The PostgreSQL store of one node.
pub struct PgStore {
    mirror: MemoryStore,
    pending: Mutex<Pending>,
    /// Also the flush lock: one flush at a time.
    writer: Mutex<Option<Writer>>,
    config: postgres::Config,
    /// The URL without its password, for messages.
    redacted: String,
    node: String,
    up: AtomicBool,
    /// The mirror may have diverged (a refused batch, a change that did not apply): the
    /// background thread reloads it.
    reload_wanted: AtomicBool,
    stopping: AtomicBool,
    journal: Journal,
    /// Commit each write at once (tests: every write then meets the database's constraints
    /// alone, not coalesced with the next).
    eager: AtomicBool,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.redacted)
            .field("node", &self.node)
            .field("up", &self.up.load(Ordering::Relaxed))
            .finish()
    }
}

/// A change a write makes: the row, whether it must not exist yet, and its new value when the
/// write already has it (else it is read back from the mirror).
type Touch = (Row, bool, Option<Option<serde_json::Value>>);

fn touch(row: Row) -> Touch {
    (row, false, None)
}

fn create(row: Row) -> Touch {
    (row, true, None)
}

impl PgStore {
    /// Connects, creates or migrates the schema, commits what the local journal kept, loads
    /// the mirror and starts the background thread (notifications, reconnection). Errors say
    /// which: a bad URL, the database unreachable, authentication refused, a newer schema.
    pub fn open(url: &str, node: &str, data_dir: &Path) -> Result<Arc<PgStore>, StoreError> {
        let redacted = crate::config::redact_url(url);
        let mut config: postgres::Config = url.parse().map_err(|e| {
            StoreError::Database(format!("the store URL {redacted} is not valid: {e}"))
        })?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .application_name(&format!("ringmaster {node}"));
        let mut client = config
            .connect(NoTls)
            .map_err(|e| connect_error(&redacted, &e))?;
        schema::migrate(&mut client)?;
        let commit = sync::prepare(&mut client)?;
        let journal = Journal::open(&data_dir.join("pg-journal.jsonl"))?;
        let store = Arc::new(PgStore {
            mirror: MemoryStore::new(),
            pending: Mutex::default(),
            writer: Mutex::new(Some(Writer { client, commit })),
            config,
            redacted,
            node: node.to_string(),
            up: AtomicBool::new(true),
            reload_wanted: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            journal,
            eager: AtomicBool::new(false),
        });
        store.commit_journal()?;
        let mut listening =
            sync::listener(&store).map_err(|e| connect_error(&store.redacted, &e))?;
        store.reload(&mut listening)?;
        // Calls this node owned in a previous life ended with it.
        for id in store.mirror.live_calls_of(node) {
            store.delete_live_call(&id)?;
        }
        store.flush_pending()?;
        crate::metrics::metrics().store_db_up.set(1);
        sync::start_background(store.clone(), listening);
        tracing::info!(url = %store.redacted, node, "PostgreSQL store open");
        Ok(store)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Whether the database answered last time it was asked.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Stops the background thread (it ends within its poll interval).
    pub fn close(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    fn lock_pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_writer(&self) -> MutexGuard<'_, Option<Writer>> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies a write to the mirror and queues its row changes. Writes that would be
    /// acknowledged are refused while the database is away (`kept`: CDRs, outbox, heartbeats
    /// go on into the journal).
    fn change<T>(
        &self,
        kept: bool,
        f: impl FnOnce(&MemoryStore) -> Result<(T, Vec<Touch>), StoreError>,
    ) -> Result<T, StoreError> {
        if !kept && !self.is_up() {
            return Err(StoreError::Unavailable(format!(
                "PostgreSQL at {} is unreachable",
                self.redacted
            )));
        }
        let out = {
            let mut pending = self.lock_pending();
            let (out, touched) = f(&self.mirror)?;
            for (row, create, known) in touched {
                let data = match known {
                    Some(d) => d,
                    None => row::read(&self.mirror, &row)?,
                };
                pending.changes.push(Change { row, data, create });
            }
            out
        };
        if self.eager.load(Ordering::Relaxed) {
            self.flush_pending()?;
        }
        Ok(out)
    }
}

/// The error with its causes ("error connecting to server: Connection refused").
pub(crate) fn describe(e: &postgres::Error) -> String {
    let mut out = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out = format!("{out}: {s}");
        }
        cause = c.source();
    }
    out
}

fn connect_error(redacted: &str, e: &postgres::Error) -> StoreError {
    let e = describe(e);
    let auth = e.contains("password authentication failed");
    if auth {
        StoreError::Database(format!(
            "PostgreSQL at {redacted} refused the credentials: {e}"
        ))
    } else {
        StoreError::Database(format!("cannot connect to PostgreSQL at {redacted}: {e}"))
    }
}

fn value<T: serde::Serialize>(v: &T) -> Option<Option<serde_json::Value>> {
    serde_json::to_value(v).ok().map(Some)
}

impl Store for PgStore {
    fn insert_app(&self, app: &App) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_app(app)?;
            Ok(((), vec![create(Row::App(app.id))]))
        })
    }
    fn app(&self, id: AppId) -> Result<Option<App>, StoreError> {
        self.mirror.app(id)
    }
    fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.mirror.apps()
    }
    fn update_app(&self, app: &App) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.update_app(app)?;
            Ok(((), vec![touch(Row::App(app.id))]))
        })
    }
    fn delete_app(&self, id: AppId) -> Result<(), StoreError> {
        self.change(false, |m| {
            let (members, _) = m.endpoints_of_app(id, 0, usize::MAX)?;
            let numbers = m.numbers(Some(id))?;
            m.delete_app(id)?;
            let mut rows = vec![touch(Row::App(id)), touch(Row::Tombstone(id))];
            for e in &members {
                rows.push(touch(Row::endpoint(&e.domain, &e.username)));
                rows.push(touch(Row::bindings_of(&e.domain, &e.username)));
            }
            rows.extend(numbers.iter().map(|n| touch(Row::Number(n.number.clone()))));
            Ok(((), rows))
        })
    }

    fn insert_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_endpoint(endpoint)?;
            Ok((
                (),
                vec![create(Row::endpoint(&endpoint.domain, &endpoint.username))],
            ))
        })
    }
    fn update_endpoint(&self, endpoint: &Endpoint) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.update_endpoint(endpoint)?;
            let (d, u) = (&endpoint.domain, &endpoint.username);
            Ok((
                (),
                vec![touch(Row::endpoint(d, u)), touch(Row::bindings_of(d, u))],
            ))
        })
    }
    fn endpoint(&self, domain: &str, username: &str) -> Result<Option<Endpoint>, StoreError> {
        self.mirror.endpoint(domain, username)
    }
    fn endpoints_of_app(
        &self,
        app: AppId,
        offset: usize,
        limit: usize,
    ) -> Result<(Vec<Endpoint>, usize), StoreError> {
        self.mirror.endpoints_of_app(app, offset, limit)
    }
    fn delete_endpoint(&self, domain: &str, username: &str) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.delete_endpoint(domain, username)?;
            Ok((
                (),
                vec![
                    touch(Row::endpoint(domain, username)),
                    touch(Row::bindings_of(domain, username)),
                ],
            ))
        })
    }

    fn put_bindings(&self, aor: &Aor, bindings: &[Binding]) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.put_bindings(aor, bindings)?;
            Ok(((), vec![touch(Row::Bindings(aor.clone()))]))
        })
    }
    fn bindings(&self, aor: &Aor) -> Result<Vec<Binding>, StoreError> {
        self.mirror.bindings(aor)
    }
    fn all_bindings(&self) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError> {
        self.mirror.all_bindings()
    }

    fn insert_trunk(&self, trunk: &Trunk) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_trunk(trunk)?;
            Ok(((), vec![create(Row::Trunk(trunk.name.clone()))]))
        })
    }
    fn trunk(&self, name: &str) -> Result<Option<Trunk>, StoreError> {
        self.mirror.trunk(name)
    }
    fn trunks(&self) -> Result<Vec<Trunk>, StoreError> {
        self.mirror.trunks()
    }
    fn delete_trunk(&self, name: &str) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.delete_trunk(name)?;
            Ok(((), vec![touch(Row::Trunk(name.to_string()))]))
        })
    }

    fn insert_number(&self, number: &Number) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_number(number)?;
            Ok(((), vec![create(Row::Number(number.number.clone()))]))
        })
    }
    fn number(&self, digits: &str) -> Result<Option<Number>, StoreError> {
        self.mirror.number(digits)
    }
    fn numbers(&self, app: Option<AppId>) -> Result<Vec<Number>, StoreError> {
        self.mirror.numbers(app)
    }
    fn delete_number(&self, digits: &str) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.delete_number(digits)?;
            Ok(((), vec![touch(Row::Number(digits.to_string()))]))
        })
    }
    fn update_number(&self, number: &Number) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.update_number(number)?;
            Ok(((), vec![touch(Row::Number(number.number.clone()))]))
        })
    }

    fn insert_account(&self, account: &Account) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_account(account)?;
            Ok(((), vec![touch(Row::Account(account.id.clone()))]))
        })
    }
    fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        self.mirror.account(id)
    }
    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        self.mirror.accounts()
    }
    fn delete_account(&self, id: &str) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.delete_account(id)?;
            Ok(((), vec![touch(Row::Account(id.to_string()))]))
        })
    }

    fn insert_bw_domain(&self, domain: &BwDomain) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_bw_domain(domain)?;
            Ok(((), vec![create(Row::BwDomain(domain.id.clone()))]))
        })
    }
    fn bw_domain(&self, id: &str) -> Result<Option<BwDomain>, StoreError> {
        self.mirror.bw_domain(id)
    }
    fn bw_domains_of_account(&self, account: &str) -> Result<Vec<BwDomain>, StoreError> {
        self.mirror.bw_domains_of_account(account)
    }
    fn delete_bw_domain(&self, id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.change(false, |m| {
            let gone = m.delete_bw_domain(id)?;
            let mut rows = vec![touch(Row::BwDomain(id.to_string()))];
            for e in &gone {
                rows.push(touch(Row::endpoint(&e.domain, &e.username)));
                rows.push(touch(Row::bindings_of(&e.domain, &e.username)));
            }
            Ok((gone, rows))
        })
    }
    fn endpoint_by_id(&self, id: &str) -> Result<Option<Endpoint>, StoreError> {
        self.mirror.endpoint_by_id(id)
    }
    fn endpoints_of_bw_domain(&self, domain_id: &str) -> Result<Vec<Endpoint>, StoreError> {
        self.mirror.endpoints_of_bw_domain(domain_id)
    }

    fn insert_cloudua_domain(&self, domain: &CloudUaDomain) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.insert_cloudua_domain(domain)?;
            Ok(((), vec![create(Row::CloudUa(domain.name.clone()))]))
        })
    }
    fn cloudua_domain(&self, name: &str) -> Result<Option<CloudUaDomain>, StoreError> {
        self.mirror.cloudua_domain(name)
    }
    fn cloudua_domains(&self) -> Result<Vec<CloudUaDomain>, StoreError> {
        self.mirror.cloudua_domains()
    }
    fn delete_cloudua_domain(&self, name: &str) -> Result<(), StoreError> {
        self.change(false, |m| {
            m.delete_cloudua_domain(name)?;
            Ok(((), vec![touch(Row::CloudUa(name.to_string()))]))
        })
    }

    fn insert_cdr(&self, cdr: &Cdr, delivery: Option<&Delivery>) -> Result<bool, StoreError> {
        self.change(true, |m| {
            let new = m.insert_cdr(cdr, delivery)?;
            let mut rows = Vec::new();
            if new {
                rows.push((Row::cdr(cdr), false, value(cdr)));
                if let Some(d) = delivery {
                    rows.push((Row::Delivery(self.node.clone(), d.seq), false, value(d)));
                }
            }
            Ok((new, rows))
        })
    }
    fn insert_cdrs(&self, batch: &[(Cdr, Option<Delivery>)]) -> Result<Vec<bool>, StoreError> {
        self.change(true, |m| {
            let mut out = Vec::with_capacity(batch.len());
            let mut rows = Vec::new();
            for (cdr, delivery) in batch {
                let new = m.insert_cdr(cdr, delivery.as_ref())?;
                if new {
                    rows.push((Row::cdr(cdr), false, value(cdr)));
                    if let Some(d) = delivery {
                        rows.push((Row::Delivery(self.node.clone(), d.seq), false, value(d)));
                    }
                }
                out.push(new);
            }
            Ok((out, rows))
        })
    }
    fn cdrs_of_call(&self, cmiuuid: &str) -> Result<Vec<Cdr>, StoreError> {
        self.mirror.cdrs_of_call(cmiuuid)
    }
    fn cdrs(
        &self,
        app: Option<AppId>,
        limit: usize,
        before: Option<&CdrCursor>,
    ) -> Result<Vec<Cdr>, StoreError> {
        self.mirror.cdrs(app, limit, before)
    }
    fn prune_cdrs_before(&self, before: u64, max: usize) -> Result<usize, StoreError> {
        self.change(true, |m| {
            let gone = m.prune_before(before, max);
            let rows = gone.iter().map(|c| (Row::cdr(c), false, Some(None)));
            Ok((gone.len(), rows.collect()))
        })
    }
    fn prune_cdrs_of_app(&self, app: AppId, keep: usize, max: usize) -> Result<usize, StoreError> {
        self.change(true, |m| {
            let gone = m.prune_app(app, keep, max);
            let rows = gone.iter().map(|c| (Row::cdr(c), false, Some(None)));
            Ok((gone.len(), rows.collect()))
        })
    }

    fn put_delivery(&self, delivery: &Delivery) -> Result<(), StoreError> {
        self.change(true, |m| {
            m.put_delivery(delivery)?;
            let row = Row::Delivery(self.node.clone(), delivery.seq);
            Ok(((), vec![(row, false, value(delivery))]))
        })
    }
    fn delete_delivery(&self, seq: u64) -> Result<bool, StoreError> {
        self.change(true, |m| {
            let was = m.delete_delivery(seq)?;
            let row = Row::Delivery(self.node.clone(), seq);
            Ok((was, vec![(row, false, Some(None))]))
        })
    }
    fn deliveries(&self) -> Result<Vec<Delivery>, StoreError> {
        self.mirror.deliveries()
    }

    fn put_node(&self, node: &NodeInfo) -> Result<(), StoreError> {
        self.change(true, |m| {
            m.put_node(node)?;
            Ok(((), vec![(Row::Node(node.id.clone()), false, value(node))]))
        })
    }
    fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        self.mirror.nodes()
    }
    fn delete_node(&self, id: &str) -> Result<(), StoreError> {
        self.change(true, |m| {
            m.delete_node(id)?;
            Ok(((), vec![(Row::Node(id.to_string()), false, Some(None))]))
        })
    }

    fn put_live_call(&self, id: &str, node: &str) -> Result<(), StoreError> {
        self.change(true, |m| {
            m.put_live_call(id, node)?;
            let data = serde_json::json!({ "node": node });
            Ok((
                (),
                vec![(Row::Call(id.to_string()), false, Some(Some(data)))],
            ))
        })
    }
    fn delete_live_call(&self, id: &str) -> Result<(), StoreError> {
        self.change(true, |m| {
            m.delete_live_call(id)?;
            Ok(((), vec![(Row::Call(id.to_string()), false, Some(None))]))
        })
    }
    fn live_call_node(&self, id: &str) -> Result<Option<String>, StoreError> {
        self.mirror.live_call_node(id)
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.flush_pending()
    }
}
