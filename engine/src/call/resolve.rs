//! Where a `connect` target can be reached right now: the decision, without the I/O.
//!
//! What must be looked up depends on the target, so the decision comes in two steps. [`plan`]
//! reads the destination (with the app's domain and the trunk snapshot) and either decides at
//! once or names the one [`Lookup`] the shell must make: a user's endpoint and bindings in the
//! store, a SIP host's address under the egress policy, or a trunk host's address and the
//! trunk's credentials. The shell makes it and hands the answer to [`user_contacts`],
//! [`at_address`] or [`through_trunk`], which decide. No store, no DNS, no clock here (the
//! shell passes the time).
//!
//! Users are the location service (RFC 3261 §10: the registrar's bindings) as a call sees it:
//! which devices ring when a script dials a SIP user, or a URI in its app's own domain.
//! Tenancy lives here, in one pure decision: a user name belongs to the app that created the
//! endpoint, and a call of any other app finds nobody there — exactly the answer for a name
//! nobody has ([`Resolution::NotRegistered`]), so a script cannot tell "another app's user" from
//! "no such user" by status, event or log. Apps without their own `--domain` share the default
//! domain, which is why the owner must be checked and not only the domain.

use std::net::SocketAddr;

use pcmo::action::connect::targets::Destination;

use super::admission::as_number;
use super::fork::ClientAuth;
use super::{Contact, NodeHop, Resolution};
use crate::cluster::{BindingReach, NodeView};
use crate::sip::message::{Host, SipUri, Uri};
use crate::sip::proxy::route::RouteKey;
use crate::sip::registrar::{Aor, Binding};
use crate::sip::{Peer, Transport};

/// The port of a SIP URI that names none (RFC 3261 §19.1.2; SRV is not done).
const DEFAULT_SIP_PORT: u16 = 5060;

/// What the shell must find out before a destination is decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Nothing: the destination is decided.
    Decided(Resolution),
    /// A user name in the app's domain (a `sip` user, or a URI in that domain): who holds the
    /// name and its bindings, for [`user_contacts`].
    User(Aor),
    /// A SIP URI elsewhere: its host resolved and checked by the egress policy, for
    /// [`at_address`].
    Address(AddressTarget),
    /// A number: the trunk's host resolved and its credentials opened, for [`through_trunk`].
    Trunk(TrunkTarget),
}

/// A SIP URI outside the app's domain, dialled as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressTarget {
    /// The host to resolve, as the URI spells it (an IPv6 literal in brackets).
    pub host: String,
    pub port: u16,
    uri: SipUri,
    transport: Transport,
}

impl AddressTarget {
    /// The URI's user part, unescaped (for a URI in a domain of ours).
    pub fn user(&self) -> Option<String> {
        self.uri.user_unescaped()
    }
}

/// A number, dialled through a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkTarget {
    /// The trunk (whose credentials the shell opens).
    pub name: String,
    /// A DNS name or an IP literal (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    transport: Transport,
    /// The number's digits.
    digits: String,
}

/// A trunk as routing sees it (the shell's snapshot, in its order: by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrunkView<'a> {
    pub name: &'a str,
    /// A DNS name or an IP literal (IPv6 without brackets).
    pub host: &'a str,
    pub port: u16,
    pub transport: Transport,
}

/// Who holds a user name in a domain, as the store says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The app that created the endpoint.
    pub app: u64,
    pub enabled: bool,
}

/// What `d` needs, for a call in `domain`: a SIP user's registrations, a SIP URI's host (with
/// an IP or a name), or a number through the first trunk. A URI in the app's own domain names
/// one of its users: dialling it as an address would send the INVITE back to us, or nowhere.
pub fn plan<'a>(
    d: &Destination,
    domain: &str,
    trunks: impl IntoIterator<Item = TrunkView<'a>>,
) -> Lookup {
    match d {
        Destination::SipUser(user) => Lookup::User(Aor::new(user.clone(), domain)),
        Destination::SipUri(text) => match Uri::parse(text) {
            Ok(Uri::Sip(u)) if u.user.is_some() && u.host.matches(&Host::Name(domain.into())) => {
                Lookup::User(Aor::new(u.user_unescaped().unwrap_or_default(), domain))
            }
            Ok(Uri::Sip(u)) => Lookup::Address(AddressTarget {
                host: u.host.to_string(),
                port: u.port.unwrap_or(DEFAULT_SIP_PORT),
                transport: match u.transport_param().as_deref() {
                    Some("tcp") => Transport::Tcp,
                    Some("tls") => Transport::Tls,
                    _ => Transport::Udp,
                },
                uri: u,
            }),
            // Not a SIP URI: 416 Unsupported URI Scheme.
            _ => Lookup::Decided(Resolution::Unroutable(416)),
        },
        Destination::Pstn(number) => {
            let Some(trunk) = trunks.into_iter().next() else {
                tracing::warn!(number, "no trunk configured for a PSTN number");
                return Lookup::Decided(Resolution::Unroutable(503));
            };
            // 484 Address Incomplete: not something a trunk can dial.
            let Some(digits) = as_number(number) else {
                return Lookup::Decided(Resolution::Unroutable(484));
            };
            Lookup::Trunk(TrunkTarget {
                name: trunk.name.to_string(),
                host: trunk.host.to_string(),
                port: trunk.port,
                transport: trunk.transport,
                digits,
            })
        }
        // pcmo refuses agent targets at validation (`agent_unsupported`); kept for safety.
        Destination::Agent(_) => Lookup::Decided(Resolution::Unroutable(404)),
    }
}

/// The live registrations of `aor` as ring targets for a call of app `app`: nobody when the
/// name is unknown, another app's, or disabled, or when it has no binding that is still live
/// at `now_secs` (Unix seconds).
///
/// Several nodes: a binding whose flow another live node holds is rung through that node
/// (`nodes`), with a Route signed by `key`; one of a dead node is skipped (its flow died with
/// it), and so is one of another node when there is no key to sign with.
pub fn user_contacts(
    app: u64,
    owner: Option<Owner>,
    aor: &Aor,
    bindings: &[Binding],
    now_secs: u64,
    nodes: &NodeView,
    key: Option<&RouteKey>,
) -> Resolution {
    let ours = owner.is_some_and(|o| o.app == app && o.enabled);
    if !ours {
        return Resolution::NotRegistered;
    }
    let contacts: Vec<Contact> = bindings
        .iter()
        .filter(|b| b.expires_at > now_secs)
        .filter_map(|b| {
            let flow = Peer {
                transport: b.transport,
                addr: b.source,
                conn: None,
            };
            let (peer, via) = match nodes.reach(b) {
                BindingReach::Local => (flow, None),
                BindingReach::Unreachable => return None,
                BindingReach::Through { node, sip } => {
                    let hop = NodeHop {
                        node,
                        flow,
                        key: key?.clone(),
                    };
                    (Peer::udp(sip), Some(hop))
                }
            };
            Some(Contact {
                uri: Uri::parse(&b.contact).ok()?,
                to: format!("<sip:{}@{}>", aor.user, aor.domain),
                peer,
                auth: None,
                via,
            })
        })
        .collect();
    if contacts.is_empty() {
        Resolution::NotRegistered
    } else {
        Resolution::Contacts(contacts)
    }
}

/// A SIP URI target once the egress policy has spoken: the address to send to, or the status
/// it fails with (403 refused, 502 unresolvable).
pub fn at_address(target: AddressTarget, verdict: Result<SocketAddr, u16>) -> Resolution {
    match verdict {
        Err(status) => Resolution::Unroutable(status),
        Ok(addr) => Resolution::Contacts(vec![Contact {
            to: format!("<{}>", target.uri),
            uri: Uri::Sip(target.uri),
            peer: Peer {
                transport: target.transport,
                addr,
                conn: None,
            },
            auth: None,
            via: None,
        }]),
    }
}

/// A number through its trunk once the trunk's host is resolved (`None`: it does not resolve,
/// 502) and its credentials are open (a carrier that challenges our INVITEs gets them).
pub fn through_trunk(
    target: TrunkTarget,
    addr: Option<SocketAddr>,
    auth: Option<ClientAuth>,
) -> Resolution {
    let Some(addr) = addr else {
        tracing::warn!(trunk = %target.name, host = %target.host, "trunk host does not resolve");
        return Resolution::Unroutable(502);
    };
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host
    };
    let tp = match target.transport {
        Transport::Tcp => ";transport=tcp",
        Transport::Tls => ";transport=tls",
        _ => "",
    };
    let digits = target.digits;
    match Uri::parse(&format!("sip:{digits}@{host}:{}{tp}", target.port)) {
        Ok(uri) => Resolution::Contacts(vec![Contact {
            uri,
            to: format!("<sip:{digits}@{host}>"),
            peer: Peer {
                transport: target.transport,
                addr,
                conn: None,
            },
            auth,
            via: None,
        }]),
        Err(_) => Resolution::Unroutable(502),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_000_000;

    fn binding(expires_at: u64) -> Binding {
        Binding {
            contact: "sip:alice@192.0.2.10:5062".into(),
            instance: None,
            reg_id: None,
            q: None,
            call_id: "reg-1".into(),
            cseq: 1,
            expires_at,
            registered_at: NOW - 10,
            transport: Transport::Udp,
            source: "198.51.100.7:40000".parse().unwrap(),
            user_agent: None,
            node: None,
        }
    }

    fn alice() -> Aor {
        Aor::new("alice", "shared.example.com")
    }

    #[test]
    fn the_apps_own_registered_user_rings_at_its_source() {
        let owner = Some(Owner {
            app: 1,
            enabled: true,
        });
        let Resolution::Contacts(c) = user_contacts(
            1,
            owner,
            &alice(),
            &[binding(NOW + 60)],
            NOW,
            &NodeView::single(),
            None,
        ) else {
            panic!("the app's own user was not found");
        };
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].peer.addr, "198.51.100.7:40000".parse().unwrap());
        assert_eq!(c[0].to, "<sip:alice@shared.example.com>");
    }

    #[test]
    fn another_apps_user_is_nobody_exactly_like_an_unknown_one() {
        let live = [binding(NOW + 60)];
        let theirs = Some(Owner {
            app: 1,
            enabled: true,
        });
        let unknown = user_contacts(2, None, &alice(), &[], NOW, &NodeView::single(), None);
        assert_eq!(unknown, Resolution::NotRegistered);
        // Registered, live, in the shared domain — but app 1's: app 2 gets the same answer.
        assert_eq!(
            user_contacts(2, theirs, &alice(), &live, NOW, &NodeView::single(), None),
            unknown
        );
    }

    #[test]
    fn disabled_expired_or_absent_registrations_ring_nobody() {
        let mine = |enabled| Some(Owner { app: 1, enabled });
        let live = [binding(NOW + 60)];
        assert_eq!(
            user_contacts(
                1,
                mine(false),
                &alice(),
                &live,
                NOW,
                &NodeView::single(),
                None
            ),
            Resolution::NotRegistered
        );
        assert_eq!(
            user_contacts(
                1,
                mine(true),
                &alice(),
                &[binding(NOW)],
                NOW,
                &NodeView::single(),
                None
            ),
            Resolution::NotRegistered
        );
        assert_eq!(
            user_contacts(1, mine(true), &alice(), &[], NOW, &NodeView::single(), None),
            Resolution::NotRegistered
        );
    }

    #[test]
    fn a_binding_on_another_live_node_rings_through_it_and_one_on_a_dead_node_not_at_all() {
        use crate::store::NodeInfo;
        let owner = Some(Owner {
            app: 1,
            enabled: true,
        });
        let node = |id: &str, port: u16, heartbeat_ms: u64| NodeInfo {
            id: id.into(),
            sip: std::net::SocketAddr::from(([192, 0, 2, 1], port)),
            internal_http: None,
            started_ms: 0,
            heartbeat_ms,
        };
        let now_ms = NOW * 1000;
        let nodes = [
            node("n1", 5060, now_ms),
            node("n2", 5062, now_ms - 1000),
            node("n3", 5064, now_ms - 60_000),
        ];
        let view = NodeView::at("n1", &nodes, now_ms, 10_000);
        let key = RouteKey::from_secret(&[3; 32]);
        let on = |n: &str, transport: Transport| Binding {
            node: Some(n.into()),
            transport,
            ..binding(NOW + 60)
        };
        let Resolution::Contacts(c) = user_contacts(
            1,
            owner,
            &alice(),
            &[
                on("n1", Transport::Udp),
                on("n2", Transport::Tcp),
                on("n3", Transport::Udp),
            ],
            NOW,
            &view,
            Some(&key),
        ) else {
            panic!("nobody to ring");
        };
        // n1's own binding: straight to the device. n2's: to n2, which holds the TCP flow.
        // n3 is dead: skipped.
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].via, None);
        assert_eq!(c[0].peer.addr, "198.51.100.7:40000".parse().unwrap());
        let hop = c[1].via.as_ref().unwrap();
        assert_eq!(c[1].peer, Peer::udp("192.0.2.1:5062".parse().unwrap()));
        assert_eq!(hop.node, "n2");
        assert_eq!(hop.flow.transport, Transport::Tcp);
        assert_eq!(c[1].flow_transport(), Transport::Tcp);
        assert_eq!(
            c[1].media_source(),
            "198.51.100.7".parse::<std::net::IpAddr>().unwrap()
        );
        let route = c[1].node_route("c1", "t1").unwrap();
        assert!(
            route.starts_with("<sip:192.0.2.1:5062;lr;rm-node=n2;rm-flow="),
            "{route}"
        );
        assert_eq!(c[0].node_route("c1", "t1"), None);
        // Without the cluster key nothing can be signed: only the local binding rings.
        let Resolution::Contacts(c) = user_contacts(
            1,
            owner,
            &alice(),
            &[on("n1", Transport::Udp), on("n2", Transport::Tcp)],
            NOW,
            &view,
            None,
        ) else {
            panic!("nobody to ring");
        };
        assert_eq!(c.len(), 1);
    }

    const DOMAIN: &str = "shared.example.com";

    fn no_trunks() -> std::iter::Empty<TrunkView<'static>> {
        std::iter::empty()
    }

    fn carrier(name: &'static str, host: &'static str) -> TrunkView<'static> {
        TrunkView {
            name,
            host,
            port: 5080,
            transport: Transport::Udp,
        }
    }

    fn sip_uri(text: &str) -> Destination {
        Destination::SipUri(text.into())
    }

    fn address(text: &str) -> AddressTarget {
        match plan(&sip_uri(text), DOMAIN, no_trunks()) {
            Lookup::Address(a) => a,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn trunk(number: &str, trunks: &[TrunkView<'static>]) -> TrunkTarget {
        match plan(
            &Destination::Pstn(number.into()),
            DOMAIN,
            trunks.iter().copied(),
        ) {
            Lookup::Trunk(t) => t,
            other => panic!("{number}: {other:?}"),
        }
    }

    #[test]
    fn a_sip_user_is_looked_up_in_the_apps_domain() {
        assert_eq!(
            plan(&Destination::SipUser("alice".into()), DOMAIN, no_trunks()),
            Lookup::User(alice())
        );
    }

    #[test]
    fn a_uri_in_the_apps_own_domain_names_one_of_its_users() {
        for text in [
            "sip:alice@shared.example.com",
            "sip:alice@SHARED.Example.com:5070;transport=tcp",
            "sip:%61lice@shared.example.com",
        ] {
            assert_eq!(
                plan(&sip_uri(text), DOMAIN, no_trunks()),
                Lookup::User(alice()),
                "{text}"
            );
        }
        // Without a user part it is the domain itself, dialled as an address.
        assert_eq!(address("sip:shared.example.com").host, DOMAIN);
    }

    #[test]
    fn another_uri_is_dialled_at_the_address_egress_allows() {
        let target = address("sip:bob@192.0.2.10");
        assert_eq!((target.host.as_str(), target.port), ("192.0.2.10", 5060));
        let addr: SocketAddr = "192.0.2.10:5060".parse().unwrap();
        let Resolution::Contacts(c) = at_address(target, Ok(addr)) else {
            panic!("an allowed address was not dialled");
        };
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].uri.to_string(), "sip:bob@192.0.2.10");
        assert_eq!(c[0].to, "<sip:bob@192.0.2.10>");
        assert_eq!(c[0].peer.addr, addr);
        assert_eq!(c[0].peer.transport, Transport::Udp);
        assert_eq!(c[0].auth, None);

        let target = address("sip:bob@pbx.example.net:5070;transport=TCP");
        assert_eq!(
            (target.host.as_str(), target.port),
            ("pbx.example.net", 5070)
        );
        let addr: SocketAddr = "198.51.100.20:5070".parse().unwrap();
        let Resolution::Contacts(c) = at_address(target, Ok(addr)) else {
            panic!("an allowed name was not dialled");
        };
        assert_eq!(c[0].peer.transport, Transport::Tcp);
        assert_eq!(c[0].peer.addr, addr);
        assert_eq!(address("sip:bob@[2001:db8::7]").host, "[2001:db8::7]");
    }

    #[test]
    fn a_uri_egress_refuses_or_that_does_not_resolve_fails_with_its_status() {
        assert_eq!(
            at_address(address("sip:bob@127.0.0.1"), Err(403)),
            Resolution::Unroutable(403)
        );
        assert_eq!(
            at_address(address("sip:bob@nowhere.invalid"), Err(502)),
            Resolution::Unroutable(502)
        );
    }

    #[test]
    fn what_is_not_a_sip_uri_is_unsupported() {
        for text in ["tel:+15550001", "mailto:bob@example.com", "not a uri", ""] {
            assert_eq!(
                plan(&sip_uri(text), DOMAIN, no_trunks()),
                Lookup::Decided(Resolution::Unroutable(416)),
                "{text}"
            );
        }
    }

    #[test]
    fn a_number_goes_through_the_first_trunk() {
        let trunks = [
            carrier("alpha", "sip.alpha.example"),
            carrier("beta", "192.0.2.99"),
        ];
        let t = trunk("+91 (44) 7100-0000", &trunks);
        assert_eq!(
            (t.name.as_str(), t.host.as_str(), t.port),
            ("alpha", "sip.alpha.example", 5080)
        );
        let addr: SocketAddr = "203.0.113.5:5080".parse().unwrap();
        let auth = ClientAuth {
            username: "acct".into(),
            password: "pw".into(),
        };
        let Resolution::Contacts(c) = through_trunk(t, Some(addr), Some(auth.clone())) else {
            panic!("the trunk was not dialled");
        };
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0].uri.to_string(),
            "sip:914471000000@sip.alpha.example:5080"
        );
        assert_eq!(c[0].to, "<sip:914471000000@sip.alpha.example>");
        assert_eq!(c[0].peer.addr, addr);
        assert_eq!(c[0].peer.transport, Transport::Udp);
        assert_eq!(c[0].auth, Some(auth));
    }

    #[test]
    fn a_tcp_or_ipv6_trunk_is_dialled_as_such() {
        let v6 = TrunkView {
            name: "v6",
            host: "2001:db8::5",
            port: 5061,
            transport: Transport::Tcp,
        };
        let addr: SocketAddr = "[2001:db8::5]:5061".parse().unwrap();
        let Resolution::Contacts(c) = through_trunk(trunk("15550001", &[v6]), Some(addr), None)
        else {
            panic!("the trunk was not dialled");
        };
        assert_eq!(
            c[0].uri.to_string(),
            "sip:15550001@[2001:db8::5]:5061;transport=tcp"
        );
        assert_eq!(c[0].to, "<sip:15550001@[2001:db8::5]>");
        assert_eq!(c[0].peer.transport, Transport::Tcp);
        assert_eq!(c[0].auth, None);
    }

    #[test]
    fn a_number_without_a_trunk_a_usable_number_or_a_trunk_address_is_unroutable() {
        let pstn = |n: &str| Destination::Pstn(n.into());
        // No trunk is told before a bad number: neither could be dialled.
        assert_eq!(
            plan(&pstn("15550001"), DOMAIN, no_trunks()),
            Lookup::Decided(Resolution::Unroutable(503))
        );
        assert_eq!(
            plan(&pstn("call me"), DOMAIN, no_trunks()),
            Lookup::Decided(Resolution::Unroutable(503))
        );
        let trunks = [carrier("alpha", "sip.alpha.example")];
        for bad in ["call me", "", "+", "1234567890123456"] {
            assert_eq!(
                plan(&pstn(bad), DOMAIN, trunks.iter().copied()),
                Lookup::Decided(Resolution::Unroutable(484)),
                "{bad}"
            );
        }
        assert_eq!(
            through_trunk(trunk("15550001", &trunks), None, None),
            Resolution::Unroutable(502)
        );
    }

    #[test]
    fn agents_are_not_found() {
        assert_eq!(
            plan(&Destination::Agent("a-1".into()), DOMAIN, no_trunks()),
            Lookup::Decided(Resolution::Unroutable(404))
        );
    }
}
