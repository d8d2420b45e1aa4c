//! What the engine tells the interpreter.

use crate::id::{FetchId, MediaId, TargetId, TimerId};

/// One fact for the interpreter. Events that do not fit the current state (a stale timer, a leg
/// already cancelled, media that was stopped) are ignored, never an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Run the script (the call arrived and the answer URL returned it, or an outbound call was
    /// answered). Only the first `Start` counts.
    Start,
    /// A B leg is ringing (180/183).
    TargetRinging {
        /// The leg.
        target_id: TargetId,
    },
    /// A B leg answered (200 OK).
    TargetAnswered {
        /// The leg.
        target_id: TargetId,
    },
    /// A B leg ended before it was bridged.
    TargetFailed {
        /// The leg.
        target_id: TargetId,
        /// Why.
        reason: FailReason,
    },
    /// A bridged B leg hung up.
    BLegHungUp {
        /// The leg.
        target_id: TargetId,
    },
    /// The caller (A leg) hung up or went away.
    CallerHungUp,
    /// A play/speak/stream ended (finished, was stopped, or failed).
    MediaDone {
        /// Which one.
        media_id: MediaId,
    },
    /// DTMF digits from the caller, in order (one or several per event). Characters other
    /// than `0-9 * # A-D` are ignored.
    Digits {
        /// The digits.
        digits: String,
    },
    /// A timer from [`crate::Command::StartTimer`] is due.
    TimerFired(TimerId),
    /// The result of a [`crate::Command::FetchScript`]: the response body, or why there is none.
    ScriptFetched {
        /// Which fetch.
        fetch_id: FetchId,
        /// The body (a PCMO JSON array; an empty body means "no new script"), or the failure.
        result: Result<String, FetchError>,
    },
}

/// Why a B leg failed. [`FailReason::from_sip_status`] maps a final SIP response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailReason {
    /// The SIP user has no live registration; the engine reports this at once, without ringing.
    NotRegistered,
    /// 486 Busy Here (or 600 Busy Everywhere).
    Busy,
    /// 603 Decline (a deliberate rejection).
    Declined,
    /// Nobody answered before the engine's own timeout (408, 480 after ringing...).
    NoAnswer,
    /// The far end or the network cancelled the attempt (487 without our CANCEL).
    Cancelled,
    /// Any other final status.
    Failed(u16),
}

impl FailReason {
    /// Maps a final SIP status of an INVITE to a reason: 486 and 600 → busy, 603 → declined,
    /// 408 → no answer, 487 → cancelled, anything else → `Failed(status)`.
    pub fn from_sip_status(status: u16) -> Self {
        match status {
            486 | 600 => FailReason::Busy,
            603 => FailReason::Declined,
            408 => FailReason::NoAnswer,
            487 => FailReason::Cancelled,
            other => FailReason::Failed(other),
        }
    }

    /// True when the target must not be tried again by `loop`: a deliberate busy or decline
    /// (486/600/603) and any other 6xx (a "global failure" in RFC 3261 terms). Such a failure
    /// ends the attempts on *that* target only; the other targets of the connect go on.
    pub fn ends_target(self) -> bool {
        match self {
            FailReason::Busy | FailReason::Declined => true,
            FailReason::Failed(status) => (600..700).contains(&status),
            FailReason::NotRegistered | FailReason::NoAnswer | FailReason::Cancelled => false,
        }
    }
}

/// Why a script fetch produced no body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The app did not answer in time.
    #[error("the app did not answer in time")]
    Timeout,
    /// The app answered with a non-2xx status.
    #[error("the app answered with HTTP status {0}")]
    Status(u16),
    /// The connection failed (DNS, TCP, TLS).
    #[error("the app could not be reached")]
    Unreachable,
    /// The response was bigger than the engine accepts.
    #[error("the response was too large")]
    TooLarge,
    /// A PCMO reference that names no stored script.
    #[error("no script is stored under that reference")]
    UnknownReference,
    /// The engine did not fetch an app-supplied URL (its address policy refused it) or hides
    /// why the fetch failed: telling the app which would make the engine a port scanner.
    #[error("the URL could not be fetched")]
    NotFetched,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_statuses_map_to_reasons() {
        assert_eq!(FailReason::from_sip_status(486), FailReason::Busy);
        assert_eq!(FailReason::from_sip_status(600), FailReason::Busy);
        assert_eq!(FailReason::from_sip_status(603), FailReason::Declined);
        assert_eq!(FailReason::from_sip_status(408), FailReason::NoAnswer);
        assert_eq!(FailReason::from_sip_status(503), FailReason::Failed(503));
    }

    #[test]
    fn only_deliberate_refusals_end_a_target() {
        assert!(FailReason::Busy.ends_target());
        assert!(FailReason::Declined.ends_target());
        assert!(FailReason::Failed(604).ends_target());
        assert!(!FailReason::Failed(503).ends_target());
        assert!(!FailReason::NoAnswer.ends_target());
        assert!(!FailReason::NotRegistered.ends_target());
        assert!(!FailReason::Cancelled.ends_target());
    }
}
