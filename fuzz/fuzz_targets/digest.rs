//! Digest `Authorization` credentials and `WWW-Authenticate` challenges on arbitrary text.
//! Properties: never a panic; our own answer to any challenge we can parse is credentials we
//! parse and accept (the client and server halves agree on quoting).
#![no_main]

use engine::sip::digest::{self, Challenge, Credentials};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(c) = Credentials::parse(text) {
        // The verification path must cope with whatever the client put in the fields.
        let _ = digest::verify(&c, "REGISTER", "00000000000000000000000000000000");
    }
    if let Ok(ch) = Challenge::parse(text) {
        let answer = ch.answer("alice", "pw", "REGISTER", "sip:example.com", "cn", 1);
        let creds = Credentials::parse(&answer)
            .unwrap_or_else(|e| panic!("our answer {answer:?} does not parse: {e:?}"));
        let ha1 = digest::ha1(ch.algorithm, "alice", &ch.realm, "pw");
        assert!(
            digest::verify(&creds, "REGISTER", &ha1),
            "our answer {answer:?} does not verify"
        );
    }
});
