//! Engine settings: one serde struct with embedded defaults, filled from a TOML file, then
//! overridden by `RINGMASTER_*` environment variables and command-line flags (the binary does
//! the overriding; this module only defines the shape and the defaults).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::media::PortRange;

/// Everything `ringmaster serve` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Where the store, the admin token and the key files live.
    pub data_dir: PathBuf,
    /// SIP over UDP and TCP, on the same address.
    pub sip_listen: SocketAddr,
    /// The HTTP API (PIOPIY-style REST, admin API, health, metrics).
    pub http_listen: SocketAddr,
    /// The default SIP domain, also the digest realm of apps without their own domain.
    /// Default: the machine's host name.
    pub sip_domain: Option<String>,
    /// The address put in Via, Contact and `connect_URL` when `sip_listen` is a wildcard.
    /// Default: the listen address, or the first non-loopback address of the machine.
    pub advertised_address: Option<IpAddr>,
    /// RTP ports for media relaying (used once calls land).
    pub rtp_ports: PortRange,
    /// Keep a sealed copy of SIP passwords so `get_sip`/`list_sip` can show them (PIOPIY
    /// does). Off by default: only digest HA1 values are stored.
    pub reveal_sip_passwords: bool,
    pub registrar: RegistrarSettings,
    pub digest: DigestSettings,
    pub sip: SipSettings,
    pub calls: CallSettings,
    pub media: MediaSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            sip_listen: "0.0.0.0:5060".parse().expect("constant address"),
            http_listen: "0.0.0.0:8080".parse().expect("constant address"),
            sip_domain: None,
            advertised_address: None,
            rtp_ports: PortRange::new(20000, 29999).expect("constant range"),
            reveal_sip_passwords: false,
            registrar: RegistrarSettings::default(),
            digest: DigestSettings::default(),
            sip: SipSettings::default(),
            calls: CallSettings::default(),
            media: MediaSettings::default(),
        }
    }
}

/// Registration limits (RFC 3261 §10.3).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrarSettings {
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
}

impl Default for RegistrarSettings {
    fn default() -> Self {
        let d = crate::sip::registrar::RegistrarConfig::default();
        RegistrarSettings {
            min_expires: d.min_expires,
            max_expires: d.max_expires,
            default_expires: d.default_expires,
            max_contacts: d.max_contacts,
        }
    }
}

/// Digest authentication.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DigestSettings {
    /// Algorithms offered, in order, one challenge each. Default: MD5 alone, because older
    /// clients fail on a challenge they cannot answer instead of skipping it: Debian's baresip
    /// 1.0 aborts the registration ("Function not implemented") when any challenge is SHA-256,
    /// PJSIP before 2.14 returns PJSIP_EINVALIDALGORITHM the same way, and SIPp 3.6.1 reads
    /// only the first challenge and only knows MD5. With modern clients set
    /// `["SHA-256", "MD5"]` (RFC 8760 clients pick the first they support).
    pub algorithms: Vec<String>,
    /// Nonce lifetime in seconds; older nonces are answered `stale=true`.
    pub nonce_ttl_secs: u64,
}

impl Default for DigestSettings {
    fn default() -> Self {
        DigestSettings {
            algorithms: vec!["MD5".into()],
            nonce_ttl_secs: 300,
        }
    }
}

/// SIP transport and transaction settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SipSettings {
    pub t1_ms: u64,
    pub t2_ms: u64,
    pub t4_ms: u64,
    /// Answer UDP requests at their source port even without `rport` (NAT).
    pub force_rport: bool,
    pub max_transactions: usize,
    pub max_message_bytes: usize,
    pub max_tcp_connections: usize,
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            force_rport: true,
            max_transactions: 200_000,
            max_message_bytes: 64 * 1024,
            max_tcp_connections: 10_000,
        }
    }
}

/// Calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSettings {
    /// Concurrent calls per app; past it new calls get 503 with Retry-After.
    pub max_calls_per_app: usize,
    /// Connecting to the answer URL (and action URLs).
    pub answer_connect_timeout_ms: u64,
    /// The whole answer-URL exchange; then the fallback script or 503.
    pub answer_timeout_ms: u64,
    /// A bridged call without RTP from a leg for this long ends (0: never).
    pub rtp_timeout_secs: u64,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            max_calls_per_app: 1000,
            answer_connect_timeout_ms: 2000,
            answer_timeout_ms: 5000,
            rtp_timeout_secs: 60,
        }
    }
}

/// Prompts, text to speech and recordings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaSettings {
    /// Where `play` with `file_name` looks (relative paths are under the data directory).
    pub prompts_dir: PathBuf,
    /// Where recordings are written, one directory per app (relative: under the data dir).
    pub recordings_dir: PathBuf,
    /// The text-to-speech program (espeak-ng's command line).
    pub tts_program: PathBuf,
    /// Decoded prompts kept in memory (files, downloads, speech), in MiB.
    pub prompt_cache_mb: usize,
    /// The largest prompt file or download, in MiB.
    pub max_prompt_mb: u64,
    /// How long a `file_url` download may take, in ms.
    pub download_timeout_ms: u64,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            prompts_dir: PathBuf::from("prompts"),
            recordings_dir: PathBuf::from("recordings"),
            tts_program: PathBuf::from("espeak-ng"),
            prompt_cache_mb: 64,
            max_prompt_mb: 10,
            download_timeout_ms: 10_000,
        }
    }
}

impl Settings {
    /// `path` as configured: absolute, or under the data directory.
    pub fn under_data_dir(&self, path: &std::path::Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.data_dir.join(path)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_toml() {
        let s: Settings = toml::from_str("").unwrap();
        assert_eq!(s.sip_listen.port(), 5060);
        assert_eq!(s.http_listen.port(), 8080);
        let s: Settings = toml::from_str(
            "sip_listen = \"127.0.0.1:5070\"\nrtp_ports = \"30000-30100\"\n[registrar]\nmin_expires = 30\n",
        )
        .unwrap();
        assert_eq!(s.sip_listen.port(), 5070);
        assert_eq!(s.rtp_ports, PortRange::new(30000, 30100).unwrap());
        assert_eq!(s.registrar.min_expires, 30);
        assert_eq!(s.registrar.max_expires, 7200);
        assert!(toml::from_str::<Settings>("nonsense = 1").is_err());
        assert!(toml::from_str::<Settings>("rtp_ports = \"9-1\"").is_err());
    }
}
