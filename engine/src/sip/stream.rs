//! Framing SIP messages on a byte stream (RFC 3261 §18.3): the header section ends at the
//! first empty line and the body is exactly Content-Length bytes (0 when absent). Also the
//! RFC 5626 §3.5.1 keep-alive: a double CRLF "ping" is answered with a single CRLF "pong".
//!
//! Sans-IO: the shell pushes what it read and pulls frames. A framing error means the stream
//! cannot be resynchronised, so the shell must close the connection.

use bytes::{Bytes, BytesMut};

use super::message::Limits;

/// What the framer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// One complete message (start line, headers and body).
    Message(Bytes),
    /// A CRLFCRLF keep-alive ping; answer with `b"\r\n"`.
    Ping,
}

/// Why a stream cannot be framed any further.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("message larger than {0} bytes")]
    TooLarge(usize),
    #[error("malformed Content-Length")]
    BadContentLength,
}

/// Reassembles messages from the bytes of one connection.
#[derive(Debug)]
pub struct StreamFramer {
    buf: BytesMut,
    limits: Limits,
}

impl StreamFramer {
    pub fn new(limits: Limits) -> Self {
        StreamFramer {
            buf: BytesMut::with_capacity(4096),
            limits,
        }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Bytes held that do not yet form a message.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                let _ = self.buf.split_to(4);
                return Ok(Some(Frame::Ping));
            }
            // A lone CRLF (a pong, or padding before a start line) is skipped.
            if self.buf.starts_with(b"\r\n") && self.buf.len() >= 4 {
                let _ = self.buf.split_to(2);
                continue;
            }
            break;
        }
        if self.buf.starts_with(b"\r\n") {
            return Ok(None);
        }
        let Some(head_len) = find(&self.buf, b"\r\n\r\n") else {
            if self.buf.len() > self.limits.max_message {
                return Err(FrameError::TooLarge(self.limits.max_message));
            }
            return Ok(None);
        };
        let body_len = content_length(&self.buf[..head_len])?;
        let total = head_len + 4 + body_len;
        if total > self.limits.max_message {
            return Err(FrameError::TooLarge(self.limits.max_message));
        }
        if self.buf.len() < total {
            return Ok(None);
        }
        Ok(Some(Frame::Message(self.buf.split_to(total).freeze())))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The Content-Length of a header section (0 when absent; RFC 3261 §18.3 makes it mandatory on
/// streams, and an absent one is read as an empty body rather than a hang).
fn content_length(head: &[u8]) -> Result<usize, FrameError> {
    for line in head.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let v = trim(&line[colon + 1..]);
            if v.is_empty() || v.len() > 10 || !v.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadContentLength);
            }
            return std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or(FrameError::BadContentLength);
        }
    }
    Ok(0)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nhello";

    #[test]
    fn frames_across_arbitrary_splits() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(MSG);
        for split in 1..stream.len() {
            let mut f = StreamFramer::new(Limits::default());
            let mut frames = Vec::new();
            for chunk in stream.chunks(split) {
                f.push(chunk);
                while let Some(fr) = f.next_frame().unwrap() {
                    frames.push(fr);
                }
            }
            assert_eq!(
                frames,
                [
                    Frame::Ping,
                    Frame::Message(Bytes::from_static(MSG)),
                    Frame::Message(Bytes::from_static(MSG))
                ],
                "split {split}"
            );
            assert_eq!(f.buffered(), 0);
        }
    }

    #[test]
    fn waits_for_the_whole_body() {
        let mut f = StreamFramer::new(Limits::default());
        f.push(&MSG[..MSG.len() - 1]);
        assert_eq!(f.next_frame(), Ok(None));
        f.push(b"o");
        assert!(matches!(f.next_frame(), Ok(Some(Frame::Message(_)))));
    }

    #[test]
    fn rejects_oversized_and_bad_lengths() {
        let limits = Limits {
            max_message: 100,
            ..Limits::default()
        };
        let mut f = StreamFramer::new(limits);
        f.push(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 1000\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge(100)));
        let mut f = StreamFramer::new(limits);
        f.push(&[b'A'; 101]);
        assert_eq!(f.next_frame(), Err(FrameError::TooLarge(100)));
        let mut f = StreamFramer::new(Limits::default());
        f.push(b"INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n");
        assert_eq!(f.next_frame(), Err(FrameError::BadContentLength));
    }
}
