//! The node's local journal: CDRs and outbox changes made while PostgreSQL was away, fsynced
//! before the flush that wrote them returns, committed when the database is back (also after a
//! restart: [`super::PgStore::open`] commits it first).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::row::{Change, Row};
use crate::store::StoreError;

#[derive(Serialize, Deserialize)]
struct Line {
    kind: String,
    k: String,
    data: Option<Value>,
}

pub(super) struct Journal {
    path: PathBuf,
    /// One writer at a time, so lines never interleave.
    lock: Mutex<()>,
}

impl Journal {
    pub fn open(path: &Path) -> Result<Journal, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        Ok(Journal {
            path: path.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends and fsyncs.
    pub fn append(&self, changes: &[Change]) -> Result<(), StoreError> {
        if changes.is_empty() {
            return Ok(());
        }
        let _g = self.guard();
        let mut out = Vec::new();
        for c in changes {
            let line = Line {
                kind: c.row.kind().to_string(),
                k: c.row.key(),
                data: c.data.clone(),
            };
            serde_json::to_writer(&mut out, &line).map_err(|e| StoreError::Corrupt {
                key: line.k.clone(),
                reason: e.to_string(),
            })?;
            out.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&out)?;
        f.sync_all()?;
        Ok(())
    }

    /// Every complete line, in order; a torn last line (a crash mid-append, never fsynced and so
    /// never acknowledged) is skipped.
    pub fn read(&self) -> Result<Vec<Change>, StoreError> {
        let _g = self.guard();
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut out = Vec::new();
        for line in BufReader::new(f).lines() {
            let line = line?;
            let Ok(l) = serde_json::from_str::<Line>(&line) else {
                continue;
            };
            if let Some(row) = Row::parse(&l.kind, &l.k) {
                out.push(Change {
                    row,
                    data: l.data,
                    create: false,
                });
            }
        }
        Ok(out)
    }

    /// Empties it (after its changes were committed).
    pub fn clear(&self) -> Result<(), StoreError> {
        let _g = self.guard();
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        if let Some(dir) = self.path.parent() {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_changes_come_back_in_order_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.jsonl")).unwrap();
        assert!(j.read().unwrap().is_empty());
        let a = Change {
            row: Row::Cdr("c1".into(), "a".into()),
            data: Some(serde_json::json!({"x": 1})),
            create: false,
        };
        let b = Change {
            row: Row::Delivery("n1".into(), 4),
            data: None,
            create: false,
        };
        j.append(&[a]).unwrap();
        j.append(&[b]).unwrap();
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.path().join("j.jsonl"))
            .unwrap();
        f.write_all(b"{\"kind\":\"cdr\",\"k\":\"[").unwrap();
        let back = j.read().unwrap();
        assert_eq!(back.len(), 2);
        assert_eq!(back[0].row, Row::Cdr("c1".into(), "a".into()));
        assert_eq!(back[1].data, None);
        j.clear().unwrap();
        assert!(j.read().unwrap().is_empty());
    }
}
