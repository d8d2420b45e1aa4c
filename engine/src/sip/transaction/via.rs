//! Top-Via handling of the layer: what §18.2.1 and RFC 3581 ask of a server receiving a
//! request (received, rport, where responses go) and of a client sending one (§8.1.1.7: a Via
//! with a fresh branch).

use super::{TransactionLayer, TxError};
use crate::sip::message::{new_branch, HeaderName, HeaderView, Host, Request, Via};
use crate::sip::{Peer, Transport};

impl TransactionLayer {
    /// §18.2.1 and RFC 3581: records where the request really came from in its top Via, and
    /// returns where responses must go.
    pub(super) fn stamp_via(&self, req: &mut Request, source: Peer) -> Peer {
        let Ok(mut via) = req.top_via() else {
            return source;
        };
        let src_ip = source.addr.ip();
        let asked_rport = via.rport().is_some();
        if via.host.ip() != Some(src_ip) || asked_rport || self.cfg.force_rport {
            via.params.set(
                "received",
                Some(
                    Host::from(src_ip)
                        .to_string()
                        .trim_matches(['[', ']'])
                        .to_string(),
                ),
            );
        }
        if asked_rport || (self.cfg.force_rport && source.transport == Transport::Udp) {
            via.params
                .set("rport", Some(source.addr.port().to_string()));
        }
        req.headers.replace_first(&HeaderName::Via, via.to_string());
        if source.transport.is_reliable() || asked_rport || self.cfg.force_rport {
            return source;
        }
        // RFC 3261 routing: the received address, the sent-by port (default 5060).
        let port = via.port.unwrap_or(5060);
        Peer {
            addr: std::net::SocketAddr::new(src_ip, port),
            ..source
        }
    }

    pub(super) fn ensure_via(
        &mut self,
        req: &mut Request,
        transport: Transport,
    ) -> Result<(), TxError> {
        match req.top_via() {
            Ok(mut via) => {
                if via.branch().is_none() {
                    via.params.set("branch", Some(new_branch(&mut self.rng)));
                    req.headers.replace_first(&HeaderName::Via, via.to_string());
                }
            }
            Err(_) => {
                let (host, port) = self
                    .cfg
                    .sent_by
                    .iter()
                    .find(|(t, _, _)| *t == transport)
                    .map(|(_, h, p)| (h.clone(), *p))
                    .unwrap_or((Host::V4(std::net::Ipv4Addr::LOCALHOST), 5060));
                let mut via = Via::new(
                    transport.via_token(),
                    host,
                    Some(port),
                    &new_branch(&mut self.rng),
                );
                via.params.set("rport", None);
                req.headers.push_front(HeaderName::Via, via.to_string());
            }
        }
        req.cseq().map(|_| ()).map_err(|_| TxError::BadRequest)
    }
}
