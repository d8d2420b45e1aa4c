//! `[http]`: where the admin API listens and who may read `/metrics`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// HTTP surfaces beyond `http_listen`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// When set, the admin API (`/admin/v1/...` with the admin token) is served only on this
    /// address (say `127.0.0.1:8081`, or a management network), and the main listener
    /// refuses the admin token. The routes apps use stay on `http_listen`: the PIOPIY API,
    /// `pcmo_make_call`, and an app's own recordings with its Basic credentials. `None` (the
    /// default): everything on `http_listen`.
    pub admin_listen: Option<SocketAddr>,
    /// When set, `/metrics` answers only `Authorization: Bearer <metrics_token>`; scrapes
    /// without it get 401 (and count as failed authentications, like any 401). `None` (the
    /// default): open, as before. A blank token stops start-up.
    pub metrics_token: Option<String>,
    /// When set, the same routes as `http_listen` are served over HTTPS here too, with the
    /// certificate of SIP TLS and WSS (`[transports] tls_cert`/`tls_key`, or the self-signed
    /// one in the data directory; reloaded on SIGHUP like theirs). `None` (the default): off.
    pub https_listen: Option<SocketAddr>,
}

impl std::fmt::Debug for HttpSettings {
    /// The token is a secret: never in a log or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("admin_listen", &self.admin_listen)
            .field("https_listen", &self.https_listen)
            .field(
                "metrics_token",
                &self.metrics_token.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn toml_and_a_hidden_token() {
        let s: crate::config::Settings = toml::from_str(
            "[http]\nadmin_listen = \"127.0.0.1:8081\"\nmetrics_token = \"scrape-secret\"\n",
        )
        .unwrap();
        assert_eq!(s.http.admin_listen, Some("127.0.0.1:8081".parse().unwrap()));
        assert_eq!(s.http.metrics_token.as_deref(), Some("scrape-secret"));
        assert!(!format!("{s:?}").contains("scrape-secret"));
        let d: crate::config::Settings = toml::from_str("").unwrap();
        assert!(d.http.admin_listen.is_none() && d.http.metrics_token.is_none());
    }
}
