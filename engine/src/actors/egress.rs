//! The egress policy's shell: SIP targets an app names ([`lookup_allowed`]) and the HTTP
//! client for URLs an app supplies (`pcmo_make_call` `answer_url`, PCMO
//! `action_url` and `file_url`), held to the [`EgressPolicy`] on the address it actually
//! connects to:
//!
//! * names go through `PolicyResolver`, which drops every resolved address the policy
//!   refuses, so the connection can only go where the check said (no DNS rebinding: there is
//!   no second lookup);
//! * reqwest consults no resolver for an IP-literal host, so [`AppHttp::check`] refuses
//!   those before any request is made (the URL parser has already turned `127.1`,
//!   `2130706433` and the like into dotted form);
//! * redirects are followed (at most [`MAX_REDIRECTS`]) only through the same two checks;
//! * environment proxies (`HTTP_PROXY` and friends) are off: a proxy would make the
//!   connection, and the check, somewhere else.
//!
//! What went wrong is the operator's to know (logged), not the app's: a refused URL and a
//! failed one look the same in its error events, so the engine cannot be used to probe which
//! internal ports answer.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{redirect, Url};

use crate::egress::{EgressPolicy, Refused};

/// Redirects an app URL may take before the fetch fails.
pub const MAX_REDIRECTS: usize = 5;

/// Why an app URL is not fetched (for the log; the app hears one generic reason).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    #[error("not an http(s) URL")]
    NotHttp,
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error("{host} resolves to no address the policy allows")]
    NoAllowedAddress { host: String },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

/// A client for app URLs and the policy it enforces.
#[derive(Clone)]
pub struct AppHttp {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl AppHttp {
    pub fn new(policy: Arc<EgressPolicy>, connect_timeout: Duration) -> reqwest::Result<Self> {
        let hops = policy.clone();
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .no_proxy()
            .dns_resolver(Arc::new(PolicyResolver {
                policy: policy.clone(),
            }))
            .redirect(redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() > MAX_REDIRECTS {
                    return attempt.error(EgressError::TooManyRedirects);
                }
                match check_url(&hops, attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(e) => {
                        tracing::info!(target: "security", error = %e, "app URL: redirect refused");
                        attempt.error(e)
                    }
                }
            }))
            .build()?;
        Ok(AppHttp { client, policy })
    }

    /// The client; use it only for a URL [`AppHttp::check`] accepted.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The checks that can be made before connecting: the scheme, and an IP-literal host.
    /// A name is checked by the resolver when it is resolved.
    pub fn check(&self, url: &str) -> Result<(), EgressError> {
        let url = Url::parse(url).map_err(|_| EgressError::NotHttp)?;
        check_url(&self.policy, &url)
    }
}

/// `url` is http(s) and, if its host is an IP address, the policy allows it.
pub fn check_url(policy: &EgressPolicy, url: &Url) -> Result<(), EgressError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(EgressError::NotHttp);
    }
    // The parser has put an address host in canonical form (`[v6]`, dotted IPv4).
    let host = url.host_str().ok_or(EgressError::NotHttp)?;
    match policy.check_literal(host) {
        Some(checked) => checked.map(drop).map_err(EgressError::from),
        None => Ok(()),
    }
}

/// Where to send SIP for a host and port an app named (`connect` to a SIP URI): an address
/// literal, or the first address the name resolves to that the policy allows; the packet goes
/// to exactly that address. Else the SIP status the target fails with: 403 when the policy
/// refuses (every) address, 502 when the name does not resolve.
pub async fn lookup_allowed(
    policy: &EgressPolicy,
    host: &str,
    port: u16,
) -> Result<SocketAddr, u16> {
    let refused = |refused: Refused| {
        tracing::info!(target: "security", %host, %refused, "SIP target refused");
        403
    };
    if let Some(checked) = policy.check_literal(host) {
        return checked.map(|ip| SocketAddr::new(ip, port)).map_err(refused);
    }
    let all: Vec<SocketAddr> = match tokio::net::lookup_host((host, port)).await {
        Ok(addrs) => addrs.collect(),
        Err(_) => return Err(502),
    };
    let mut last = None;
    for addr in &all {
        match policy.check(addr.ip()) {
            Ok(()) => return Ok(*addr),
            Err(r) => last = Some(r),
        }
    }
    Err(last.map_or(502, refused))
}

/// The system resolver, keeping only the addresses the policy allows.
struct PolicyResolver {
    policy: Arc<EgressPolicy>,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let all = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = all
                .filter(|a| match policy.check(a.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        tracing::info!(target: "security", %host, %refused, "app URL: address refused");
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                return Err(EgressError::NoAllowedAddress { host }.into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &EgressPolicy, url: &str) -> Result<(), EgressError> {
        check_url(policy, &Url::parse(url).unwrap())
    }

    /// The URL parser's view of the host is what reqwest connects to; every spelling of a
    /// refused address is refused before any connection. No traffic.
    #[test]
    fn literal_hosts_in_every_spelling_are_refused() {
        let p = EgressPolicy::default();
        for url in [
            "http://127.0.0.1:8080/x",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fe80::1]/",
            "http://10.0.0.1/",
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://[fd00::1]/",
            "http://100.64.0.1/",
            "http://[64:ff9b::a9fe:a9fe]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
        ] {
            assert!(
                matches!(check(&p, url), Err(EgressError::Refused(_))),
                "{url}"
            );
        }
        assert_eq!(check(&p, "https://93.184.216.34/a"), Ok(()));
        assert_eq!(
            check(&p, "https://example.com/a"),
            Ok(()),
            "names: resolver"
        );
        assert_eq!(
            check(&p, "ftp://93.184.216.34/a"),
            Err(EgressError::NotHttp)
        );
        assert_eq!(check(&p, "file:///etc/passwd"), Err(EgressError::NotHttp));
        let allow = EgressPolicy::new(vec!["127.0.0.5".parse().unwrap()]);
        assert_eq!(check(&allow, "http://127.0.0.5:9000/"), Ok(()));
        assert!(check(&allow, "http://127.0.0.9:9000/").is_err());
    }

    /// SIP targets: literals in any spelling are refused without a lookup; a name's addresses
    /// are checked (`localhost` from /etc/hosts, no traffic).
    #[tokio::test]
    async fn sip_targets_pass_the_policy() {
        let p = EgressPolicy::default();
        for host in [
            "127.0.0.1",
            "127.1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "169.254.169.254",
            "localhost",
        ] {
            assert_eq!(lookup_allowed(&p, host, 5060).await, Err(403), "{host}");
        }
        assert_eq!(
            lookup_allowed(&p, "192.0.2.10", 5070).await,
            Ok("192.0.2.10:5070".parse().unwrap())
        );
        let allow = EgressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()]);
        assert_eq!(
            lookup_allowed(&allow, "127.0.0.7", 5062).await,
            Ok("127.0.0.7:5062".parse().unwrap())
        );
    }

    /// The resolver drops refused addresses: `localhost` resolves (from /etc/hosts, no
    /// traffic) to loopback only, so it resolves to nothing allowed.
    #[tokio::test]
    async fn the_resolver_keeps_only_allowed_addresses() {
        let r = PolicyResolver {
            policy: Arc::new(EgressPolicy::default()),
        };
        let err = r
            .resolve("localhost".parse().unwrap())
            .await
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("no address the policy allows"),
            "{err}"
        );
        let r = PolicyResolver {
            policy: Arc::new(EgressPolicy::new(vec!["127.0.0.0/8".parse().unwrap()])),
        };
        let addrs: Vec<SocketAddr> = r
            .resolve("localhost".parse().unwrap())
            .await
            .map_err(|e| e.to_string())
            .unwrap()
            .collect();
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.is_ipv4()),
            "{addrs:?}"
        );
    }
}
