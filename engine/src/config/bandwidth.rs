//! `[bandwidth]`: the Bandwidth App Platform v1 API (`/v1/users/{userId}/…`).

use serde::{Deserialize, Serialize};

/// Settings of the Bandwidth-compatible API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandwidthSettings {
    /// A Bandwidth domain named `xyz` gets the SIP domain `xyz.{domain_suffix}`. Default:
    /// `bwapp.` and the engine's default SIP domain (as Bandwidth's `bwapp.bwsip.io`).
    pub domain_suffix: Option<String>,
    /// Requests per second one user may make (a token bucket refilled at this rate);
    /// past it, 429 `rate-limit-reached` with `X-RateLimit-Reset`.
    pub rate_per_sec: u32,
    /// How many requests a user may make at once before the rate applies.
    pub burst: u32,
}

impl Default for BandwidthSettings {
    fn default() -> Self {
        BandwidthSettings {
            domain_suffix: None,
            rate_per_sec: 10,
            burst: 100,
        }
    }
}

impl BandwidthSettings {
    /// The suffix in use, lower case, without dots at either end.
    pub fn suffix(&self, default_domain: &str) -> String {
        match &self.domain_suffix {
            Some(s) => s.trim().trim_matches('.').to_ascii_lowercase(),
            None => format!("bwapp.{}", default_domain.to_ascii_lowercase()),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_and_toml() {
        let d: crate::config::Settings = toml::from_str("").unwrap();
        assert_eq!(d.bandwidth.suffix("example.com"), "bwapp.example.com");
        assert_eq!((d.bandwidth.rate_per_sec, d.bandwidth.burst), (10, 100));
        let s: crate::config::Settings = toml::from_str(
            "[bandwidth]\ndomain_suffix = \".SIP.Example.NET.\"\nrate_per_sec = 2\nburst = 5\n",
        )
        .unwrap();
        assert_eq!(s.bandwidth.suffix("x"), "sip.example.net");
        assert_eq!((s.bandwidth.rate_per_sec, s.bandwidth.burst), (2, 5));
    }
}
