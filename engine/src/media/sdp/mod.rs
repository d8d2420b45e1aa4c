//! SDP (RFC 8866) for a B2BUA that anchors media: parse, inspect, rewrite, print. Pure.
//!
//! # Contract
//!
//! * [`SessionDescription::parse`] takes the body bytes of a SIP message and either returns a
//!   model or an [`SdpError`]; it never panics and is bounded: at most [`MAX_SDP_LEN`] bytes,
//!   [`MAX_MEDIA`] m-lines and [`MAX_ATTRIBUTES`] `a=` lines.
//! * The model keeps every line it does not interpret **verbatim and in order** ([`Field`]), so
//!   what we relay is what the endpoint wrote, minus what we deliberately rewrite. Only the lines
//!   a B2BUA changes are typed up front: `o=`, `c=` and `m=`. Attributes are typed on demand
//!   ([`MediaDescription::rtpmaps`], [`MediaDescription::own_direction`], …) because offers and
//!   answers are handled a few times per call, never per packet.
//! * Printing ([`std::fmt::Display`]) always emits CRLF line ends and the RFC 8866 §5 line order
//!   for the lines we own (`c=` after `i u e p` and before `b t r z k a`).
//! * [`anchor()`] rewrites a description so that media flows through our relay; [`policy`] holds
//!   the decisions around it (audio-only calls, codec filtering, answer matching, hold).
//!
//! # Why our own parser and not `sdp-types`
//!
//! `sdp-types` 0.3 parses IPv4 and IPv6 fine, but its parser skips line types it does not know
//! (`_ => ()`), so an unknown line would vanish from the SDP we relay, and its model has no way
//! to keep line order between typed and untyped lines. A B2BUA must pass through what it does
//! not understand, so we keep a small line-preserving model of our own (about 300 lines).

pub mod anchor;
mod attr;
pub mod crypto;
mod parse;
pub mod policy;
pub mod webrtc;
mod write;

use std::net::IpAddr;

pub use anchor::{anchor, Anchor, AnchorError, LocalOrigin};
pub use attr::{Direction, Fmtp, RtcpAttr, RtpMap};

/// Largest SDP body we accept; real offers are well under 4 KiB.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most m-lines we accept in one description.
pub const MAX_MEDIA: usize = 32;
/// Most `a=` lines we accept in one description (session and media levels together).
pub const MAX_ATTRIBUTES: usize = 256;

/// Why an SDP body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    #[error("SDP body is {len} bytes, more than the {max} we accept")]
    TooLarge { len: usize, max: usize },
    #[error("SDP body is not valid UTF-8")]
    NotUtf8,
    #[error("SDP body is empty")]
    Empty,
    #[error("SDP does not start with v=0")]
    MissingVersion,
    #[error("line {line}: not of the form <letter>=<value>")]
    MalformedLine { line: usize },
    #[error("line {line}: malformed {what}")]
    MalformedField { line: usize, what: &'static str },
    #[error("line {line}: a second {what} where only one is allowed")]
    Duplicate { line: usize, what: &'static str },
    #[error("more than {max} m-lines")]
    TooManyMedia { max: usize },
    #[error("more than {max} attributes")]
    TooManyAttributes { max: usize },
}

/// A parsed session description: the session-level part and its media descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    /// `o=`; optional on input because we replace it anyway when we relay.
    pub origin: Option<Origin>,
    /// `s=` value; printed as `s=-` when the input had none.
    pub session_name: Option<String>,
    /// Session-level `c=`, the default for media without their own.
    pub connection: Option<Connection>,
    /// Every other session-level line, in input order.
    pub fields: Vec<Field>,
    /// Media descriptions in m-line order; the index is what offer and answer match on.
    pub media: Vec<MediaDescription>,
}

/// One media description: its m-line, its own `c=`, and its other lines in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    pub kind: MediaKind,
    /// Transport port; 0 means the stream is disabled or rejected (RFC 3264 §5.1, §6).
    pub port: u16,
    /// The `/<number of ports>` suffix, if any (hierarchical encoding; rare in SIP).
    pub port_count: Option<u16>,
    /// Transport protocol, e.g. `RTP/AVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// Media formats; RTP payload type numbers for RTP protocols, kept as written.
    pub formats: Vec<String>,
    /// Media-level `c=`; overrides the session-level one.
    pub connection: Option<Connection>,
    /// Every other media-level line (`i b k a` and unknown ones), in input order.
    pub fields: Vec<Field>,
}

/// The media type of an m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    Audio,
    Video,
    Text,
    Application,
    Message,
    Image,
    /// Anything else, as written.
    Other(String),
}

/// A line we keep but do not own: an attribute or any other `<letter>=<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Attribute(Attribute),
    Other { key: char, value: String },
}

/// `a=<name>` or `a=<name>:<value>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub value: Option<String>,
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub username: String,
    /// Kept as text: RFC 8866 only says "numeric string", and some send more than 64 bits.
    pub session_id: String,
    pub session_version: String,
    pub nettype: String,
    pub addrtype: String,
    pub address: String,
}

/// `c=<nettype> <addrtype> <connection-address>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub nettype: String,
    /// `IP4` or `IP6` in practice (RFC 8866 §5.7, RFC 5118 §4.7).
    pub addrtype: String,
    /// As written; may carry a multicast `/ttl` suffix or, rarely, a host name.
    pub address: String,
}

impl Connection {
    /// An `IN IP4`/`IN IP6` connection for one of our addresses.
    pub fn for_ip(ip: IpAddr) -> Self {
        Connection {
            nettype: "IN".into(),
            addrtype: match ip {
                IpAddr::V4(_) => "IP4".into(),
                IpAddr::V6(_) => "IP6".into(),
            },
            address: ip.to_string(),
        }
    }

    /// The address as an IP, if it is one (host names and bad text give `None`); a multicast
    /// `/ttl` suffix is ignored.
    pub fn ip(&self) -> Option<IpAddr> {
        let text = self.address.split('/').next().unwrap_or_default();
        text.parse().ok()
    }

    /// RFC 2543 hold: `c=IN IP4 0.0.0.0` (RFC 3264 §8.4 keeps it for compatibility).
    pub fn is_unspecified(&self) -> bool {
        self.ip().is_some_and(|ip| ip.is_unspecified())
    }
}

impl Attribute {
    pub fn new(name: &str, value: Option<&str>) -> Self {
        Attribute {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        }
    }
}

impl MediaKind {
    fn from_token(token: &str) -> Self {
        match token {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            "text" => MediaKind::Text,
            "application" => MediaKind::Application,
            "message" => MediaKind::Message,
            "image" => MediaKind::Image,
            other => MediaKind::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Text => "text",
            MediaKind::Application => "application",
            MediaKind::Message => "message",
            MediaKind::Image => "image",
            MediaKind::Other(other) => other,
        }
    }
}

impl SessionDescription {
    /// Session-level attributes in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        attributes(&self.fields)
    }

    /// The connection that applies to media `index`: its own `c=`, else the session's.
    pub fn media_connection(&self, index: usize) -> Option<&Connection> {
        let media = self.media.get(index)?;
        media.connection.as_ref().or(self.connection.as_ref())
    }
}

impl MediaDescription {
    /// Media-level attributes in order.
    pub fn attributes(&self) -> impl Iterator<Item = &Attribute> {
        attributes(&self.fields)
    }

    /// The first attribute called `name`.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes().find(|a| a.name == name)
    }

    /// The formats read as RTP payload types; tokens that are not 0–127 are skipped.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt < 128)
    }

    /// Plain RTP that we can relay as is: `RTP/AVP` or `RTP/AVPF`. Secure profiles need keys
    /// we do not hold (SDES) or a DTLS handshake we do not terminate, so they cannot be anchored.
    pub fn is_plain_rtp(&self) -> bool {
        self.proto.eq_ignore_ascii_case("RTP/AVP") || self.proto.eq_ignore_ascii_case("RTP/AVPF")
    }

    /// Keep only the attributes for which `keep` is true, in their order; other lines stay.
    pub fn retain_attributes(&mut self, mut keep: impl FnMut(&Attribute) -> bool) {
        self.fields.retain(|f| match f {
            Field::Attribute(a) => keep(a),
            Field::Other { .. } => true,
        });
    }
}

fn attributes(fields: &[Field]) -> impl Iterator<Item = &Attribute> {
    fields.iter().filter_map(|f| match f {
        Field::Attribute(a) => Some(a),
        Field::Other { .. } => None,
    })
}

#[cfg(test)]
mod tests;
