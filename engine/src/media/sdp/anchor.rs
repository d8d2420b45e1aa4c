//! Rewriting a description so that media flows through our relay ("anchoring").
//!
//! The B2BUA receives an offer (or answer) from one leg and sends a rewritten copy to the other
//! leg. [`anchor`] produces that copy:
//!
//! * every anchored m-line gets our port, and `c=` our address (`IN IP4` or `IN IP6` from the
//!   address family of the [`Anchor`]; an offer may mix both, RFC 5118 §4.7); if every anchored
//!   m-line shares one address it goes to the session-level `c=` only;
//! * `a=rtcp` is rewritten to our RTCP port (and added if our RTCP port is not RTP + 1);
//! * m-lines without an anchor are disabled: port 0, no attributes (RFC 3264 §6 and §8.2);
//! * what we cannot honour is dropped: ICE (we are not an ICE agent, the far end must not run
//!   checks against our ports), SDES `a=crypto`, DTLS `a=fingerprint`/`a=setup`, `k=` keys,
//!   `a=rtcp-mux` (we relay RTCP on its own port) and `a=group:BUNDLE`;
//! * direction attributes and an RFC 2543 `c=0.0.0.0` hold pass through, so hold and unhold
//!   reach the other side;
//! * `o=` becomes ours ([`LocalOrigin`]): our own session id, and a version bumped each time
//!   the description we send changes (RFC 3264 §8).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{Attribute, Connection, Field, Origin, SessionDescription};

/// Attributes that describe transport or keys we do not terminate, so they must not reach the
/// other leg.
pub(super) const NOT_HONOURED: &[&str] = &[
    "candidate",
    "remote-candidates",
    "end-of-candidates",
    "ice-ufrag",
    "ice-pwd",
    "ice-options",
    "ice-lite",
    "ice-mismatch",
    "ice-pacing",
    "crypto",
    "key-mgmt",
    "fingerprint",
    "setup",
    "tls-id",
    "rtcp-mux",
    "rtcp-mux-only",
    "group",
];

/// Where one m-line's media must go instead: our relay address and ports for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    pub addr: IpAddr,
    pub rtp_port: u16,
    pub rtcp_port: u16,
}

/// Why a description could not be anchored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    #[error("{anchors} anchors given for {media} m-lines")]
    MediaCountMismatch { media: usize, anchors: usize },
    #[error("m-line {index} uses {proto}, which we cannot relay")]
    NotRelayable { index: usize, proto: String },
}

/// Our `o=` towards one leg: one session id for the life of the dialog, and a version that
/// goes up by one whenever the description we send differs from the previous one.
#[derive(Debug, Clone)]
pub struct LocalOrigin {
    username: String,
    session_id: u64,
    version: u64,
    address: IpAddr,
    /// Hash of the last description stamped, without its `o=`; `None` before the first.
    last: Option<u64>,
}

impl LocalOrigin {
    /// `session_id` should be unique per dialog (the caller picks it; this module has no
    /// randomness or clock). The first version is `session_id`, as RFC 8866 §5.2 suggests.
    pub fn new(username: &str, session_id: u64, address: IpAddr) -> Self {
        LocalOrigin {
            username: username.to_owned(),
            session_id,
            version: session_id,
            address,
            last: None,
        }
    }

    /// Set our `o=` on `sdp`, bumping the version if the rest of it changed since last time.
    pub fn stamp(&mut self, sdp: &mut SessionDescription) {
        sdp.origin = None;
        let mut hasher = DefaultHasher::new();
        sdp.to_string().hash(&mut hasher);
        let hash = hasher.finish();
        if self.last.is_some_and(|last| last != hash) {
            self.version = self.version.wrapping_add(1);
        }
        self.last = Some(hash);
        sdp.origin = Some(self.origin());
    }

    /// The current `o=` without changing anything.
    pub fn origin(&self) -> Origin {
        let conn = Connection::for_ip(self.address);
        Origin {
            username: self.username.clone(),
            session_id: self.session_id.to_string(),
            session_version: self.version.to_string(),
            nettype: conn.nettype,
            addrtype: conn.addrtype,
            address: conn.address,
        }
    }

    pub fn version(&self) -> u64 {
        self.version
    }
}

/// Rewrite `sdp` for the other leg. `anchors[i]` is our relay for m-line `i`, or `None` to
/// disable it. See the module docs for every change made.
pub fn anchor(
    sdp: &SessionDescription,
    anchors: &[Option<Anchor>],
    origin: &mut LocalOrigin,
) -> Result<SessionDescription, AnchorError> {
    if anchors.len() != sdp.media.len() {
        return Err(AnchorError::MediaCountMismatch {
            media: sdp.media.len(),
            anchors: anchors.len(),
        });
    }
    let mut out = sdp.clone();
    out.fields.retain(honoured);

    let mut connections: Vec<Option<Connection>> = Vec::with_capacity(anchors.len());
    for (index, (media, anchor)) in out.media.iter_mut().zip(anchors).enumerate() {
        let Some(anchor) = anchor else {
            media.port = 0;
            media.port_count = None;
            media.connection = None;
            media.fields.clear();
            connections.push(None);
            continue;
        };
        if !media.is_plain_rtp() {
            return Err(AnchorError::NotRelayable {
                index,
                proto: media.proto.clone(),
            });
        }
        // RFC 2543 hold (c=0.0.0.0) must survive, or the held side would start receiving.
        let held = sdp
            .media_connection(index)
            .is_some_and(Connection::is_unspecified);
        let addr = match (held, anchor.addr) {
            (false, addr) => addr,
            (true, IpAddr::V4(_)) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            (true, IpAddr::V6(_)) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        media.port = anchor.rtp_port;
        media.port_count = None;
        media.connection = None;
        media.fields.retain(honoured);
        rewrite_rtcp(&mut media.fields, anchor);
        connections.push(Some(Connection::for_ip(addr)));
    }

    // One session-level c= when all anchored media share it; media-level ones otherwise.
    // Disabled m-lines still need some c= in scope (RFC 8866 §5.7), hence the fallback.
    let first = connections.iter().flatten().next().cloned();
    out.connection = Some(
        first
            .clone()
            .unwrap_or_else(|| Connection::for_ip(origin.address)),
    );
    for (media, conn) in out.media.iter_mut().zip(connections) {
        if conn.is_some() && conn != first {
            media.connection = conn;
        }
    }
    origin.stamp(&mut out);
    Ok(out)
}

fn honoured(field: &Field) -> bool {
    match field {
        Field::Attribute(a) => !NOT_HONOURED.contains(&a.name.as_str()),
        Field::Other { key, .. } => *key != 'k',
    }
}

fn rewrite_rtcp(fields: &mut Vec<Field>, anchor: &Anchor) {
    let ours = Attribute::new("rtcp", Some(&anchor.rtcp_port.to_string()));
    let mut found = false;
    for field in fields.iter_mut() {
        if let Field::Attribute(a) = field {
            if a.name == "rtcp" {
                *a = ours.clone();
                found = true;
            }
        }
    }
    if !found && anchor.rtcp_port != anchor.rtp_port.wrapping_add(1) {
        fields.push(Field::Attribute(ours));
    }
}
