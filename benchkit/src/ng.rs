//! Just enough of rtpengine's ng control protocol (bencode over UDP, a cookie before each
//! message) to create relay sessions: `offer` with leg A's SDP, `answer` with leg B's, and
//! `delete`. Each reply's SDP names the rtpengine port the other side must send to.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

/// A bencode value (what ng replies contain).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    List(Vec<Value>),
    Dict(Vec<(Vec<u8>, Value)>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Dict(items) => items
                .iter()
                .find(|(k, _)| k == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

/// A value of an ng command: a string, or a list of strings (flags such as `rtcp-mux`).
#[derive(Clone, Copy)]
pub enum Arg<'a> {
    Str(&'a str),
    List(&'a [&'a str]),
}

fn put_str(out: &mut Vec<u8>, v: &str) {
    out.extend_from_slice(format!("{}:", v.len()).as_bytes());
    out.extend_from_slice(v.as_bytes());
}

/// Bencodes a dictionary of string keys (sorted, as bencode wants) to strings or lists.
pub fn encode_args(items: &[(&str, Arg)]) -> Vec<u8> {
    let mut sorted: Vec<_> = items.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = b"d".to_vec();
    for (k, v) in sorted {
        put_str(&mut out, k);
        match v {
            Arg::Str(s) => put_str(&mut out, s),
            Arg::List(l) => {
                out.push(b'l');
                l.iter().for_each(|s| put_str(&mut out, s));
                out.push(b'e');
            }
        }
    }
    out.push(b'e');
    out
}

/// Bencodes a dictionary of string keys to string values.
#[cfg(test)]
pub fn encode(items: &[(&str, &str)]) -> Vec<u8> {
    let args: Vec<(&str, Arg)> = items.iter().map(|&(k, v)| (k, Arg::Str(v))).collect();
    encode_args(&args)
}

/// Decodes one bencode value from the front of `buf`; returns it and the rest.
pub fn decode(buf: &[u8]) -> anyhow::Result<(Value, &[u8])> {
    let bad = || anyhow::anyhow!("bad bencode");
    match buf.first().ok_or_else(bad)? {
        b'i' => {
            let end = buf.iter().position(|&c| c == b'e').ok_or_else(bad)?;
            let n = std::str::from_utf8(&buf[1..end])?.parse()?;
            Ok((Value::Int(n), &buf[end + 1..]))
        }
        b'l' => {
            let mut rest = &buf[1..];
            let mut items = Vec::new();
            while rest.first() != Some(&b'e') {
                let (v, r) = decode(rest)?;
                items.push(v);
                rest = r;
            }
            Ok((Value::List(items), &rest[1..]))
        }
        b'd' => {
            let mut rest = &buf[1..];
            let mut items = Vec::new();
            while rest.first() != Some(&b'e') {
                let (k, r) = decode(rest)?;
                let Value::Bytes(k) = k else {
                    return Err(bad());
                };
                let (v, r) = decode(r)?;
                items.push((k, v));
                rest = r;
            }
            Ok((Value::Dict(items), &rest[1..]))
        }
        b'0'..=b'9' => {
            let colon = buf.iter().position(|&c| c == b':').ok_or_else(bad)?;
            let len: usize = std::str::from_utf8(&buf[..colon])?.parse()?;
            let start = colon + 1;
            let bytes = buf.get(start..start + len).ok_or_else(bad)?;
            Ok((Value::Bytes(bytes.to_vec()), &buf[start + len..]))
        }
        _ => Err(bad()),
    }
}

/// An ng client on one UDP socket.
pub struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    cookie: u64,
    /// rtpengine answers a cookie it has seen (from any client) from its cache of replies:
    /// cookies must differ between runs against the same rtpengine.
    cookie_prefix: String,
}

impl Client {
    pub fn new(server: SocketAddr) -> anyhow::Result<Client> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(Client {
            sock,
            server,
            cookie: 0,
            cookie_prefix: format!(
                "bk{}x{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_micros())
                    .unwrap_or(0)
            ),
        })
    }

    /// Sends one command and returns the reply dictionary (retries twice on a timeout).
    pub fn call(&mut self, items: &[(&str, &str)]) -> anyhow::Result<Value> {
        let args: Vec<(&str, Arg)> = items.iter().map(|&(k, v)| (k, Arg::Str(v))).collect();
        self.call_args(&args)
    }

    /// As `call`, with list values allowed.
    pub fn call_args(&mut self, items: &[(&str, Arg)]) -> anyhow::Result<Value> {
        self.cookie += 1;
        let cookie = format!("{}n{}", self.cookie_prefix, self.cookie);
        let mut msg = format!("{cookie} ").into_bytes();
        msg.extend_from_slice(&encode_args(items));
        let mut buf = vec![0u8; 65536];
        for _ in 0..3 {
            self.sock.send_to(&msg, self.server)?;
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let reply = &buf[..n];
            let Some(space) = reply.iter().position(|&c| c == b' ') else {
                continue;
            };
            if &reply[..space] != cookie.as_bytes() {
                continue;
            }
            let (v, _) = decode(&reply[space + 1..])?;
            if v.get("result").and_then(Value::as_str) != Some("ok") {
                let command = items
                    .iter()
                    .find(|(k, _)| *k == "command")
                    .map(|(_, v)| match v {
                        Arg::Str(s) => *s,
                        Arg::List(_) => "?",
                    });
                anyhow::bail!("ng {command:?}: {v:?}");
            }
            return Ok(v);
        }
        anyhow::bail!("ng server {} did not answer", self.server)
    }
}

/// A minimal audio SDP offering PCMU at `addr`.
pub fn sdp(addr: SocketAddr, session: u64) -> String {
    format!(
        "v=0\r\no=- {session} 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        ip = addr.ip(),
        port = addr.port()
    )
}

/// The media address an SDP names (its first `c=` and first `m=audio` port).
pub fn media_addr(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
        .trim();
    let port = sdp
        .lines()
        .find_map(|l| l.trim().strip_prefix("m=audio "))?
        .split_whitespace()
        .next()?;
    format!("{ip}:{port}").parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trip() {
        let enc = encode(&[("sdp", "v=0"), ("command", "offer")]);
        assert_eq!(enc, b"d7:command5:offer3:sdp3:v=0e");
        let enc = encode_args(&[
            ("rtcp-mux", Arg::List(&["offer", "require"])),
            ("ICE", Arg::Str("force")),
        ]);
        assert_eq!(enc, b"d3:ICE5:force8:rtcp-muxl5:offer7:requireee");
        let (v, rest) = decode(b"d6:result2:ok3:sdp3:v=04:listli1ei2eee").unwrap();
        assert!(rest.is_empty());
        assert_eq!(v.get("result").and_then(Value::as_str), Some("ok"));
        assert_eq!(v.get("sdp").and_then(Value::as_str), Some("v=0"));
        assert_eq!(
            v.get("list"),
            Some(&Value::List(vec![Value::Int(1), Value::Int(2)]))
        );
    }

    #[test]
    fn media_address_of_an_sdp() {
        let s = sdp("127.0.0.1:31000".parse().unwrap(), 1);
        assert_eq!(media_addr(&s), Some("127.0.0.1:31000".parse().unwrap()));
    }
}
