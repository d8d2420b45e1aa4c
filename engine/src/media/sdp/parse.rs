//! The SDP parser: bytes → [`SessionDescription`].
//!
//! Liberal where being liberal is harmless (LF-only line ends, blank lines, unknown line types,
//! missing `o=`/`s=`/`t=`), strict where a wrong guess would send media to the wrong place
//! (malformed or repeated `c=` and `m=` lines are errors, not guesses).

use super::{
    Attribute, Connection, Field, MediaDescription, MediaKind, Origin, SdpError,
    SessionDescription, MAX_ATTRIBUTES, MAX_MEDIA, MAX_SDP_LEN,
};

impl SessionDescription {
    /// Parse an SDP body. See the module docs for the bounds.
    pub fn parse(body: &[u8]) -> Result<Self, SdpError> {
        if body.len() > MAX_SDP_LEN {
            return Err(SdpError::TooLarge {
                len: body.len(),
                max: MAX_SDP_LEN,
            });
        }
        let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
        let mut lines = text
            .split('\n')
            .enumerate()
            .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
            .filter(|(_, l)| !l.trim().is_empty());

        match lines.next() {
            None => return Err(SdpError::Empty),
            Some((_, "v=0")) => {}
            Some(_) => return Err(SdpError::MissingVersion),
        }

        let mut sdp = SessionDescription {
            origin: None,
            session_name: None,
            connection: None,
            fields: Vec::new(),
            media: Vec::new(),
        };
        let mut attribute_count = 0usize;

        for (n, line) in lines {
            let (key, value) = split_line(n, line)?;
            if key == 'a' {
                attribute_count += 1;
                if attribute_count > MAX_ATTRIBUTES {
                    return Err(SdpError::TooManyAttributes {
                        max: MAX_ATTRIBUTES,
                    });
                }
            }
            if key == 'm' {
                if sdp.media.len() == MAX_MEDIA {
                    return Err(SdpError::TooManyMedia { max: MAX_MEDIA });
                }
                sdp.media.push(parse_media_line(n, value)?);
                continue;
            }
            match sdp.media.last_mut() {
                None => session_line(&mut sdp, n, key, value)?,
                Some(media) => media_line(media, n, key, value)?,
            }
        }
        Ok(sdp)
    }
}

fn session_line(
    sdp: &mut SessionDescription,
    n: usize,
    key: char,
    value: &str,
) -> Result<(), SdpError> {
    match key {
        'v' => {
            return Err(SdpError::Duplicate {
                line: n,
                what: "v=",
            })
        }
        'o' if sdp.origin.is_some() => {
            return Err(SdpError::Duplicate {
                line: n,
                what: "o=",
            })
        }
        'o' => sdp.origin = Some(parse_origin(n, value)?),
        's' if sdp.session_name.is_some() => {
            return Err(SdpError::Duplicate {
                line: n,
                what: "s=",
            })
        }
        's' => sdp.session_name = Some(value.to_owned()),
        'c' if sdp.connection.is_some() => {
            return Err(SdpError::Duplicate {
                line: n,
                what: "c=",
            })
        }
        'c' => sdp.connection = Some(parse_connection(n, value)?),
        _ => sdp.fields.push(field(key, value)),
    }
    Ok(())
}

fn media_line(
    media: &mut MediaDescription,
    n: usize,
    key: char,
    value: &str,
) -> Result<(), SdpError> {
    match key {
        // Several media-level c= lines only serve layered multicast; for unicast they would
        // leave us guessing where to send, so we refuse them.
        'c' if media.connection.is_some() => Err(SdpError::Duplicate {
            line: n,
            what: "c=",
        }),
        'c' => {
            media.connection = Some(parse_connection(n, value)?);
            Ok(())
        }
        'v' | 'o' | 's' | 't' => Err(SdpError::MalformedField {
            line: n,
            what: "session-level line inside a media description",
        }),
        _ => {
            media.fields.push(field(key, value));
            Ok(())
        }
    }
}

/// `<letter>=<value>`; the key is one ASCII letter (RFC 8866 §5: type is one character).
fn split_line(n: usize, line: &str) -> Result<(char, &str), SdpError> {
    let mut chars = line.chars();
    match (chars.next(), chars.next()) {
        (Some(key), Some('=')) if key.is_ascii_alphabetic() => Ok((key, &line[2..])),
        _ => Err(SdpError::MalformedLine { line: n }),
    }
}

fn field(key: char, value: &str) -> Field {
    if key == 'a' {
        let (name, value) = match value.split_once(':') {
            Some((name, value)) => (name, Some(value)),
            None => (value, None),
        };
        Field::Attribute(Attribute::new(name, value))
    } else {
        Field::Other {
            key,
            value: value.to_owned(),
        }
    }
}

fn parse_origin(n: usize, value: &str) -> Result<Origin, SdpError> {
    let bad = SdpError::MalformedField {
        line: n,
        what: "o=",
    };
    let t: Vec<&str> = value.split_ascii_whitespace().collect();
    let [username, session_id, session_version, nettype, addrtype, address] = t[..] else {
        return Err(bad);
    };
    Ok(Origin {
        username: username.into(),
        session_id: session_id.into(),
        session_version: session_version.into(),
        nettype: nettype.into(),
        addrtype: addrtype.into(),
        address: address.into(),
    })
}

fn parse_connection(n: usize, value: &str) -> Result<Connection, SdpError> {
    let t: Vec<&str> = value.split_ascii_whitespace().collect();
    let [nettype, addrtype, address] = t[..] else {
        return Err(SdpError::MalformedField {
            line: n,
            what: "c=",
        });
    };
    let connection = Connection {
        nettype: nettype.into(),
        addrtype: addrtype.into(),
        address: address.into(),
    };
    // An IP4 connection must hold an IPv4 address and an IP6 one an IPv6 address; a mismatch
    // (RFC 5118 §4.7 warns of it) would make us send to the wrong family. Host names pass.
    match (connection.addrtype.as_str(), connection.ip()) {
        ("IP4", Some(ip)) if !ip.is_ipv4() => Err(SdpError::MalformedField {
            line: n,
            what: "c= (IP4 with an IPv6 address)",
        }),
        ("IP6", Some(ip)) if !ip.is_ipv6() => Err(SdpError::MalformedField {
            line: n,
            what: "c= (IP6 with an IPv4 address)",
        }),
        _ => Ok(connection),
    }
}

/// `m=<media> <port>[/<number of ports>] <proto> <fmt> ...`
fn parse_media_line(n: usize, value: &str) -> Result<MediaDescription, SdpError> {
    let bad = |what| SdpError::MalformedField { line: n, what };
    let mut t = value.split_ascii_whitespace();
    let kind = t.next().ok_or(bad("m= media"))?;
    let port_text = t.next().ok_or(bad("m= port"))?;
    let proto = t.next().ok_or(bad("m= proto"))?;
    let formats: Vec<String> = t.map(str::to_owned).collect();
    if formats.is_empty() {
        return Err(bad("m= (no formats)"));
    }
    let (port, port_count) = match port_text.split_once('/') {
        Some((port, count)) => (port, Some(count.parse().map_err(|_| bad("m= port count"))?)),
        None => (port_text, None),
    };
    Ok(MediaDescription {
        kind: MediaKind::from_token(kind),
        port: port.parse().map_err(|_| bad("m= port"))?,
        port_count,
        proto: proto.to_owned(),
        formats,
        connection: None,
        fields: Vec::new(),
    })
}
