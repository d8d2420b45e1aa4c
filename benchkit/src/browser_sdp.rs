//! The SDP a browser-style load peer exchanges: what it needs from the relay's SDP (ICE
//! credentials, DTLS fingerprint and role, the host candidate) and the SDP it sends (a
//! WebRTC audio offer or answer: `UDP/TLS/RTP/SAVPF`, PCMU only, rtcp-mux, one host candidate).
//!
//! Only what `webrtcgen` needs; anything it cannot use is an error naming the missing part, so
//! a relay that answers something else fails the run clearly instead of hanging in ICE.

use std::net::SocketAddr;

/// The relay's side of a WebRTC audio session, read from its SDP.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteWebrtc {
    pub ufrag: String,
    pub pwd: String,
    /// `sha-256 AB:CD:...` (the form str0m's `Fingerprint` parses).
    pub fingerprint: String,
    /// `a=setup:` value (`passive`, `active` or `actpass`).
    pub setup: String,
    /// The first host candidate of component 1 over UDP, else the `c=`/`m=` address.
    pub candidate: SocketAddr,
    pub ice_lite: bool,
    /// `a=mid:` of the audio section, if any.
    pub mid: Option<String>,
}

/// Reads the first audio section of `sdp` (session-level attributes apply to it too).
pub fn parse_remote(sdp: &str) -> anyhow::Result<RemoteWebrtc> {
    let mut ufrag = None;
    let mut pwd = None;
    let mut fingerprint = None;
    let mut setup = None;
    let mut candidate = None;
    let mut ice_lite = false;
    let mut mid = None;
    let mut conn_ip = None;
    let mut port = None;
    let mut proto = None;
    let mut in_audio = false;
    let mut found_audio = false;
    let mut any_media = false;
    for line in sdp.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            // Only the first audio section counts.
            any_media = true;
            let mut f = m.split_whitespace();
            in_audio = !found_audio && f.next() == Some("audio");
            if in_audio {
                found_audio = true;
                port = f.next().and_then(|p| p.parse::<u16>().ok());
                proto = f.next().map(str::to_string);
            }
            continue;
        }
        // Session level (before any m=) or the audio section.
        if any_media && !in_audio {
            continue;
        }
        if let Some(v) = line.strip_prefix("c=IN IP4 ") {
            conn_ip = Some(v.trim().to_string());
        } else if let Some(v) = line.strip_prefix("a=ice-ufrag:") {
            ufrag = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=ice-pwd:") {
            pwd = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=fingerprint:") {
            fingerprint = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=setup:") {
            setup = Some(v.to_string());
        } else if line == "a=ice-lite" {
            ice_lite = true;
        } else if let Some(v) = line.strip_prefix("a=mid:") {
            mid = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("a=candidate:") {
            if candidate.is_none() {
                candidate = host_candidate(v);
            }
        }
    }
    let missing = |what: &str| anyhow::anyhow!("relay SDP has no {what}:\n{sdp}");
    if !proto.as_deref().is_some_and(|p| p.contains("TLS")) {
        return Err(missing("UDP/TLS/RTP/SAVPF audio section"));
    }
    let candidate = match candidate {
        Some(c) => c,
        None => format!(
            "{}:{}",
            conn_ip.ok_or_else(|| missing("c= line or candidate"))?,
            port.ok_or_else(|| missing("m=audio port"))?
        )
        .parse()?,
    };
    Ok(RemoteWebrtc {
        ufrag: ufrag.ok_or_else(|| missing("a=ice-ufrag"))?,
        pwd: pwd.ok_or_else(|| missing("a=ice-pwd"))?,
        fingerprint: fingerprint.ok_or_else(|| missing("a=fingerprint"))?,
        setup: setup.ok_or_else(|| missing("a=setup"))?,
        candidate,
        ice_lite,
        mid,
    })
}

/// `foundation component transport priority ip port typ host ...` → the address, for a UDP
/// host candidate of component 1 with an IPv4 address.
fn host_candidate(v: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() < 8 || f[1] != "1" || !f[2].eq_ignore_ascii_case("udp") || f[7] != "host" {
        return None;
    }
    let addr: SocketAddr = format!("{}:{}", f[4], f[5]).parse().ok()?;
    addr.is_ipv4().then_some(addr)
}

/// What the load peer puts in its own SDP.
pub struct LocalWebrtc<'a> {
    pub addr: SocketAddr,
    pub ufrag: &'a str,
    pub pwd: &'a str,
    /// `sha-256 AB:...`
    pub fingerprint: &'a str,
    /// `actpass` in an offer, `active` in an answer to a passive relay.
    pub setup: &'a str,
    pub mid: &'a str,
    pub ssrc: u32,
    pub session: u64,
}

/// A browser-shaped audio SDP: BUNDLE of one section, rtcp-mux, PCMU (PT 0) only.
pub fn local_sdp(l: &LocalWebrtc) -> String {
    let (ip, port) = (l.addr.ip(), l.addr.port());
    format!(
        "v=0\r\n\
         o=- {session} 2 IN IP4 {ip}\r\n\
         s=-\r\n\
         t=0 0\r\n\
         a=group:BUNDLE {mid}\r\n\
         a=msid-semantic: WMS bench\r\n\
         m=audio {port} UDP/TLS/RTP/SAVPF 0\r\n\
         c=IN IP4 {ip}\r\n\
         a=rtcp:{port} IN IP4 {ip}\r\n\
         a=candidate:1 1 udp 2130706431 {ip} {port} typ host\r\n\
         a=ice-ufrag:{ufrag}\r\n\
         a=ice-pwd:{pwd}\r\n\
         a=fingerprint:{fp}\r\n\
         a=setup:{setup}\r\n\
         a=mid:{mid}\r\n\
         a=sendrecv\r\n\
         a=rtcp-mux\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=ssrc:{ssrc} cname:bench{session}\r\n",
        session = l.session,
        mid = l.mid,
        ufrag = l.ufrag,
        pwd = l.pwd,
        fp = l.fingerprint,
        setup = l.setup,
        ssrc = l.ssrc,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELAY: &str = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=ice-lite\r\n\
        m=audio 40000 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 127.0.0.1\r\na=mid:0\r\n\
        a=ice-ufrag:abcd\r\na=ice-pwd:secretsecretsecretsecret\r\n\
        a=fingerprint:sha-256 AA:BB\r\na=setup:passive\r\na=rtcp-mux\r\n\
        a=candidate:1 1 UDP 2130706431 ::1 40000 typ host\r\n\
        a=candidate:2 1 UDP 2130706431 127.0.0.1 40002 typ host\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:other\r\n";

    #[test]
    fn reads_the_relay_side() {
        let r = parse_remote(RELAY).unwrap();
        assert_eq!(r.ufrag, "abcd");
        assert_eq!(r.pwd, "secretsecretsecretsecret");
        assert_eq!(r.fingerprint, "sha-256 AA:BB");
        assert_eq!(r.setup, "passive");
        assert_eq!(r.candidate, "127.0.0.1:40002".parse().unwrap());
        assert!(r.ice_lite);
        assert_eq!(r.mid.as_deref(), Some("0"));
    }

    #[test]
    fn plain_rtp_or_missing_credentials_are_errors() {
        let plain = "v=0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 127.0.0.1\r\n";
        assert!(parse_remote(plain).is_err());
        let no_pwd = RELAY.replace("a=ice-pwd:secretsecretsecretsecret\r\n", "");
        assert!(parse_remote(&no_pwd)
            .unwrap_err()
            .to_string()
            .contains("ice-pwd"));
    }

    #[test]
    fn local_sdp_round_trips() {
        let sdp = local_sdp(&LocalWebrtc {
            addr: "127.0.0.1:5000".parse().unwrap(),
            ufrag: "u",
            pwd: "p",
            fingerprint: "sha-256 01:02",
            setup: "passive",
            mid: "0",
            ssrc: 7,
            session: 1,
        });
        let r = parse_remote(&sdp).unwrap();
        assert_eq!(r.candidate, "127.0.0.1:5000".parse().unwrap());
        assert_eq!((r.ufrag.as_str(), r.setup.as_str()), ("u", "passive"));
    }
}
