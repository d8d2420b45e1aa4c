//! How a connect rings: the plan ([`RingPlan`]) and the state machine that carries it out.
//!
//! Rules (PRODUCT.md "Call flows that must work"), and the choices made where it is silent:
//! * **Group** (`ring_type: "group"`, v3 `simultaneous`): every target of a round rings at once
//!   with one deadline, `timeout` after the round starts. The first to answer wins; the others
//!   are cancelled. The round fails when every leg has failed or the deadline passes.
//! * **Single** (the default; v3 `sequential`): the targets ring one after another, each with
//!   its own `timeout`. A single target is just the one-element case.
//! * **Rounds** (`loop`): a failed round starts again from the first target, up to `loop`
//!   rounds in all.
//! * **Not registered**: a SIP user with no live registration fails at once (the engine says
//!   so without ringing), and the next target or the end of the round follows immediately. It
//!   is tried again in a later round (it may have registered meanwhile), but a round in which
//!   *every* leg was unregistered ends the connect: ringing again a moment later would find the
//!   same registrations.
//! * **Busy and decline** (486, 600, 603 and any other 6xx): that target is not tried again in
//!   later rounds. Only that target: the other targets of the round keep ringing, and later
//!   rounds still ring them.
//! * **Answered**: cancel the other legs, answer the A leg if needed, bridge, start the
//!   `duration` timer (and recording if asked). When the B leg hangs up the connect is over and
//!   the script goes on; when the timer fires the whole call is hung up.
//! * **Failed**: post `ConnectFinished` with the outcome and go on with the next action.

use std::time::Duration;

use super::Connect;
use crate::action::param::ParamValue;
use crate::command::{Command, ConnectOutcome, HangupReason, Ring, RingTarget, ScriptEvent};
use crate::event::{Event, FailReason};
use crate::id::{TargetId, TimerId};
use crate::limits::LOOP_RANGE;
use crate::step::{Effects, Flow, Step};

/// Whether targets ring together or in turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RingType {
    /// One after another (legacy `single`, the default; v3 `sequential`).
    Single,
    /// All at once, first answer wins (legacy `group`; v3 `simultaneous`).
    Group,
}

/// How many rounds of ringing (`loop`): 1–10, 1 = ring once, no retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoopCount(u8);

impl LoopCount {
    /// A count, if it is within 1–10.
    pub fn new(rounds: u64) -> Option<Self> {
        let (min, max) = LOOP_RANGE;
        (min..=max)
            .contains(&rounds)
            .then(|| LoopCount(u8::try_from(rounds).unwrap_or(1)))
    }

    /// The number of rounds.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for LoopCount {
    /// One round.
    fn default() -> Self {
        LoopCount(1)
    }
}

/// How long one round (group) or one target attempt (single) rings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RingTimeout(Duration);

impl RingTimeout {
    /// A timeout of `secs` seconds.
    pub fn from_secs(secs: u64) -> Self {
        RingTimeout(Duration::from_secs(secs))
    }

    /// The timeout.
    pub fn as_duration(self) -> Duration {
        self.0
    }
}

/// The hunt plan of a connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RingPlan {
    /// Together or in turn.
    pub ring_type: RingType,
    /// Rounds.
    pub loops: LoopCount,
    /// Per round (group) or per attempt (single).
    pub timeout: RingTimeout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegState {
    /// Asked for, no answer yet.
    Pending,
    /// Answered, failed or cancelled: nothing more is expected from it.
    Settled,
}

#[derive(Debug)]
struct Leg {
    id: TargetId,
    index: usize,
    state: LegState,
}

/// What happened to the legs so far, for the outcome of a failed connect.
#[derive(Debug, Default)]
struct Tally {
    no_answer: bool,
    busy: bool,
    declined: bool,
    failed: bool,
    not_registered: bool,
}

impl Tally {
    fn add(&mut self, reason: FailReason) {
        match reason {
            FailReason::NotRegistered => self.not_registered = true,
            FailReason::Busy => self.busy = true,
            FailReason::Declined => self.declined = true,
            FailReason::NoAnswer => self.no_answer = true,
            FailReason::Cancelled | FailReason::Failed(_) => self.failed = true,
        }
    }

    /// The most telling outcome: someone rang without answering, else busy, else declined,
    /// else another failure, else (everyone unregistered) not registered.
    fn outcome(&self) -> ConnectOutcome {
        if self.no_answer {
            ConnectOutcome::NoAnswer
        } else if self.busy {
            ConnectOutcome::Busy
        } else if self.declined {
            ConnectOutcome::Declined
        } else if self.failed || !self.not_registered {
            ConnectOutcome::Failed
        } else {
            ConnectOutcome::NotRegistered
        }
    }
}

/// A connect whose target answered: what it still needs while the call is bridged, which is
/// most of a call's life. The ringing state (the targets, the tally, the rounds) is let go.
#[derive(Debug)]
pub(crate) struct Bridged {
    id: TargetId,
    /// The `duration` cap's timer.
    limit: TimerId,
    /// Every leg the connect started, so a loser that answers late is recognised.
    legs: Box<[TargetId]>,
}

/// A running connect.
#[derive(Debug)]
pub(crate) struct Ringing {
    connect: Connect,
    round: u8,
    /// Per target: true once a busy/decline means it is not tried again.
    excluded: Vec<bool>,
    /// Single: the next target index to try in this round.
    cursor: usize,
    /// Every leg this connect started, so late events about old legs are recognised.
    legs: Vec<Leg>,
    timer: Option<TimerId>,
    round_only_unregistered: bool,
    tally: Tally,
}

impl Ringing {
    /// Starts ringing.
    pub(crate) fn start(connect: Connect, fx: &mut Effects<'_>) -> Flow {
        let targets = connect.targets.len();
        let mut ringing = Ringing {
            connect,
            round: 1,
            excluded: vec![false; targets],
            cursor: 0,
            legs: Vec::new(),
            timer: None,
            round_only_unregistered: true,
            tally: Tally::default(),
        };
        match ringing.start_round(fx) {
            Some(flow) => flow,
            None => Flow::Wait(Step::Connect(Box::new(ringing))),
        }
    }

    pub(crate) fn on_event(&mut self, fx: &mut Effects<'_>, event: &Event) -> Option<Flow> {
        match event {
            Event::TargetAnswered { target_id } => self.answered(fx, *target_id),
            Event::TargetFailed { target_id, reason } => self.failed(fx, *target_id, *reason),
            // A leg that ends before it was bridged has failed, whatever the engine calls it.
            Event::BLegHungUp { target_id } => self.failed(fx, *target_id, FailReason::Cancelled),
            Event::TimerFired(id) if self.timer == Some(*id) => self.timed_out(fx),
            _ => None,
        }
    }

    /// The caller hung up: cancel whatever still rings.
    pub(crate) fn abort(&mut self, fx: &mut Effects<'_>) {
        let pending = self.settle_pending();
        if !pending.is_empty() {
            fx.push(Command::Cancel {
                target_ids: pending,
            });
        }
    }

    fn is_excluded(&self, index: usize) -> bool {
        self.excluded.get(index).copied().unwrap_or(true)
    }

    fn start_round(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        self.round_only_unregistered = true;
        self.cursor = 0;
        match self.connect.plan.ring_type {
            RingType::Group => {
                let indices: Vec<usize> = (0..self.connect.targets.len())
                    .filter(|i| !self.is_excluded(*i))
                    .collect();
                if indices.is_empty() {
                    return Some(self.give_up(fx));
                }
                self.ring(fx, &indices);
                None
            }
            RingType::Single => self.next_attempt(fx),
        }
    }

    fn next_attempt(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        let next = (self.cursor..self.connect.targets.len()).find(|i| !self.is_excluded(*i));
        match next {
            Some(index) => {
                self.cursor = index + 1;
                self.ring(fx, &[index]);
                None
            }
            None => self.round_over(fx),
        }
    }

    fn ring(&mut self, fx: &mut Effects<'_>, indices: &[usize]) {
        let timeout = self.connect.plan.timeout.as_duration();
        let deadline = fx.deadline(timeout);
        let mut targets = Vec::with_capacity(indices.len());
        self.legs.reserve(indices.len());
        for &index in indices {
            let Some(target) = self.connect.targets.get(index) else {
                continue;
            };
            let target_id = fx.target_id();
            self.legs.push(Leg {
                id: target_id,
                index,
                state: LegState::Pending,
            });
            targets.push(RingTarget {
                target_id,
                target: target.clone(),
                deadline,
            });
        }
        fx.push(Command::Ring(Ring {
            kind: self.connect.kind,
            targets,
            caller_id: self.connect.caller_id.clone(),
            media: self.connect.media,
            waiting_music: self.connect.waiting_music.clone(),
            metadata: (!self.connect.metadata.is_empty())
                .then(|| ParamValue::Data(self.connect.metadata.clone()).to_extra_params()),
        }));
        self.timer = Some(fx.timer(timeout));
    }

    fn round_over(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        self.timer = None;
        let anyone_left = (0..self.excluded.len()).any(|i| !self.is_excluded(i));
        if self.round < self.connect.plan.loops.get()
            && anyone_left
            && !self.round_only_unregistered
        {
            self.round += 1;
            self.start_round(fx)
        } else {
            Some(self.give_up(fx))
        }
    }

    fn give_up(&mut self, fx: &mut Effects<'_>) -> Flow {
        fx.push(Command::PostEvent(ScriptEvent::ConnectFinished {
            outcome: self.tally.outcome(),
            answered: None,
        }));
        Flow::Next
    }

    /// Marks every pending leg settled and returns their ids.
    fn settle_pending(&mut self) -> Vec<TargetId> {
        self.legs
            .iter_mut()
            .filter(|leg| leg.state == LegState::Pending)
            .map(|leg| {
                leg.state = LegState::Settled;
                leg.id
            })
            .collect()
    }

    fn answered(&mut self, fx: &mut Effects<'_>, id: TargetId) -> Option<Flow> {
        let leg = self.legs.iter_mut().find(|leg| leg.id == id)?;
        if leg.state == LegState::Settled {
            // Its 200 OK crossed our CANCEL (or the deadline): make sure it is hung up.
            fx.push(Command::Cancel {
                target_ids: vec![id],
            });
            return None;
        }
        leg.state = LegState::Settled;
        let losers = self.settle_pending();
        if !losers.is_empty() {
            fx.push(Command::Cancel { target_ids: losers });
        }
        self.timer = None;
        fx.ensure_answered();
        fx.push(Command::Bridge { target_id: id });
        if let Some(recording) = self.connect.recording {
            fx.push(Command::Record(recording));
        }
        let limit = fx.timer(self.connect.duration.as_duration());
        let legs = self.legs.iter().map(|leg| leg.id).collect();
        Some(Flow::Wait(Step::Bridged(Box::new(Bridged {
            id,
            limit,
            legs,
        }))))
    }

    fn failed(&mut self, fx: &mut Effects<'_>, id: TargetId, reason: FailReason) -> Option<Flow> {
        let leg = self
            .legs
            .iter_mut()
            .find(|leg| leg.id == id && leg.state == LegState::Pending)?;
        leg.state = LegState::Settled;
        let index = leg.index;
        self.tally.add(reason);
        if reason != FailReason::NotRegistered {
            self.round_only_unregistered = false;
        }
        if reason.ends_target() {
            if let Some(excluded) = self.excluded.get_mut(index) {
                *excluded = true;
            }
        }
        match self.connect.plan.ring_type {
            RingType::Group if self.legs.iter().any(|leg| leg.state == LegState::Pending) => None,
            RingType::Group => self.round_over(fx),
            RingType::Single => self.next_attempt(fx),
        }
    }

    fn timed_out(&mut self, fx: &mut Effects<'_>) -> Option<Flow> {
        self.timer = None;
        let pending = self.settle_pending();
        if !pending.is_empty() {
            fx.push(Command::Cancel {
                target_ids: pending,
            });
        }
        self.tally.no_answer = true;
        self.round_only_unregistered = false;
        match self.connect.plan.ring_type {
            RingType::Group => self.round_over(fx),
            RingType::Single => self.next_attempt(fx),
        }
    }
}

impl Bridged {
    pub(crate) fn on_event(&mut self, fx: &mut Effects<'_>, event: &Event) -> Option<Flow> {
        let (id, limit) = (self.id, self.limit);
        let finished = ScriptEvent::ConnectFinished {
            outcome: ConnectOutcome::Answered,
            answered: Some(id),
        };
        match event {
            Event::BLegHungUp { target_id } | Event::TargetFailed { target_id, .. }
                if *target_id == id =>
            {
                fx.push(Command::Unbridge { target_id: id });
                fx.push(Command::PostEvent(finished));
                Some(Flow::Next)
            }
            Event::TimerFired(timer) if *timer == limit => {
                fx.push(Command::PostEvent(finished));
                Some(Flow::Hangup(HangupReason::DurationLimit))
            }
            Event::TargetAnswered { target_id } if self.legs.contains(target_id) => {
                fx.push(Command::Cancel {
                    target_ids: vec![*target_id],
                });
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loop_count_range() {
        assert_eq!(LoopCount::new(0), None);
        assert_eq!(LoopCount::new(10).map(LoopCount::get), Some(10));
        assert_eq!(LoopCount::new(11), None);
        assert_eq!(LoopCount::default().get(), 1);
    }

    #[test]
    fn outcome_prefers_no_answer_then_busy_then_declined() {
        let mut t = Tally::default();
        t.add(FailReason::NotRegistered);
        assert_eq!(t.outcome(), ConnectOutcome::NotRegistered);
        t.add(FailReason::Failed(503));
        assert_eq!(t.outcome(), ConnectOutcome::Failed);
        t.add(FailReason::Declined);
        assert_eq!(t.outcome(), ConnectOutcome::Declined);
        t.add(FailReason::Busy);
        assert_eq!(t.outcome(), ConnectOutcome::Busy);
        t.add(FailReason::NoAnswer);
        assert_eq!(t.outcome(), ConnectOutcome::NoAnswer);
    }
}
