//! The table of live calls and bridges that the REST APIs read and act on: each call's state
//! as an app sees it (Bandwidth's `started|active|completed|rejected|transferring`), its
//! events, gathers and recordings, and the bridges that join two calls. Pure: the shell
//! (`actors::live`) feeds it what calls report and asks it what to tell them.
//!
//! Limits: a call keeps its last [`MAX_EVENTS`] events and [`MAX_GATHERS`] gathers; ended
//! calls stay readable until [`MAX_ENDED`] newer ones ended (their CDRs stay in the store);
//! bridges likewise.

mod bridge;
pub mod cloudua;

use std::collections::{HashMap, VecDeque};

pub use self::bridge::{BridgeError, BridgeState, BridgeView};
use crate::call::live::{GatherReason, LiveEvent};
use crate::store::AppId;
use crate::webhook::bandwidth::gather_id;

/// Events kept per call (`GET /calls/{id}/events`).
pub const MAX_EVENTS: usize = 200;
/// Gathers kept per call.
pub const MAX_GATHERS: usize = 50;
/// Ended calls (and completed bridges) kept readable.
pub const MAX_ENDED: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallDirection {
    In,
    Out,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallState {
    Started,
    Active,
    Rejected,
    Completed,
    Transferring,
}

impl CallState {
    pub fn as_str(self) -> &'static str {
        match self {
            CallState::Started => "started",
            CallState::Active => "active",
            CallState::Rejected => "rejected",
            CallState::Completed => "completed",
            CallState::Transferring => "transferring",
        }
    }
}

/// GET or POST for callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackMethod {
    Get,
    Post,
}

/// Where a call's callbacks go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub url: String,
    pub method: CallbackMethod,
    /// At most 10,000 ms (Bandwidth's limit).
    pub timeout_ms: u32,
    /// Tried once when `url` fails.
    pub fallback: Option<String>,
}

/// A call as the APIs show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// The call's `cmiuuid`.
    pub id: String,
    pub app: AppId,
    /// The Bandwidth user whose API placed or receives it, if any.
    pub user: Option<String>,
    pub direction: CallDirection,
    pub from: String,
    pub to: String,
    pub state: CallState,
    pub start_ms: u64,
    pub active_ms: Option<u64>,
    pub end_ms: Option<u64>,
    pub bridge: Option<String>,
    pub tag: Option<String>,
    pub callback: Option<Callback>,
    /// ringmaster's cause of the end.
    pub cause: Option<String>,
    /// Whether the app drives it live (false: a PCMO script does).
    pub live: bool,
    /// A Cloud SIP UA device's call: its session.
    pub cloudua: Option<Box<cloudua::Session>>,
}

/// One event in `GET /calls/{id}/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    pub id: String,
    pub time_ms: u64,
    pub name: String,
    pub data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatherView {
    pub id: u32,
    pub completed: bool,
    pub reason: Option<GatherReason>,
    pub digits: String,
    pub created_ms: u64,
    pub completed_ms: Option<u64>,
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingView {
    pub id: String,
    pub call: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub ok: bool,
}

/// A call's row: its view and what happened to it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub view: CallView,
    pub events: VecDeque<LoggedEvent>,
    pub gathers: VecDeque<GatherView>,
    pub recordings: Vec<RecordingView>,
    next_event: u64,
}

/// Which calls `list` returns.
#[derive(Debug, Clone, Default)]
pub struct CallFilter {
    pub user: Option<String>,
    pub bridge: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// What the shell must do after a call's event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Followup {
    /// The call left `bridge`; `other` stays in it and must leave it too.
    LeaveBridge { bridge: String, other: String },
}

#[derive(Debug, Default)]
pub struct CallTable {
    calls: HashMap<String, Entry>,
    /// Ended calls, oldest first.
    ended: VecDeque<String>,
    pub(crate) bridges: bridge::Bridges,
}

impl CallTable {
    pub fn started(&mut self, view: CallView) {
        let id = view.id.clone();
        self.calls.insert(
            id,
            Entry {
                view,
                events: VecDeque::new(),
                gathers: VecDeque::new(),
                recordings: Vec::new(),
                next_event: 0,
            },
        );
    }

    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.calls.get(id)
    }

    pub fn set_callback(&mut self, id: &str, callback: Callback) -> bool {
        match self.calls.get_mut(id) {
            Some(e) => {
                e.view.callback = Some(callback);
                true
            }
            None => false,
        }
    }

    pub fn set_tag(&mut self, id: &str, tag: Option<String>) {
        if let Some(e) = self.calls.get_mut(id) {
            e.view.tag = tag;
        }
    }

    /// Calls matching `f`, newest first.
    pub fn list(&self, f: &CallFilter) -> Vec<&CallView> {
        let mut v: Vec<&CallView> = self
            .calls
            .values()
            .map(|e| &e.view)
            .filter(|c| f.user.is_none() || c.user == f.user)
            .filter(|c| f.bridge.is_none() || c.bridge == f.bridge)
            .filter(|c| f.from.as_ref().is_none_or(|x| &c.from == x))
            .filter(|c| f.to.as_ref().is_none_or(|x| &c.to == x))
            .collect();
        v.sort_by(|a, b| b.start_ms.cmp(&a.start_ms).then(b.id.cmp(&a.id)));
        v
    }

    pub fn gather_started(&mut self, id: &str, gather: u32, tag: Option<String>, at_ms: u64) {
        if let Some(e) = self.calls.get_mut(id) {
            if e.gathers.len() == MAX_GATHERS {
                e.gathers.pop_front();
            }
            e.gathers.push_back(GatherView {
                id: gather,
                completed: false,
                reason: None,
                digits: String::new(),
                created_ms: at_ms,
                completed_ms: None,
                tag,
            });
        }
    }

    /// A call's event: its state, gathers and recordings follow, and it is logged under
    /// `name` with `data` (the platform's rendering, for `GET …/events`).
    pub fn event(
        &mut self,
        id: &str,
        ev: &LiveEvent,
        at_ms: u64,
        logged: Option<(String, String)>,
    ) -> Vec<Followup> {
        let Some(e) = self.calls.get_mut(id) else {
            return Vec::new();
        };
        let v = &mut e.view;
        match ev {
            LiveEvent::Incoming { answered: true } | LiveEvent::Answered => {
                v.state = CallState::Active;
                v.active_ms.get_or_insert(at_ms);
            }
            LiveEvent::Transferred => v.state = CallState::Transferring,
            LiveEvent::Gather {
                id: g,
                digits,
                reason,
                ..
            } => {
                if let Some(gv) = e.gathers.iter_mut().find(|x| x.id == *g) {
                    gv.completed = true;
                    gv.reason = Some(*reason);
                    gv.digits = digits.clone();
                    gv.completed_ms = Some(at_ms);
                }
            }
            LiveEvent::Recording {
                id: r,
                ok,
                started_ms,
                ended_ms,
            } => e.recordings.push(RecordingView {
                id: r.clone(),
                call: id.to_string(),
                start_ms: *started_ms,
                end_ms: *ended_ms,
                ok: *ok,
            }),
            LiveEvent::Ended { cause, .. } => {
                v.state = match (v.active_ms, cause.as_str()) {
                    (None, "rejected") => CallState::Rejected,
                    _ => CallState::Completed,
                };
                v.end_ms = Some(at_ms);
                v.cause = Some(cause.clone());
            }
            _ => {}
        }
        if let Some((name, data)) = logged {
            e.next_event += 1;
            if e.events.len() == MAX_EVENTS {
                e.events.pop_front();
            }
            e.events.push_back(LoggedEvent {
                id: format!("{}-{}", id, e.next_event),
                time_ms: at_ms,
                name,
                data,
            });
        }
        let mut follow = Vec::new();
        if let (LiveEvent::Ended { .. }, Some(b)) = (ev, v.bridge.clone()) {
            if let Some(other) = self.bridges.call_ended(&b, id, at_ms) {
                follow.push(Followup::LeaveBridge { bridge: b, other });
            }
        }
        follow
    }

    /// The call's actor is gone: a call an API user can read (a live-driven call, or one of a
    /// Bandwidth user) stays readable among the ended ones; a script-driven PIOPIY call leaves
    /// (its CDRs are its record), so PCMO traffic does not fill the table.
    pub fn finished(&mut self, id: &str, at_ms: u64) {
        if self
            .calls
            .get(id)
            .is_some_and(|e| !e.view.live && e.view.user.is_none())
        {
            self.calls.remove(id);
            return;
        }
        if let Some(e) = self.calls.get_mut(id) {
            if e.view.end_ms.is_none() {
                e.view.end_ms = Some(at_ms);
                e.view.state = CallState::Completed;
            }
            self.ended.push_back(id.to_string());
        }
        while self.ended.len() > MAX_ENDED {
            if let Some(old) = self.ended.pop_front() {
                self.calls.remove(&old);
            }
        }
    }

    /// The live call of Cloud UA domain `domain` whose `replyId` is `reply`.
    pub fn by_reply(&self, domain: &str, reply: &str) -> Option<&Entry> {
        self.calls.values().find(|e| {
            e.view
                .cloudua
                .as_ref()
                .is_some_and(|s| s.reply_id == reply && s.domain == domain)
        })
    }

    /// The newest call of Cloud UA domain `domain` placed with `sessionReferenceId` `r`.
    pub fn by_session_ref(&self, domain: &str, r: &serde_json::Value) -> Option<&Entry> {
        self.calls
            .values()
            .filter(|e| {
                e.view
                    .cloudua
                    .as_ref()
                    .is_some_and(|s| s.domain == domain && s.session_ref.as_ref() == Some(r))
            })
            .max_by_key(|e| (e.view.end_ms.is_none(), e.view.start_ms))
    }

    /// Changes a call's Cloud UA session.
    pub fn update_cloudua(&mut self, id: &str, f: impl FnOnce(&mut cloudua::Session)) {
        if let Some(s) = self.calls.get_mut(id).and_then(|e| e.view.cloudua.as_mut()) {
            f(s);
        }
    }

    pub fn is_ended(&self, id: &str) -> bool {
        self.calls.get(id).is_none_or(|e| e.view.end_ms.is_some())
    }

    pub(crate) fn set_bridge(&mut self, call: &str, bridge: Option<String>) {
        if let Some(e) = self.calls.get_mut(call) {
            e.view.bridge = bridge;
        }
    }

    /// All recordings of `user`'s calls, newest first.
    pub fn recordings(&self, user: &str) -> Vec<&RecordingView> {
        let mut v: Vec<&RecordingView> = self
            .calls
            .values()
            .filter(|e| e.view.user.as_deref() == Some(user))
            .flat_map(|e| e.recordings.iter())
            .collect();
        v.sort_by_key(|r| std::cmp::Reverse(r.start_ms));
        v
    }
}

/// A gather's id as the API shows it, and back.
pub fn parse_gather_id(s: &str) -> Option<u32> {
    s.strip_prefix("g-")?.parse().ok()
}

/// The Bandwidth id of gather `n` (re-exported for the API).
pub fn gather_label(n: u32) -> String {
    gather_id(n)
}

#[cfg(test)]
mod tests;
