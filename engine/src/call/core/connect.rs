//! The script's `connect` inside the call: a ring's targets are resolved, each contact
//! becomes a B leg ([`crate::call::b_legs`]) and a branch INVITE, and the fork's reports move
//! the legs and reach the script as target events.

use pcmo::{Destination, FailReason, Target, TargetId};

use super::{header, Call, CMI_UUID_HEADER};
use crate::call::effects::Effects;
use crate::call::fork::{BranchPlan, ForkEvent};
use crate::call::io::{Contact, Output, Resolution, RingId};
use crate::call::media_plan::BAnswer;
use crate::call::LegId;
use crate::media::Leg;
use crate::sip::message::{HeaderName, Headers, Method, Request};

impl Call {
    pub(super) fn start_ring(&mut self, ring: pcmo::Ring) {
        self.outbox.set_metadata(ring.metadata.clone());
        if let Some(music) = ring.waiting_music.clone() {
            self.start_waiting_music(music);
        }
        let (id, video) = self.rings.start(&ring);
        let targets = ring
            .targets
            .iter()
            .map(|t| (t.target_id, t.target.destination.clone()))
            .collect();
        // Video ports come before the targets resolve, so the B legs' offer can carry them.
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.video.want(fx, video, self.plan.as_ref());
        self.outbox.push(Output::Resolve { ring: id, targets });
    }

    pub(super) fn on_resolved(&mut self, ring: RingId, results: Vec<(TargetId, Resolution)>) {
        if self.is_a_ring(ring) {
            if let Some((_, r)) = results.into_iter().next() {
                self.on_a_resolved(ring, r);
            }
            return;
        }
        if self.ending {
            return;
        }
        let Some((caller_id, video)) = self.rings.settings(ring) else {
            return;
        };
        let caller = caller_id.unwrap_or(&self.setup.from).to_string();
        let mut call_type = self.video.call_type(video);
        if let Some(plan) = self.plan.as_mut() {
            if video && plan.offers_browser_video() {
                call_type = crate::media::sdp::policy::CallType::Video;
            }
            let _ = plan.set_call_type(call_type);
        }
        let mut branches = Vec::new();
        let mut failures = Vec::new();
        for (target_id, resolution) in results {
            let Some(target) = self.rings.target(ring, target_id).cloned() else {
                continue;
            };
            match resolution {
                Resolution::Contacts(contacts) if !contacts.is_empty() => {
                    for c in contacts {
                        // A contact registered over WebSocket is a browser: it is offered
                        // WebRTC (ICE-lite, DTLS-SRTP); everything else plain RTP.
                        let browser = c.flow_transport().is_inbound_only();
                        let body = self
                            .plan
                            .as_ref()
                            .and_then(|p| match browser {
                                true => p.offer_to_b_webrtc(),
                                false => p.offer_to_b(),
                            })
                            .unwrap_or_default();
                        let invite = self.invite_with(&caller, &target, &c, body);
                        let to = display_target(&target);
                        let fx = &Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                        let leg = self.b.add(fx, target_id, &caller, &to, c.media_source());
                        branches.push(BranchPlan {
                            leg,
                            target: target_id,
                            invite,
                            peer: c.peer,
                            auth: c.auth.clone(),
                        });
                    }
                }
                Resolution::Contacts(_) | Resolution::NotRegistered => {
                    failures.push((target_id, FailReason::NotRegistered));
                }
                Resolution::Unroutable(status) => {
                    // No leg was created, so no leg event can say why: an error event does.
                    let message = format!(
                        "{} cannot be reached: {status} {}",
                        display_target(&target),
                        crate::sip::message::reason_phrase(status)
                    );
                    self.script_error("target_unroutable", "", &message);
                    failures.push((target_id, FailReason::Failed(status)))
                }
            }
        }
        if !branches.is_empty() {
            self.rings.set_forked(ring);
            self.outbox.push(Output::StartFork { ring, branches });
        }
        for (target_id, reason) in failures {
            self.outbox
                .event(pcmo::Event::TargetFailed { target_id, reason });
        }
    }

    /// Points the media task at an answered (or early-media) B leg.
    pub(super) fn b_media(&mut self, leg: LegId, answer: &BAnswer) {
        use crate::media::Command;
        let (rtp, rtcp) = answer.remote;
        self.signalling_to_media(leg);
        // First, so the media task knows B is a browser before it hears of B's SDP address.
        self.media(Command::SetWebRtc {
            leg: Leg::B,
            session: answer.webrtc.clone(),
        });
        self.media(Command::SetRemote {
            leg: Leg::B,
            rtp,
            rtcp,
        });
        self.media(Command::SetPayloadTypes {
            leg: Leg::B,
            allowed: answer.payload_types,
        });
        if let Some(codecs) = answer.codecs {
            self.media(Command::SetCodecs {
                leg: Leg::B,
                codecs,
            });
        }
        self.srtp_to_media(Leg::B, answer.srtp.clone());
        self.media(Command::OpenLatchWindow { leg: Leg::B });
        self.b_video(leg, answer);
    }

    /// The leg's SRTP keys (`None`: plain RTP) to the media task. The task keeps its
    /// contexts when the keys did not change.
    pub(super) fn srtp_to_media(&mut self, leg: Leg, keys: Option<crate::media::srtp::LegKeys>) {
        self.media(crate::media::Command::SetSrtp {
            leg,
            keys: keys.map(Box::new),
        });
    }

    /// Points the video task at both legs once B accepted video.
    fn b_video(&mut self, b: LegId, answer: &BAnswer) {
        let Some((remote, pts)) = answer.video else {
            return;
        };
        let a = self.plan.as_ref().and_then(|p| p.a_video());
        let (a_source, b_source) = (self.signalling_source(LegId::A), self.signalling_source(b));
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        if let Some((a_remote, a_pts)) = a {
            self.video.open_leg(fx, Leg::A, a_source, a_remote, a_pts);
        }
        self.video.open_leg(fx, Leg::B, b_source, remote, pts);
    }

    /// A gets `sdp` from us: the media task learns A's law and telephone-event type.
    pub(super) fn sent_to_a(&mut self, sdp: &bytes::Bytes) {
        let Some((codecs, webrtc)) = self.plan.as_mut().map(|p| p.sent_to_a(sdp)) else {
            return;
        };
        if let Some(session) = webrtc {
            self.media(crate::media::Command::SetWebRtc {
                leg: crate::media::Leg::A,
                session: Some(Box::new(session)),
            });
        }
        if let Some(codecs) = codecs {
            self.media(crate::media::Command::SetCodecs {
                leg: crate::media::Leg::A,
                codecs,
            });
        }
    }

    /// The INVITE of one branch: our caller id, the target, our Contact, the offer.
    pub(super) fn invite_with(
        &mut self,
        caller: &str,
        target: &Target,
        c: &Contact,
        body: bytes::Bytes,
    ) -> Request {
        let mut h = Headers::with_capacity(12);
        let tag = self.token(12);
        // The caller id may be a decoded From user of an inbound call (`%0D%0A` arrives as
        // CR LF): escaped, it stays inside the URI whatever it holds.
        // A browser (a contact on a WebSocket) shows the From display name as the caller
        // (piopiyjs' `inComingCall.from`); phones show the URI's user.
        let browser = c.flow_transport().is_inbound_only();
        let display = match browser {
            true => format!("\"{}\" ", display_name(caller)),
            false => String::new(),
        };
        h.push(
            HeaderName::From,
            format!(
                "{display}<sip:{}@{}>;tag={tag}",
                crate::sip::message::escape_user(caller),
                self.setup.domain
            ),
        );
        h.push(HeaderName::To, c.to.clone());
        let call_id = format!("{}@{}", self.token(20), self.setup.domain);
        // A device on another node: through that node, named with its flow in a Route it
        // checks (RFC 3327 Path semantics; `sip::proxy`).
        if let Some(route) = c.node_route(&call_id, &tag) {
            h.push(HeaderName::Route, route);
        }
        h.push(HeaderName::CallId, call_id);
        h.push(HeaderName::CSeq, "1 INVITE");
        h.push(
            HeaderName::Contact,
            self.setup
                .contacts
                .for_transport(&self.setup.contact, c.peer.transport),
        );
        // Loop bound: every hop through us costs one (RFC 3261 §16.6 step 3 in spirit).
        h.push(
            HeaderName::MaxForwards,
            self.setup
                .max_forwards
                .saturating_sub(1)
                .min(69)
                .to_string(),
        );
        h.push(HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO");
        h.push(header(CMI_UUID_HEADER), self.setup.cmiuuid.clone());
        if browser {
            // What the PIOPIY WebRTC SDK reads from an incoming INVITE (compat-fields §b11).
            h.push(header("X-Call-ID"), self.setup.cmiuuid.clone());
            h.push(header("X-To-Number"), display_name(&self.setup.to));
        }
        for extra in &target.headers {
            h.push(header(&extra.name), extra.value.clone());
        }
        if !body.is_empty() {
            h.push(HeaderName::ContentType, "application/sdp");
        }
        Request {
            method: Method::Invite,
            uri: c.uri.clone(),
            headers: h,
            body,
        }
    }

    pub(super) fn on_fork(&mut self, ring: RingId, event: ForkEvent) {
        if self.is_a_ring(ring) {
            return self.on_a_fork(ring, event);
        }
        match event {
            ForkEvent::Ringing {
                leg,
                target,
                response,
            } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                self.b.ringing(fx, leg, &self.extra_params);
                if response.status == 183 && !response.body.is_empty() {
                    self.early_media(leg, &response);
                }
                if !self.ending {
                    self.outbox
                        .event(pcmo::Event::TargetRinging { target_id: target });
                }
            }
            ForkEvent::Answered {
                leg,
                target,
                dialog,
                response,
            } => {
                let answer = self.plan.as_mut().map(|p| p.on_b_answer(&response.body));
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                if !self.b.answered(fx, leg, *dialog, &self.extra_params) {
                    return;
                }
                match answer {
                    Some(Ok(a)) if !self.ending => {
                        self.b.set_answer(leg, a);
                        self.outbox
                            .event(pcmo::Event::TargetAnswered { target_id: target });
                    }
                    Some(Err(problem)) => {
                        tracing::info!(call = %self.setup.cmiuuid, %problem, "B leg answer unusable");
                        self.hang_up_b(leg, "sdp-refused");
                        if !self.ending {
                            self.outbox.event(pcmo::Event::TargetFailed {
                                target_id: target,
                                reason: FailReason::Failed(488),
                            });
                        }
                    }
                    _ => self.hang_up_b(leg, "cancelled"),
                }
            }
            ForkEvent::LegEnded { leg, status, .. } => {
                self.end_b(leg, cause_of(status), Some(status))
            }
            ForkEvent::TargetFailed { target, status } => {
                if !self.ending {
                    let reason = match status {
                        480 => FailReason::NoAnswer,
                        s => FailReason::from_sip_status(s),
                    };
                    self.outbox.event(pcmo::Event::TargetFailed {
                        target_id: target,
                        reason,
                    });
                }
            }
            ForkEvent::Done => self.rings.done(ring),
        }
    }

    /// A B leg sends early media (183 with SDP) while the caller still rings: the caller gets
    /// a 183 with that SDP re-anchored on our ports, and the relay bridges at once, so a
    /// carrier's announcement or ringback tone reaches the caller. The first such leg wins.
    fn early_media(&mut self, leg: LegId, response: &crate::sip::message::Response) {
        // Ringing, A's INVITE is still there.
        if !self.a.is_ringing() || self.b.early().is_some() || self.ending {
            return;
        }
        let Some(Ok(answer)) = self.plan.as_mut().map(|p| p.on_b_answer(&response.body)) else {
            return;
        };
        self.b.set_early(leg);
        self.b_media(leg, &answer);
        self.bridge_media();
        let to_a = answer.to_a;
        self.sent_to_a(&to_a);
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        let contact = self
            .setup
            .contacts
            .for_transport(&self.setup.contact, self.a.transport());
        self.a.early_media(fx, to_a, &contact);
    }

    /// The script gives up these targets: stop the ringing ones, hang up answered ones.
    pub(super) fn cancel_targets(&mut self, targets: &[TargetId]) {
        for leg in self.b.up_for(targets) {
            self.hang_up_b(leg, "cancelled");
        }
        for (ring, targets) in self.rings.forked_targets(Some(targets)) {
            self.outbox.push(Output::CancelFork { ring, targets });
        }
    }

    /// BYE an answered B leg (ringing ones are the fork's to cancel).
    pub(super) fn hang_up_b(&mut self, leg: LegId, cause: &str) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.b.hang_up(fx, leg, cause);
    }

    /// A B leg is over: its terminal event and CDR.
    pub(super) fn end_b(&mut self, leg: LegId, cause: &str, status: Option<u16>) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.b.end(fx, leg, cause, status, &self.extra_params);
    }
}

/// The cause reported for a leg that ended with `status` before it was bridged.
pub(super) fn cause_of(status: u16) -> &'static str {
    match status {
        487 | 200 => "cancelled",
        486 | 600 => "busy",
        603 => "declined",
        408 | 480 => "no-answer",
        _ => "failed",
    }
}

fn display_target(t: &Target) -> String {
    match &t.destination {
        Destination::SipUser(u) => u.clone(),
        Destination::SipUri(u) => u.clone(),
        Destination::Pstn(n) => n.trim_start_matches('+').to_string(),
        Destination::Agent(a) => a.clone(),
    }
}

/// A caller id or number as a quoted-string's content or a header value: printable ASCII
/// without quotes or backslashes (RFC 3261 §25.1), at most 64 characters.
fn display_name(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' && *c != '\\' || *c == ' ')
        .take(64)
        .collect()
}
