//! The RTP and RTCP header checks of the media fast path on arbitrary datagrams. Property:
//! never a panic, and an accepted RTP packet's payload type is below 128.
#![no_main]

use engine::media::rtp::{check_rtcp, check_rtp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pt) = check_rtp(data) {
        assert!(pt < 128);
    }
    let _ = check_rtcp(data);
});
