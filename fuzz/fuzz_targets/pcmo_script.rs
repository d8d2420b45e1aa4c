//! PCMO scripts (what apps return from their answer URL and post inline) on arbitrary text:
//! `pcmo::check` and the parse the call path uses. Property: never a panic; check and parse
//! agree on validity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let parsed = pcmo::Script::parse_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let report = pcmo::check(text);
        assert_eq!(report.is_ok(), parsed.is_ok(), "check and parse disagree");
    }
});
