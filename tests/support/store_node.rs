//! ringmaster nodes on a PostgreSQL store, for the store's end-to-end tests: the `serve` flags
//! that put a node on a store (`--store URL --node-id ID --cluster-secret-file F`), a cluster
//! secret file, the store's metrics on `/metrics`, and the admin API with a given token.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Server;

/// A cluster secret file (48 random bytes as hex) in `dir`; every node of one store gets it.
pub fn secret_file(dir: &Path) -> PathBuf {
    let path = dir.join("cluster.secret");
    let mut bytes = [0u8; 48];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"),
        &mut bytes,
    )
    .expect("random bytes");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, hex).expect("write the cluster secret");
    path
}

/// The `serve` flags of node `node_id` on the store at `url`.
pub fn node_flags(url: &str, node_id: &str, secret: &Path) -> Vec<String> {
    vec![
        "--store".into(),
        url.into(),
        "--node-id".into(),
        node_id.into(),
        "--cluster-secret-file".into(),
        secret.to_str().expect("utf-8 path").into(),
    ]
}

/// The value of a metric on the server's `/metrics` whose name ends in `suffix` (any prefix,
/// labels summed); None when the server exports no such metric.
pub fn metric(srv: &Server, suffix: &str) -> Option<f64> {
    let text = ureq::get(&format!("http://{}/metrics", srv.http))
        .timeout(Duration::from_secs(5))
        .call()
        .ok()?
        .into_string()
        .ok()?;
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let bare = name.split('{').next().unwrap_or(name);
        if bare.ends_with(suffix) {
            if let Ok(v) = value.parse::<f64>() {
                *found.get_or_insert(0.0) += v;
            }
        }
    }
    found
}

/// Waits (at most `limit`) until `store_db_up` reads `up` (1 or 0); panics with the log if not.
pub fn wait_db_up(srv: &Server, up: f64, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let now = metric(srv, "store_db_up");
        if now == Some(up) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "store_db_up is {now:?}, not {up}, after {limit:?}; log:\n{}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The admin token a node keeps in its data directory.
pub fn admin_token(srv: &Server) -> String {
    std::fs::read_to_string(srv.dir.join("admin.token"))
        .expect("admin token")
        .trim()
        .to_string()
}

/// `method` on the admin API of `srv` with `token`; the status and the JSON answer.
pub fn admin(
    srv: &Server,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let req = ureq::request(method, &format!("http://{}{}", srv.http, path))
        .set("authorization", &format!("Bearer {token}"))
        .timeout(Duration::from_secs(10));
    let resp = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    let resp = match resp {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    (resp.status(), resp.into_json().unwrap_or(Value::Null))
}

/// Calls `probe` until it returns Some (at most `limit`); its value, or panics naming `what`.
pub fn within<T>(limit: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
