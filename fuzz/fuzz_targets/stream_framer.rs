//! The TCP stream framer on an arbitrary byte stream cut into arbitrary chunks (the first
//! byte sets the chunk size, as reads of any size may happen). Properties: never a panic; no
//! frame exceeds the message limit; the framer never holds more than the limit
//! (a stream that would need more is refused); frames are parsed as the shell parses them.
#![no_main]

use bytes::Bytes;
use engine::sip::message::{parse_with_limits, Limits};
use engine::sip::stream::{Frame, StreamFramer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    // Small limits so the fuzzer reaches them with small inputs.
    let limits = Limits {
        max_message: 2048,
        max_line: 512,
        max_headers: 32,
    };
    let chunk = usize::from(chunk).max(1);
    let mut framer = StreamFramer::new(limits);
    for piece in stream.chunks(chunk) {
        framer.push(piece);
        loop {
            match framer.next_frame() {
                Ok(Some(Frame::Message(m))) => {
                    assert!(m.len() <= limits.max_message);
                    let _ = parse_with_limits(Bytes::clone(&m), &limits);
                }
                Ok(Some(Frame::Ping)) => {}
                Ok(None) => {
                    assert!(framer.buffered() <= limits.max_message);
                    break;
                }
                // The shell closes the connection here.
                Err(_) => return,
            }
        }
    }
});
