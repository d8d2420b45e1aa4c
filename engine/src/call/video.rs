//! Video in a call: a second media task (its own port pairs, a plain relay) that exists only
//! when a `connect` asks for video (`call_type: "video"`) and the caller offered plain-RTP
//! video. Its ports are allocated when the ring starts, before its targets are resolved, so
//! the B legs' offer can carry them; if allocation fails the call goes on audio-only.
//!
//! Video is relayed, never decoded or recorded; it has no inactivity timeout (a camera may
//! be switched off for minutes while audio flows).

use std::net::IpAddr;

use super::effects::Effects;
use super::io::Output;
use super::media_plan::{MediaPlan, Remote};
use crate::media::sdp::policy::CallType;
use crate::media::sdp::Anchor;
use crate::media::{Command as MediaCommand, Leg, PayloadTypes};

/// Where the call's video task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum VideoState {
    #[default]
    None,
    Allocating,
    Ready,
    Failed,
}

/// A call's video task, as far as the call knows it.
#[derive(Debug, Default)]
pub(super) struct Video {
    state: VideoState,
}

impl Video {
    /// A ring asks for `video`: allocate the video task if the caller offered video.
    pub(super) fn want(&mut self, fx: &mut Effects, video: bool, plan: Option<&MediaPlan>) {
        let offered = plan.is_some_and(|p| p.offers_video());
        if video && offered && self.state == VideoState::None {
            self.state = VideoState::Allocating;
            fx.push(Output::AllocateVideo);
        }
    }

    /// The video ports are bound: the plan learns them, the task is told not to time out.
    pub(super) fn on_ready(
        &mut self,
        fx: &mut Effects,
        plan: Option<&mut MediaPlan>,
        a: Anchor,
        b: Anchor,
    ) {
        let Some(plan) = plan else {
            return;
        };
        if plan.set_video_anchors(a, b).is_err() {
            self.state = VideoState::Failed;
            return;
        }
        self.state = VideoState::Ready;
        self.media(fx, MediaCommand::SetRtpTimeout { after: None });
    }

    pub(super) fn on_failed(&mut self, fx: &mut Effects) {
        tracing::info!(call = %fx.call(), "no video ports; the call stays audio-only");
        self.state = VideoState::Failed;
    }

    /// The offer for a ring's B legs carries video only if the ring asked and ports exist.
    pub(super) fn call_type(&self, video: bool) -> CallType {
        if video && self.state == VideoState::Ready {
            CallType::Video
        } else {
            CallType::Audio
        }
    }

    /// A command for the video task, if there is one.
    pub(super) fn media(&self, fx: &mut Effects, c: MediaCommand) {
        if self.state == VideoState::Ready {
            fx.push(Output::VideoMedia(c));
        }
    }

    /// Points the video task at one leg once B accepted video: where the leg's signalling
    /// comes from (its RTP may latch from there), where it receives, what it may send.
    pub(super) fn open_leg(
        &self,
        fx: &mut Effects,
        leg: Leg,
        source: Option<IpAddr>,
        (rtp, rtcp): Remote,
        allowed: PayloadTypes,
    ) {
        if let Some(ip) = source {
            self.media(fx, MediaCommand::SetSignallingSource { leg, ip });
        }
        self.media(fx, MediaCommand::SetRemote { leg, rtp, rtcp });
        self.media(fx, MediaCommand::SetPayloadTypes { leg, allowed });
        self.media(fx, MediaCommand::OpenLatchWindow { leg });
    }

    /// A re-INVITE moved a leg's video.
    pub(super) fn moved(&self, fx: &mut Effects, leg: Leg, remote: Option<Remote>) {
        if let Some((rtp, rtcp)) = remote {
            self.media(fx, MediaCommand::SetRemote { leg, rtp, rtcp });
            self.media(fx, MediaCommand::OpenLatchWindow { leg });
        }
    }
}
