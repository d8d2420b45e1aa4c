//! Browser legs in a call's offer/answer: the WebRTC side added to what goes to a browser,
//! read from what a browser sends, Opus-only browsers planned as G.711, and a browser
//! caller's video carried on to a browser callee on the audio transport (BUNDLE).

use bytes::Bytes;

use super::{IceRestart, MediaPlan, SdpProblem};
use crate::media::codec::AudioCodec;
use crate::media::control::{WebRtcSession, WebRtcVideo};
use crate::media::sdp::policy::{self, CallType};
use crate::media::sdp::webrtc::{self, Setup, WebRtcLocal, WebRtcRemote};
use crate::media::sdp::{MediaDescription, MediaKind, SessionDescription};
use crate::media::Leg;

impl MediaPlan {
    /// A is a browser that offered video: it needs no video ports (it rides A's audio
    /// transport), so a video ring carries it to browser callees without them.
    pub fn offers_browser_video(&self) -> bool {
        self.browser_video.is_some()
    }

    /// Our WebRTC side of each leg (from the media task), before the first offer to a browser.
    pub fn set_webrtc_locals(&mut self, locals: Option<Box<[WebRtcLocal; 2]>>) {
        self.locals = locals;
    }

    /// Whether A is a browser.
    pub fn a_is_webrtc(&self) -> bool {
        self.a_webrtc.is_some()
    }

    /// The offer a browser B branch gets: the plain offer with our WebRTC side added (we
    /// offer `actpass`; the browser answers `active` and is the DTLS client). `None` when no
    /// DTLS identity exists: browsers cannot be rung then.
    pub fn offer_to_b_webrtc(&self) -> Option<Bytes> {
        let plain = self.offer_to_b.as_ref()?;
        let local = &self.locals.as_ref()?[1];
        let mut sdp = SessionDescription::parse(plain).ok()?;
        let b = self.b?;
        let mut bundled = Vec::new();
        if let Some(v) = self
            .browser_video
            .as_ref()
            .filter(|_| self.call_type == CallType::Video)
        {
            if let Some(slot) = sdp.media.get_mut(v.index) {
                *slot = v.media.clone();
                slot.port = b.rtp_port;
                bundled.push(v.index);
            }
        }
        webrtc::to_webrtc(
            &mut sdp,
            self.index,
            &bundled,
            local,
            Setup::ActPass,
            b.addr,
            &[],
            None,
        );
        self.origin_b.clone().stamp(&mut sdp);
        Some(Bytes::from(sdp.to_bytes()))
    }

    /// The WebRTC session of leg A for the media task, when it is new or changed since the
    /// last call: after A was answered with `sdp`.
    pub(super) fn a_session_for(&mut self, sdp: &SessionDescription) -> Option<WebRtcSession> {
        let (remote, _) = self.a_webrtc.as_ref()?;
        let local = self.locals.as_ref()?[0].clone();
        let video = self.browser_video.as_ref().and_then(|v| {
            let m = sdp.media.get(v.index).filter(|m| m.port != 0)?;
            Some(WebRtcVideo {
                mid: v.mid.clone().unwrap_or_else(|| v.index.to_string()),
                ssrcs: v.ssrcs.clone(),
                payload_types: payload_map_of(m),
            })
        });
        let session = WebRtcSession {
            local,
            remote: remote.clone(),
            payload_types: payload_map(sdp, self.index),
            video,
            opus: self.a_opus,
        };
        if self.a_session.as_ref() == Some(&session) {
            return None;
        }
        self.a_session = Some(session.clone());
        Some(session)
    }

    /// A call ringmaster placed: A (a browser) answered our WebRTC offer with the SDP this
    /// plan was made from; its leg's session.
    pub fn a_session_from_answer(&mut self) -> Option<WebRtcSession> {
        let own = SessionDescription::parse(&self.offer).ok()?;
        self.a_session_for(&own)
    }

    /// A plain description going to A, made WebRTC if A is a browser (we answer `passive`:
    /// the browser is the DTLS client, RFC 8842 §5.3).
    pub(super) fn for_a(
        &self,
        mut sdp: SessionDescription,
    ) -> Result<SessionDescription, SdpProblem> {
        let Some((remote, mids)) = &self.a_webrtc else {
            return Ok(sdp);
        };
        let local = &self.locals.as_ref().ok_or(SdpProblem::NoWebRtc)?[0];
        let a = self.a.ok_or(SdpProblem::NoOffer)?;
        let ip = a.addr;
        // Video B accepted between two browsers rides A's audio transport too.
        let mut bundled = Vec::new();
        if let (Some(v), Some(accepted)) = (&self.browser_video, &self.b_video) {
            if let Some(slot) = sdp.media.get_mut(v.index) {
                *slot = (**accepted).clone();
                slot.port = a.rtp_port;
                bundled.push(v.index);
            }
        }
        if let (Some(pt), Some(m)) = (self.a_opus, sdp.media.get_mut(self.index)) {
            g711_to_opus(m, pt);
        }
        webrtc::to_webrtc(
            &mut sdp,
            self.index,
            &bundled,
            local,
            Setup::Passive,
            ip,
            mids,
            remote.mid_extension,
        );
        Ok(sdp)
    }

    /// A browser's re-offer with new ICE credentials: both sides of that leg get new ones
    /// (the answer we relay back carries ours).
    pub(super) fn ice_restart(
        &mut self,
        sender: Leg,
        sdp: &SessionDescription,
        index: usize,
        fresh: impl FnOnce() -> (String, String),
    ) -> Option<(Leg, IceRestart)> {
        let new = WebRtcRemote::from_media(sdp, index).ok()?;
        let stored = match sender {
            Leg::A => &mut self.a_webrtc.as_mut()?.0,
            Leg::B => self.b_webrtc.as_mut()?,
        };
        if stored.ufrag == new.ufrag && stored.pwd == new.pwd {
            return None;
        }
        stored.ufrag = new.ufrag.clone();
        stored.pwd = new.pwd.clone();
        let local = &mut self.locals.as_mut()?[sender.index()];
        (local.ufrag, local.pwd) = fresh();
        Some((
            sender,
            IceRestart {
                local: (local.ufrag.clone(), local.pwd.clone()),
                remote: (new.ufrag, new.pwd),
            },
        ))
    }

    /// Whether B (the answered leg) is a browser.
    pub fn b_is_webrtc(&self) -> bool {
        self.b_webrtc.is_some()
    }

    /// Make a mid-call description for `towards` WebRTC if that leg is a browser: the same
    /// credentials and DTLS role as when the leg was set up.
    pub(super) fn shape_for_browser(
        &mut self,
        towards: Leg,
        sdp: &mut SessionDescription,
        audio: usize,
        is_offer: bool,
    ) -> Result<(), SdpProblem> {
        let (remote, mids, anchor) = match towards {
            Leg::A => match &self.a_webrtc {
                Some((remote, mids)) => (remote, mids.as_slice(), self.a),
                None => return Ok(()),
            },
            Leg::B => match &self.b_webrtc {
                Some(remote) => (remote, &[][..], self.b),
                None => return Ok(()),
            },
        };
        let local = &self.locals.as_ref().ok_or(SdpProblem::NoWebRtc)?[towards.index()];
        let ip = anchor.ok_or(SdpProblem::NoOffer)?.addr;
        let setup = match (is_offer, remote.we_are_dtls_client()) {
            (true, _) => Setup::ActPass,
            (false, true) => Setup::Active,
            (false, false) => Setup::Passive,
        };
        if let (Leg::A, Some(pt), Some(m)) = (towards, self.a_opus, sdp.media.get_mut(audio)) {
            g711_to_opus(m, pt);
        }
        webrtc::to_webrtc(
            sdp,
            audio,
            &[],
            local,
            setup,
            ip,
            mids,
            remote.mid_extension,
        );
        let origin = match towards {
            Leg::A => &mut self.origin_a,
            Leg::B => &mut self.origin_b,
        };
        origin.stamp(sdp);
        Ok(())
    }
}

/// The mid of each m-line (`None` where it has none).
pub(super) fn mids_of(sdp: &SessionDescription) -> Vec<Option<String>> {
    sdp.media
        .iter()
        .map(|m| m.attribute("mid").and_then(|a| a.value.clone()))
        .collect()
}

/// A browser's audio that offers Opus but neither G.711 law: the Opus payload type, and the
/// m-line given PCMU and PCMA in its place (what the rest of the call is planned with).
pub(super) fn opus_only(offer: &mut SessionDescription) -> Option<u8> {
    let media = offer
        .media
        .iter_mut()
        .find(|m| m.kind == MediaKind::Audio && m.port != 0)?;
    let mut opus = None;
    for pt in media.payload_types() {
        let Some((encoding, rate)) = policy::codec_of(media, pt) else {
            continue;
        };
        if AudioCodec::from_encoding(&encoding, rate).is_some() {
            return None;
        }
        if opus.is_none() && encoding.eq_ignore_ascii_case("opus") && rate == 48_000 {
            opus = Some(pt);
        }
    }
    let opus = opus?;
    media.formats.splice(0..0, ["0".to_owned(), "8".to_owned()]);
    for (pt, name) in [(0, "PCMU"), (8, "PCMA")] {
        media.fields.push(crate::media::sdp::Field::Attribute(
            crate::media::sdp::Attribute::new("rtpmap", Some(&format!("{pt} {name}/8000"))),
        ));
    }
    Some(opus)
}

/// The answer's G.711 on an Opus-only browser's m-line becomes Opus at `pt` (what the browser
/// offered; the leg's media task transcodes).
pub(super) fn g711_to_opus(media: &mut MediaDescription, pt: u8) {
    let g711 = |f: &str| {
        f.parse::<u8>().is_ok_and(|p| {
            policy::codec_of(media, p)
                .is_some_and(|(e, r)| AudioCodec::from_encoding(&e, r).is_some())
        })
    };
    let kept: Vec<String> = media.formats.iter().filter(|f| !g711(f)).cloned().collect();
    let is_g711_line = |a: &crate::media::sdp::Attribute| {
        matches!(a.name.as_str(), "rtpmap" | "fmtp")
            && a.value
                .as_deref()
                .and_then(|v| v.split(' ').next())
                .is_some_and(|f| matches!(f, "0" | "8") || !kept.iter().any(|k| k == f))
    };
    media.retain_attributes(|a| !is_g711_line(a));
    media.formats = std::iter::once(pt.to_string()).chain(kept).collect();
    for (name, value) in [
        ("rtpmap", format!("{pt} opus/48000/2")),
        ("fmtp", format!("{pt} minptime=10;useinbandfec=1")),
    ] {
        media.fields.push(crate::media::sdp::Field::Attribute(
            crate::media::sdp::Attribute::new(name, Some(&value)),
        ));
    }
}

/// The `telephone-event/8000` payload type of an m-line.
pub(super) fn telephone_event_of(media: &MediaDescription) -> Option<u8> {
    media.payload_types().find(|&pt| {
        policy::codec_of(media, pt)
            .is_some_and(|(e, r)| r == 8000 && e.eq_ignore_ascii_case("telephone-event"))
    })
}

/// A browser offer's first enabled video m-line: where it is, its SSRCs and mid (the m-line
/// itself is filled in once made plain).
pub(super) fn browser_video_of(offer: &SessionDescription) -> Option<BrowserVideo> {
    let index = offer
        .media
        .iter()
        .position(|m| m.kind == MediaKind::Video && m.port != 0 && webrtc::is_webrtc(m))?;
    let media = &offer.media[index];
    Some(BrowserVideo {
        index,
        media: media.clone(),
        ssrcs: webrtc::ssrcs_of(media),
        mid: media.attribute("mid").and_then(|a| a.value.clone()),
    })
}

/// (payload type, encoding, clock rate) of m-line `index`: its rtpmaps and static types.
pub(super) fn payload_map(sdp: &SessionDescription, index: usize) -> Vec<(u8, String, u32)> {
    sdp.media.get(index).map(payload_map_of).unwrap_or_default()
}

pub(super) fn payload_map_of(media: &MediaDescription) -> Vec<(u8, String, u32)> {
    media
        .payload_types()
        .filter_map(|pt| {
            let (encoding, rate) = policy::codec_of(media, pt)?;
            Some((pt, encoding, rate))
        })
        .collect()
}

/// A browser caller's video m-line, for browser to browser calls.
#[derive(Debug, Clone)]
pub(super) struct BrowserVideo {
    pub(super) index: usize,
    /// The m-line made plain, its codecs cut to what passes through (VP8, H.264).
    pub(super) media: MediaDescription,
    pub(super) ssrcs: Vec<u32>,
    pub(super) mid: Option<String>,
}

/// Video codecs that pass between browsers (no transcoding; RTX, RED and FEC are left out).
pub(super) const BROWSER_VIDEO: &[policy::Codec] = &[
    policy::Codec {
        encoding: "VP8",
        clock_rate: 90_000,
    },
    policy::Codec {
        encoding: "H264",
        clock_rate: 90_000,
    },
];
