//! The SDP side of an anchored call: A's offer, what B is offered, what A is answered.
//!
//! Every SDP that leaves ringmaster carries ringmaster's relay address and ports, never a
//! leg's own (that is what makes legs behind NAT work and what lets media actions run inside
//! any call). Built on `media::sdp`'s parse/anchor/policy; this file only keeps the state of
//! one call's offer/answer exchange.
//!
//! Audio always has one port pair per leg. Video gets its own pairs only when a `connect`
//! asks for it (`call_type: "video"`) and A offered plain-RTP video: then the plan is redone
//! with the video m-line relayed on those ports; otherwise video is disabled (port 0).

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;

use crate::media::codec::offer_both_laws;
use crate::media::rtp::PayloadTypes;
use crate::media::sdp::policy::{self, CallType, SUPPORTED};
use crate::media::sdp::{anchor, Anchor, LocalOrigin, MediaKind, SessionDescription};
use crate::media::srtp::LegKeys;
use crate::media::{Leg, LegCodecs};

use super::sdes::{SdesPlan, SrtpSetup};

/// Why a leg's SDP cannot be used (answered 488).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpProblem {
    #[error("no SDP offer")]
    NoOffer,
    #[error("unreadable SDP")]
    Unreadable,
    #[error("no audio stream with PCMU or PCMA")]
    NoCommonCodec,
    #[error("the answer does not match the offer")]
    BadAnswer,
    #[error(transparent)]
    Srtp(#[from] crate::media::sdp::crypto::SrtpRefusal),
}

/// Remote RTP and optional RTCP address of a leg.
pub type Remote = (SocketAddr, Option<SocketAddr>);

/// What a B leg's answer (or its early-media SDP) settles.
#[derive(Debug, Clone, PartialEq)]
pub struct BAnswer {
    /// Where B receives.
    pub remote: Remote,
    /// What B may send us.
    pub payload_types: PayloadTypes,
    /// B's law and telephone-event type, for the media task.
    pub codecs: Option<LegCodecs>,
    /// B's video, when it accepted the video we offered: where it receives, what it sends.
    pub video: Option<(Remote, PayloadTypes)>,
    /// B's SRTP keys (`None`: plain RTP), for the media task.
    pub srtp: Option<LegKeys>,
    /// The answer for A if A is still unanswered: B's answer on our ports when A offered B's
    /// law, else our own answer from A's offer (then the media task transcodes).
    pub to_a: Bytes,
}

/// A mid-call SDP re-anchored for the other leg.
#[derive(Debug, Clone, PartialEq)]
pub struct Relayed {
    pub sdp: Bytes,
    /// Where the sender now receives audio (None on hold with `c=0.0.0.0`, or disabled).
    pub audio: Option<Remote>,
    /// Same for video.
    pub video: Option<Remote>,
    /// The sender's SRTP keys as this SDP left them (`None`: plain), for `SetSrtp`.
    pub srtp: Option<LegKeys>,
}

/// One call's offer/answer state.
///
/// The SDPs are kept encoded and parsed again on the rare steps that need them (a B answer,
/// an answer of our own, a re-plan for video): parsed, the four of them were ~4 KiB of every
/// call's memory for the whole call. What the call asks often is kept as plain values.
#[derive(Debug, Clone)]
pub struct MediaPlan {
    /// A's offer as it came (its own copy, not a slice of the INVITE's datagram), re-planned
    /// when the call type changes.
    offer: Bytes,
    call_type: CallType,
    /// Which m-lines of the filtered offer the relay carries.
    relayed: Vec<bool>,
    /// The relayed audio m-line.
    index: usize,
    /// The relayed video m-line, while video is carried.
    video_index: Option<usize>,
    /// From the filtered offer: where A receives audio, what A may send, its codecs.
    a_remote: Option<Remote>,
    a_payload_types: PayloadTypes,
    a_codecs: Option<LegCodecs>,
    a_video: Option<(Remote, PayloadTypes)>,
    /// A offered plain-RTP video.
    offers_video: bool,
    a: Option<Anchor>,
    b: Option<Anchor>,
    /// Video ports (A side, B side), once allocated.
    video: Option<(Anchor, Anchor)>,
    origin_a: LocalOrigin,
    origin_b: LocalOrigin,
    offer_to_b: Option<Bytes>,
    /// The last SDP we sent A (re-sent on refreshes).
    to_a: Option<Bytes>,
    /// SRTP per leg (`a=crypto`).
    sdes: SdesPlan,
}

impl MediaPlan {
    /// From A's offer (an INVITE body).
    pub fn from_offer(
        body: &[u8],
        call_type: CallType,
        session_id: u64,
        local_ip: IpAddr,
        srtp: SrtpSetup,
    ) -> Result<MediaPlan, SdpProblem> {
        if body.is_empty() {
            return Err(SdpProblem::NoOffer);
        }
        let offer = SessionDescription::parse(body).map_err(|_| SdpProblem::Unreadable)?;
        let offers_video = offer
            .media
            .iter()
            .any(|m| m.kind == MediaKind::Video && m.port != 0 && m.is_plain_rtp());
        let mut plan = MediaPlan {
            offer: Bytes::copy_from_slice(body),
            call_type,
            relayed: Vec::new(),
            index: 0,
            video_index: None,
            a_remote: None,
            a_payload_types: PayloadTypes::default(),
            a_codecs: None,
            a_video: None,
            offers_video,
            a: None,
            b: None,
            video: None,
            origin_a: LocalOrigin::new("ringmaster", session_id, local_ip),
            origin_b: LocalOrigin::new("ringmaster", session_id.wrapping_add(1), local_ip),
            offer_to_b: None,
            to_a: None,
            sdes: SdesPlan::new(srtp),
        };
        plan.replan()?;
        Ok(plan)
    }

    /// A's offer filtered for the current call type (video only once it has ports), and
    /// which of its m-lines the relay carries.
    fn filtered(&mut self) -> Result<(SessionDescription, Vec<bool>), SdpProblem> {
        let mut offer =
            SessionDescription::parse(&self.offer).map_err(|_| SdpProblem::Unreadable)?;
        let decided = self.sdes.offer_from(Leg::A, &mut offer)?;
        let call_type = if self.video.is_some() {
            self.call_type
        } else {
            CallType::Audio
        };
        let (filtered, relayed) = policy::plan_offer(&offer, call_type, SUPPORTED);
        if let Some(index) = relayed_index(&filtered, &relayed, MediaKind::Audio) {
            self.sdes.settle(Leg::A, decided, index);
        }
        Ok((filtered, relayed))
    }

    /// Filters A's offer and rebuilds the offer for B.
    fn replan(&mut self) -> Result<(), SdpProblem> {
        let (filtered, relayed) = self.filtered()?;
        let relayed_kind = |kind: MediaKind| {
            filtered
                .media
                .iter()
                .zip(&relayed)
                .position(|(m, r)| *r && m.kind == kind)
        };
        self.index = relayed_kind(MediaKind::Audio).ok_or(SdpProblem::NoCommonCodec)?;
        self.video_index = relayed_kind(MediaKind::Video);
        self.relayed = relayed;
        self.a_remote = policy::media_remote(&filtered, self.index);
        self.a_payload_types = payload_types(&filtered, self.index);
        self.a_codecs = filtered
            .media
            .get(self.index)
            .and_then(LegCodecs::from_media);
        self.a_video = self.video_index.and_then(|i| {
            Some((
                policy::media_remote(&filtered, i)?,
                payload_types(&filtered, i),
            ))
        });
        if self.b.is_some() {
            let anchors = self.anchors(Leg::B, true);
            let mut offer = anchor(&filtered, &anchors, &mut self.origin_b)
                .map_err(|_| SdpProblem::Unreadable)?;
            // B may answer the law A did not offer: the media task transcodes (μ-law ↔ A-law).
            if let Some(m) = offer.media.get_mut(self.index) {
                offer_both_laws(m);
            }
            self.sdes.offer_to_b();
            self.sdes.seal_towards(Leg::B, &mut offer, self.index);
            self.offer_to_b = Some(Bytes::from(offer.to_bytes()));
        }
        Ok(())
    }

    /// Our anchor for each m-line of the filtered offer on `side` (video only if `video`).
    fn anchors(&self, side: Leg, video: bool) -> Vec<Option<Anchor>> {
        let (audio, vid) = match side {
            Leg::A => (self.a, self.video.map(|v| v.0)),
            Leg::B => (self.b, self.video.map(|v| v.1)),
        };
        (0..self.relayed.len())
            .map(|i| {
                if i == self.index {
                    audio
                } else if video && Some(i) == self.video_index {
                    vid
                } else {
                    None
                }
            })
            .collect()
    }

    /// Where A sends and receives, from its offer.
    pub fn a_remote(&self) -> Option<Remote> {
        self.a_remote
    }

    /// The payload types A offered (and may send).
    pub fn a_payload_types(&self) -> PayloadTypes {
        self.a_payload_types
    }

    /// Whether A offered video the relay can carry (plain RTP, not disabled).
    pub fn offers_video(&self) -> bool {
        self.offers_video
    }

    /// Whether video ports are allocated.
    pub fn has_video_ports(&self) -> bool {
        self.video.is_some()
    }

    /// Ports are allocated: prepare the offer for B legs.
    pub fn set_anchors(&mut self, a: Anchor, b: Anchor) -> Result<(), SdpProblem> {
        self.a = Some(a);
        self.b = Some(b);
        self.replan()
    }

    /// Video ports are allocated (A side, B side).
    pub fn set_video_anchors(&mut self, a: Anchor, b: Anchor) -> Result<(), SdpProblem> {
        self.video = Some((a, b));
        self.replan()
    }

    /// The call type of the next ring: the offer B legs get carries video or not.
    pub fn set_call_type(&mut self, call_type: CallType) -> Result<(), SdpProblem> {
        if call_type == self.call_type {
            return Ok(());
        }
        self.call_type = call_type;
        self.replan()
    }

    /// Where A receives video and what it may send, while video is carried.
    pub fn a_video(&self) -> Option<(Remote, PayloadTypes)> {
        self.a_video
    }

    /// The codecs of A's own SDP when A answered our offer (a call ringmaster placed).
    pub fn a_codecs_from_offer(&self) -> Option<LegCodecs> {
        self.a_codecs
    }

    /// The offer every B branch gets.
    pub fn offer_to_b(&self) -> Option<Bytes> {
        self.offer_to_b.clone()
    }

    /// B answered (or sent early media) with `body`: what that settles. Nothing is sent to A
    /// until [`MediaPlan::sent_to_a`] says so.
    pub fn on_b_answer(&mut self, body: &[u8]) -> Result<BAnswer, SdpProblem> {
        let offer = self.offer_to_b.as_ref().ok_or(SdpProblem::NoOffer)?;
        let offer = SessionDescription::parse(offer).map_err(|_| SdpProblem::Unreadable)?;
        let mut answer = SessionDescription::parse(body).map_err(|_| SdpProblem::Unreadable)?;
        self.sdes.answer_from(Leg::B, &mut answer)?;
        let accepted = policy::match_answer(&offer, &answer).map_err(|_| SdpProblem::BadAnswer)?;
        if !accepted.get(self.index).copied().unwrap_or(false) {
            return Err(SdpProblem::NoCommonCodec);
        }
        let remote = policy::media_remote(&answer, self.index).ok_or(SdpProblem::BadAnswer)?;
        let b_media = answer.media.get(self.index).ok_or(SdpProblem::BadAnswer)?;
        let codecs = LegCodecs::from_media(b_media);
        let video = self
            .video_index
            .filter(|i| accepted.get(*i).copied().unwrap_or(false))
            .and_then(|i| Some((policy::media_remote(&answer, i)?, payload_types(&answer, i))));
        let a_offered_it = codecs.is_some_and(|c| self.a_payload_types.contains(c.audio_pt));
        let to_a = if a_offered_it {
            let mut anchors = self.anchors(Leg::A, video.is_some());
            for (slot, ok) in anchors.iter_mut().zip(&accepted) {
                if !ok {
                    *slot = None;
                }
            }
            let mut sdp =
                anchor(&answer, &anchors, &mut self.origin_a).map_err(|_| SdpProblem::BadAnswer)?;
            self.sdes.seal_towards(Leg::A, &mut sdp, self.index);
            Bytes::from(sdp.to_bytes())
        } else {
            self.own_answer_to_a().ok_or(SdpProblem::NoOffer)?
        };
        Ok(BAnswer {
            remote,
            payload_types: payload_types(&answer, self.index),
            codecs,
            video,
            srtp: self.sdes.keys(Leg::B),
            to_a,
        })
    }

    /// An answer for A made by ringmaster itself (no B leg yet: the script answered to play or
    /// collect digits): A's filtered offer, anchored on our A-side audio ports (nothing would
    /// send video). Once A was answered, what A got.
    pub fn own_answer_to_a(&mut self) -> Option<Bytes> {
        if let Some(s) = &self.to_a {
            return Some(s.clone());
        }
        self.a?;
        let anchors = self.anchors(Leg::A, false);
        let (filtered, _) = self.filtered().ok()?;
        let mut to_a = anchor(&filtered, &anchors, &mut self.origin_a).ok()?;
        self.sdes.seal_towards(Leg::A, &mut to_a, self.index);
        Some(Bytes::from(to_a.to_bytes()))
    }

    /// A got `sdp` from us (a 200 or a 183): remember it for refreshes, and return the codecs
    /// it settles for A (the law we send A, A's telephone-event type).
    pub fn sent_to_a(&mut self, sdp: &Bytes) -> Option<LegCodecs> {
        let parsed = SessionDescription::parse(sdp).ok()?;
        let codecs = parsed.media.get(self.index).and_then(LegCodecs::from_media);
        self.to_a = Some(sdp.clone());
        codecs
    }

    /// Re-anchors an SDP one leg sent mid-call (a re-INVITE's offer, or its answer) for the
    /// other leg: what to send `towards`, and where the sender now receives.
    pub fn relay(
        &mut self,
        towards: Leg,
        body: &[u8],
        is_offer: bool,
    ) -> Result<Relayed, SdpProblem> {
        let mut sdp = SessionDescription::parse(body).map_err(|_| SdpProblem::Unreadable)?;
        let sender = towards.other();
        let decided = if is_offer {
            self.sdes.offer_from(sender, &mut sdp)?
        } else {
            self.sdes.answer_from(sender, &mut sdp)?;
            None
        };
        let call_type = if self.video.is_some() {
            self.call_type
        } else {
            CallType::Audio
        };
        let (sdp, relayed) = if is_offer {
            policy::plan_offer(&sdp, call_type, SUPPORTED)
        } else {
            let accepted = sdp.media.iter().map(|m| m.port != 0).collect();
            (sdp, accepted)
        };
        let first = |kind: MediaKind| {
            sdp.media
                .iter()
                .zip(&relayed)
                .position(|(m, r)| *r && m.kind == kind)
        };
        let (audio_at, video_at) = (first(MediaKind::Audio), first(MediaKind::Video));
        if let (true, Some(index)) = (is_offer, audio_at) {
            self.sdes.settle(sender, decided, index);
        }
        let (ours, our_video, origin) = match towards {
            Leg::A => (self.a, self.video.map(|v| v.0), &mut self.origin_a),
            Leg::B => (self.b, self.video.map(|v| v.1), &mut self.origin_b),
        };
        let ours = ours.ok_or(SdpProblem::NoOffer)?;
        let anchors: Vec<Option<Anchor>> = (0..sdp.media.len())
            .map(|i| {
                if Some(i) == audio_at {
                    Some(ours)
                } else if Some(i) == video_at {
                    our_video
                } else {
                    None
                }
            })
            .collect();
        let mut out = anchor(&sdp, &anchors, origin).map_err(|_| SdpProblem::Unreadable)?;
        if let Some(index) = audio_at {
            self.sdes.seal_towards(towards, &mut out, index);
        }
        let remote_of = |at: Option<usize>| at.and_then(|i| policy::media_remote(&sdp, i));
        let relayed = Relayed {
            sdp: Bytes::from(out.to_bytes()),
            audio: remote_of(audio_at),
            video: remote_of(video_at.filter(|_| our_video.is_some())),
            srtp: self.sdes.keys(sender),
        };
        if towards == Leg::A {
            self.to_a = Some(relayed.sdp.clone());
        }
        Ok(relayed)
    }

    /// The leg's SRTP keys as settled so far (`None`: plain RTP): A's from its offer.
    pub fn srtp_keys(&self, leg: Leg) -> Option<LegKeys> {
        self.sdes.keys(leg)
    }

    /// The SDP A last got from us (for a re-INVITE that does not change media).
    pub fn last_to_a(&self) -> Option<Bytes> {
        self.to_a.clone()
    }
}

/// The first relayed m-line of `kind`.
fn relayed_index(sdp: &SessionDescription, relayed: &[bool], kind: MediaKind) -> Option<usize> {
    sdp.media
        .iter()
        .zip(relayed)
        .position(|(m, r)| *r && m.kind == kind)
}

fn payload_types(sdp: &SessionDescription, index: usize) -> PayloadTypes {
    sdp.media
        .get(index)
        .map(|m| m.payload_types().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::sdp::crypto::SrtpPolicy;
    use crate::media::srtp::MasterKey;

    pub(super) const OFFER: &str = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 18 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 40002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    const ANSWER: &str = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\nm=video 0 RTP/AVP 96\r\n";
    pub(super) const US: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 1));

    pub(super) fn srtp() -> SrtpSetup {
        SrtpSetup {
            policy: SrtpPolicy::Optional,
            keys: [MasterKey::new([0xa1; 30]), MasterKey::new([0xb2; 30])],
        }
    }

    pub(super) fn anchor_at(port: u16) -> Anchor {
        Anchor {
            addr: US,
            rtp_port: port,
            rtcp_port: port + 1,
        }
    }

    #[test]
    fn b_is_offered_our_ports_and_a_is_answered_with_ours_too() {
        let mut p =
            MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
        assert_eq!(
            p.a_remote(),
            Some(("192.0.2.10:40000".parse().unwrap(), None))
        );
        p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
        let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
        assert!(offer.contains("c=IN IP4 203.0.113.1\r\n"), "{offer}");
        assert!(
            offer.contains("m=audio 30002 RTP/AVP 0 8 101\r\n"),
            "G.729 filtered out: {offer}"
        );
        assert!(offer.contains("m=video 0 "), "{offer}");
        assert!(!offer.contains("192.0.2.10"));
        let b = p.on_b_answer(ANSWER.as_bytes()).unwrap();
        assert_eq!(b.remote.0, "198.51.100.5:50000".parse().unwrap());
        let pts = b.payload_types;
        assert!(pts.contains(8) && pts.contains(101) && !pts.contains(0));
        let codecs = b.codecs.unwrap();
        assert_eq!((codecs.audio_pt, codecs.telephone_event), (8, Some(101)));
        let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
        assert!(to_a.contains("m=audio 30000 RTP/AVP 8 101\r\n"), "{to_a}");
        assert!(!to_a.contains("198.51.100.5"));
        assert!(p.last_to_a().is_none(), "nothing sent to A yet");
        let a = p.sent_to_a(&b.to_a).unwrap();
        assert_eq!(a.audio_pt, 8);
        assert_eq!(p.last_to_a().map(|b| b.len()), Some(to_a.len()));
    }

    #[test]
    fn unusable_offers_and_answers() {
        assert_eq!(
            MediaPlan::from_offer(b"", CallType::Audio, 1, US, srtp()).unwrap_err(),
            SdpProblem::NoOffer
        );
        assert_eq!(
            MediaPlan::from_offer(b"garbage", CallType::Audio, 1, US, srtp()).unwrap_err(),
            SdpProblem::Unreadable
        );
        let g729 = "v=0\r\no=a 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
        assert_eq!(
            MediaPlan::from_offer(g729.as_bytes(), CallType::Audio, 1, US, srtp()).unwrap_err(),
            SdpProblem::NoCommonCodec
        );
        let mut p =
            MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
        p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
        let one_line = "v=0\r\no=b 1 1 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
        assert_eq!(
            p.on_b_answer(one_line.as_bytes()).unwrap_err(),
            SdpProblem::BadAnswer
        );
    }

    #[test]
    fn own_answer_when_the_script_answers_first() {
        let mut p =
            MediaPlan::from_offer(OFFER.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
        assert!(p.own_answer_to_a().is_none(), "no ports yet");
        p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
        let a = String::from_utf8(p.own_answer_to_a().unwrap().to_vec()).unwrap();
        assert!(a.contains("m=audio 30000 RTP/AVP 0 8 101\r\n"), "{a}");
    }

    #[test]
    fn a_law_callee_for_a_mu_law_caller_is_offered_both_and_a_keeps_its_own_law() {
        let pcmu_only = "v=0\r\no=alice 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let mut p =
            MediaPlan::from_offer(pcmu_only.as_bytes(), CallType::Audio, 9, US, srtp()).unwrap();
        p.set_anchors(anchor_at(30000), anchor_at(30002)).unwrap();
        let offer = String::from_utf8(p.offer_to_b().unwrap().to_vec()).unwrap();
        assert!(
            offer.contains("m=audio 30002 RTP/AVP 0 8 101\r\n"),
            "{offer}"
        );
        let pcma = "v=0\r\no=bob 7 7 IN IP4 198.51.100.5\r\ns=-\r\nc=IN IP4 198.51.100.5\r\nt=0 0\r\nm=audio 50000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
        let b = p.on_b_answer(pcma.as_bytes()).unwrap();
        assert_eq!(b.codecs.unwrap().audio_pt, 8, "B speaks A-law");
        let to_a = String::from_utf8(b.to_a.to_vec()).unwrap();
        assert!(
            to_a.contains("m=audio 30000 RTP/AVP 0 101\r\n"),
            "A keeps μ-law: {to_a}"
        );
        assert_eq!(p.sent_to_a(&b.to_a).unwrap().audio_pt, 0);
    }
}

#[cfg(test)]
#[path = "media_plan_srtp_tests.rs"]
mod srtp_tests;
