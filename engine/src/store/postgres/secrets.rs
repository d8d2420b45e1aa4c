//! Secrets every node must share (the admin token, the digest nonce key, the password-sealing
//! key), kept in the database sealed with a key derived from the cluster secret — a file each
//! node is given and the database never sees — so a copy of the database alone reveals none.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::PgStore;
use crate::store::StoreError;

/// The shortest cluster secret accepted.
pub const MIN_CLUSTER_SECRET: usize = 32;

/// Reads the cluster secret file (trailing whitespace ignored); refuses one shorter than
/// [`MIN_CLUSTER_SECRET`] bytes.
pub fn read_cluster_secret(path: &std::path::Path) -> Result<Vec<u8>, StoreError> {
    let raw = std::fs::read(path).map_err(|source| StoreError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let trimmed = raw.trim_ascii_end().to_vec();
    if trimmed.len() < MIN_CLUSTER_SECRET {
        return Err(StoreError::Database(format!(
            "the cluster secret in {} has {} bytes; at least {MIN_CLUSTER_SECRET} are needed",
            path.display(),
            trimmed.len()
        )));
    }
    Ok(trimmed)
}

fn cipher(cluster_secret: &[u8]) -> ChaCha20Poly1305 {
    let mut h = Sha256::new();
    h.update(b"ringmaster shared secrets v1\0");
    h.update(cluster_secret);
    ChaCha20Poly1305::new(Key::from_slice(&h.finalize()))
}

fn seal(c: &ChaCha20Poly1305, name: &str, plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let ct = c
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain,
                aad: name.as_bytes(),
            },
        )
        // Encryption only fails for inputs beyond 2^38 bytes; secrets are ≤ 64.
        .expect("chacha20poly1305 encrypt of a short input");
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    out
}

fn open(c: &ChaCha20Poly1305, name: &str, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
    if sealed.len() < 12 {
        return Err(StoreError::Corrupt {
            key: format!("secret {name}"),
            reason: "too short".into(),
        });
    }
    let (nonce, ct) = sealed.split_at(12);
    c.decrypt(
        Nonce::from_slice(nonce),
        Payload {
            msg: ct,
            aad: name.as_bytes(),
        },
    )
    .map_err(|_| {
        StoreError::Database(format!(
            "the shared secret {name} does not open with this node's cluster secret: \
             give every node the same --cluster-secret-file"
        ))
    })
}

impl PgStore {
    /// The secret `name`, created once cluster-wide (`len` random bytes, hex text when `text`)
    /// by whichever node asks first. Start-up only: it talks to the database directly.
    pub fn shared_secret(
        &self,
        cluster_secret: &[u8],
        name: &str,
        len: usize,
        text: bool,
    ) -> Result<Vec<u8>, StoreError> {
        let c = cipher(cluster_secret);
        let mut raw = vec![0u8; len];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let fresh = if text {
            hex::encode(&raw).into_bytes()
        } else {
            raw
        };
        let sealed = seal(&c, name, &fresh);
        let mut writer = self.lock_writer();
        let w = writer
            .as_mut()
            .ok_or_else(|| StoreError::Unavailable("no connection".into()))?;
        let db = |e: postgres::Error| StoreError::Database(e.to_string());
        w.client
            .execute(
                "INSERT INTO secrets (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&name, &sealed],
            )
            .map_err(db)?;
        let row = w
            .client
            .query_one("SELECT sealed FROM secrets WHERE name = $1", &[&name])
            .map_err(db)?;
        let stored: Vec<u8> = row.get(0);
        open(&c, name, &stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_cluster_secret_and_name() {
        let a = cipher(&[7u8; 32]);
        let b = cipher(&[8u8; 32]);
        let sealed = seal(&a, "admin_token", b"s3cret");
        assert_eq!(open(&a, "admin_token", &sealed).unwrap(), b"s3cret");
        assert!(open(&b, "admin_token", &sealed).is_err());
        assert!(open(&a, "nonce_key", &sealed).is_err());
        assert!(open(&a, "x", &sealed[..5]).is_err());
    }

    #[test]
    fn short_cluster_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "short\n").unwrap();
        assert!(read_cluster_secret(&p).is_err());
        std::fs::write(&p, format!("{}\n", "x".repeat(32))).unwrap();
        assert_eq!(read_cluster_secret(&p).unwrap().len(), 32);
    }
}
