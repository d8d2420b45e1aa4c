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
use crate::media::control::{WebRtcSession, WebRtcVideo};
use crate::media::rtp::PayloadTypes;
use crate::media::sdp::policy::{self, CallType, SUPPORTED};
use crate::media::sdp::webrtc::{self, WebRtcLocal, WebRtcRemote};
use crate::media::sdp::{
    anchor, Anchor, LocalOrigin, MediaDescription, MediaKind, SessionDescription,
};
use crate::media::srtp::LegKeys;
use crate::media::{AudioCodec, Leg, LegCodecs};

use super::sdes::{SdesPlan, SrtpSetup};

mod browser;
use browser::{
    browser_video_of, mids_of, opus_only, payload_map, payload_map_of, telephone_event_of,
    BrowserVideo, BROWSER_VIDEO,
};

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
    #[error("unusable WebRTC description: {0}")]
    WebRtc(#[from] webrtc::WebRtcError),
    #[error("a WebRTC leg but no DTLS identity to terminate it")]
    NoWebRtc,
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
    /// The answer for A if A is still unanswered: B's answer on our ports when A offered B's
    /// law, else our own answer from A's offer (then the media task transcodes).
    pub to_a: Bytes,
    /// B is a browser: the WebRTC session its media task terminates.
    pub webrtc: Option<Box<WebRtcSession>>,
    /// B's SRTP keys (`None`: plain RTP), for the media task.
    pub srtp: Option<LegKeys>,
}

/// A mid-call SDP re-anchored for the other leg.
#[derive(Debug, Clone, PartialEq)]
pub struct Relayed {
    pub sdp: Bytes,
    /// Where the sender now receives audio (None on hold with `c=0.0.0.0`, or disabled).
    pub audio: Option<Remote>,
    /// Same for video.
    pub video: Option<Remote>,
    /// The sender is a browser that restarted ICE (new credentials in its offer): its
    /// media task must take both sides' new credentials.
    pub ice_restart: Option<(Leg, IceRestart)>,
    /// The sender's SRTP keys as this SDP left them (`None`: plain), for `SetSrtp`.
    pub srtp: Option<LegKeys>,
}

/// New ICE credentials of both sides of a browser leg (RFC 8445 §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceRestart {
    pub local: (String, String),
    pub remote: (String, String),
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
    /// A is a browser: its side as its offer said, and the mids of its m-lines.
    a_webrtc: Option<(WebRtcRemote, Vec<Option<String>>)>,
    /// Our WebRTC side of leg A and leg B, once the media task exists.
    locals: Option<Box<[WebRtcLocal; 2]>>,
    /// The WebRTC session last given to A's media (sent again only when it changes).
    a_session: Option<WebRtcSession>,
    /// B is a browser: its side as its (last) answer said.
    b_webrtc: Option<WebRtcRemote>,
    /// A browser caller's video, offered on to a browser callee on the audio transport
    /// (BUNDLE) when the call type is video.
    browser_video: Option<Box<BrowserVideo>>,
    /// The browser video m-line B accepted (plain), for A's answer.
    b_video: Option<Box<MediaDescription>>,
    /// A is a browser that offered Opus and no G.711: the Opus payload type. The plan offers
    /// B G.711 and A's media task transcodes at the leg's edge.
    a_opus: Option<u8>,
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
        let mut offer = SessionDescription::parse(body).map_err(|_| SdpProblem::Unreadable)?;
        // A browser's offer is read for its WebRTC side, then handled as a plain one.
        let mut browser_video = None;
        let mut a_opus = None;
        let a_webrtc = match webrtc::first_webrtc(&offer) {
            Some(i) => {
                let remote = WebRtcRemote::from_media(&offer, i)?;
                let mids = mids_of(&offer);
                browser_video = browser_video_of(&offer);
                webrtc::to_plain(&mut offer);
                a_opus = opus_only(&mut offer);
                if let Some(v) = browser_video.as_mut() {
                    if let Some(m) = offer.media.get(v.index) {
                        v.media = m.clone();
                        policy::filter_codecs(&mut v.media, BROWSER_VIDEO);
                    }
                }
                Some((remote, mids))
            }
            None => None,
        };
        // A browser's video rides its audio transport: no separate video ports for it.
        let offers_video = a_webrtc.is_none()
            && offer
                .media
                .iter()
                .any(|m| m.kind == MediaKind::Video && m.port != 0 && m.is_plain_rtp());
        let offer_bytes = match a_webrtc {
            Some(_) => Bytes::from(offer.to_bytes()),
            None => Bytes::copy_from_slice(body),
        };
        let mut plan = MediaPlan {
            offer: offer_bytes,
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
            a_webrtc,
            locals: None,
            a_session: None,
            b_webrtc: None,
            browser_video: browser_video.map(Box::new),
            b_video: None,
            a_opus,
        };
        plan.replan()?;
        Ok(plan)
    }

    /// A's offer filtered for the current call type (video only once it has ports), and
    /// which of its m-lines the relay carries.
    fn filtered(&mut self) -> Result<(SessionDescription, Vec<bool>), SdpProblem> {
        let mut offer =
            SessionDescription::parse(&self.offer).map_err(|_| SdpProblem::Unreadable)?;
        // A browser's media is DTLS-SRTP, not SDES: the SRTP policy does not apply to it.
        let decided = match self.a_webrtc {
            Some(_) => None,
            None => self.sdes.offer_from(Leg::A, &mut offer)?,
        };
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
        if webrtc::first_webrtc(&answer).is_none() {
            self.sdes.answer_from(Leg::B, &mut answer)?;
        }
        let mut b_video = None;
        let b_webrtc = match webrtc::first_webrtc(&answer) {
            Some(i) => {
                let remote = WebRtcRemote::from_media(&answer, i)?;
                // Browser video (only ever offered to a browser, on the audio transport):
                // read, then taken out so the rest is matched against the plain offer.
                if let Some(v) = &self.browser_video {
                    let accepted = answer
                        .media
                        .get(v.index)
                        .is_some_and(|m| m.port != 0 && m.kind == MediaKind::Video);
                    if accepted {
                        let ssrcs = webrtc::ssrcs_of(&answer.media[v.index]);
                        let mid = mids_of(&answer).get(v.index).cloned().flatten();
                        b_video = Some((mid, ssrcs));
                    }
                }
                webrtc::to_plain(&mut answer);
                Some(remote)
            }
            None => None,
        };
        let mut b_video_session = None;
        self.b_video = None;
        if let (Some((mid, ssrcs)), Some(v)) = (b_video, &self.browser_video) {
            if let Some(m) = answer.media.get_mut(v.index) {
                b_video_session = Some(WebRtcVideo {
                    mid: mid.unwrap_or_else(|| v.index.to_string()),
                    ssrcs,
                    payload_types: payload_map_of(m),
                });
                self.b_video = Some(Box::new(m.clone()));
                m.port = 0;
            }
        }
        let accepted = policy::match_answer(&offer, &answer).map_err(|_| SdpProblem::BadAnswer)?;
        if !accepted.get(self.index).copied().unwrap_or(false) {
            return Err(SdpProblem::NoCommonCodec);
        }
        // A browser's media comes from where ICE finds it; its SDP address may be a
        // placeholder (`0.0.0.0`, port 9).
        let placeholder = (SocketAddr::from(([0, 0, 0, 0], 9)), None);
        let remote = match policy::media_remote(&answer, self.index) {
            Some(remote) => remote,
            None if b_webrtc.is_some() => placeholder,
            None => return Err(SdpProblem::BadAnswer),
        };
        self.b_webrtc = b_webrtc.clone();
        let webrtc = match b_webrtc {
            Some(remote) => Some(Box::new(WebRtcSession {
                local: self.locals.as_ref().ok_or(SdpProblem::NoWebRtc)?[1].clone(),
                remote,
                payload_types: payload_map(&answer, self.index),
                video: b_video_session,
                opus: None,
            })),
            None => None,
        };
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
            // An answer may only list what the offer had (RFC 3264 §6.1): B may have answered
            // a type A never offered (B was offered both laws and telephone-events).
            if let Some(m) = sdp.media.get_mut(self.index) {
                keep_offered(m, self.a_payload_types);
            }
            if self.a_webrtc.is_none() {
                self.sdes.seal_towards(Leg::A, &mut sdp, self.index);
            }
            let mut sdp = self.for_a(sdp)?;
            self.origin_a.stamp(&mut sdp);
            Bytes::from(sdp.to_bytes())
        } else {
            self.own_answer_to_a().ok_or(SdpProblem::NoOffer)?
        };
        Ok(BAnswer {
            remote,
            payload_types: payload_types(&answer, self.index),
            codecs,
            video,
            to_a,
            srtp: match webrtc {
                Some(_) => None,
                None => self.sdes.keys(Leg::B),
            },
            webrtc,
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
        if self.a_webrtc.is_none() {
            self.sdes.seal_towards(Leg::A, &mut to_a, self.index);
        }
        let mut to_a = self.for_a(to_a).ok()?;
        self.origin_a.stamp(&mut to_a);
        Some(Bytes::from(to_a.to_bytes()))
    }

    /// A got `sdp` from us (a 200 or a 183): remember it for refreshes, and return the codecs
    /// it settles for A (the law we send A, A's telephone-event type) and, for a browser A,
    /// its WebRTC session when that is new.
    pub fn sent_to_a(&mut self, sdp: &Bytes) -> (Option<LegCodecs>, Option<WebRtcSession>) {
        let Ok(parsed) = SessionDescription::parse(sdp) else {
            return (None, None);
        };
        let media = parsed.media.get(self.index);
        let codecs = match self.a_opus {
            // A hears Opus, but its media task hands the relay μ-law.
            Some(_) => media.map(|m| LegCodecs::new(AudioCodec::Pcmu, telephone_event_of(m))),
            None => media.and_then(LegCodecs::from_media),
        };
        self.to_a = Some(sdp.clone());
        (codecs, self.a_session_for(&parsed))
    }

    /// Re-anchors an SDP one leg sent mid-call (a re-INVITE's offer, or its answer) for the
    /// other leg: what to send `towards`, and where the sender now receives.
    ///
    /// `fresh` gives new ICE credentials (ufrag, password) for our side should the sender be
    /// a browser restarting ICE.
    pub fn relay(
        &mut self,
        towards: Leg,
        body: &[u8],
        is_offer: bool,
        fresh: impl FnOnce() -> (String, String),
    ) -> Result<Relayed, SdpProblem> {
        let mut sdp = SessionDescription::parse(body).map_err(|_| SdpProblem::Unreadable)?;
        // A browser's re-offer or answer goes on as plain RTP; its DTLS association stays.
        let ice_restart = match webrtc::first_webrtc(&sdp) {
            Some(i) if is_offer => self.ice_restart(towards.other(), &sdp, i, fresh),
            _ => None,
        };
        let sender = towards.other();
        let browser = |leg: Leg| match leg {
            Leg::A => self.a_webrtc.is_some(),
            Leg::B => self.b_webrtc.is_some(),
        };
        let (sender_browser, towards_browser) = (browser(sender), browser(towards));
        webrtc::to_plain(&mut sdp);
        if towards == Leg::B && self.a_opus.is_some() {
            opus_only(&mut sdp);
        }
        // SDES is for phones: a browser leg is DTLS-SRTP whatever the policy.
        let decided = match (sender_browser, is_offer) {
            (true, _) => None,
            (false, true) => self.sdes.offer_from(sender, &mut sdp)?,
            (false, false) => {
                self.sdes.answer_from(sender, &mut sdp)?;
                None
            }
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
        if let (true, false, Some(index)) = (is_offer, sender_browser, audio_at) {
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
        if let Some(audio) = audio_at {
            if !towards_browser {
                self.sdes.seal_towards(towards, &mut out, audio);
            }
            self.shape_for_browser(towards, &mut out, audio, is_offer)?;
        }
        let remote_of = |at: Option<usize>| at.and_then(|i| policy::media_remote(&sdp, i));
        let relayed = Relayed {
            sdp: Bytes::from(out.to_bytes()),
            audio: remote_of(audio_at),
            video: remote_of(video_at.filter(|_| our_video.is_some())),
            ice_restart,
            srtp: match sender_browser {
                true => None,
                false => self.sdes.keys(sender),
            },
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

/// Keep the formats of `media` that are in `offered`, with their `rtpmap`/`fmtp`/`rtcp-fb`
/// lines (an m-line left with none keeps what it had: the caller checked one fits).
fn keep_offered(media: &mut MediaDescription, offered: PayloadTypes) {
    let fits = |f: &str| f.parse::<u8>().is_ok_and(|pt| offered.contains(pt));
    if !media.formats.iter().any(|f| fits(f)) {
        return;
    }
    media.formats.retain(|f| fits(f));
    media.retain_attributes(|a| match a.name.as_str() {
        "rtpmap" | "fmtp" | "rtcp-fb" => a
            .value
            .as_deref()
            .and_then(|v| v.split(' ').next())
            .is_some_and(|f| f == "*" || fits(f)),
        _ => true,
    });
}

fn payload_types(sdp: &SessionDescription, index: usize) -> PayloadTypes {
    sdp.media
        .get(index)
        .map(|m| m.payload_types().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod browser_tests;
#[cfg(test)]
mod srtp_tests;
#[cfg(test)]
mod tests;
