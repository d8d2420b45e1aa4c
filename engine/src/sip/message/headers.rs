//! Header names and the ordered header list.
//!
//! Values are stored unfolded (RFC 3261 §7.3.1 line folding replaced by one space) and
//! trimmed, exactly as received otherwise. Typed views (`Via`, `NameAddr`, `CSeq`...) are parsed
//! on demand from these strings, so a message that is changed and re-printed keeps every header
//! it did not touch verbatim, unknown ones included (RFC 4475 wsinv).

use std::fmt;

/// A header name. Known names print in their canonical long form; compact forms (RFC 3261
/// §7.3.3) are mapped on input.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HeaderName {
    Accept,
    Allow,
    Authorization,
    CallId,
    Contact,
    ContentEncoding,
    ContentLength,
    ContentType,
    CSeq,
    Date,
    Event,
    Expires,
    From,
    MaxForwards,
    MinExpires,
    ProxyAuthenticate,
    ProxyAuthorization,
    ProxyRequire,
    RecordRoute,
    Require,
    RetryAfter,
    Route,
    Server,
    Subject,
    Supported,
    To,
    Unsupported,
    UserAgent,
    Via,
    WwwAuthenticate,
    /// Any other name, as received.
    Other(Box<str>),
}

/// (canonical name, compact form, variant) for every known header.
const KNOWN: &[(&str, Option<&str>, HeaderName)] = &[
    ("Accept", None, HeaderName::Accept),
    ("Allow", None, HeaderName::Allow),
    ("Authorization", None, HeaderName::Authorization),
    ("Call-ID", Some("i"), HeaderName::CallId),
    ("Contact", Some("m"), HeaderName::Contact),
    ("Content-Encoding", Some("e"), HeaderName::ContentEncoding),
    ("Content-Length", Some("l"), HeaderName::ContentLength),
    ("Content-Type", Some("c"), HeaderName::ContentType),
    ("CSeq", None, HeaderName::CSeq),
    ("Date", None, HeaderName::Date),
    ("Event", Some("o"), HeaderName::Event),
    ("Expires", None, HeaderName::Expires),
    ("From", Some("f"), HeaderName::From),
    ("Max-Forwards", None, HeaderName::MaxForwards),
    ("Min-Expires", None, HeaderName::MinExpires),
    ("Proxy-Authenticate", None, HeaderName::ProxyAuthenticate),
    ("Proxy-Authorization", None, HeaderName::ProxyAuthorization),
    ("Proxy-Require", None, HeaderName::ProxyRequire),
    ("Record-Route", None, HeaderName::RecordRoute),
    ("Require", None, HeaderName::Require),
    ("Retry-After", None, HeaderName::RetryAfter),
    ("Route", None, HeaderName::Route),
    ("Server", None, HeaderName::Server),
    ("Subject", Some("s"), HeaderName::Subject),
    ("Supported", Some("k"), HeaderName::Supported),
    ("To", Some("t"), HeaderName::To),
    ("Unsupported", None, HeaderName::Unsupported),
    ("User-Agent", None, HeaderName::UserAgent),
    ("Via", Some("v"), HeaderName::Via),
    ("WWW-Authenticate", None, HeaderName::WwwAuthenticate),
];

impl HeaderName {
    /// Maps a received name (any case, compact or long) to a header name.
    pub fn parse(name: &str) -> HeaderName {
        for (long, compact, h) in KNOWN {
            if long.eq_ignore_ascii_case(name)
                || compact.is_some_and(|c| c.eq_ignore_ascii_case(name))
            {
                return h.clone();
            }
        }
        HeaderName::Other(name.into())
    }

    pub fn as_str(&self) -> &str {
        if let HeaderName::Other(n) = self {
            return n;
        }
        KNOWN
            .iter()
            .find(|(_, _, h)| h == self)
            .map(|(long, _, _)| *long)
            .unwrap_or("X-Unknown")
    }

    /// Headers that may appear at most once in a message (RFC 3261 §7.3.1, §20); a second
    /// copy makes the message invalid (RFC 4475 multi01, mcl01).
    pub fn is_single(&self) -> bool {
        matches!(
            self,
            HeaderName::CallId
                | HeaderName::CSeq
                | HeaderName::From
                | HeaderName::To
                | HeaderName::MaxForwards
                | HeaderName::ContentLength
                | HeaderName::ContentType
                | HeaderName::Expires
        )
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: HeaderName,
    pub value: String,
}

/// The headers of a message, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn with_capacity(n: usize) -> Self {
        Headers(Vec::with_capacity(n))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| &h.name == name)
            .map(|h| h.value.as_str())
    }

    /// The first value of an extension header, by case-insensitive name.
    pub fn get_other(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    pub fn count(&self, name: &HeaderName) -> usize {
        self.0.iter().filter(|h| &h.name == name).count()
    }

    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push(Header {
            name,
            value: value.into(),
        });
    }

    /// Inserts before the first header of the same name, or at the front (a new top Via).
    pub fn push_front(&mut self, name: HeaderName, value: impl Into<String>) {
        let at = self.0.iter().position(|h| h.name == name).unwrap_or(0);
        self.0.insert(
            at,
            Header {
                name,
                value: value.into(),
            },
        );
    }

    /// Replaces every value of `name` with one value (appended if there was none).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|h| h.name == name) {
            Some(i) => {
                self.0[i].value = value;
                let mut seen = false;
                self.0.retain(|h| {
                    if h.name != name {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// Replaces the first value of `name`; false if there is none.
    pub fn replace_first(&mut self, name: &HeaderName, value: String) -> bool {
        match self.0.iter_mut().find(|h| &h.name == name) {
            Some(h) => {
                h.value = value;
                true
            }
            None => false,
        }
    }

    /// Removes the first value of `name`.
    pub fn remove_first(&mut self, name: &HeaderName) -> Option<String> {
        let i = self.0.iter().position(|h| &h.name == name)?;
        Some(self.0.remove(i).value)
    }

    pub fn remove_all(&mut self, name: &HeaderName) {
        self.0.retain(|h| &h.name != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_and_case_insensitive_names() {
        assert_eq!(HeaderName::parse("v"), HeaderName::Via);
        assert_eq!(HeaderName::parse("CALL-id"), HeaderName::CallId);
        assert_eq!(HeaderName::parse("l"), HeaderName::ContentLength);
        assert_eq!(
            HeaderName::parse("C%6Fntact"),
            HeaderName::Other("C%6Fntact".into())
        );
        assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
        assert_eq!(HeaderName::parse("X-Foo").as_str(), "X-Foo");
    }

    #[test]
    fn set_push_front_and_remove() {
        let mut h = Headers::new();
        h.push(HeaderName::Via, "a");
        h.push(HeaderName::From, "f");
        h.push(HeaderName::Via, "b");
        h.push_front(HeaderName::Via, "top");
        assert_eq!(
            h.get_all(&HeaderName::Via).collect::<Vec<_>>(),
            ["top", "a", "b"]
        );
        h.set(HeaderName::Via, "only");
        assert_eq!(h.get_all(&HeaderName::Via).collect::<Vec<_>>(), ["only"]);
        assert_eq!(h.remove_first(&HeaderName::From).as_deref(), Some("f"));
        assert_eq!(h.len(), 1);
    }
}
