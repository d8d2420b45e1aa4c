//! A real PostgreSQL server for the tests of the PostgreSQL store, started with
//! `scripts/pg` (Debian's server binaries, run as the `postgres` user) in its own directory,
//! listening on 127.0.0.1 only, and stopped (then killed by PID if need be) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running PostgreSQL.
pub struct Postgres {
    pub dir: PathBuf,
    /// `postgres://ringmaster:ringmaster@127.0.0.1:PORT/ringmaster`.
    pub url: String,
    port: u16,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/pg")
}

impl Postgres {
    /// initdb + start in `dir` (a fresh directory), on a free port.
    pub fn start(dir: &Path) -> Postgres {
        let port = super::free_port();
        let out = Command::new(script())
            .arg("start")
            .arg(dir)
            .arg(port.to_string())
            .output()
            .expect("run scripts/pg");
        assert!(
            out.status.success(),
            "scripts/pg start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(url.starts_with("postgres://"), "scripts/pg printed {url:?}");
        Postgres {
            dir: dir.to_path_buf(),
            url,
            port,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's PID while it runs.
    pub fn pid(&self) -> Option<u32> {
        let out = Command::new(script())
            .arg("pid")
            .arg(&self.dir)
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout).trim().parse().ok()
    }

    /// `pg_ctl stop -m MODE` (`fast` or `immediate`: the latter as a crash would).
    pub fn stop(&self, mode: &str) {
        let ok = Command::new(script())
            .arg("stop")
            .arg(&self.dir)
            .arg(mode)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "scripts/pg stop {mode}");
    }

    /// Starts it again on the same port and data.
    pub fn restart(&self) {
        let out = Command::new(script())
            .arg("start")
            .arg(&self.dir)
            .arg(self.port.to_string())
            .output()
            .expect("run scripts/pg");
        assert!(
            out.status.success(),
            "scripts/pg start (again) failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// One SQL statement through psql as the superuser over the socket; its output.
    pub fn psql(&self, sql: &str) -> String {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-qAtX", "-h"])
            .arg(&self.dir)
            .args(["-p", &self.port.to_string(), "-d", "ringmaster", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(&self.dir)
            .arg("immediate")
            .status();
        // Still there (its pid file is removed when it exits): pg_ctl gave up.
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    }
}
