//! Typed views of the attributes a B2BUA reads: `rtpmap`, `fmtp`, `rtcp`, `ptime` and the
//! direction attributes. Parsed on demand from the verbatim lines; an attribute whose value is
//! malformed is treated as absent rather than failing the whole description.

use std::fmt;

use super::{Attribute, Connection, MediaDescription, SessionDescription};

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<encoding parameters>]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    pub payload_type: u8,
    pub encoding: String,
    pub clock_rate: u32,
    /// Channels for audio; absent means one.
    pub params: Option<String>,
}

/// `a=fmtp:<format> <format specific parameters>`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fmtp {
    pub format: String,
    pub params: String,
}

/// `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtcpAttr {
    pub port: u16,
    pub connection: Option<Connection>,
}

/// The media direction attributes of RFC 3264 §5.1; `sendrecv` when none is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    pub fn from_attribute_name(name: &str) -> Option<Self> {
        match name {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction an answerer mirrors to this offered one (RFC 3264 §6.1).
    pub fn reversed(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            other => other,
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl RtpMap {
    fn parse(value: &str) -> Option<Self> {
        let (pt, rest) = value.split_once(' ')?;
        let mut parts = rest.trim().splitn(3, '/');
        let encoding = parts.next()?.to_owned();
        let clock_rate = parts.next()?.parse().ok()?;
        Some(RtpMap {
            payload_type: pt.parse().ok().filter(|pt| *pt < 128)?,
            encoding,
            clock_rate,
            params: parts.next().map(str::to_owned),
        })
    }

    /// Same codec, by RFC 3551 rule: encoding names compare case-insensitively.
    pub fn is(&self, encoding: &str, clock_rate: u32) -> bool {
        self.encoding.eq_ignore_ascii_case(encoding) && self.clock_rate == clock_rate
    }
}

impl RtcpAttr {
    fn parse(value: &str) -> Option<Self> {
        let mut t = value.split_ascii_whitespace();
        let port = t.next()?.parse().ok()?;
        let connection = match (t.next(), t.next(), t.next()) {
            (Some(nettype), Some(addrtype), Some(address)) => Some(Connection {
                nettype: nettype.into(),
                addrtype: addrtype.into(),
                address: address.into(),
            }),
            _ => None,
        };
        Some(RtcpAttr { port, connection })
    }
}

impl MediaDescription {
    /// Every well-formed `a=rtpmap`.
    pub fn rtpmaps(&self) -> impl Iterator<Item = RtpMap> + '_ {
        self.attributes()
            .filter(|a| a.name == "rtpmap")
            .filter_map(|a| RtpMap::parse(a.value.as_deref()?))
    }

    /// The `a=rtpmap` for one payload type.
    pub fn rtpmap(&self, payload_type: u8) -> Option<RtpMap> {
        self.rtpmaps().find(|m| m.payload_type == payload_type)
    }

    /// Every `a=fmtp`.
    pub fn fmtps(&self) -> impl Iterator<Item = Fmtp> + '_ {
        self.attributes()
            .filter(|a| a.name == "fmtp")
            .filter_map(|a| {
                let (format, params) = a.value.as_deref()?.split_once(' ')?;
                Some(Fmtp {
                    format: format.to_owned(),
                    params: params.trim().to_owned(),
                })
            })
    }

    /// `a=rtcp`, if present and well formed.
    pub fn rtcp(&self) -> Option<RtcpAttr> {
        RtcpAttr::parse(self.attribute("rtcp")?.value.as_deref()?)
    }

    /// `a=ptime` in milliseconds.
    pub fn ptime(&self) -> Option<u32> {
        self.attribute("ptime")?
            .value
            .as_deref()?
            .trim()
            .parse()
            .ok()
    }

    /// The direction written on this m-line, if any (see [`SessionDescription::direction_of`]
    /// for the effective one).
    pub fn own_direction(&self) -> Option<Direction> {
        self.attributes()
            .find_map(|a| Direction::from_attribute_name(&a.name))
    }

    /// Replace any direction attribute with `direction` (kept in the place of the first one).
    pub fn set_direction(&mut self, direction: Direction) {
        let mut placed = false;
        self.fields.retain_mut(|field| match field {
            super::Field::Attribute(a) if Direction::from_attribute_name(&a.name).is_some() => {
                if placed {
                    return false;
                }
                placed = true;
                *a = Attribute::new(direction.as_str(), None);
                true
            }
            _ => true,
        });
        if !placed {
            self.fields.push(super::Field::Attribute(Attribute::new(
                direction.as_str(),
                None,
            )));
        }
    }
}

impl SessionDescription {
    /// The session-level direction default.
    pub fn direction(&self) -> Option<Direction> {
        self.attributes()
            .find_map(|a| Direction::from_attribute_name(&a.name))
    }

    /// The effective direction of media `index`: its own attribute, else the session-level
    /// one, else `sendrecv` (RFC 3264 §5.1).
    pub fn direction_of(&self, index: usize) -> Direction {
        self.media
            .get(index)
            .and_then(MediaDescription::own_direction)
            .or_else(|| self.direction())
            .unwrap_or_default()
    }
}
