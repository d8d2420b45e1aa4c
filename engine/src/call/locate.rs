//! The location service (RFC 3261 §10: the registrar's bindings) as a call sees it: which
//! devices ring when a script dials a SIP user, or a URI in its app's own domain.
//!
//! Tenancy lives here, in one pure decision: a user name belongs to the app that created the
//! endpoint, and a call of any other app finds nobody there — exactly the answer for a name
//! nobody has ([`Resolution::NotRegistered`]), so a script cannot tell "another app's user" from
//! "no such user" by status, event or log. Apps without their own `--domain` share the default
//! domain, which is why the owner must be checked and not only the domain. The shell looks up
//! the endpoint and its bindings; this decides.

use super::core::{Contact, Resolution};
use crate::sip::message::Uri;
use crate::sip::registrar::{Aor, Binding};
use crate::sip::Peer;

/// Who holds a user name in a domain, as the store says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    /// The app that created the endpoint.
    pub app: u64,
    pub enabled: bool,
}

/// The live registrations of `aor` as ring targets for a call of app `app`: nobody when the
/// name is unknown, another app's, or disabled, or when it has no binding that is still live
/// at `now_secs` (Unix seconds).
pub fn user_contacts(
    app: u64,
    owner: Option<Owner>,
    aor: &Aor,
    bindings: &[Binding],
    now_secs: u64,
) -> Resolution {
    let ours = owner.is_some_and(|o| o.app == app && o.enabled);
    if !ours {
        return Resolution::NotRegistered;
    }
    let contacts: Vec<Contact> = bindings
        .iter()
        .filter(|b| b.expires_at > now_secs)
        .filter_map(|b| {
            Some(Contact {
                uri: Uri::parse(&b.contact).ok()?,
                to: format!("<sip:{}@{}>", aor.user, aor.domain),
                peer: Peer {
                    transport: b.transport,
                    addr: b.source,
                    conn: None,
                },
                auth: None,
            })
        })
        .collect();
    if contacts.is_empty() {
        Resolution::NotRegistered
    } else {
        Resolution::Contacts(contacts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Transport;

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
        let Resolution::Contacts(c) = user_contacts(1, owner, &alice(), &[binding(NOW + 60)], NOW)
        else {
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
        let unknown = user_contacts(2, None, &alice(), &[], NOW);
        assert_eq!(unknown, Resolution::NotRegistered);
        // Registered, live, in the shared domain — but app 1's: app 2 gets the same answer.
        assert_eq!(user_contacts(2, theirs, &alice(), &live, NOW), unknown);
    }

    #[test]
    fn disabled_expired_or_absent_registrations_ring_nobody() {
        let mine = |enabled| Some(Owner { app: 1, enabled });
        let live = [binding(NOW + 60)];
        assert_eq!(
            user_contacts(1, mine(false), &alice(), &live, NOW),
            Resolution::NotRegistered
        );
        assert_eq!(
            user_contacts(1, mine(true), &alice(), &[binding(NOW)], NOW),
            Resolution::NotRegistered
        );
        assert_eq!(
            user_contacts(1, mine(true), &alice(), &[], NOW),
            Resolution::NotRegistered
        );
    }
}
