//! Our Contact on a leg. A phone sends its in-dialog requests (ACK, BYE, re-INVITE) to the
//! Contact we gave it (RFC 3261 §12.1.1), so that URI must name the transport the leg uses:
//! without `;transport=tls`, a phone registered over TLS would send them over UDP to our
//! UDP port, outside the connection it opened (and nowhere, if it has no UDP). Stream
//! transports name their own listener's port.

use std::net::{IpAddr, SocketAddr};

use crate::sip::message::{HeaderName, Request};
use crate::sip::transport::Transport;

/// Our Contact values for the stream listeners that are on (the UDP/TCP one is
/// `CallSetup::contact`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OurContacts {
    tls: Option<String>,
    ws: Option<String>,
    wss: Option<String>,
}

impl OurContacts {
    /// For the listeners on these ports, at our advertised address `ip`.
    pub fn new(ip: IpAddr, tls: Option<u16>, ws: Option<u16>, wss: Option<u16>) -> Self {
        let contact = |port: Option<u16>, token: &str| {
            port.map(|p| {
                format!(
                    "<sip:ringmaster@{};transport={token}>",
                    SocketAddr::new(ip, p)
                )
            })
        };
        OurContacts {
            tls: contact(tls, "tls"),
            ws: contact(ws, "ws"),
            wss: contact(wss, "wss"),
        }
    }

    /// Our Contact for a leg over `transport`; `base` is the UDP/TCP one (`<sip:…>`).
    pub fn for_transport(&self, base: &str, transport: Transport) -> String {
        let stream = match transport {
            Transport::Udp => None,
            Transport::Tcp => return with_transport(base, "tcp"),
            Transport::Tls => self.tls.as_ref(),
            Transport::Ws => self.ws.as_ref(),
            Transport::Wss => self.wss.as_ref(),
        };
        stream.cloned().unwrap_or_else(|| base.to_owned())
    }
}

/// `<sip:u@h:p>` → `<sip:u@h:p;transport=t>`.
fn with_transport(base: &str, token: &str) -> String {
    match base.strip_suffix('>') {
        Some(inner) if !inner.contains(";transport=") => format!("{inner};transport={token}>"),
        _ => base.to_owned(),
    }
}

/// The transport a request came over, from its top Via (`SIP/2.0/TLS …`); UDP if unreadable.
pub fn via_transport(req: &Request) -> Transport {
    req.headers
        .get(&HeaderName::Via)
        .and_then(|via| via.split_ascii_whitespace().next())
        .and_then(|proto| proto.rsplit('/').next())
        .and_then(Transport::from_param)
        .unwrap_or(Transport::Udp)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "<sip:ringmaster@192.0.2.1:5060>";

    #[test]
    fn each_transport_gets_a_contact_that_names_it() {
        let c = OurContacts::new("192.0.2.1".parse().unwrap(), Some(5061), Some(8088), None);
        assert_eq!(c.for_transport(BASE, Transport::Udp), BASE);
        assert_eq!(
            c.for_transport(BASE, Transport::Tcp),
            "<sip:ringmaster@192.0.2.1:5060;transport=tcp>"
        );
        assert_eq!(
            c.for_transport(BASE, Transport::Tls),
            "<sip:ringmaster@192.0.2.1:5061;transport=tls>"
        );
        assert_eq!(
            c.for_transport(BASE, Transport::Ws),
            "<sip:ringmaster@192.0.2.1:8088;transport=ws>"
        );
        // No wss listener: the base one (the leg's connection carries requests anyway).
        assert_eq!(c.for_transport(BASE, Transport::Wss), BASE);
        let v6 = OurContacts::new("2001:db8::1".parse().unwrap(), Some(5061), None, None);
        assert_eq!(
            v6.for_transport(BASE, Transport::Tls),
            "<sip:ringmaster@[2001:db8::1]:5061;transport=tls>"
        );
    }

    #[test]
    fn the_top_via_says_how_a_request_came() {
        let req = |via: &str| {
            let text = format!("BYE sip:a@b SIP/2.0\r\nVia: {via}\r\nVia: SIP/2.0/UDP x\r\nCall-ID: c\r\nCSeq: 2 BYE\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@b>;tag=2\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
            match crate::sip::message::parse(bytes::Bytes::from(text)).unwrap() {
                crate::sip::message::Message::Request(r) => r,
                _ => unreachable!(),
            }
        };
        assert_eq!(
            via_transport(&req("SIP/2.0/TLS 127.0.0.1:5000;branch=z9hG4bK1")),
            Transport::Tls
        );
        assert_eq!(
            via_transport(&req("SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK1")),
            Transport::Wss
        );
        assert_eq!(
            via_transport(&req("SIP/2.0/SCTP 127.0.0.1;branch=z9hG4bK1")),
            Transport::Udp
        );
    }
}
