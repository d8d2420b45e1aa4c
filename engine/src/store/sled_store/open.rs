//! Opening a sled store without harming what is already there.
//!
//! The promise: a store that fails to open leaves its directory exactly as it was. sled alone
//! does not keep it. Before it takes its file lock, `sled::open` creates `blobs/` and writes
//! `conf` into any directory it is given; and a *successful* open rewrites the log and writes a
//! new `snap.*` file, so a format version kept inside sled could only be read by changing the
//! store. Hence these checks, all made before sled sees the directory:
//!
//! 1. The path is missing (a new store: create it) or a directory (else [`StoreError::Open`],
//!    kind `NotADirectory`).
//! 2. The directory holds our marker file, [`MARKER_FILE`] (JSON, `{"format":1,...}`): a
//!    version other than [`FORMAT_VERSION`] is refused ([`StoreError::FormatVersion`]). Without
//!    a marker the directory must be empty (a new store), else [`StoreError::NotAStore`]: we do
//!    not write sled files into a directory that holds something else.
//! 3. Only then `sled::open`. If it fails and sled's `db` file is locked by someone else, the
//!    error is [`StoreError::Locked`]; otherwise [`StoreError::Open`] with sled's reason.
//!
//! A new store gets its marker *before* sled's files, written to a temporary name, synced and
//! renamed: a crash in between leaves a marker and no data, which opens fine next time.
//!
//! What sled does itself when it fails (checked in the tests): a directory locked by another
//! handle gets no writes at all (its files exist, so sled creates nothing before the lock); an
//! unwritable directory or `db` file fails with `PermissionDenied` before anything is written.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use fs2::FileExt;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;

/// The name of the marker file that says "this directory is a ringmaster store, format N".
pub const MARKER_FILE: &str = "ringmaster-store.json";

/// The on-disk format this build reads and writes. Bump it (and teach `open` to migrate or
/// refuse) whenever a key layout or a record's JSON shape changes incompatibly.
pub const FORMAT_VERSION: u64 = 1;

#[derive(Serialize, Deserialize)]
struct Marker {
    format: u64,
    /// Informational: which backend wrote the files.
    backend: String,
}

/// Runs the checks of the module doc and opens sled.
pub(super) fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
    let shown = dir.display().to_string();
    let open_err = |source: io::Error| StoreError::Open {
        path: shown.clone(),
        source,
    };
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => match fs::read(dir.join(MARKER_FILE)) {
            Ok(bytes) => check_marker(&shown, &bytes)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if fs::read_dir(dir).map_err(open_err)?.next().is_some() {
                    return Err(StoreError::NotAStore {
                        path: shown,
                        marker: MARKER_FILE,
                    });
                }
                write_marker(dir).map_err(open_err)?;
            }
            Err(e) => return Err(open_err(e)),
        },
        Ok(_) => {
            return Err(open_err(io::Error::new(
                io::ErrorKind::NotADirectory,
                "the path exists but is not a directory",
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(open_err)?;
            if let Err(e) = write_marker(dir) {
                // We created the directory a moment ago; leave no trace of a failed start.
                let _ = fs::remove_dir(dir);
                return Err(open_err(e));
            }
        }
        Err(e) => return Err(open_err(e)),
    }
    sled::Config::new().path(dir).open().map_err(|err| {
        if held_by_another(dir) {
            StoreError::Locked {
                path: shown.clone(),
            }
        } else {
            open_err(match err {
                sled::Error::Io(e) => e,
                other => io::Error::other(other),
            })
        }
    })
}

fn check_marker(shown: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let found = serde_json::from_slice::<Marker>(bytes)
        .ok()
        .map(|m| m.format);
    if found == Some(FORMAT_VERSION) {
        Ok(())
    } else {
        Err(StoreError::FormatVersion {
            path: shown.to_owned(),
            found,
            supported: FORMAT_VERSION,
        })
    }
}

fn write_marker(dir: &Path) -> io::Result<()> {
    let marker = Marker {
        format: FORMAT_VERSION,
        backend: "sled-0.34".to_owned(),
    };
    // A struct of a number and a string always serialises.
    let json = serde_json::to_vec(&marker).expect("the marker always serialises");
    let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
    let mut file = File::create(&tmp)?;
    file.write_all(&json)?;
    file.sync_all()?;
    fs::rename(&tmp, dir.join(MARKER_FILE))?;
    // Make the rename itself durable.
    File::open(dir)?.sync_all()
}

/// True when sled's `db` file exists and someone else holds its lock. sled reports a held lock
/// as a generic I/O error with the reason in a string, so we ask the lock itself. A shared lock
/// conflicts with sled's exclusive one, also within this process (flock locks belong to the
/// open file, not the process); if we get it, closing the file releases it at once.
fn held_by_another(dir: &Path) -> bool {
    match File::open(dir.join("db")) {
        // Through the trait: newer std has an inherent `File::try_lock_shared` (Rust 1.89), and
        // our MSRV is older.
        Ok(file) => FileExt::try_lock_shared(&file)
            .is_err_and(|e| e.kind() == fs2::lock_contended_error().kind()),
        Err(_) => false,
    }
}
