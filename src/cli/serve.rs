//! `ringmaster serve`: settings from defaults, a TOML file, `RINGMASTER_*` variables and
//! flags (later ones win), then the server.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use engine::config::{Listen, PortRange, Settings};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A TOML settings file (see README); flags and environment override it.
    #[arg(long, env = "RINGMASTER_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (store, admin token, keys). Default ./data
    #[arg(long, env = "RINGMASTER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// SIP address for UDP and TCP. Default 0.0.0.0:5060
    #[arg(long, env = "RINGMASTER_SIP_LISTEN")]
    sip_listen: Option<SocketAddr>,
    /// SIP over WebSocket (ws://, RFC 7118), ADDR:PORT or `off`. Default 0.0.0.0:8088
    #[arg(long, env = "RINGMASTER_WS_LISTEN")]
    ws_listen: Option<Listen>,
    /// SIP over secure WebSocket (wss://), ADDR:PORT or `off`. Default 0.0.0.0:8089
    #[arg(long, env = "RINGMASTER_WSS_LISTEN")]
    wss_listen: Option<Listen>,
    /// SIP over TLS (sips:, transport=tls), ADDR:PORT or `off`. Default 0.0.0.0:5061
    #[arg(long, env = "RINGMASTER_SIP_TLS_LISTEN")]
    sip_tls_listen: Option<Listen>,
    /// PEM certificate chain for TLS and WSS (with --tls-key). Default: a self-signed one
    /// made in the data directory. SIGHUP reloads it.
    #[arg(long, env = "RINGMASTER_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "RINGMASTER_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Extra CA certificates (PEM) trusted for TLS connections we open (trunks with
    /// `transport tls`), besides the public roots.
    #[arg(long, env = "RINGMASTER_TLS_TRUST")]
    tls_trust: Option<PathBuf>,
    /// HTTP API address. Default 0.0.0.0:8080
    #[arg(long, env = "RINGMASTER_HTTP_LISTEN")]
    http_listen: Option<SocketAddr>,
    /// Serve the admin API only on this address (the main listener then refuses the admin
    /// token). Default: on the HTTP API address.
    #[arg(long, env = "RINGMASTER_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Also serve the HTTP API over HTTPS on this address, with the SIP TLS certificate
    /// (`--tls-cert`/`--tls-key`, or the self-signed one). Default: off.
    #[arg(long, env = "RINGMASTER_HTTPS_LISTEN")]
    https_listen: Option<SocketAddr>,
    /// Bearer token `/metrics` requires (better given through the environment than a flag).
    #[arg(long, env = "RINGMASTER_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Default SIP domain and digest realm. Default: the host name.
    #[arg(long, env = "RINGMASTER_SIP_DOMAIN")]
    sip_domain: Option<String>,
    /// Address advertised in SIP and connect_URL when listening on 0.0.0.0.
    #[arg(long, env = "RINGMASTER_ADVERTISED_ADDRESS")]
    advertised_address: Option<IpAddr>,
    /// RTP port range LOW-HIGH. Default 20000-29999
    #[arg(long, env = "RINGMASTER_RTP_PORTS")]
    rtp_ports: Option<PortRange>,
    /// Keep sealed copies of SIP passwords so get_sip/list_sip can show them.
    #[arg(long, env = "RINGMASTER_REVEAL_SIP_PASSWORDS")]
    reveal_sip_passwords: Option<bool>,
    /// Networks apps may reach although special-purpose (loopback, private, ...), comma
    /// separated: `10.1.0.0/16,127.0.0.5`. Replaces `[policy] allow_networks`.
    #[arg(long, env = "RINGMASTER_POLICY_ALLOW_NETWORKS", value_delimiter = ',')]
    allow_networks: Option<Vec<engine::egress::Cidr>>,
    /// SIP domain suffix of Bandwidth domains (`NAME.SUFFIX`). Default: bwapp.<sip domain>.
    #[arg(long, env = "RINGMASTER_BANDWIDTH_DOMAIN_SUFFIX")]
    bandwidth_domain_suffix: Option<String>,
    /// Requests per second each Bandwidth API user may make. Default 10.
    #[arg(long, env = "RINGMASTER_BANDWIDTH_RATE_PER_SEC")]
    bandwidth_rate_per_sec: Option<u32>,
    /// SRTP (SDES) on phone and trunk legs: optional, require or never. Default optional.
    #[arg(long, env = "RINGMASTER_SRTP")]
    srtp: Option<engine::media::sdp::crypto::SrtpPolicy>,
    /// The store: `postgres://user:password@host:port/db` shares one PostgreSQL among nodes.
    /// Default: the embedded sled store in the data directory.
    #[arg(long = "store", env = "RINGMASTER_STORE_URL", hide_env_values = true)]
    store_url: Option<String>,
    /// This node's name among the nodes sharing a store. Default: the host name.
    #[arg(long, env = "RINGMASTER_NODE_ID")]
    node_id: Option<String>,
    /// File with the cluster secret (≥ 32 bytes), required with a PostgreSQL store.
    #[arg(long, env = "RINGMASTER_CLUSTER_SECRET_FILE")]
    cluster_secret_file: Option<PathBuf>,
    /// The internal HTTP listener other nodes forward REST commands to. Default: off.
    #[arg(long, env = "RINGMASTER_INTERNAL_LISTEN")]
    internal_listen: Option<SocketAddr>,
    /// Log format: text or json.
    #[arg(long, env = "RINGMASTER_LOG_FORMAT", default_value = "text")]
    log_format: String,
}

fn settings(a: &ServeArgs) -> anyhow::Result<Settings> {
    let mut s = match &a.config {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?
        }
        None => Settings::default(),
    };
    if let Some(v) = &a.data_dir {
        s.data_dir = v.clone();
    }
    if let Some(v) = &a.store_url {
        s.store.url = Some(v.clone());
    }
    if let Some(v) = &a.node_id {
        s.cluster.node_id = Some(v.clone());
    }
    if let Some(v) = &a.cluster_secret_file {
        s.cluster.secret_file = Some(v.clone());
    }
    if let Some(v) = a.internal_listen {
        s.cluster.internal_listen = Some(v);
    }
    if let Some(v) = a.sip_listen {
        s.sip_listen = v;
    }
    if let Some(v) = a.ws_listen {
        s.transports.ws_listen = v;
    }
    if let Some(v) = a.wss_listen {
        s.transports.wss_listen = v;
    }
    if let Some(v) = a.sip_tls_listen {
        s.transports.tls_listen = v;
    }
    if let Some(v) = &a.tls_cert {
        s.transports.tls_cert = Some(v.clone());
    }
    if let Some(v) = &a.tls_key {
        s.transports.tls_key = Some(v.clone());
    }
    if let Some(v) = &a.tls_trust {
        s.transports.tls_trust = Some(v.clone());
    }
    if let Some(v) = a.http_listen {
        s.http_listen = v;
    }
    if let Some(v) = a.admin_listen {
        s.http.admin_listen = Some(v);
    }
    if let Some(v) = a.https_listen {
        s.http.https_listen = Some(v);
    }
    if let Some(v) = &a.metrics_token {
        s.http.metrics_token = Some(v.clone());
    }
    if let Some(v) = &a.sip_domain {
        s.sip_domain = Some(v.clone());
    }
    if let Some(v) = &a.bandwidth_domain_suffix {
        s.bandwidth.domain_suffix = Some(v.clone());
    }
    if let Some(v) = a.bandwidth_rate_per_sec {
        s.bandwidth.rate_per_sec = v;
    }
    if let Some(v) = a.advertised_address {
        s.advertised_address = Some(v);
    }
    if let Some(v) = a.rtp_ports {
        s.rtp_ports = v;
    }
    if let Some(v) = a.reveal_sip_passwords {
        s.reveal_sip_passwords = v;
    }
    if let Some(v) = a.srtp {
        s.media.srtp = v;
    }
    if let Some(v) = &a.allow_networks {
        s.policy.allow_networks = v.clone();
    }
    Ok(s)
}

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or journal gets plain `key=value` fields that
    // grep and log shippers can read.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if a.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let s = settings(&a)?;
    actix_web::rt::System::new()
        .block_on(api::run(s))
        .context("ringmaster serve")?;
    Ok(())
}
