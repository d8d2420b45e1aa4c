use super::*;

const OURS: u32 = 0xAAAA_0001;
const THEIRS: u32 = 0x5555_0002;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn packet(ssrc: u32, seq: u16, ts: u32) -> [u8; 172] {
    let mut p = [0u8; 172];
    p[0] = 0x80;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p
}

/// (ssrc, seq, ts, marker) of a packet as sent.
fn fields(p: &[u8]) -> (u32, u16, u32, bool) {
    (
        u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        u16::from_be_bytes([p[2], p[3]]),
        u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        p[1] & 0x80 != 0,
    )
}

fn relay(
    stream: &mut OutStream,
    ssrc: u32,
    seq: u16,
    ts: u32,
    at: Instant,
) -> Option<(u32, u16, u32, bool)> {
    let mut p = packet(ssrc, seq, ts);
    stream.relay(&mut p, 160, at).then(|| fields(&p))
}

fn audio(stream: &mut OutStream, at: Instant) -> (u32, u16, u32, bool) {
    let h = stream.audio(160, at);
    (h.ssrc, h.seq, h.timestamp, h.marker)
}

#[test]
fn a_relay_that_never_switches_passes_packets_unchanged() {
    let t0 = Instant::now();
    let mut stream = OutStream::new(OURS, 1, 1);
    for i in 0..5u16 {
        let ts = 9000 + u32::from(i) * 160;
        let out = relay(
            &mut stream,
            THEIRS,
            40_000 + i,
            ts,
            t0 + ms(20 * u64::from(i)),
        );
        assert_eq!(out, Some((THEIRS, 40_000 + i, ts, false)));
    }
    // Loss (seq 40 006 missing) and reordering pass through as the sender made them.
    assert_eq!(
        relay(&mut stream, THEIRS, 40_007, 9000 + 7 * 160, t0 + ms(140)),
        Some((THEIRS, 40_007, 9000 + 7 * 160, false))
    );
    assert_eq!(
        relay(&mut stream, THEIRS, 40_005, 9000 + 5 * 160, t0 + ms(141)),
        Some((THEIRS, 40_005, 9000 + 5 * 160, false))
    );
    assert_eq!(stream.ssrc(), THEIRS);
}

#[test]
fn a_prompt_continues_the_relayed_numbering_and_the_relay_resumes_after_it() {
    let t0 = Instant::now();
    let mut stream = OutStream::new(OURS, 1, 1);
    relay(&mut stream, THEIRS, 100, 5000, t0);
    relay(&mut stream, THEIRS, 101, 5160, t0 + ms(20));
    // A prompt starts 20 ms later: next seq, next timestamp, marker, the adopted SSRC.
    assert_eq!(audio(&mut stream, t0 + ms(40)), (THEIRS, 102, 5320, true));
    assert_eq!(audio(&mut stream, t0 + ms(60)), (THEIRS, 103, 5480, false));
    // The prompt's pace sets the timestamps, not the wakeup jitter.
    assert_eq!(audio(&mut stream, t0 + ms(83)), (THEIRS, 104, 5640, false));
    // The relay resumes after a 100 ms pause; the sender's numbers moved on meanwhile.
    let out = relay(&mut stream, THEIRS, 110, 6600, t0 + ms(183));
    assert_eq!(out, Some((THEIRS, 105, 5640 + 800, true)));
    let out = relay(&mut stream, THEIRS, 111, 6760, t0 + ms(203));
    assert_eq!(out, Some((THEIRS, 106, 5640 + 960, false)));
    // A packet from before the switch would reuse the prompt's numbers: dropped.
    assert_eq!(relay(&mut stream, THEIRS, 109, 6440, t0 + ms(204)), None);
}

#[test]
fn a_stream_that_starts_with_our_audio_uses_our_ssrc_and_a_new_sender_joins_seamlessly() {
    let t0 = Instant::now();
    let mut stream = OutStream::new(OURS, 65_535, 4_294_967_200);
    assert_eq!(audio(&mut stream, t0), (OURS, 65_535, 4_294_967_200, true));
    // Sequence numbers and timestamps wrap.
    assert_eq!(audio(&mut stream, t0 + ms(20)), (OURS, 0, 64, false));
    let out = relay(&mut stream, THEIRS, 7, 123, t0 + ms(40));
    assert_eq!(out, Some((OURS, 1, 224, true)));
    // Another sender (a new B leg): a new segment, still no jump.
    let out = relay(&mut stream, THEIRS + 1, 900, 77, t0 + ms(60));
    assert_eq!(out, Some((OURS, 2, 384, true)));
}

#[test]
fn dtmf_events_keep_their_start_timestamp_and_audio_continues_after_them() {
    let t0 = Instant::now();
    let mut stream = OutStream::new(OURS, 10, 1000);
    audio(&mut stream, t0);
    let start = stream.event(true, t0 + ms(20));
    assert_eq!((start.seq, start.timestamp, start.marker), (11, 1160, true));
    let update = stream.event(false, t0 + ms(70));
    assert_eq!(
        (update.seq, update.timestamp, update.marker),
        (12, 1160, false)
    );
    let end = stream.event(false, t0 + ms(120));
    assert_eq!((end.seq, end.timestamp), (13, 1160));
    // A second press is a new event with a new timestamp.
    let again = stream.event(true, t0 + ms(220));
    assert_eq!(
        (again.seq, again.timestamp, again.marker),
        (14, 1160 + 1600, true)
    );
    // Audio after the event resumes at real time since the press started.
    assert_eq!(
        audio(&mut stream, t0 + ms(400)),
        (OURS, 15, 1160 + 1600 + 1440, true)
    );
}

#[test]
fn a_long_segment_keeps_relaying_across_sequence_number_wraps() {
    let t0 = Instant::now();
    let mut stream = OutStream::new(OURS, 0, 0);
    audio(&mut stream, t0);
    for i in 0..140_000u32 {
        let at = t0 + ms(20 + 20 * u64::from(i));
        let seq = (i % 65_536) as u16;
        let out = relay(&mut stream, THEIRS, seq, i * 160, at);
        assert_eq!(out.map(|o| o.1), Some(seq.wrapping_add(1)), "packet {i}");
    }
    // A packet from far behind the newest is stale, not a seamless continuation.
    let stale = (140_000u32 - 20_000) % 65_536;
    assert_eq!(
        relay(&mut stream, THEIRS, stale as u16, 0, t0 + ms(3_000_000)),
        None
    );
}

#[test]
fn short_packets_are_refused() {
    let mut stream = OutStream::new(OURS, 0, 0);
    assert!(!stream.relay(&mut [0x80; 11], 160, Instant::now()));
}

#[test]
fn headers_are_written_as_rtp_version_2() {
    let header = Header {
        ssrc: 0x0102_0304,
        seq: 0x0506,
        timestamp: 0x0708_090A,
        marker: true,
    };
    let mut out = [0u8; 12];
    header.write(8, &mut out);
    assert_eq!(out, [0x80, 0x88, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4]);
}
