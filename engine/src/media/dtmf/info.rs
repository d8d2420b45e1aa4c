//! DTMF in SIP INFO bodies: `application/dtmf-relay` (the Cisco form most phones send) and
//! `application/dtmf` (the bare digit).
//!
//! ```text
//! Content-Type: application/dtmf-relay
//!
//! Signal=5
//! Duration=160
//! ```
//!
//! Keys are case-insensitive, spaces around `=` are allowed, lines end in CRLF or LF, and
//! unknown lines are ignored. `Signal` may be the digit itself or its RFC 4733 event number
//! (`10` for `*`, `11` for `#`, …), since both occur in the field. `Duration` is in
//! milliseconds. Pure.

use std::time::Duration;

use super::{digit_to_event, event_to_digit};

/// Largest body accepted (real ones are about 25 bytes).
const MAX_BODY: usize = 1024;

/// A digit from a SIP INFO request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoDigit {
    pub digit: char,
    /// How long the key was held, when the body says.
    pub duration: Option<Duration>,
}

/// Why an INFO body carries no digit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    #[error("not a DTMF content type (application/dtmf-relay or application/dtmf)")]
    ContentType,
    #[error("the body is not UTF-8 text or is too large")]
    Body,
    #[error("no Signal line")]
    NoSignal,
    #[error("the signal is not a DTMF digit")]
    NotADigit,
}

/// Read the digit of an INFO request from its `Content-Type` value and body.
pub fn parse_info(content_type: &str, body: &[u8]) -> Result<InfoDigit, InfoError> {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    let relay = media_type.eq_ignore_ascii_case("application/dtmf-relay");
    if !relay && !media_type.eq_ignore_ascii_case("application/dtmf") {
        return Err(InfoError::ContentType);
    }
    if body.len() > MAX_BODY {
        return Err(InfoError::Body);
    }
    let text = std::str::from_utf8(body).map_err(|_| InfoError::Body)?;
    if !relay {
        return Ok(InfoDigit {
            digit: signal(text.trim())?,
            duration: None,
        });
    }
    let mut digit = None;
    let mut duration = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key.eq_ignore_ascii_case("signal") {
            digit = Some(signal(value)?);
        } else if key.eq_ignore_ascii_case("duration") {
            duration = value.parse::<u64>().ok().map(Duration::from_millis);
        }
    }
    Ok(InfoDigit {
        digit: digit.ok_or(InfoError::NoSignal)?,
        duration,
    })
}

/// A signal value: one digit character, or an event number 0–15.
fn signal(value: &str) -> Result<char, InfoError> {
    let mut chars = value.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        if let Some(code) = digit_to_event(c) {
            return event_to_digit(code).ok_or(InfoError::NotADigit);
        }
    }
    value
        .parse::<u8>()
        .ok()
        .and_then(event_to_digit)
        .ok_or(InfoError::NotADigit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digit(content_type: &str, body: &str) -> Result<InfoDigit, InfoError> {
        parse_info(content_type, body.as_bytes())
    }

    #[test]
    fn dtmf_relay_bodies() {
        assert_eq!(
            digit("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"),
            Ok(InfoDigit {
                digit: '5',
                duration: Some(Duration::from_millis(160)),
            })
        );
        assert_eq!(
            digit(
                "Application/DTMF-Relay; charset=utf-8",
                "signal = #\nduration= 250"
            ),
            Ok(InfoDigit {
                digit: '#',
                duration: Some(Duration::from_millis(250)),
            })
        );
        assert_eq!(
            digit("application/dtmf-relay", "Signal=11\r\n").map(|d| d.digit),
            Ok('#')
        );
        assert_eq!(
            digit("application/dtmf-relay", "Signal=d").map(|d| d.digit),
            Ok('D')
        );
        assert_eq!(
            digit("application/dtmf-relay", "Duration=160"),
            Err(InfoError::NoSignal)
        );
        assert_eq!(
            digit("application/dtmf-relay", "Signal=16"),
            Err(InfoError::NotADigit)
        );
        assert_eq!(
            digit("application/dtmf-relay", "Signal=x"),
            Err(InfoError::NotADigit)
        );
    }

    #[test]
    fn bare_dtmf_bodies_and_other_types() {
        assert_eq!(digit("application/dtmf", "7\r\n").map(|d| d.digit), Ok('7'));
        assert_eq!(digit("application/dtmf", "10").map(|d| d.digit), Ok('*'));
        assert_eq!(
            digit("application/sdp", "Signal=5"),
            Err(InfoError::ContentType)
        );
        assert_eq!(
            parse_info("application/dtmf", &[0xff, 0xfe]),
            Err(InfoError::Body)
        );
        assert_eq!(
            parse_info("application/dtmf", &[b'1'; 2000]),
            Err(InfoError::Body)
        );
    }
}
