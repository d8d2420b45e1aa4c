//! The SDP parser on arbitrary bytes. Properties: never a panic; the accessors the call path
//! uses work on whatever parsed.
#![no_main]

use engine::media::sdp::SessionDescription;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sdp) = SessionDescription::parse(data) {
        let _ = sdp.attributes().count();
        for (i, m) in sdp.media.iter().enumerate() {
            let _ = sdp.media_connection(i).and_then(|c| c.ip());
            let _ = m.payload_types().count();
            let _ = m.is_plain_rtp();
        }
    }
});
