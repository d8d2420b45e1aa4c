//! Moving changes between the mirror and PostgreSQL: the group commit (one statement per
//! batch), the snapshot load, the notifications of other nodes' commits, and recovery after the
//! database was away.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls, Statement};
use serde_json::Value;

use super::row::{self, Change, Row};
use super::{PgStore, Writer};
use crate::store::{MemoryStore, StoreError};

/// The channel every node listens on.
const CHANNEL: &str = "ringmaster";
/// A notification carries the row's data when it is at most this long (PostgreSQL's limit is
/// 8000 bytes for the whole payload); longer rows are read back by the receiver.
const INLINE_DATA: i32 = 7000;
/// How often the background thread wakes to flush un-synced writes and check the connection.
const TICK: Duration = Duration::from_millis(100);
/// Between attempts to reach a database that is away.
const RETRY: Duration = Duration::from_secs(1);

/// Deletes, upserts and (refused if present) inserts a batch of rows and notifies the other
/// nodes, all in one statement: one round trip, one transaction. Data-modifying CTEs run
/// whether or not the outer query reads them; the batch has each row at most once, so they
/// never touch the same row twice.
const COMMIT: &str = r#"
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::int2[])
        WITH ORDINALITY AS t(kind, k, data, op, n)
), removed AS (
    DELETE FROM records r USING input i WHERE i.op = 0 AND r.kind = i.kind AND r.k = i.k
    RETURNING 1
), created AS (
    INSERT INTO records (kind, k, data) SELECT kind, k, data FROM input WHERE op = 2
    RETURNING 1
), upserted AS (
    INSERT INTO records (kind, k, data) SELECT kind, k, data FROM input WHERE op = 1
    ON CONFLICT (kind, k) DO UPDATE SET data = EXCLUDED.data, updated_at = now()
    RETURNING 1
)
SELECT count(pg_notify('ringmaster', concat_ws(E'\t', $5::text, kind, k,
    CASE WHEN op = 0 THEN 'd'
         WHEN octet_length(data::text) <= $6::int4 THEN 'p'
         ELSE 'f' END,
    CASE WHEN op <> 0 AND octet_length(data::text) <= $6::int4 THEN data::text END)))
FROM (SELECT * FROM input WHERE kind <> 'delivery' ORDER BY n) notified
"#;

fn db(e: postgres::Error) -> StoreError {
    StoreError::Database(e.to_string())
}

fn round_trip() {
    crate::metrics::metrics().store_db_round_trips.inc();
}

pub(super) fn prepare(client: &mut Client) -> Result<Statement, StoreError> {
    round_trip();
    client.prepare(COMMIT).map_err(db)
}

/// A connection-level failure (the database went away), as opposed to a refused statement.
fn is_connection_error(e: &postgres::Error) -> bool {
    e.is_closed() || e.code().is_none()
}

/// One change per row, the last value winning; a row created and deleted within the batch
/// is dropped. Deletes go first (dependents before what they depend on), then puts in load
/// order, so a receiver applying them in order never sees an endpoint before its app.
fn coalesce(batch: &[Change]) -> Vec<Change> {
    let mut by_row: BTreeMap<&Row, Change> = BTreeMap::new();
    for c in batch {
        match by_row.get_mut(&c.row) {
            Some(prev) => {
                prev.data = c.data.clone();
            }
            None => {
                by_row.insert(&c.row, c.clone());
            }
        }
    }
    let mut out: Vec<Change> = by_row
        .into_values()
        .filter(|c| !(c.create && c.data.is_none()))
        .collect();
    out.sort_by_key(|c| match c.data {
        None => (0, u8::MAX - c.row.rank()),
        Some(_) => (1, c.row.rank()),
    });
    out
}

fn commit(w: &mut Writer, node: &str, batch: &[Change]) -> Result<(), postgres::Error> {
    let batch = coalesce(batch);
    if batch.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = batch.iter().map(|c| c.row.kind()).collect();
    let keys: Vec<String> = batch.iter().map(|c| c.row.key()).collect();
    let data: Vec<Option<&Value>> = batch.iter().map(|c| c.data.as_ref()).collect();
    let ops: Vec<i16> = batch
        .iter()
        .map(|c| match (&c.data, c.create) {
            (None, _) => 0,
            (Some(_), false) => 1,
            (Some(_), true) => 2,
        })
        .collect();
    round_trip();
    w.client.query_one(
        &w.commit,
        &[&kinds, &keys, &data, &ops, &node, &INLINE_DATA],
    )?;
    crate::metrics::metrics().store_db_commits.inc();
    Ok(())
}

impl PgStore {
    fn connect(&self) -> Result<Client, postgres::Error> {
        self.config.connect(NoTls)
    }

    /// A fresh connection for the flushes, with the commit statement prepared.
    fn new_writer(&self) -> Result<Writer, StoreError> {
        let mut client = self.connect().map_err(db)?;
        let commit = prepare(&mut client)?;
        Ok(Writer { client, commit })
    }

    pub(super) fn mark_down(&self, why: &str) {
        if self.up.swap(false, Ordering::AcqRel) {
            crate::metrics::metrics().store_db_up.set(0);
            tracing::warn!(url = %self.redacted, reason = why, "PostgreSQL store unreachable: \
                 refusing acknowledged writes, keeping CDRs and events locally");
        }
    }

    /// Commits what was queued. Called by the group-commit thread and the background tick.
    pub(super) fn flush_pending(&self) -> Result<(), StoreError> {
        let mut writer = self.lock_writer();
        let batch = {
            let mut p = self.lock_pending();
            p.inflight = std::mem::take(&mut p.changes);
            p.inflight.clone()
        };
        let result = self.commit_batch(&mut writer, &batch);
        self.lock_pending().inflight.clear();
        result
    }

    fn commit_batch(
        &self,
        writer: &mut Option<Writer>,
        batch: &[Change],
    ) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if !self.is_up() {
            return self.keep_locally(batch);
        }
        if writer.is_none() {
            match self.new_writer() {
                Ok(w) => *writer = Some(w),
                Err(e) => {
                    self.mark_down(&e.to_string());
                    return self.keep_locally(batch);
                }
            }
        }
        let Some(w) = writer.as_mut() else {
            return self.keep_locally(batch);
        };
        match commit(w, &self.node, batch) {
            Ok(()) => Ok(()),
            Err(e) if is_connection_error(&e) => {
                *writer = None;
                self.mark_down(&e.to_string());
                self.keep_locally(batch)
            }
            Err(e) => {
                // Refused (another node inserted the same key first, most likely): the
                // history and outbox rows of the batch still go, alone; the mirror is reloaded
                // since it holds writes the database refused.
                let kept: Vec<Change> = batch
                    .iter()
                    .filter(|c| c.row.kept_while_down())
                    .cloned()
                    .collect();
                if let Err(e2) = commit(w, &self.node, &kept) {
                    tracing::warn!(error = %e2, "committing the batch's CDRs alone failed");
                    self.journal.append(&kept)?;
                }
                self.reload_wanted.store(true, Ordering::Release);
                let unique = e
                    .code()
                    .is_some_and(|c| *c == postgres::error::SqlState::UNIQUE_VIOLATION);
                Err(if unique { StoreError::Conflict } else { db(e) })
            }
        }
    }

    /// The database is away: CDRs, the outbox and heartbeats go to the local journal; any other
    /// change in the batch is refused (its caller gets `Unavailable`) and forgotten by the next
    /// reload.
    fn keep_locally(&self, batch: &[Change]) -> Result<(), StoreError> {
        let (kept, refused): (Vec<Change>, Vec<Change>) = batch
            .iter()
            .filter(|c| !matches!(c.row, Row::Node(_)))
            .cloned()
            .partition(|c| c.row.kept_while_down());
        self.journal.append(&kept)?;
        if refused.is_empty() {
            Ok(())
        } else {
            self.reload_wanted.store(true, Ordering::Release);
            Err(StoreError::Unavailable(format!(
                "PostgreSQL at {} is unreachable",
                self.redacted
            )))
        }
    }

    /// Commits the journal's changes (kept while the database was away), then empties it.
    pub(super) fn commit_journal(&self) -> Result<(), StoreError> {
        let kept = self.journal.read()?;
        if kept.is_empty() {
            return Ok(());
        }
        let mut writer = self.lock_writer();
        let w = writer
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))?;
        commit(w, &self.node, &kept).map_err(db)?;
        self.journal.clear()?;
        tracing::info!(changes = kept.len(), "journal committed to PostgreSQL");
        Ok(())
    }

    /// Replaces the mirror with a snapshot of the database (this node's own outbox only), then
    /// re-applies the changes not yet committed, which will win when they are.
    pub(super) fn reload(&self, client: &mut Client) -> Result<(), StoreError> {
        let started = Instant::now();
        let prefix = format!("[{},", serde_json::Value::from(self.node.as_str()));
        round_trip();
        let rows = client
            .query(
                "SELECT kind, k, data FROM records WHERE kind <> 'delivery' OR starts_with(k, $1)",
                &[&prefix],
            )
            .map_err(db)?;
        let mut parsed: Vec<(Row, Value)> = Vec::with_capacity(rows.len());
        for r in &rows {
            let (kind, k): (&str, &str) = (r.get(0), r.get(1));
            match Row::parse(kind, k) {
                Some(row) => parsed.push((row, r.get(2))),
                None => tracing::warn!(kind, key = k, "unknown row in the store skipped"),
            }
        }
        parsed.sort_by_key(|(row, _)| row.rank());
        let fresh = MemoryStore::new();
        let mut failed = 0usize;
        for (row, data) in &parsed {
            if let Err(e) = row::apply(&fresh, row, Some(data)) {
                failed += 1;
                tracing::warn!(kind = row.kind(), key = %row.key(), error = %e,
                    "a stored row does not apply");
            }
        }
        let pending = self.lock_pending();
        self.mirror.replace_with(fresh);
        for c in pending.inflight.iter().chain(&pending.changes) {
            let _ = row::apply(&self.mirror, &c.row, c.data.as_ref());
        }
        drop(pending);
        self.reload_wanted.store(false, Ordering::Release);
        tracing::info!(
            rows = parsed.len(),
            failed,
            ms = started.elapsed().as_millis() as u64,
            "store mirror loaded from PostgreSQL"
        );
        Ok(())
    }

    /// Another node's committed change.
    fn on_notification(&self, client: &mut Client, payload: &str) {
        let mut parts = payload.splitn(5, '\t');
        let (Some(node), Some(kind), Some(k), Some(flag)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        if node == self.node {
            return;
        }
        let Some(row) = Row::parse(kind, k) else {
            return;
        };
        let data: Option<Value> = match flag {
            "d" => None,
            "p" => parts.next().and_then(|d| serde_json::from_str(d).ok()),
            _ => {
                round_trip();
                match client.query_opt(
                    "SELECT data FROM records WHERE kind = $1 AND k = $2",
                    &[&kind, &k],
                ) {
                    Ok(r) => r.map(|r| r.get(0)),
                    Err(_) => return,
                }
            }
        };
        if flag == "p" && data.is_none() {
            self.reload_wanted.store(true, Ordering::Release);
            return;
        }
        let pending = self.lock_pending();
        // A local change to the same row is on its way and will win in the database.
        if pending.touches(&row) {
            return;
        }
        if let Err(e) = row::apply(&self.mirror, &row, data.as_ref()) {
            tracing::debug!(kind, key = k, error = %e, "a notified change did not apply; reloading");
            self.reload_wanted.store(true, Ordering::Release);
        }
    }

    /// One listening connection's life on the background thread: apply, flush, until it fails.
    fn serve_connection(&self, client: &mut Client) -> Result<(), postgres::Error> {
        if !self.is_up() || self.reload_wanted.load(Ordering::Acquire) {
            if let Err(e) = self.recover(client) {
                tracing::warn!(error = %e, "store recovery failed; retrying");
                return Ok(());
            }
        }
        while !self.stopping.load(Ordering::Acquire) {
            let mut payloads = Vec::new();
            {
                let mut notes = client.notifications();
                let mut it = notes.timeout_iter(TICK);
                while let Some(n) = it.next()? {
                    payloads.push(n.payload().to_string());
                    if payloads.len() >= 1000 {
                        break;
                    }
                }
            }
            for p in &payloads {
                self.on_notification(client, p);
            }
            if client.is_closed() {
                return Ok(());
            }
            if self.reload_wanted.load(Ordering::Acquire) && self.is_up() {
                if let Err(e) = self.reload(client) {
                    tracing::warn!(error = %e, "store reload failed");
                    return Ok(());
                }
            }
            let queued = !self.lock_pending().changes.is_empty();
            if queued {
                if let Err(e) = self.flush_pending() {
                    tracing::debug!(error = %e, "background flush failed");
                }
            }
            if !self.is_up() {
                // The writer saw the database go; this connection is suspect too.
                return Ok(());
            }
        }
        Ok(())
    }

    /// Back after an outage: a fresh writer, the journal committed, the mirror reloaded.
    fn recover(&self, client: &mut Client) -> Result<(), StoreError> {
        *self.lock_writer() = Some(self.new_writer()?);
        self.commit_journal()?;
        self.reload(client)?;
        if !self.up.swap(true, Ordering::AcqRel) {
            crate::metrics::metrics().store_db_up.set(1);
            tracing::info!(url = %self.redacted, "PostgreSQL store reachable again");
        }
        Ok(())
    }
}

/// A connection that listens to the other nodes' commits. Listen first, then read: a change
/// committed in between is both in the snapshot and notified, never in neither.
pub(super) fn listener(store: &PgStore) -> Result<Client, postgres::Error> {
    let mut client = store.connect()?;
    round_trip();
    client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    Ok(client)
}

/// Starts the background thread: notifications, un-synced writes, reconnection. `first` is
/// the listening connection the snapshot was loaded through.
pub(super) fn start_background(store: Arc<PgStore>, first: Client) {
    let mut first = Some(first);
    let spawned = std::thread::Builder::new()
        .name("store-pg".into())
        .spawn(move || {
            while !store.stopping.load(Ordering::Acquire) {
                let next = match first.take() {
                    Some(c) => Ok(c),
                    None => {
                        // A new connection may have missed notifications: reload after LISTEN.
                        store.reload_wanted.store(true, Ordering::Release);
                        listener(&store)
                    }
                };
                match next {
                    Ok(mut client) => {
                        if let Err(e) = store.serve_connection(&mut client) {
                            store.mark_down(&e.to_string());
                        }
                    }
                    Err(e) => {
                        store.mark_down(&e.to_string());
                        // Keep the outbox moving into the journal while we wait.
                        let _ = store.flush_pending();
                    }
                }
                if !store.stopping.load(Ordering::Acquire) {
                    std::thread::sleep(if store.is_up() { TICK } else { RETRY });
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the PostgreSQL store's thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AppId;

    fn change(row: Row, data: Option<Value>, create: bool) -> Change {
        Change { row, data, create }
    }

    #[test]
    fn a_batch_keeps_one_change_per_row_deletes_first_then_dependencies_first() {
        let app = Row::App(AppId(1));
        let ep = Row::endpoint("d", "u");
        let gone = Row::Trunk("t".into());
        let batch = vec![
            change(ep.clone(), Some(Value::from(1)), true),
            change(app.clone(), Some(Value::from(1)), true),
            change(app.clone(), Some(Value::from(2)), false),
            change(gone.clone(), None, false),
            change(Row::Number("9".into()), Some(Value::from(1)), true),
            change(Row::Number("9".into()), None, false),
        ];
        let out = coalesce(&batch);
        let rows: Vec<&Row> = out.iter().map(|c| &c.row).collect();
        assert_eq!(rows, vec![&gone, &app, &ep]);
        assert_eq!(out[1].data, Some(Value::from(2)));
        assert!(
            out[1].create,
            "the first change decides whether the row is new"
        );
    }
}
