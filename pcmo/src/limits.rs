//! The limits every script is checked against, and the documented ranges of timed fields.
//!
//! A script comes from a web server we do not control, so everything that sizes memory or time
//! is bounded here, in one place. Where PIOPIY documents a range (v3 `ring_timeout_sec` 5–120,
//! `max_duration_sec` 10–7200, `speed` 0.5–2.0, `param.data` ≤ 10 keys of ≤ 256-byte strings) we
//! use it. Where it documents none (the legacy `timeout`, `duration`, digit counts), the range
//! below is ringmaster's choice and is named so in each constant's doc.

/// Largest script accepted, in bytes (256 KiB).
pub const MAX_SCRIPT_BYTES: usize = 256 * 1024;
/// Most actions in one script.
pub const MAX_ACTIONS: usize = 100;
/// Longest string in any field, in bytes (4 KiB).
pub const MAX_STRING_BYTES: usize = 4096;
/// Most errors (and, separately, warnings) listed in one report; the rest are counted.
pub const MAX_REPORTED: usize = 100;

/// `loop`: rounds of ringing, 1..=10 (default 1 = ring once, no retry).
pub const LOOP_RANGE: (u64, u64) = (1, 10);
/// Most targets in one `connect`/`bridge` (ours; Twilio rings at most 10 nouns at once too).
pub const MAX_TARGETS: usize = 10;
/// Most v3 `agent` endpoints in one connect (documented: 2, and they come last).
pub const MAX_AGENTS: usize = 2;
/// Most extra SIP headers on one target (ours).
pub const MAX_HEADERS: usize = 10;

/// Legacy `timeout` of connect/bridge, seconds: 5..=300 (ours; the v3 floor of 5 s, and the
/// 300 s ceiling Bandwidth uses for `callTimeout`). Default 40.
pub const LEGACY_RING_TIMEOUT: (u64, u64) = (5, 300);
/// Legacy `duration` of connect/bridge, seconds: 10..=14400 (ours; v3 floor, and the 4 h
/// `timeLimit` ceiling of Twilio and Plivo). Default 5400.
pub const LEGACY_DURATION: (u64, u64) = (10, 14_400);
/// v3 `params.options.ring_timeout_sec` (documented 5–120). Default 40, as legacy.
pub const V3_RING_TIMEOUT: (u64, u64) = (5, 120);
/// v3 `params.options.max_duration_sec` (documented 10–7200). Default 5400, as legacy.
pub const V3_MAX_DURATION: (u64, u64) = (10, 7200);

/// Default ring timeout, seconds (legacy documented default; used for v3 too).
pub const DEFAULT_RING_TIMEOUT: u64 = 40;
/// Default connected-call cap, seconds (legacy documented default; used for v3 too).
pub const DEFAULT_DURATION: u64 = 5400;

/// `max_digit`, `min_digits`, `max_digits`: 1..=32 (ours; Bandwidth allows 30).
pub const DIGITS_RANGE: (u64, u64) = (1, 32);
/// Digit timeouts (`timeout` of input/play_get_input, v3 `first_digit_timeout`,
/// `inter_digit_timeout`), seconds: 1..=60 (ours).
pub const DIGIT_TIMEOUT_RANGE: (u64, u64) = (1, 60);
/// Legacy `input.timeout` default, seconds (documented).
pub const DEFAULT_INPUT_TIMEOUT: u64 = 5;
/// Legacy `play_get_input.timeout` default, seconds (documented 1; the SDKs send 5).
pub const DEFAULT_PLAY_GET_INPUT_TIMEOUT: u64 = 1;
/// v3 `dtmf.first_digit_timeout` default, seconds (ours; the SDK examples use 5).
pub const DEFAULT_FIRST_DIGIT_TIMEOUT: u64 = 5;
/// v3 `dtmf.inter_digit_timeout` default, seconds (ours).
pub const DEFAULT_INTER_DIGIT_TIMEOUT: u64 = 3;
/// `max_retry` / v3 `retries.max`: 0..=10 (ours).
pub const RETRY_RANGE: (u64, u64) = (0, 10);
/// Legacy `max_retry` default (documented 1; the Python SDK sends 3, the Node SDK 1).
pub const DEFAULT_MAX_RETRY: u64 = 1;

/// v3 `param.data`: at most 10 keys (documented).
pub const MAX_PARAM_KEYS: usize = 10;
/// v3 `param.data` string values: at most 256 bytes (documented).
pub const MAX_PARAM_STRING_BYTES: usize = 256;
/// v3 `params.metadata`: at most 32 keys (ours; undocumented upstream).
pub const MAX_METADATA_KEYS: usize = 32;

/// Digits the caller may type ahead before an input starts, kept for a non-flushing input.
pub const TYPEAHEAD_DIGITS: usize = 32;
