//! Video in a call: a second media task (its own port pairs, a plain relay) that exists only
//! when a `connect` asks for video (`call_type: "video"`) and the caller offered plain-RTP
//! video. Its ports are allocated when the ring starts, before its targets are resolved, so
//! the B legs' offer can carry them; if allocation fails the call goes on audio-only.
//!
//! Video is relayed, never decoded or recorded; it has no inactivity timeout (a camera may
//! be switched off for minutes while audio flows).

use super::core::Call;
use super::io::Output;
use super::media_plan::{BAnswer, Remote};
use super::LegId;
use crate::media::sdp::policy::CallType;
use crate::media::sdp::Anchor;
use crate::media::{Command as MediaCommand, Leg, PayloadTypes};

/// Where the call's video task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum VideoState {
    #[default]
    None,
    Allocating,
    Ready,
    Failed,
}

impl Call {
    /// A ring asks for `video`: allocate the video task if the caller offered video.
    pub(super) fn want_video(&mut self, video: bool) {
        let offered = self.plan.as_ref().is_some_and(|p| p.offers_video());
        if video && offered && self.video == VideoState::None {
            self.video = VideoState::Allocating;
            self.out.push_back(Output::AllocateVideo);
        }
    }

    pub(super) fn on_video_ready(&mut self, a: Anchor, b: Anchor) {
        let Some(plan) = self.plan.as_mut() else {
            return;
        };
        if plan.set_video_anchors(a, b).is_err() {
            self.video = VideoState::Failed;
            return;
        }
        self.video = VideoState::Ready;
        self.video_media(MediaCommand::SetRtpTimeout { after: None });
    }

    pub(super) fn on_video_failed(&mut self) {
        tracing::info!(call = %self.setup.cmiuuid, "no video ports; the call stays audio-only");
        self.video = VideoState::Failed;
    }

    /// The offer for a ring's B legs carries video only if the ring asked and ports exist.
    pub(super) fn call_type_for_ring(&mut self, video: bool) {
        let call_type = if video && self.video == VideoState::Ready {
            CallType::Video
        } else {
            CallType::Audio
        };
        if let Some(plan) = self.plan.as_mut() {
            let _ = plan.set_call_type(call_type);
        }
    }

    pub(super) fn video_media(&mut self, c: MediaCommand) {
        if self.video == VideoState::Ready {
            self.out.push_back(Output::VideoMedia(c));
        }
    }

    /// Points the video task at both legs once B accepted video.
    pub(super) fn b_video(&mut self, b: LegId, answer: &BAnswer) {
        let Some((remote, pts)) = answer.video else {
            return;
        };
        if let Some((a_remote, a_pts)) = self.plan.as_ref().and_then(|p| p.a_video()) {
            self.signalling_to_media(LegId::A, true);
            self.video_leg(Leg::A, a_remote, a_pts);
        }
        self.signalling_to_media(b, true);
        self.video_leg(Leg::B, remote, pts);
    }

    fn video_leg(&mut self, leg: Leg, (rtp, rtcp): Remote, allowed: PayloadTypes) {
        self.video_media(MediaCommand::SetRemote { leg, rtp, rtcp });
        self.video_media(MediaCommand::SetPayloadTypes { leg, allowed });
        self.video_media(MediaCommand::OpenLatchWindow { leg });
    }

    /// A re-INVITE moved a leg's video.
    pub(super) fn video_moved(&mut self, leg: Leg, remote: Option<Remote>) {
        if let Some((rtp, rtcp)) = remote {
            self.video_media(MediaCommand::SetRemote { leg, rtp, rtcp });
            self.video_media(MediaCommand::OpenLatchWindow { leg });
        }
    }

    /// Relay both legs' media (audio, and video when it is carried).
    pub(super) fn bridge_media(&mut self) {
        self.media(MediaCommand::Bridge);
        self.video_media(MediaCommand::Bridge);
    }

    pub(super) fn unbridge_media(&mut self) {
        self.media(MediaCommand::Unbridge);
        self.video_media(MediaCommand::Unbridge);
    }
}
