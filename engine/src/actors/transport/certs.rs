//! The certificate of SIP over TLS and WSS: loaded from PEM files, or made self-signed in the
//! data directory on first start, and swapped on SIGHUP without touching live connections.
//!
//! rustls asks [`CertStore`] for the certificate at each handshake (`ResolvesServerCert`), so
//! a reload only replaces what the next handshake gets: connections already up keep theirs, and
//! nothing else (calls, bindings, sockets) is touched. A reload that fails — a missing file, a
//! key that does not match — keeps the certificate in use and says why in the log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// Where the self-signed certificate lives, under the data directory.
pub const SELF_SIGNED_DIR: &str = "tls";
const SELF_SIGNED_CERT: &str = "self-signed-cert.pem";
const SELF_SIGNED_KEY: &str = "self-signed-key.pem";

/// Why a certificate could not be loaded or made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: PathBuf },
    #[error("{path} holds no PEM private key ({reason})")]
    NoKey { path: PathBuf, reason: String },
    #[error("the key does not fit the certificate or is not usable: {0}")]
    Key(#[from] rustls::Error),
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("tls_cert and tls_key go together: set both or neither")]
    HalfConfigured,
}

/// The certificate in use and where it comes from.
#[derive(Debug)]
pub struct CertStore {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl CertStore {
    /// The configured PEM files, or (neither configured) the self-signed pair under
    /// `data_dir`, made now if it is not there yet; `names` go into a new certificate's
    /// subject alternative names.
    pub fn open(
        cert: Option<&Path>,
        key: Option<&Path>,
        data_dir: &Path,
        names: &[String],
    ) -> Result<CertStore, CertError> {
        let (cert, key) = match (cert, key) {
            (Some(c), Some(k)) => (c.to_path_buf(), k.to_path_buf()),
            (None, None) => self_signed(data_dir, names)?,
            _ => return Err(CertError::HalfConfigured),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let loaded = load(&cert, &key, &provider)?;
        tracing::info!(cert = %cert.display(), "TLS certificate loaded (SIGHUP reloads it)");
        Ok(CertStore {
            cert,
            key,
            current: RwLock::new(Arc::new(loaded)),
            provider,
        })
    }

    /// Reads the files again; on success the next handshakes use the new certificate, on
    /// failure the one in use stays.
    pub fn reload(&self) -> Result<(), CertError> {
        let fresh = load(&self.cert, &self.key, &self.provider)?;
        if let Ok(mut c) = self.current.write() {
            *c = Arc::new(fresh);
        }
        Ok(())
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// A server configuration that asks this store at each handshake (TLS 1.2 and 1.3, no
    /// client certificates).
    pub fn server_config(self: Arc<Self>) -> Arc<rustls::ServerConfig> {
        let provider = self.provider.clone();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default versions")
            .with_no_client_auth()
            .with_cert_resolver(self);
        Arc::new(config)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.clone())
    }
}

/// The configuration of TLS connections we open: the public roots (webpki-roots) plus the
/// certificates in `extra` (a PEM file), checked against the name asked for.
pub fn client_config(extra: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, CertError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra {
        let pem = std::fs::read(path).map_err(|source| CertError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut added = 0;
        for c in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
            roots.add(c)?;
            added += 1;
        }
        if added == 0 {
            return Err(CertError::NoCertificate {
                path: path.to_path_buf(),
            });
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn load(
    cert: &Path,
    key: &Path,
    provider: &rustls::crypto::CryptoProvider,
) -> Result<CertifiedKey, CertError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| CertError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&read(cert)?)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(CertError::NoCertificate {
            path: cert.to_path_buf(),
        });
    }
    let der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| CertError::NoKey {
        path: key.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(CertifiedKey::from_der(chain, der, provider)?)
}

/// The self-signed pair under `data_dir`, made on first use (the key readable by its owner
/// only) and reused afterwards.
fn self_signed(data_dir: &Path, names: &[String]) -> Result<(PathBuf, PathBuf), CertError> {
    let dir = data_dir.join(SELF_SIGNED_DIR);
    let (cert, key) = (dir.join(SELF_SIGNED_CERT), dir.join(SELF_SIGNED_KEY));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CertError::Write { path, source }
    };
    std::fs::create_dir_all(&dir).map_err(write_err(&dir))?;
    let made = rcgen::generate_simple_self_signed(names.to_vec())?;
    write_private(&key, made.signing_key.serialize_pem().as_bytes()).map_err(write_err(&key))?;
    std::fs::write(&cert, made.cert.pem()).map_err(write_err(&cert))?;
    tracing::warn!(
        cert = %cert.display(),
        names = ?names,
        "no TLS certificate configured: made a self-signed one (browsers refuse it; set tls_cert and tls_key for a real one)"
    );
    Ok((cert, key))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)?.write_all(bytes)
}

/// Reloads the certificate on every SIGHUP (which otherwise ends the process). Without a
/// certificate the signal is only logged.
pub fn reload_on_hangup(store: Option<Arc<CertStore>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot handle SIGHUP; it would end the process");
            return;
        }
    };
    actix::spawn(async move {
        while hup.recv().await.is_some() {
            match &store {
                None => tracing::info!("SIGHUP: no TLS certificate in use, nothing to reload"),
                Some(s) => match s.reload() {
                    Ok(()) => {
                        tracing::info!(cert = %s.cert_path().display(), "SIGHUP: TLS certificate reloaded")
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded; the one in use stays")
                    }
                },
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_is_made_once_reused_and_reloads_keep_the_old_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let a = CertStore::open(None, None, dir.path(), &names).unwrap();
        let pem = std::fs::read(a.cert_path()).unwrap();
        let b = CertStore::open(None, None, dir.path(), &names).unwrap();
        assert_eq!(
            std::fs::read(b.cert_path()).unwrap(),
            pem,
            "reused, not made again"
        );
        let before = a.current.read().unwrap().clone();
        // A broken file: the reload fails and the certificate in use stays.
        std::fs::write(a.cert_path(), b"garbage").unwrap();
        assert!(matches!(a.reload(), Err(CertError::NoCertificate { .. })));
        assert!(Arc::ptr_eq(&before, &a.current.read().unwrap()));
        // A good file again: swapped.
        std::fs::write(a.cert_path(), &pem).unwrap();
        a.reload().unwrap();
        assert!(!Arc::ptr_eq(&before, &a.current.read().unwrap()));
    }

    #[test]
    fn configured_files_must_both_be_set_and_match() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        assert!(matches!(
            CertStore::open(Some(&p.join("c.pem")), None, p, &[]),
            Err(CertError::HalfConfigured)
        ));
        let one = rcgen::generate_simple_self_signed(vec!["a.test".into()]).unwrap();
        let two = rcgen::generate_simple_self_signed(vec!["b.test".into()]).unwrap();
        std::fs::write(p.join("c.pem"), one.cert.pem()).unwrap();
        std::fs::write(p.join("k.pem"), two.signing_key.serialize_pem()).unwrap();
        let e = CertStore::open(Some(&p.join("c.pem")), Some(&p.join("k.pem")), p, &[]);
        assert!(matches!(e, Err(CertError::Key(_))), "{e:?}");
        std::fs::write(p.join("k.pem"), one.signing_key.serialize_pem()).unwrap();
        CertStore::open(Some(&p.join("c.pem")), Some(&p.join("k.pem")), p, &[]).unwrap();
        let e = CertStore::open(Some(&p.join("none.pem")), Some(&p.join("k.pem")), p, &[]);
        assert!(matches!(e, Err(CertError::Read { .. })), "{e:?}");
    }
}
