//! Secrets kept in the data directory: the admin API token, the nonce key (so digest nonces
//! stay valid across a restart) and the password-sealing key. Each is created once, written
//! atomically with mode 0600, and never logged.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::RngCore;

/// Reading or creating a key file failed.
#[derive(Debug, thiserror::Error)]
#[error("key file {path}: {source}")]
pub struct KeyError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyError + '_ {
    move |source| KeyError {
        path: path.to_path_buf(),
        source,
    }
}

/// The bytes of `name` in `dir`, creating it with `len` random bytes (hex-encoded when `text`)
/// if it does not exist.
fn load_or_create(dir: &Path, name: &str, len: usize, text: bool) -> Result<Vec<u8>, KeyError> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(b) => return Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&path)(e)),
    }
    let mut raw = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let content = if text {
        hex::encode(&raw).into_bytes()
    } else {
        raw
    };
    write_private(dir, name, &content)?;
    Ok(content)
}

/// Writes `name` in `dir` atomically (a temporary file, fsynced, renamed), mode 0600.
fn write_private(dir: &Path, name: &str, content: &[u8]) -> Result<(), KeyError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(content).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).map_err(io(&tmp))?;
    fs::rename(&tmp, &path).map_err(io(&path))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The shortest admin token the server accepts. An operator may write their own token into
/// the file (to share it with a deployment tool), but an empty or short one would let a
/// guesser (or a request with no token at all) in; 32 characters of hex are 128 bits.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// The admin bearer token (`<data-dir>/admin.token`, 64 hex characters when generated). A file
/// holding fewer than [`MIN_ADMIN_TOKEN_CHARS`] characters (surrounding whitespace aside)
/// stops start-up with an error naming the file.
pub fn admin_token(dir: &Path) -> Result<String, KeyError> {
    let b = load_or_create(dir, "admin.token", 32, true)?;
    let token = String::from_utf8_lossy(&b).trim().to_string();
    let chars = token.chars().count();
    if chars < MIN_ADMIN_TOKEN_CHARS {
        return Err(KeyError {
            path: dir.join("admin.token"),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the admin token is {chars} characters long; at least \
                     {MIN_ADMIN_TOKEN_CHARS} are required (write a longer one, or delete the \
                     file and a random one is generated at start)"
                ),
            ),
        });
    }
    Ok(token)
}

/// Writes the admin token a shared store holds into `<data-dir>/admin.token` (atomically,
/// mode 0600), so the CLI on this node reads the token every node accepts.
pub fn write_admin_token(dir: &Path, token: &str) -> Result<(), KeyError> {
    let path = dir.join("admin.token");
    if fs::read_to_string(&path).is_ok_and(|t| t.trim() == token) {
        return Ok(());
    }
    write_private(dir, "admin.token", token.as_bytes())
}

fn key32(dir: &Path, name: &str) -> Result<[u8; 32], KeyError> {
    let b = load_or_create(dir, name, 32, false)?;
    b.try_into().map_err(|_| KeyError {
        path: dir.join(name),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "expected 32 bytes"),
    })
}

/// The HMAC key of digest nonces.
pub fn nonce_key(dir: &Path) -> Result<[u8; 32], KeyError> {
    key32(dir, "nonce.key")
}

/// The password-sealing key.
pub fn seal_key(dir: &Path) -> Result<[u8; 32], KeyError> {
    key32(dir, "password.key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let t1 = admin_token(dir.path()).unwrap();
        assert_eq!(t1.len(), 64);
        assert_eq!(admin_token(dir.path()).unwrap(), t1);
        let mode = fs::metadata(dir.path().join("admin.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let k = nonce_key(dir.path()).unwrap();
        assert_eq!(nonce_key(dir.path()).unwrap(), k);
        fs::write(dir.path().join("password.key"), b"short").unwrap();
        assert!(seal_key(dir.path()).is_err());
    }

    #[test]
    fn an_empty_or_short_admin_token_is_refused_with_the_file_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("admin.token");
        for bad in [
            "",
            "\n",
            "   \n",
            "t0ken",
            &"x".repeat(MIN_ADMIN_TOKEN_CHARS - 1),
        ] {
            fs::write(&file, bad).unwrap();
            let err = admin_token(dir.path()).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(&file.display().to_string()), "{text}");
            assert!(text.contains("at least 32"), "{text}");
        }
        // An operator's own token of the minimum length is fine, whitespace trimmed.
        let own = "y".repeat(MIN_ADMIN_TOKEN_CHARS);
        fs::write(&file, format!("{own}\n")).unwrap();
        assert_eq!(admin_token(dir.path()).unwrap(), own);
    }
}
