//! Trunks (carriers) as the operator gives them: the rules for names, addresses and
//! credentials, and how a record is built. Pure: sealing the password and writing the record
//! belong to the shell (`actors::trunks`).

use std::net::IpAddr;

use crate::sip::Transport;
use crate::store::Trunk;

/// The SIP port when an address gives none.
pub const DEFAULT_PORT: u16 = 5060;

/// Why a trunk request is refused. Each kind maps to one stable API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrunkError {
    #[error("invalid trunk name: {0}")]
    InvalidName(&'static str),
    #[error("invalid trunk address: {0}")]
    InvalidAddress(&'static str),
    #[error("invalid transport: use udp, tcp or tls")]
    InvalidTransport,
    #[error("invalid trunk credentials: {0}")]
    InvalidCredentials(&'static str),
    #[error("a trunk with this name exists")]
    NameTaken,
    #[error("{0} is already an allowed source of another trunk")]
    IpTaken(IpAddr),
    /// Inbound digest finds a trunk by its username: two trunks cannot share one.
    #[error("another trunk authenticates with this username")]
    UsernameTaken,
    #[error("trunk does not exist")]
    NoSuchTrunk,
    #[error("storage failure")]
    Store,
}

/// Names: 1–64 of `A–Z a–z 0–9 _ -`.
pub fn check_name(name: &str) -> Result<(), TrunkError> {
    if name.is_empty() || name.len() > 64 {
        return Err(TrunkError::InvalidName("1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(TrunkError::InvalidName(
            "only letters, digits, _ and - are allowed",
        ));
    }
    Ok(())
}

/// `HOST[:PORT]` → (host, port). The host is a DNS name or an IP literal (IPv6 in brackets
/// when a port follows; a bare IPv6 address takes the default port). Names are lower-cased.
pub fn parse_address(address: &str) -> Result<(String, u16), TrunkError> {
    let address = address.trim();
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok((ip.to_string(), DEFAULT_PORT));
    }
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let (ip, after) = rest
            .split_once(']')
            .ok_or(TrunkError::InvalidAddress("unclosed [ in an IPv6 address"))?;
        let ip: std::net::Ipv6Addr = ip
            .parse()
            .map_err(|_| TrunkError::InvalidAddress("not an IPv6 address inside [ ]"))?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or(TrunkError::InvalidAddress("expected :PORT after ]"))?,
            ),
        };
        (ip.to_string(), port)
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (address.to_owned(), None),
        }
    };
    let port = match port {
        None => DEFAULT_PORT,
        Some(p) => match p.parse::<u16>() {
            Ok(port) if port > 0 => port,
            _ => return Err(TrunkError::InvalidAddress("the port must be 1 to 65535")),
        },
    };
    if host.parse::<IpAddr>().is_ok() {
        return Ok((host, port));
    }
    let host = super::check_domain(&host)
        .map_err(|_| TrunkError::InvalidAddress("the host is not a valid name or IP address"))?;
    Ok((host, port))
}

/// `udp`, `tcp` or `tls`, any case.
pub fn parse_transport(s: &str) -> Result<Transport, TrunkError> {
    match s.trim().to_ascii_lowercase().as_str() {
        "udp" => Ok(Transport::Udp),
        "tcp" => Ok(Transport::Tcp),
        "tls" => Ok(Transport::Tls),
        _ => Err(TrunkError::InvalidTransport),
    }
}

/// What an operator gives to add a trunk.
#[derive(Clone)]
pub struct NewTrunk {
    pub name: String,
    pub address: String,
    pub transport: Transport,
    pub allow_ips: Vec<IpAddr>,
    pub username: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for NewTrunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewTrunk")
            .field("name", &self.name)
            .field("address", &self.address)
            .field("transport", &self.transport)
            .field("allow_ips", &self.allow_ips)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish()
    }
}

/// Checks the credentials: both or neither; a username goes into a quoted digest parameter,
/// so no quotes, backslashes or control characters; a password of 1–256 characters without
/// control characters (a carrier's password is what it is: no stricter rule of ours).
pub fn check_credentials(username: Option<&str>, password: Option<&str>) -> Result<(), TrunkError> {
    match (username, password) {
        (None, None) => Ok(()),
        (Some(_), None) | (None, Some(_)) => Err(TrunkError::InvalidCredentials(
            "give both a username and a password, or neither",
        )),
        (Some(u), Some(p)) => {
            if u.is_empty()
                || u.len() > 128
                || u.chars().any(|c| c.is_control() || c == '"' || c == '\\')
            {
                return Err(TrunkError::InvalidCredentials(
                    "the username must be 1 to 128 characters without quotes, backslashes or control characters",
                ));
            }
            if p.is_empty() || p.len() > 256 || p.chars().any(char::is_control) {
                return Err(TrunkError::InvalidCredentials(
                    "the password must be 1 to 256 characters without control characters",
                ));
            }
            Ok(())
        }
    }
}

/// Builds a validated trunk record; `sealed_password` is the sealed form of `new.password`.
/// Allowed IPs are kept in the order given, without repeats, IPv4-mapped IPv6 as IPv4.
pub fn build_trunk(
    new: &NewTrunk,
    sealed_password: Option<Vec<u8>>,
    now: u64,
) -> Result<Trunk, TrunkError> {
    check_name(&new.name)?;
    let (host, port) = parse_address(&new.address)?;
    check_credentials(new.username.as_deref(), new.password.as_deref())?;
    let mut allow_ips: Vec<IpAddr> = Vec::new();
    for ip in new.allow_ips.iter().map(IpAddr::to_canonical) {
        if !allow_ips.contains(&ip) {
            allow_ips.push(ip);
        }
    }
    Ok(Trunk {
        name: new.name.clone(),
        host,
        port,
        transport: new.transport,
        allow_ips,
        username: new.username.clone(),
        sealed_password,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["carrier", "Carrier_2", "a-b", &"x".repeat(64)] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a b", "a.b", "ü", &"x".repeat(65)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses() {
        let ok = |s: &str| parse_address(s).unwrap();
        assert_eq!(
            ok("sip.Carrier.example"),
            ("sip.carrier.example".into(), 5060)
        );
        assert_eq!(
            ok("sip.carrier.example:5080"),
            ("sip.carrier.example".into(), 5080)
        );
        assert_eq!(ok("192.0.2.1"), ("192.0.2.1".into(), 5060));
        assert_eq!(ok("192.0.2.1:5062"), ("192.0.2.1".into(), 5062));
        assert_eq!(ok("2001:db8::1"), ("2001:db8::1".into(), 5060));
        assert_eq!(ok("[2001:db8::1]:5070"), ("2001:db8::1".into(), 5070));
        assert_eq!(ok("[2001:db8::1]"), ("2001:db8::1".into(), 5060));
        for bad in [
            "",
            ":5060",
            "host:0",
            "host:70000",
            "host:x",
            "[::1",
            "[nope]:5060",
            "[::1]5060",
            "bad_host:5060",
            "a b",
        ] {
            assert!(parse_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn transports_and_credentials() {
        assert_eq!(parse_transport("UDP"), Ok(Transport::Udp));
        assert_eq!(parse_transport("tcp"), Ok(Transport::Tcp));
        assert_eq!(parse_transport("TLS"), Ok(Transport::Tls));
        assert_eq!(parse_transport("ws"), Err(TrunkError::InvalidTransport));
        assert!(check_credentials(None, None).is_ok());
        assert!(check_credentials(Some("acct"), Some("p w")).is_ok());
        assert!(check_credentials(Some("acct"), None).is_err());
        assert!(check_credentials(None, Some("pw")).is_err());
        assert!(check_credentials(Some("a\"b"), Some("pw")).is_err());
        assert!(check_credentials(Some("acct"), Some("")).is_err());
    }

    #[test]
    fn records_dedupe_and_canonicalise_ips() {
        let new = NewTrunk {
            name: "carrier".into(),
            address: "sip.carrier.example".into(),
            transport: Transport::Tcp,
            allow_ips: vec![
                "192.0.2.1".parse().unwrap(),
                "::ffff:192.0.2.1".parse().unwrap(),
                "192.0.2.2".parse().unwrap(),
            ],
            username: None,
            password: None,
        };
        let t = build_trunk(&new, None, 9).unwrap();
        assert_eq!(
            t.allow_ips,
            [
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "192.0.2.2".parse().unwrap()
            ]
        );
        assert_eq!(
            (t.port, t.transport, t.created_at),
            (5060, Transport::Tcp, 9)
        );
        let shown = format!(
            "{:?}",
            NewTrunk {
                password: Some("hunter22".into()),
                username: Some("u".into()),
                ..new
            }
        );
        assert!(!shown.contains("hunter22"), "{shown}");
    }
}
