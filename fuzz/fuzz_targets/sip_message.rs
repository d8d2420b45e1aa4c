//! The SIP message parser on arbitrary bytes, with our wire limits. Properties: never a panic;
//! a message that parses prints to bytes that parse again (we never emit what we cannot read);
//! a rejected request carries headers we can build a stateless answer from.
#![no_main]

use bytes::Bytes;
use engine::sip::message::{
    parse_with_limits, response_from_headers, Limits, Message, ParseFailure,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    match parse_with_limits(Bytes::copy_from_slice(data), &limits) {
        Ok(msg) => {
            let printed = match &msg {
                Message::Request(r) => r.encode(),
                Message::Response(r) => r.encode(),
            };
            // A value with a bare control character parses (the parser is lenient) but is
            // never written back out: the encoder refuses it (header injection guard).
            let Ok(printed) = printed else {
                return;
            };
            // A message at the size limit may grow past it when printed (Content-Length is
            // always written, one more header than a message without it had): give the
            // re-parse room.
            let roomy = Limits {
                max_message: limits.max_message * 2,
                max_line: limits.max_line * 2,
                max_headers: limits.max_headers + 1,
            };
            if let Err(e) = parse_with_limits(printed.clone(), &roomy) {
                panic!(
                    "printed form does not parse: {e:?}\n{:?}",
                    String::from_utf8_lossy(&printed)
                );
            }
        }
        Err(ParseFailure::Reject { error, headers }) => {
            let r = response_from_headers(&headers, error.status(), Some("t"));
            let _ = r.encode();
        }
        Err(ParseFailure::Drop(_)) => {}
    }
});
