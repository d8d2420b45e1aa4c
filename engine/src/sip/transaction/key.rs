//! Transaction keys (RFC 3261 §17.1.3 and §17.2.3).

use crate::sip::message::{HeaderView, Method, Request, Response};

/// The method part of a key: ACK and CANCEL match the INVITE transaction's key with the method
/// set explicitly, so CANCEL creates its own transaction and ACK finds the INVITE's.
fn key_method(m: &Method) -> Method {
    match m {
        Method::Ack => Method::Invite,
        other => other.clone(),
    }
}

/// Identifies a server transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerKey {
    /// RFC 3261: the branch (with the magic cookie), the top Via's sent-by and the method.
    Rfc3261 {
        branch: String,
        sent_by: String,
        method: Method,
    },
    /// RFC 2543 peers (no magic cookie, or a bare cookie as in RFC 4475 badbranch): the
    /// §17.2.3 fallback on Call-ID, CSeq number, From tag, top Via and the method. The To tag is
    /// left out so the ACK for a non-2xx matches its INVITE.
    Rfc2543 {
        call_id: String,
        cseq: u32,
        from_tag: Option<String>,
        via: String,
        method: Method,
    },
}

impl ServerKey {
    /// The key of `req`; `method` overrides the request's own (CANCEL looks up its INVITE).
    pub fn of(req: &Request, method: Option<Method>) -> Option<ServerKey> {
        let via = req.top_via().ok()?;
        let method = method.unwrap_or_else(|| key_method(&req.method));
        if via.has_rfc3261_branch() {
            return Some(ServerKey::Rfc3261 {
                branch: via.branch()?.to_string(),
                sent_by: via.sent_by().to_ascii_lowercase(),
                method,
            });
        }
        Some(ServerKey::Rfc2543 {
            call_id: req.call_id()?.to_string(),
            cseq: req.cseq().ok()?.seq,
            from_tag: req.hdr_from().ok()?.tag().map(str::to_string),
            via: via.sent_by().to_ascii_lowercase(),
            method,
        })
    }
}

/// Identifies a client transaction: our branch and the CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: String,
    pub method: Method,
}

impl ClientKey {
    pub fn of_request(req: &Request) -> Option<ClientKey> {
        Some(ClientKey {
            branch: req.top_via().ok()?.branch()?.to_string(),
            method: key_method(&req.method),
        })
    }

    pub fn of_response(resp: &Response) -> Option<ClientKey> {
        Some(ClientKey {
            branch: resp.top_via().ok()?.branch()?.to_string(),
            method: key_method(&resp.cseq().ok()?.method),
        })
    }
}

/// Matches the ACK of a 2xx (a new transaction with its own branch) to the INVITE server
/// transaction that sent the 2xx, so its retransmissions stop (RFC 3261 §13.3.1.4).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AckKey {
    pub call_id: String,
    pub cseq: u32,
    pub from_tag: Option<String>,
}

impl AckKey {
    pub fn of(req: &Request) -> Option<AckKey> {
        Some(AckKey {
            call_id: req.call_id()?.to_string(),
            cseq: req.cseq().ok()?.seq,
            from_tag: req.hdr_from().ok()?.tag().map(str::to_string),
        })
    }
}
