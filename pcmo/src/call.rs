//! What the interpreter knows about the call it drives.

/// The call a script runs in. The engine fills this in when it creates the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallInfo {
    /// The call id (`cmiuuid`), echoed in action-URL requests as `cmiuuid` and `cmuuid`.
    pub cmiuuid: String,
    /// The caller (A leg `from`), as sent to the answer URL.
    pub from: String,
    /// The called number or user (A leg `to`).
    pub to: String,
    /// True when the A leg is already answered before the script starts: a call ringmaster
    /// placed over REST (`pcmo_make_call`) runs its script once the callee answers. False for
    /// an inbound call, which the interpreter answers when an action needs media.
    pub answered: bool,
}

impl CallInfo {
    /// An inbound call, still ringing.
    pub fn inbound(
        cmiuuid: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> Self {
        CallInfo {
            cmiuuid: cmiuuid.into(),
            from: from.into(),
            to: to.into(),
            answered: false,
        }
    }

    /// A call ringmaster placed, already answered by the callee when the script starts.
    pub fn outbound_answered(
        cmiuuid: impl Into<String>,
        from: impl Into<String>,
        to: impl Into<String>,
    ) -> Self {
        CallInfo {
            cmiuuid: cmiuuid.into(),
            from: from.into(),
            to: to.into(),
            answered: true,
        }
    }
}
