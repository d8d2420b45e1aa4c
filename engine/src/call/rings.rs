//! The call's rings: one per connect round of the script (and ring 0, the dialling of a
//! placed call's A leg), from the interpreter's `Ring` until its fork reported `Done`.

use std::collections::HashMap;

use pcmo::{Target, TargetId};

use super::io::RingId;

/// A ring of the script's (or the A leg's, for a call we place), until its fork is done.
struct RingState {
    caller_id: Option<String>,
    targets: HashMap<TargetId, Target>,
    /// Its fork started: it will report until done, and the call waits for that.
    forked: bool,
    /// `call_type: "video"`.
    video: bool,
}

/// The call's rings, from the script's `Ring` (or the dialling of a placed call's A leg)
/// until their forks are done.
pub(super) struct Rings {
    rings: HashMap<RingId, RingState>,
    next: u32,
}

impl Default for Rings {
    fn default() -> Self {
        // Ring 0 is a placed call's A leg.
        Rings {
            rings: HashMap::new(),
            next: 1,
        }
    }
}

impl Rings {
    /// A ring of the script's: its id, and whether it asks for video.
    pub(super) fn start(&mut self, ring: &pcmo::Ring) -> (RingId, bool) {
        let id = RingId(self.next);
        self.next += 1;
        let video = ring.media == pcmo::MediaKind::Video;
        let state = RingState {
            caller_id: ring.caller_id.as_ref().map(|c| c.as_str().to_string()),
            targets: ring
                .targets
                .iter()
                .map(|t| (t.target_id, t.target.clone()))
                .collect(),
            forked: false,
            video,
        };
        self.rings.insert(id, state);
        (id, video)
    }

    /// The ring `id` that dials a placed call's one target as `caller_id`.
    pub(super) fn start_dial(&mut self, id: RingId, caller_id: String, target: (TargetId, Target)) {
        let state = RingState {
            caller_id: Some(caller_id),
            targets: [target].into_iter().collect(),
            forked: false,
            video: false,
        };
        self.rings.insert(id, state);
    }

    /// A live ring's caller id (if the script set one) and whether it asks for video.
    pub(super) fn settings(&self, id: RingId) -> Option<(Option<&str>, bool)> {
        self.rings
            .get(&id)
            .map(|r| (r.caller_id.as_deref(), r.video))
    }

    /// The target `target` of ring `id`, while the ring lasts.
    pub(super) fn target(&self, id: RingId, target: TargetId) -> Option<&Target> {
        self.rings.get(&id)?.targets.get(&target)
    }

    /// The ring's fork started: the call waits for it to be done.
    pub(super) fn set_forked(&mut self, id: RingId) {
        if let Some(r) = self.rings.get_mut(&id) {
            r.forked = true;
        }
    }

    pub(super) fn is_forked(&self, id: RingId) -> bool {
        self.rings.get(&id).is_some_and(|r| r.forked)
    }

    /// No fork will report any more (a ring leaves when its fork is done).
    pub(super) fn all_done(&self) -> bool {
        self.rings.values().all(|r| !r.forked)
    }

    /// Per forked ring, those of `targets` it rings (all of its targets for `None`).
    pub(super) fn forked_targets(
        &self,
        targets: Option<&[TargetId]>,
    ) -> Vec<(RingId, Vec<TargetId>)> {
        self.rings
            .iter()
            .filter(|(_, r)| r.forked)
            .map(|(id, r)| {
                let mine: Vec<TargetId> = match targets {
                    Some(wanted) => wanted
                        .iter()
                        .filter(|t| r.targets.contains_key(t))
                        .copied()
                        .collect(),
                    None => r.targets.keys().copied().collect(),
                };
                (*id, mine)
            })
            .filter(|(_, mine)| !mine.is_empty() || targets.is_none())
            .collect()
    }

    /// A ring's fork reported its last event: its state goes (a bridged call holds no ring
    /// state for its remaining life), and the map's table with the last one.
    pub(super) fn done(&mut self, id: RingId) {
        self.rings.remove(&id);
        if self.rings.is_empty() {
            self.rings = HashMap::new();
        }
    }
}
