//! Bridges of two calls (Bandwidth `bridges`): which calls a bridge holds, whether their
//! audio flows (`bridgeAudio`, false = on hold), and what the shell must tell the calls when
//! a bridge is made, changed, or loses a call. A bridge holds at most two calls, a call is in
//! at most one bridge, and only calls of the bridge's user can join it (the API checks the
//! user's rights; this checks the state).

use std::collections::{HashMap, VecDeque};

use super::{CallTable, MAX_ENDED};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeState {
    /// Fewer than two calls: nothing to relay yet.
    Created,
    Active,
    /// `bridgeAudio: false`.
    Hold,
    /// A call of it ended.
    Completed,
}

impl BridgeState {
    pub fn as_str(self) -> &'static str {
        match self {
            BridgeState::Created => "created",
            BridgeState::Active => "active",
            BridgeState::Hold => "hold",
            BridgeState::Completed => "completed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeView {
    pub id: String,
    pub user: String,
    pub state: BridgeState,
    pub call_ids: Vec<String>,
    pub bridge_audio: bool,
    pub created_ms: u64,
    pub activated_ms: Option<u64>,
    pub completed_ms: Option<u64>,
}

/// Why a bridge request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    #[error("a bridge holds at most two calls")]
    TooManyCalls,
    #[error("no such call: {0}")]
    UnknownCall(String),
    #[error("call {0} has ended")]
    CallEnded(String),
    #[error("call {0} is already in another bridge")]
    CallBridged(String),
    #[error("no such bridge")]
    NotFound,
    #[error("the bridge is completed")]
    Completed,
}

/// What the shell must do to the calls after a bridge changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BridgePlan {
    /// Join these two calls (each to the other's B side), then hold them if `hold`.
    pub join: Option<(String, String)>,
    /// These calls leave their bridge.
    pub leave: Vec<String>,
    /// Hold (true) or resume (false) the joined pair.
    pub hold: Option<bool>,
}

#[derive(Debug, Default)]
pub(crate) struct Bridges {
    map: HashMap<String, BridgeView>,
    completed: VecDeque<String>,
}

impl Bridges {
    /// A call of `bridge` ended: the bridge is completed; returns the call that stays.
    pub(super) fn call_ended(&mut self, bridge: &str, call: &str, at_ms: u64) -> Option<String> {
        let b = self.map.get_mut(bridge)?;
        let other = b.call_ids.iter().find(|c| c.as_str() != call).cloned();
        if b.state != BridgeState::Completed {
            b.state = BridgeState::Completed;
            b.completed_ms = Some(at_ms);
            self.completed.push_back(bridge.to_string());
        }
        while self.completed.len() > MAX_ENDED {
            if let Some(old) = self.completed.pop_front() {
                self.map.remove(&old);
            }
        }
        other
    }
}

impl CallTable {
    pub fn bridge(&self, id: &str) -> Option<&BridgeView> {
        self.bridges.map.get(id)
    }

    pub fn bridges_of(&self, user: &str) -> Vec<&BridgeView> {
        let mut v: Vec<&BridgeView> = self
            .bridges
            .map
            .values()
            .filter(|b| b.user == user)
            .collect();
        v.sort_by(|a, b| b.created_ms.cmp(&a.created_ms).then(b.id.cmp(&a.id)));
        v
    }

    /// `calls` may make up bridge `bridge` of `user`: at most two, each a live call of that
    /// user (another user's call reads as unknown) and in no other bridge.
    fn check_calls(&self, calls: &[String], bridge: &str, user: &str) -> Result<(), BridgeError> {
        if calls.len() > 2 {
            return Err(BridgeError::TooManyCalls);
        }
        for c in calls {
            let e = self
                .calls
                .get(c)
                .filter(|e| e.view.user.as_deref() == Some(user))
                .ok_or_else(|| BridgeError::UnknownCall(c.clone()))?;
            if e.view.end_ms.is_some() {
                return Err(BridgeError::CallEnded(c.clone()));
            }
            if e.view.bridge.as_deref().is_some_and(|b| b != bridge) {
                return Err(BridgeError::CallBridged(c.clone()));
            }
        }
        Ok(())
    }

    /// A new bridge `id` of `user`'s `calls` (none, one or two).
    pub fn create_bridge(
        &mut self,
        id: String,
        user: &str,
        calls: Vec<String>,
        bridge_audio: bool,
        at_ms: u64,
    ) -> Result<BridgePlan, BridgeError> {
        self.check_calls(&calls, &id, user)?;
        let view = BridgeView {
            id: id.clone(),
            user: user.to_string(),
            state: BridgeState::Created,
            call_ids: Vec::new(),
            bridge_audio,
            created_ms: at_ms,
            activated_ms: None,
            completed_ms: None,
        };
        self.bridges.map.insert(id.clone(), view);
        self.update_bridge(&id, Some(calls), None, at_ms)
    }

    /// Changes a bridge's calls and/or `bridgeAudio`.
    pub fn update_bridge(
        &mut self,
        id: &str,
        calls: Option<Vec<String>>,
        bridge_audio: Option<bool>,
        at_ms: u64,
    ) -> Result<BridgePlan, BridgeError> {
        let b = self.bridges.map.get(id).ok_or(BridgeError::NotFound)?;
        if b.state == BridgeState::Completed {
            return Err(BridgeError::Completed);
        }
        let old_calls = b.call_ids.clone();
        let old_audio = b.bridge_audio;
        let user = b.user.clone();
        let new_calls = calls.unwrap_or_else(|| old_calls.clone());
        self.check_calls(&new_calls, id, &user)?;
        let audio = bridge_audio.unwrap_or(old_audio);
        let mut plan = BridgePlan::default();
        let pair_changed = new_calls != old_calls;
        if pair_changed {
            plan.leave = if old_calls.len() == 2 {
                old_calls.clone()
            } else {
                Vec::new()
            };
            if let [x, y] = new_calls.as_slice() {
                plan.join = Some((x.clone(), y.clone()));
                plan.hold = (!audio).then_some(true);
            }
        } else if new_calls.len() == 2 && audio != old_audio {
            plan.hold = Some(!audio);
        }
        for c in &old_calls {
            if !new_calls.contains(c) {
                self.set_bridge(c, None);
            }
        }
        for c in &new_calls {
            self.set_bridge(c, Some(id.to_string()));
        }
        let Some(b) = self.bridges.map.get_mut(id) else {
            return Err(BridgeError::NotFound);
        };
        b.call_ids = new_calls;
        b.bridge_audio = audio;
        b.state = match (b.call_ids.len(), audio) {
            (2, true) => BridgeState::Active,
            (2, false) => BridgeState::Hold,
            _ => BridgeState::Created,
        };
        if b.state == BridgeState::Active {
            b.activated_ms.get_or_insert(at_ms);
        }
        Ok(plan)
    }
}
