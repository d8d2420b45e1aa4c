//! The SIP domains this engine serves, and which one a request belongs to.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use crate::sip::message::{HeaderView, Host, Request, Uri};
use crate::sip::registrar::Aor;

/// The default domain and the apps' own domains, shared by the API (which adds and removes
/// apps) and the SIP side (which maps requests to domains).
#[derive(Debug, Clone)]
pub struct Domains {
    default: String,
    own: Arc<RwLock<HashSet<String>>>,
}

impl Domains {
    pub fn new(default: &str) -> Domains {
        Domains {
            default: default.to_ascii_lowercase(),
            own: Arc::new(RwLock::new(HashSet::new())),
        }
    }

    pub fn default_domain(&self) -> &str {
        &self.default
    }

    pub fn add(&self, domain: &str) {
        self.own
            .write()
            .expect("domains lock")
            .insert(domain.to_ascii_lowercase());
    }

    pub fn remove(&self, domain: &str) {
        self.own
            .write()
            .expect("domains lock")
            .remove(&domain.to_ascii_lowercase());
    }

    /// Whether `host` is one of the domains this server serves (the default or an app's).
    pub fn is_own(&self, host: &str) -> bool {
        let n = host.to_ascii_lowercase();
        n == self.default || self.own.read().expect("domains lock").contains(&n)
    }

    /// The domain a host names: an app's own domain if it is one, else the default domain (a
    /// phone configured with only the server's IP address, or any name we do not serve).
    pub fn resolve(&self, host: &Host) -> String {
        if let Host::Name(n) = host {
            let n = n.to_ascii_lowercase();
            if n == self.default || self.own.read().expect("domains lock").contains(&n) {
                return n;
            }
        }
        self.default.clone()
    }

    /// The address of record a REGISTER is about (its To), or the status to refuse it with:
    /// 416 for a To that is not a SIP URI (RFC 4475 unksm2), 404 for one without a user part.
    pub fn aor_of(&self, req: &Request) -> Result<Aor, u16> {
        let to = req.hdr_to().map_err(|_| 400u16)?;
        let Uri::Sip(uri) = &to.uri else {
            return Err(416);
        };
        let user = uri.user_unescaped().ok_or(404u16)?;
        Ok(Aor::new(user, self.resolve(&uri.host)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_hosts_and_addresses_belong_to_the_default_domain() {
        let d = Domains::new("PBX.example.com");
        d.add("Sip.Acme.test");
        assert_eq!(
            d.resolve(&Host::Name("sip.acme.TEST".into())),
            "sip.acme.test"
        );
        assert_eq!(
            d.resolve(&Host::Name("pbx.example.com".into())),
            "pbx.example.com"
        );
        assert_eq!(
            d.resolve(&Host::Name("other.test".into())),
            "pbx.example.com"
        );
        assert_eq!(
            d.resolve(&Host::V4("192.0.2.1".parse().unwrap())),
            "pbx.example.com"
        );
        d.remove("sip.acme.test");
        assert_eq!(
            d.resolve(&Host::Name("sip.acme.test".into())),
            "pbx.example.com"
        );
    }
}
