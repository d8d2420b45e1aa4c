//! The B legs: the legs the script's rings created, each from its INVITE branch to its
//! terminal event. [`BLegs`] owns them (private state, one record each) and the call's
//! bridge; it answers, bridges, hangs up and reports through a borrowed [`Effects`].

use std::collections::HashMap;
use std::net::IpAddr;

use pcmo::TargetId;

use super::dialog::Dialog;
use super::effects::Effects;
use super::io::{Output, Purpose};
use super::media_plan::BAnswer;
use super::report::{Direction, EventStatus, LegRecord, Side};
use super::LegId;
use crate::media::Command as MediaCommand;
use crate::sip::message::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BState {
    Ringing,
    /// Answered and ACKed, waiting for the script to bridge (or cancel) it.
    Answered,
    Bridged,
    Ending,
    Ended,
}

struct BLeg {
    target: TargetId,
    record: LegRecord,
    state: BState,
    dialog: Option<Dialog>,
    /// The address the leg's INVITE went to (where its SIP comes from): its RTP may latch
    /// from there.
    source: IpAddr,
    /// What B's answer settled (where B receives, its codecs, the answer for A).
    answer: Option<BAnswer>,
    /// Why the leg is being hung up (used when its BYE is answered).
    end_cause: Option<String>,
}

impl BLeg {
    /// Answered, and not yet being hung up: it has a dialog to talk in.
    fn is_up(&self) -> bool {
        matches!(self.state, BState::Answered | BState::Bridged)
    }
}

/// A call's B legs and which one is bridged with A.
pub(super) struct BLegs {
    /// Boxed: a map allocates at least four slots, and a `BLeg` is ~700 bytes.
    legs: HashMap<LegId, Box<BLeg>>,
    next: u32,
    bridged: Option<LegId>,
    /// The B leg whose early media (183 with SDP) the ringing caller hears.
    early: Option<LegId>,
}

impl Default for BLegs {
    fn default() -> Self {
        BLegs {
            legs: HashMap::new(),
            next: 1,
            bridged: None,
            early: None,
        }
    }
}

impl BLegs {
    /// A new leg ringing `target` on a branch sent to `source`, from `caller` to `to`.
    pub(super) fn add(
        &mut self,
        fx: &Effects,
        target: TargetId,
        caller: &str,
        to: &str,
        source: IpAddr,
    ) -> LegId {
        let leg = LegId(self.next);
        self.next += 1;
        let record = LegRecord::new(leg, Side::B, Direction::Outbound, caller, to, fx.wall_ms());
        self.legs.insert(
            leg,
            Box::new(BLeg {
                target,
                record,
                state: BState::Ringing,
                dialog: None,
                source,
                answer: None,
                end_cause: None,
            }),
        );
        leg
    }

    /// The legs, in no particular order.
    pub(super) fn ids(&self) -> Vec<LegId> {
        self.legs.keys().copied().collect()
    }

    /// Where `leg`'s SIP comes from (its RTP may latch from there).
    pub(super) fn source(&self, leg: LegId) -> Option<IpAddr> {
        self.legs.get(&leg).map(|b| b.source)
    }

    pub(super) fn target(&self, leg: LegId) -> Option<TargetId> {
        self.legs.get(&leg).map(|b| b.target)
    }

    pub(super) fn all_ended(&self) -> bool {
        self.legs.values().all(|b| b.state == BState::Ended)
    }

    /// An answered leg's dialog, for in-dialog requests.
    pub(super) fn dialog_mut(&mut self, leg: LegId) -> Option<&mut Dialog> {
        self.legs
            .get_mut(&leg)
            .filter(|b| b.is_up())
            .and_then(|b| b.dialog.as_mut())
    }

    /// The answered legs that ring one of `targets`.
    pub(super) fn up_for(&self, targets: &[TargetId]) -> Vec<LegId> {
        self.legs
            .iter()
            .filter(|(_, b)| targets.contains(&b.target) && b.is_up())
            .map(|(l, _)| *l)
            .collect()
    }

    pub(super) fn bridged(&self) -> Option<LegId> {
        self.bridged
    }

    pub(super) fn is_bridged_to(&self, target: TargetId) -> bool {
        self.bridged
            .and_then(|l| self.legs.get(&l))
            .is_some_and(|b| b.target == target)
    }

    /// The bridge is gone (the script unbridged, or the bridged leg hung up).
    pub(super) fn clear_bridge(&mut self) {
        self.bridged = None;
    }

    pub(super) fn early(&self) -> Option<LegId> {
        self.early
    }

    pub(super) fn set_early(&mut self, leg: LegId) {
        self.early = Some(leg);
    }

    /// The leg rang (reported once).
    pub(super) fn ringing(&mut self, fx: &mut Effects, leg: LegId, extra: &Option<String>) {
        if let Some(b) = self.legs.get_mut(&leg) {
            if !b.record.ringing {
                b.record.ringing = true;
                fx.report(b.record.event(EventStatus::Ringing, fx.wall_ms(), extra));
            }
        }
    }

    /// The leg answered with `dialog`; false for a leg the call does not know.
    pub(super) fn answered(
        &mut self,
        fx: &mut Effects,
        leg: LegId,
        dialog: Dialog,
        extra: &Option<String>,
    ) -> bool {
        let Some(b) = self.legs.get_mut(&leg) else {
            return false;
        };
        b.dialog = Some(dialog);
        b.record.answer_ms = Some(fx.wall_ms());
        b.state = BState::Answered;
        fx.report(
            b.record
                .event(EventStatus::OutAnswered, fx.wall_ms(), extra),
        );
        true
    }

    /// What B's answer settled, for its bridge.
    pub(super) fn set_answer(&mut self, leg: LegId, answer: BAnswer) {
        if let Some(b) = self.legs.get_mut(&leg) {
            b.answer = Some(answer);
        }
    }

    /// Bridges the answered leg of `target` with A: its id and answer, and the event that
    /// says so (for the app once the media is joined).
    pub(super) fn bridge(
        &mut self,
        fx: &Effects,
        target: TargetId,
        extra: &Option<String>,
    ) -> Option<(LegId, Option<BAnswer>, super::report::Report)> {
        let (leg, b) = self
            .legs
            .iter_mut()
            .find(|(_, b)| b.target == target && b.state == BState::Answered)?;
        let leg = *leg;
        b.state = BState::Bridged;
        let ev = b.record.event(EventStatus::OutBridged, fx.wall_ms(), extra);
        self.bridged = Some(leg);
        Some((leg, b.answer.clone(), ev))
    }

    /// BYE an answered leg (ringing ones are the fork's to cancel).
    pub(super) fn hang_up(&mut self, fx: &mut Effects, leg: LegId, cause: &str) {
        let Some(b) = self.legs.get_mut(&leg) else {
            return;
        };
        if !b.is_up() {
            return;
        }
        let Some(dialog) = b.dialog.as_mut() else {
            return;
        };
        let bye = dialog.request(Method::Bye, None);
        let peer = dialog.peer;
        b.state = BState::Ending;
        b.end_cause = Some(cause.to_string());
        if self.bridged == Some(leg) {
            self.bridged = None;
            fx.media(MediaCommand::Unbridge);
        }
        fx.push(Output::Send {
            leg,
            purpose: Purpose::Bye,
            request: bye,
            peer,
        });
    }

    /// A leg is over: its terminal event and CDR.
    pub(super) fn end(
        &mut self,
        fx: &mut Effects,
        leg: LegId,
        cause: &str,
        status: Option<u16>,
        extra: &Option<String>,
    ) {
        let Some(b) = self.legs.get_mut(&leg) else {
            return;
        };
        b.state = BState::Ended;
        for r in b.record.end(fx.wall_ms(), cause, status, extra) {
            fx.report(r);
        }
    }

    /// Our BYE on `leg` was answered (or got nothing): the leg is over.
    pub(super) fn bye_done(
        &mut self,
        fx: &mut Effects,
        leg: LegId,
        status: Option<u16>,
        extra: &Option<String>,
    ) {
        let Some(b) = self.legs.get(&leg) else {
            return;
        };
        if b.state != BState::Ended {
            let cause = b.end_cause.clone().unwrap_or_else(|| "hangup".into());
            self.end(fx, leg, &cause, status, extra);
        }
    }
}
