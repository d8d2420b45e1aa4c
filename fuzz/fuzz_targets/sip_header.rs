//! SIP URI and header-parameter parsers on arbitrary text: Request-URI and addr-spec URIs,
//! Via, name-addr (From/To), Contact lists, CSeq and delta-seconds. The first byte picks the
//! parser, the rest is the header value. Properties: never a panic; what parses prints to text
//! that parses again.
#![no_main]

use engine::sip::message::{
    parse_delta_seconds, split_list, unescape, CSeq, ContactList, Host, NameAddr, Uri, Via,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match pick % 8 {
        0 => {
            if let Ok(u) = Uri::parse(text) {
                let again = u.to_string();
                assert!(Uri::parse(&again).is_ok(), "{text:?} printed as {again:?}");
                if let Some(s) = u.as_sip() {
                    let _ = s.user_unescaped();
                    let _ = s.transport_param();
                }
            }
        }
        1 => {
            if let Ok(v) = Via::parse(text) {
                let again = v.to_string();
                assert!(Via::parse(&again).is_ok(), "{text:?} printed as {again:?}");
                let _ = (v.branch(), v.received(), v.rport(), v.sent_by());
            }
        }
        2 => {
            if let Ok(n) = NameAddr::parse(text) {
                let again = n.to_string();
                assert!(
                    NameAddr::parse(&again).is_ok(),
                    "{text:?} printed as {again:?}"
                );
                let _ = n.tag();
            }
        }
        3 => {
            let _ = ContactList::parse(text.split('\n'));
        }
        4 => {
            if let Ok(c) = CSeq::parse(text) {
                assert_eq!(CSeq::parse(&c.to_string()).ok(), Some(c));
            }
        }
        5 => {
            let _ = parse_delta_seconds(text);
        }
        6 => {
            let _ = split_list(text);
            let _ = unescape(text);
        }
        _ => {
            if let Ok((h, _)) = Host::parse_prefix(text) {
                let _ = h.ip();
                let _ = h.to_string();
            }
            let _ = Host::parse_lenient(text);
        }
    }
});
