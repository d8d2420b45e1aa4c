//! `name-addr` / `addr-spec` values: From, To, Contact, Route, Record-Route (RFC 3261 §20.10).

use std::fmt;

use super::params::{quoted_end, Params};
use super::uri::Uri;
use super::via::is_token;
use super::{ParseError, ParseErrorKind};

/// A display name, a URI and header parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name as received: a quoted string keeps its quotes.
    pub display: Option<String>,
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `q`, `+sip.instance`...), not URI parameters.
    pub params: Params,
}

impl NameAddr {
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Params::new(),
        }
    }

    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        let s = s.trim();
        let (display, rest) = if s.starts_with('"') {
            let end = quoted_end(s)?;
            let rest = s[end..].trim_start();
            if !rest.starts_with('<') {
                return Err(ParseError::new(ParseErrorKind::BadNameAddr));
            }
            (Some(s[..end].to_string()), rest)
        } else if let Some(lt) = s.find('<') {
            // Unquoted display name: tokens separated by LWS only (RFC 4475 baddn).
            let name = s[..lt].trim();
            if !name.bytes().all(|b| is_token(b) || b == b' ' || b == b'\t') {
                return Err(ParseError::new(ParseErrorKind::BadDisplayName));
            }
            ((!name.is_empty()).then(|| name.to_string()), &s[lt..])
        } else {
            (None, s)
        };
        let (uri, rest) = if let Some(inner) = rest.strip_prefix('<') {
            let end = inner
                .find('>')
                .ok_or(ParseError::new(ParseErrorKind::BadNameAddr))?;
            // Spaces just inside the brackets are tolerated (RFC 4475 badaspec).
            (Uri::parse(inner[..end].trim())?, &inner[end + 1..])
        } else {
            Uri::parse_prefix(rest, false)?
        };
        let (params, rest) = Params::parse_prefix(rest, b",")?;
        if !rest.trim().is_empty() {
            return Err(ParseError::new(ParseErrorKind::BadNameAddr));
        }
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    pub fn tag(&self) -> Option<&str> {
        self.params.value("tag")
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{d} ")?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// A Contact header's value: `*` or a list of addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactList {
    Star,
    Addrs(Vec<NameAddr>),
}

impl ContactList {
    /// Parses every Contact value of a message (each may hold a comma-separated list).
    pub fn parse<'a>(values: impl Iterator<Item = &'a str>) -> Result<ContactList, ParseError> {
        let mut addrs = Vec::new();
        let mut star = false;
        for v in values {
            for item in super::split_list(v)? {
                if item == "*" {
                    star = true;
                } else {
                    addrs.push(NameAddr::parse(item)?);
                }
            }
        }
        match (star, addrs.is_empty()) {
            (true, true) => Ok(ContactList::Star),
            // `*` mixed with addresses is invalid (RFC 3261 §10.3 step 6).
            (true, false) => Err(ParseError::new(ParseErrorKind::BadContact)),
            (false, _) => Ok(ContactList::Addrs(addrs)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let a = NameAddr::parse("\"Alice \\\"A\\\"\" <sip:alice@example.com;transport=tcp>;tag=12")
            .unwrap();
        assert_eq!(a.display.as_deref(), Some("\"Alice \\\"A\\\"\""));
        assert_eq!(a.tag(), Some("12"));
        assert_eq!(
            a.uri.as_sip().unwrap().transport_param().as_deref(),
            Some("tcp")
        );

        // addr-spec: parameters belong to the header.
        let a = NameAddr::parse("sip:bob@example.com;tag=9").unwrap();
        assert_eq!(a.tag(), Some("9"));
        assert!(a.uri.as_sip().unwrap().params.is_empty());

        let a = NameAddr::parse("\"caller\"<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display.as_deref(), Some("\"caller\""));
        let a = NameAddr::parse("token1~` token2'+_ <sip:mundane@example.com>").unwrap();
        assert_eq!(a.display.as_deref(), Some("token1~` token2'+_"));
        assert!(NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").is_ok());
    }

    #[test]
    fn invalid_name_addrs() {
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        assert!(NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").is_err());
        assert!(NameAddr::parse("\"Joe\" <sip:joe@example.org>;;;;").is_err());
        assert!(NameAddr::parse("<sip:joe@example.org").is_err());
    }

    #[test]
    fn contact_lists() {
        let c = ContactList::parse(
            ["<sip:a@h1>;expires=60, \"B\" <sip:b@h2>;q=0.5", "sip:c@h3"].into_iter(),
        )
        .unwrap();
        let ContactList::Addrs(v) = c else { panic!() };
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].params.value("expires"), Some("60"));
        assert_eq!(v[1].params.value("q"), Some("0.5"));
        assert_eq!(
            ContactList::parse(["*"].into_iter()).unwrap(),
            ContactList::Star
        );
        assert!(ContactList::parse(["*, <sip:a@h>"].into_iter()).is_err());
    }
}
