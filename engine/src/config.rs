//! Engine settings: one serde struct with embedded defaults, filled from a TOML file, then
//! overridden by `RINGMASTER_*` environment variables and command-line flags (the binary does
//! the overriding; this module only defines the shape and the defaults).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

mod bandwidth;
mod cloudua;
mod cluster;
mod http;
mod quota;
mod transports;

pub use crate::media::PortRange;
pub use bandwidth::BandwidthSettings;
pub use cloudua::CloudUaSettings;
pub use cluster::{redact_url, ClusterSettings, StoreSettings};
pub use http::HttpSettings;
pub use quota::{OutboxSettings, RetentionSettings};
pub use transports::{Listen, ListenError, TransportSettings};

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
    /// SIP over WebSocket and TLS, and their certificate.
    pub transports: TransportSettings,
    pub calls: CallSettings,
    pub media: MediaSettings,
    pub defence: DefenceSettings,
    pub policy: PolicySettings,
    pub http: HttpSettings,
    pub outbox: OutboxSettings,
    pub retention: RetentionSettings,
    pub bandwidth: BandwidthSettings,
    pub cloudua: CloudUaSettings,
    pub store: StoreSettings,
    pub cluster: ClusterSettings,
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
            transports: TransportSettings::default(),
            calls: CallSettings::default(),
            media: MediaSettings::default(),
            defence: DefenceSettings::default(),
            policy: PolicySettings::default(),
            http: HttpSettings::default(),
            outbox: OutboxSettings::default(),
            retention: RetentionSettings::default(),
            bandwidth: BandwidthSettings::default(),
            cloudua: CloudUaSettings::default(),
            store: StoreSettings::default(),
            cluster: ClusterSettings::default(),
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
    /// Live transactions; past it new requests get 503. Answered non-INVITE ones waiting out
    /// Timer J are not live: they are bounded by `max_completed_transactions`.
    pub max_transactions: usize,
    /// Answered non-INVITE server transactions kept to replay their response to a
    /// retransmission (Timer J, 32 s over UDP); past it the oldest end early.
    pub max_completed_transactions: usize,
    pub max_message_bytes: usize,
    pub max_tcp_connections: usize,
    /// Open TCP connections one source address may hold (a NAT'd office shares one).
    pub max_tcp_connections_per_source: usize,
    /// A TCP connection that has not completed a message within this many seconds (none at
    /// all yet, or one half-sent) is closed (slowloris).
    pub tcp_incomplete_timeout_secs: u64,
    /// A TCP connection that carries no flow (no live binding was registered over it) and
    /// delivered no SIP message for this many seconds is closed; CRLF keep-alives keep only
    /// flows open (RFC 5626).
    pub tcp_idle_timeout_secs: u64,
    /// Live (not yet answered) server transactions one source address may hold; past it its
    /// new requests get 503 with Retry-After, so one source cannot fill the table
    /// (`max_transactions`). Answered ones do not count, so a source whose requests are
    /// answered promptly is not limited by this, whatever its rate.
    pub max_transactions_per_source: usize,
}

impl Default for SipSettings {
    fn default() -> Self {
        SipSettings {
            t1_ms: 500,
            t2_ms: 4000,
            t4_ms: 5000,
            force_rport: true,
            max_transactions: 200_000,
            max_completed_transactions: 200_000,
            max_message_bytes: 64 * 1024,
            max_tcp_connections: 10_000,
            max_tcp_connections_per_source: 1000,
            tcp_incomplete_timeout_secs: 30,
            tcp_idle_timeout_secs: 300,
            max_transactions_per_source: 10_000,
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
    /// On SIGTERM, new calls are refused (503) and live ones may run this long before the
    /// process exits anyway.
    pub drain_timeout_secs: u64,
}

impl Default for CallSettings {
    fn default() -> Self {
        CallSettings {
            max_calls_per_app: 1000,
            answer_connect_timeout_ms: 2000,
            answer_timeout_ms: 5000,
            rtp_timeout_secs: 60,
            drain_timeout_secs: 30,
        }
    }
}

/// Defences against floods and password guessing (see `sip::defence`). The defaults let a
/// busy carrier or a SIPp load test at several hundred registrations per second through from
/// one address, and cap what one hostile address can cost.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DefenceSettings {
    /// SIP messages per second one source IP address may send (0: no limit); the rest are
    /// dropped unparsed.
    pub rate_per_source: u32,
    /// Messages a source may send at once before the rate applies.
    pub burst_per_source: u32,
    /// Source addresses (and, separately, users) tracked at once; the oldest are forgotten.
    pub max_tracked: usize,
    /// Failed digest attempts for one user from one address within `auth_window_secs` that
    /// block that (address, user) pair: its attempts get 403 (0: never).
    pub auth_ban_failures: u32,
    pub auth_window_secs: u64,
    /// How long a blocked pair, or a banned address, is refused.
    pub auth_ban_secs: u64,
    /// Distinct users failing from one address within the window that ban the whole address
    /// (enumeration, spraying); 0: never. Trunk source addresses are exempt.
    pub auth_ban_distinct_users: u32,
    /// Failures of any kind from one address within the window that ban the whole address
    /// (a volume no retrying device reaches); 0: never. Trunk source addresses are exempt.
    pub auth_ban_address_failures: u32,
    /// Networks never refused and never counted (CIDR, e.g. "192.0.2.0/24").
    pub trusted_networks: Vec<crate::egress::Cidr>,
    /// Wrong passwords for one user, from any addresses within `auth_window_secs`, after
    /// which that user's attempts are slowed down (0: never).
    pub user_slowdown_failures: u32,
    /// While slowed down, one attempt per this many seconds; the others get 503 Retry-After.
    pub user_slowdown_interval_secs: u64,
    /// REST: failed app or admin authentications from one address within
    /// `auth_window_secs` after which it gets 429 with Retry-After (0: never).
    pub rest_failures: u32,
    /// REST: how long the 429s last.
    pub rest_block_secs: u64,
}

impl Default for DefenceSettings {
    fn default() -> Self {
        DefenceSettings {
            rate_per_source: 1000,
            burst_per_source: 2000,
            max_tracked: 16_384,
            auth_ban_failures: 10,
            auth_window_secs: 600,
            auth_ban_secs: 300,
            auth_ban_distinct_users: 3,
            auth_ban_address_failures: 100,
            trusted_networks: Vec::new(),
            user_slowdown_failures: 30,
            user_slowdown_interval_secs: 10,
            rest_failures: 10,
            rest_block_secs: 300,
        }
    }
}

impl DefenceSettings {
    /// The SIP digest thresholds for [`crate::sip::defence::AuthGuard`].
    pub fn bans(&self) -> crate::sip::defence::BanConfig {
        use std::time::Duration;
        crate::sip::defence::BanConfig {
            failures: self.auth_ban_failures,
            window: Duration::from_secs(self.auth_window_secs),
            ban: Duration::from_secs(self.auth_ban_secs),
            distinct_users: self.auth_ban_distinct_users,
            address_failures: self.auth_ban_address_failures,
            user_failures: self.user_slowdown_failures,
            user_interval: Duration::from_secs(self.user_slowdown_interval_secs),
            max_tracked: self.max_tracked,
            trusted: self.trusted_networks.clone(),
        }
    }

    /// The REST thresholds: the same machinery, per address only.
    pub fn rest_bans(&self) -> crate::sip::defence::BanConfig {
        use std::time::Duration;
        crate::sip::defence::BanConfig {
            failures: 0,
            window: Duration::from_secs(self.auth_window_secs),
            ban: Duration::from_secs(self.rest_block_secs),
            distinct_users: 0,
            address_failures: self.rest_failures,
            user_failures: 0,
            user_interval: Duration::ZERO,
            max_tracked: self.max_tracked,
            trusted: self.trusted_networks.clone(),
        }
    }

    /// The flood limit for [`crate::sip::defence::RateLimiter`].
    pub fn rate(&self) -> crate::sip::defence::RateConfig {
        crate::sip::defence::RateConfig {
            rate: self.rate_per_source,
            burst: self.burst_per_source,
            max_sources: self.max_tracked,
        }
    }
}

/// What an app may make ringmaster contact (see `egress`): its URLs (`pcmo_make_call`
/// `answer_url`, `action_url`, `file_url`) and SIP targets. Loopback, private, link-local,
/// CGNAT, NAT64, multicast, broadcast and unspecified addresses are refused unless inside one
/// of these networks. What the operator set (the app's stored answer and event URLs, trunks)
/// is not checked.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySettings {
    /// Networks (`10.1.0.0/16`, `fd00::/8`, `127.0.0.5`) apps may reach although they are
    /// special-purpose. Empty by default.
    pub allow_networks: Vec<crate::egress::Cidr>,
}

impl PolicySettings {
    /// The policy these settings describe.
    pub fn egress(&self) -> crate::egress::EgressPolicy {
        crate::egress::EgressPolicy::new(self.allow_networks.clone())
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
    /// Which RTP sources a leg may latch to: `"strict"` (its SDP address or its SIP source
    /// address, any port) or `"any"` (the first source in the latch window, for deployments
    /// whose media arrives through relays the signalling does not show).
    pub latch: crate::media::latch::LatchMode,
    /// SRTP (SDES, `a=crypto`) on phone and trunk legs: `"optional"` (where a leg asks for
    /// it), `"require"` (plain offers get 488, B legs are offered `RTP/SAVP`) or `"never"`
    /// (`RTP/SAVP` offers get 488).
    pub srtp: crate::media::sdp::crypto::SrtpPolicy,
    /// Concurrent `stream`s one app may have; past it a stream fails (`stream_failed`) and
    /// the script goes on.
    pub max_streams_per_app: usize,
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
            latch: crate::media::latch::LatchMode::Strict,
            srtp: crate::media::sdp::crypto::SrtpPolicy::Optional,
            max_streams_per_app: 100,
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
        // The documented defences.
        assert_eq!(s.defence.auth_ban_failures, 10);
        assert_eq!(s.defence.auth_window_secs, 600);
        assert_eq!(s.defence.auth_ban_secs, 300);
        assert_eq!(s.sip.tcp_incomplete_timeout_secs, 30);
        assert_eq!(s.sip.tcp_idle_timeout_secs, 300);
        assert_eq!(s.calls.drain_timeout_secs, 30);
        assert_eq!(s.media.latch, crate::media::latch::LatchMode::Strict);
        let s: Settings = toml::from_str("[media]\nlatch = \"any\"\n").unwrap();
        assert_eq!(s.media.latch, crate::media::latch::LatchMode::Any);
        assert!(toml::from_str::<Settings>("[media]\nlatch = \"loose\"\n").is_err());
        assert_eq!(
            s.media.srtp,
            crate::media::sdp::crypto::SrtpPolicy::Optional
        );
        let s: Settings = toml::from_str("[media]\nsrtp = \"require\"\n").unwrap();
        assert_eq!(s.media.srtp, crate::media::sdp::crypto::SrtpPolicy::Require);
        assert!(toml::from_str::<Settings>("[media]\nsrtp = \"maybe\"\n").is_err());
        let s: Settings =
            toml::from_str("[defence]\nrate_per_source = 0\nauth_ban_failures = 3\n").unwrap();
        assert_eq!(s.defence.rate().rate, 0);
        assert_eq!(s.defence.bans().failures, 3);
        assert!(toml::from_str::<Settings>("rtp_ports = \"9-1\"").is_err());
        let s: Settings =
            toml::from_str("[defence]\ntrusted_networks = [\"192.0.2.0/24\", \"2001:db8::1\"]\n")
                .unwrap();
        let bans = s.defence.bans();
        assert_eq!(bans.trusted.len(), 2);
        assert!(bans.trusted[0].contains("192.0.2.9".parse().unwrap()));
        let e = toml::from_str::<Settings>("[defence]\ntrusted_networks = [\"192.0.2.0/40\"]\n")
            .unwrap_err();
        assert!(e.to_string().contains("192.0.2.0/40"), "{e}");
        // The egress policy: empty by default, networks checked when loaded.
        assert!(s.policy.allow_networks.is_empty());
        let s: Settings =
            toml::from_str("[policy]\nallow_networks = [\"127.0.0.5/32\", \"fd00::/8\"]\n")
                .unwrap();
        assert_eq!(s.policy.allow_networks.len(), 2);
        assert!(s
            .policy
            .egress()
            .check("127.0.0.5".parse().unwrap())
            .is_ok());
        assert!(s
            .policy
            .egress()
            .check("127.0.0.9".parse().unwrap())
            .is_err());
        assert!(toml::from_str::<Settings>("[policy]\nallow_networks = [\"10.0.0.1/8\"]").is_err());
    }

    /// The README's TOML examples are what operators copy: each must load, with deny_unknown_fields
    /// catching a renamed or misplaced key.
    #[test]
    fn the_readme_toml_examples_load() {
        let readme = include_str!("../../README.md");
        let blocks: Vec<&str> = readme
            .split("```toml\n")
            .skip(1)
            .filter_map(|b| b.split("```").next())
            .collect();
        assert!(blocks.len() >= 2, "README has its TOML examples");
        for b in blocks {
            if let Err(e) = toml::from_str::<Settings>(b) {
                panic!("README example does not load: {e}\n{b}");
            }
        }
    }
}
