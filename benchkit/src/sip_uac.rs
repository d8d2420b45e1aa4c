//! A minimal SIP caller over UDP for `webrtcgen`: INVITE with a WebRTC offer, the 407
//! challenge answered with MD5 digest (qop=auth when offered), the 200's SDP returned, ACK;
//! BYE at the end. One call at a time, retransmitting every 500 ms (RFC 3261 Timer A, not
//! doubled: loopback), so the answer of call k always belongs to call k.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

/// A SIP message as far as the caller reads it.
struct Msg {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Msg {
    fn parse(text: &str) -> Option<Msg> {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let first = lines.next()?;
        // Requests (status 0) are not for this caller.
        let status = match first.strip_prefix("SIP/2.0 ") {
            Some(rest) => rest.get(..3)?.parse().ok()?,
            None => 0,
        };
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (long_name(n.trim()), v.trim().to_string()))
            .collect();
        Some(Msg {
            status,
            headers,
            body: body.to_string(),
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// RFC 3261 compact header forms, spelled out.
fn long_name(n: &str) -> String {
    match n {
        "i" => "Call-ID",
        "t" => "To",
        "f" => "From",
        "m" => "Contact",
        "v" => "Via",
        "l" => "Content-Length",
        other => other,
    }
    .to_string()
}

/// One parameter of a `Digest k="v", k2=v2` challenge.
fn digest_param(challenge: &str, key: &str) -> Option<String> {
    let rest = challenge.trim().strip_prefix("Digest")?;
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `Proxy-Authorization`/`Authorization` value answering an MD5 challenge.
fn digest_answer(
    challenge: &str,
    (user, pass): (&str, &str),
    method: &str,
    uri: &str,
    cnonce: &str,
) -> String {
    let realm = digest_param(challenge, "realm").unwrap_or_default();
    let nonce = digest_param(challenge, "nonce").unwrap_or_default();
    let ha1 = md5_hex(&format!("{user}:{realm}:{pass}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let opaque = digest_param(challenge, "opaque")
        .map(|o| format!(", opaque=\"{o}\""))
        .unwrap_or_default();
    let qop_auth =
        digest_param(challenge, "qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
    if qop_auth {
        let nc = "00000001";
        let resp = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
        format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"{cnonce}\"{opaque}")
    } else {
        let resp = md5_hex(&format!("{ha1}:{nonce}:{ha2}"));
        format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", response=\"{resp}\", algorithm=MD5{opaque}")
    }
}

/// An established call, enough to send its BYE.
pub struct Dialog {
    call_id: String,
    from: String,
    to: String,
    target: String,
    cseq: u32,
}

pub struct Uac {
    sock: UdpSocket,
    server: SocketAddr,
    local: SocketAddr,
    user: String,
    pass: String,
    domain: String,
    seq: u64,
}

impl Uac {
    pub fn new(server: SocketAddr, user: &str, pass: &str, domain: &str) -> anyhow::Result<Uac> {
        let sock = UdpSocket::bind("127.0.0.1:0")?;
        sock.set_read_timeout(Some(Duration::from_millis(100)))?;
        let local = sock.local_addr()?;
        Ok(Uac {
            sock,
            server,
            local,
            user: user.into(),
            pass: pass.into(),
            domain: domain.into(),
            seq: 0,
        })
    }

    fn branch(&mut self) -> String {
        self.seq += 1;
        format!("z9hG4bK-wg-{}-{}", std::process::id(), self.seq)
    }

    fn via(&mut self) -> String {
        let b = self.branch();
        format!("SIP/2.0/UDP {};branch={b};rport", self.local)
    }

    /// Sends `req` until a response of this call and CSeq arrives; returns the final one
    /// (provisional responses stop the retransmissions, as Timer A stops on a 1xx).
    fn transact(&self, req: &str, call_id: &str, cseq: &str) -> anyhow::Result<Msg> {
        let started = Instant::now();
        let mut last_sent = Instant::now();
        let mut provisional = false;
        self.sock.send_to(req.as_bytes(), self.server)?;
        let mut buf = vec![0u8; 65536];
        while started.elapsed() < Duration::from_secs(32) {
            if !provisional && last_sent.elapsed() >= Duration::from_millis(500) {
                self.sock.send_to(req.as_bytes(), self.server)?;
                last_sent = Instant::now();
            }
            let Ok((n, _)) = self.sock.recv_from(&mut buf) else {
                continue;
            };
            let Some(msg) = Msg::parse(&String::from_utf8_lossy(&buf[..n])) else {
                continue;
            };
            if msg.status == 0
                || msg.header("Call-ID") != Some(call_id)
                || msg.header("CSeq") != Some(cseq)
            {
                continue;
            }
            if msg.status < 200 {
                provisional = true;
                continue;
            }
            return Ok(msg);
        }
        anyhow::bail!("no final response to {cseq} of {call_id} within 32 s")
    }

    /// Calls `callee` with `sdp`; returns the dialog and the 200's SDP.
    pub fn invite(&mut self, callee: &str, sdp: &str) -> anyhow::Result<(Dialog, String)> {
        let uri = format!("sip:{callee}@{}", self.domain);
        let call_id = format!("wg-{}-{}@bench", std::process::id(), self.seq);
        let from = format!("<sip:{}@{}>;tag=wg{}", self.user, self.domain, self.seq);
        let mut auth = String::new();
        for cseq in 1..=2u32 {
            let via = self.via();
            let req = format!(
                "INVITE {uri} SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\nTo: <{uri}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:{}@{}>\r\nMax-Forwards: 70\r\n{auth}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
                self.user, self.local, sdp.len()
            );
            let resp = self.transact(&req, &call_id, &format!("{cseq} INVITE"))?;
            let to = resp.header("To").unwrap_or_default().to_string();
            if resp.status >= 300 {
                // ACK a non-2xx in the INVITE's transaction (same Via branch).
                let ack = format!(
                    "ACK {uri} SIP/2.0\r\nVia: {via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
                );
                self.sock.send_to(ack.as_bytes(), self.server)?;
                let challenge = resp
                    .headers_named(if resp.status == 407 {
                        "Proxy-Authenticate"
                    } else {
                        "WWW-Authenticate"
                    })
                    .find(|c| {
                        digest_param(c, "algorithm").is_none_or(|a| a.eq_ignore_ascii_case("MD5"))
                    });
                match (resp.status, challenge, cseq) {
                    (401 | 407, Some(c), 1) => {
                        let name = if resp.status == 407 {
                            "Proxy-Authorization"
                        } else {
                            "Authorization"
                        };
                        auth = format!(
                            "{name}: {}\r\n",
                            digest_answer(
                                c,
                                (&self.user, &self.pass),
                                "INVITE",
                                &uri,
                                &format!("{:08x}", self.seq)
                            )
                        );
                        continue;
                    }
                    _ => anyhow::bail!("INVITE {uri} answered {}", resp.status),
                }
            }
            let target = resp
                .header("Contact")
                .and_then(|c| Some(c.split_once('<')?.1.split_once('>')?.0.to_string()))
                .unwrap_or_else(|| uri.clone());
            let ack_via = self.via();
            let ack = format!(
                "ACK {target} SIP/2.0\r\nVia: {ack_via}\r\nFrom: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            );
            self.sock.send_to(ack.as_bytes(), self.server)?;
            let dialog = Dialog {
                call_id: call_id.clone(),
                from: from.clone(),
                to,
                target,
                cseq: cseq + 1,
            };
            return Ok((dialog, resp.body));
        }
        anyhow::bail!("INVITE {uri}: challenged twice")
    }

    /// Ends a call (waits for its 200, bounded).
    pub fn bye(&mut self, d: &Dialog) -> anyhow::Result<()> {
        let via = self.via();
        let req = format!(
            "BYE {} SIP/2.0\r\nVia: {via}\r\nFrom: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            d.target, d.from, d.to, d.call_id, d.cseq
        );
        let resp = self.transact(&req, &d.call_id, &format!("{} BYE", d.cseq))?;
        anyhow::ensure!(resp.status == 200, "BYE answered {}", resp.status);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_rfc_2617_example() {
        // RFC 2617 section 3.5 (qop=auth): the response is 6629fae49393a05397450978507c4ef1.
        let ch = "Digest realm=\"testrealm@host.com\", qop=\"auth,auth-int\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"";
        let ha1 = md5_hex("Mufasa:testrealm@host.com:Circle Of Life");
        let ha2 = md5_hex("GET:/dir/index.html");
        let resp = md5_hex(&format!(
            "{ha1}:dcd98b7102dd2f0e8b11d0f600bfb0c093:00000001:0a4f113b:auth:{ha2}"
        ));
        assert_eq!(resp, "6629fae49393a05397450978507c4ef1");
        let answer = digest_answer(
            ch,
            ("Mufasa", "Circle Of Life"),
            "GET",
            "/dir/index.html",
            "0a4f113b",
        );
        assert!(answer.contains("response=\"6629fae49393a05397450978507c4ef1\""));
        assert!(
            answer.contains("qop=auth")
                && answer.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"")
        );
        assert_eq!(
            digest_param(ch, "realm").as_deref(),
            Some("testrealm@host.com")
        );
    }

    #[test]
    fn parses_a_response_with_compact_headers() {
        let m = Msg::parse(
            "SIP/2.0 200 OK\r\ni: abc\r\nt: <sip:b@x>;tag=1\r\nCSeq: 2 INVITE\r\n\r\nv=0\r\n",
        )
        .unwrap();
        assert_eq!(m.status, 200);
        assert_eq!(m.header("Call-ID"), Some("abc"));
        assert_eq!(m.header("to"), Some("<sip:b@x>;tag=1"));
        assert_eq!(m.body, "v=0\r\n");
    }
}
