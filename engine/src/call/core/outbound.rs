//! Calls ringmaster places (`pcmo_make_call`): the A leg is dialled like a B leg (a ring of its
//! own, ring 0, with ringmaster's own SDP offer), and the script starts once it answers, with
//! the A leg already answered (`CallInfo::outbound_answered`).

use bytes::Bytes;
use pcmo::{Destination, Target, TargetId};

use super::{Call, CALL_LIMIT_TIMER};
use crate::call::dialog::Dialog;
use crate::call::effects::Effects;
use crate::call::fork::{BranchPlan, ForkEvent};
use crate::call::io::{Output, Resolution, RingId};
use crate::call::media_plan::MediaPlan;
use crate::call::report::EventStatus;
use crate::call::LegId;
use crate::media::sdp::policy::CallType;
use crate::media::sdp::Anchor;
use crate::media::{Command as MediaCommand, Leg};
use crate::sip::message::Response;

/// The one target of ring 0.
const A_TARGET: TargetId = TargetId(0);

impl Call {
    pub(super) fn start_outbound(&mut self) {
        let Some(out) = self.outbound.clone() else {
            return;
        };
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        self.a.event(fx, EventStatus::Started, &self.extra_params);
        let target = (A_TARGET, Target::new(out.call.to.clone()));
        self.rings
            .start_dial(out.ring, self.setup.from.clone(), target);
        self.outbox.push(Output::AllocateMedia);
    }

    pub(super) fn is_a_ring(&self, ring: RingId) -> bool {
        self.outbound.as_ref().is_some_and(|o| o.ring == ring)
    }

    /// Ports are ready: offer them to the A leg and dial it.
    pub(super) fn dial_a(&mut self) {
        let Some(out) = self.outbound.clone() else {
            return;
        };
        self.outbox.push(Output::Resolve {
            ring: out.ring,
            targets: vec![(A_TARGET, out.call.to)],
        });
    }

    /// ringmaster's own offer: PCMU, PCMA and telephone-event on our A-side port; WebRTC
    /// (ICE-lite, DTLS `actpass`) for a `browser`.
    fn own_offer(&self, browser: bool) -> Bytes {
        let Some((a, _)) = self.anchors else {
            return Bytes::new();
        };
        let plain = self.own_plain_offer(a);
        let local = self.webrtc.as_ref().map(|l| &l[0]);
        match (browser, local) {
            (true, Some(local)) => {
                let Ok(mut sdp) = crate::media::sdp::SessionDescription::parse(&plain) else {
                    return plain;
                };
                use crate::media::sdp::webrtc::{to_webrtc, Setup};
                to_webrtc(&mut sdp, 0, &[], local, Setup::ActPass, a.addr, &[], None);
                Bytes::from(sdp.to_bytes())
            }
            _ => plain,
        }
    }

    fn own_plain_offer(&self, a: Anchor) -> Bytes {
        let family = if a.addr.is_ipv6() { "IP6" } else { "IP4" };
        let id = self.setup.seed >> 1;
        Bytes::from(format!(
            "v=0\r\no=ringmaster {id} {id} IN {family} {ip}\r\ns=ringmaster\r\nc=IN {family} {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n",
            ip = a.addr,
            port = a.rtp_port
        ))
    }

    /// The A leg resolved: its branch INVITE(s), or the call's end.
    pub(super) fn on_a_resolved(&mut self, ring: RingId, resolution: Resolution) {
        if !self.a.is_dialing() {
            return; // hung up while A was being resolved
        }
        let contacts = match resolution {
            Resolution::Contacts(c) if !c.is_empty() => c,
            Resolution::Contacts(_) | Resolution::NotRegistered => {
                self.end_a("not-registered", Some(480));
                return self.hangup_all("not-registered", None);
            }
            Resolution::Unroutable(status) => {
                self.end_a("failed", Some(status));
                return self.hangup_all("failed", None);
            }
        };
        if let Some(first) = contacts.first() {
            self.a.set_media_source(first.media_source());
        }
        let caller = self.setup.from.clone();
        let target = match self.outbound.as_ref() {
            Some(o) => Target {
                destination: o.call.to.clone(),
                headers: o.call.headers.clone(),
            },
            None => Target::new(Destination::SipUser(String::new())),
        };
        let branches: Vec<BranchPlan> = contacts
            .iter()
            .map(|c| BranchPlan {
                leg: LegId::A,
                target: A_TARGET,
                invite: {
                    let body = self.own_offer(c.flow_transport().is_inbound_only());
                    self.invite_with(&caller, &target, c, body)
                },
                peer: c.peer,
                auth: c.auth.clone(),
            })
            .take(1) // One dialog per leg: the A leg rings its first contact only.
            .collect();
        self.rings.set_forked(ring);
        self.outbox.push(Output::StartFork { ring, branches });
    }

    pub(super) fn on_a_fork(&mut self, ring: RingId, event: ForkEvent) {
        match event {
            ForkEvent::Ringing { .. } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                let first = self.a.ringing(fx, &self.extra_params);
                if first && self.is_live() {
                    self.outbox
                        .push(Output::Live(crate::call::live::LiveEvent::Ringing));
                }
            }
            ForkEvent::Answered {
                dialog, response, ..
            } => self.a_answered(*dialog, response),
            ForkEvent::LegEnded { status, .. } => {
                let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                let default = super::connect::cause_of(status);
                let ended = self.a.dial_ended(fx, status, default, &self.extra_params);
                if let (Some(cause), false) = (ended, self.ending) {
                    self.hangup_all(&cause, None);
                }
            }
            ForkEvent::TargetFailed { .. } => {}
            ForkEvent::Done => self.rings.done(ring),
        }
    }

    fn a_answered(&mut self, dialog: Dialog, response: Response) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        // Cancelled meanwhile (the 2xx crossed our CANCEL): A gets a BYE at once.
        if !self
            .a
            .dial_answered(fx, dialog, self.ending, &self.extra_params)
        {
            return;
        }
        // A's answer is, for the relay, what A offers the legs the script adds.
        let session = self.setup.seed;
        let plan = MediaPlan::from_offer(
            &response.body,
            CallType::Audio,
            session,
            self.setup.local_ip,
            // We offered A plain RTP: its answer cannot bring keys.
            self.setup.srtp.plain(),
        );
        let webrtc = self.webrtc.clone();
        let plan = match (plan, self.anchors) {
            (Ok(mut plan), Some((a, b))) => {
                plan.set_webrtc_locals(webrtc);
                plan.set_anchors(a, b).map(|_| plan).ok()
            }
            _ => None,
        };
        match plan {
            Some(mut plan) => {
                self.signalling_to_media(LegId::A);
                // A browser answered our WebRTC offer: its leg's peer starts now.
                if let Some(session) = plan.a_session_from_answer() {
                    self.media(MediaCommand::SetWebRtc {
                        leg: Leg::A,
                        session: Some(Box::new(session)),
                    });
                }
                if let Some((rtp, rtcp)) = plan.a_remote() {
                    self.media(MediaCommand::SetRemote {
                        leg: Leg::A,
                        rtp,
                        rtcp,
                    });
                    self.media(MediaCommand::SetPayloadTypes {
                        leg: Leg::A,
                        allowed: plan.a_payload_types(),
                    });
                }
                if let Some(codecs) = plan.a_codecs_from_offer() {
                    self.media(MediaCommand::SetCodecs {
                        leg: Leg::A,
                        codecs,
                    });
                }
                self.media(MediaCommand::OpenLatchWindow { leg: Leg::A });
                self.plan = Some(plan);
            }
            _ => {
                tracing::info!(call = %self.setup.cmiuuid, "the dialled party's SDP answer is unusable");
                return self.hangup_all("sdp-refused", None);
            }
        }
        if self.is_live() {
            return self.live_answered();
        }
        let Some(out) = self.outbound.clone() else {
            return;
        };
        if let Some(limit) = out.call.max_duration {
            self.outbox.push(Output::Timer {
                id: CALL_LIMIT_TIMER,
                at: self.outbox.now() + limit,
            });
        }
        match out.call.script {
            Some(script) => self.run_script(script),
            None => {
                let body = serde_json::json!({
                    "from": super::number_like(&self.setup.from),
                    "to": super::number_like(&self.setup.to),
                    "time": self.outbox.wall_ms(),
                    "cmiuuid": self.setup.cmiuuid,
                    "cmuuid": self.setup.cmiuuid,
                    "action": "outbound",
                    "appid": self.setup.appid,
                    "leg": "a",
                    "request_id": out.call.request_id,
                    "extra_params": self.extra_params,
                });
                self.outbox.push(Output::Fetch {
                    fetch_id: None,
                    url: self.setup.answer_url.clone(),
                    body,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use pcmo::Destination;

    use crate::call::report::{EventStatus, Report};
    use crate::call::{Call, CallSetup, Input, OutboundCall, Output, Resolution};
    use crate::media::sdp::Anchor;

    fn placed_call() -> Call {
        let setup = CallSetup {
            cmiuuid: "call-2".into(),
            appid: 1,
            answer_url: "http://127.0.0.1:9/answer".into(),
            fallback: None,
            from: "914471000000".into(),
            to: "bob".into(),
            contact: "<sip:ringmaster@203.0.113.1:5060>".into(),
            contacts: Default::default(),
            domain: "test.local".into(),
            local_ip: "203.0.113.1".parse().unwrap(),
            max_forwards: 70,
            recordings_dir: "/tmp/recordings".into(),
            seed: 9,
            srtp: crate::call::sdes::SrtpSetup {
                policy: Default::default(),
                keys: [
                    crate::media::srtp::MasterKey::new([1; 30]),
                    crate::media::srtp::MasterKey::new([2; 30]),
                ],
            },
        };
        let out = OutboundCall {
            to: Destination::SipUser("bob".into()),
            script: None,
            max_duration: Some(Duration::from_secs(60)),
            extra_params: None,
            request_id: "req-1".into(),
            headers: Vec::new(),
        };
        Call::outbound(setup, out, Instant::now(), 1_000_000)
    }

    fn drain(call: &mut Call) -> Vec<Output> {
        std::iter::from_fn(|| call.poll()).collect()
    }

    /// (hangup events, CDRs, Finished outputs, StartFork outputs).
    fn count(outs: &[Output]) -> (usize, usize, usize, usize) {
        let hangups = outs
            .iter()
            .filter(|o| {
                matches!(o, Output::Report(Report::Event(e)) if e.status == EventStatus::Hangup)
            })
            .count();
        let cdrs = outs
            .iter()
            .filter(|o| matches!(o, Output::Report(Report::Cdr(_))))
            .count();
        let finished = outs
            .iter()
            .filter(|o| matches!(o, Output::Finished))
            .count();
        let forks = outs
            .iter()
            .filter(|o| matches!(o, Output::StartFork { .. }))
            .count();
        (hangups, cdrs, finished, forks)
    }

    // Found by the `call_dialog` fuzz target: a placed call that got no media ports stayed
    // "dialling" for ever (no ring had started, so nothing would ever end the A leg).
    #[test]
    fn a_placed_call_without_media_ports_ends_at_once() {
        let mut call = placed_call();
        let outs = drain(&mut call);
        assert!(outs.iter().any(|o| matches!(o, Output::AllocateMedia)));
        call.handle(Instant::now(), 1_000_100, Input::MediaFailed);
        let outs = drain(&mut call);
        assert_eq!(count(&outs), (1, 1, 1, 0), "{outs:#?}");
        assert!(call.is_finished());
    }

    #[test]
    fn a_placed_call_hung_up_while_a_resolves_dials_nobody() {
        let mut call = placed_call();
        drain(&mut call);
        let at = |port| Anchor {
            addr: "203.0.113.1".parse().unwrap(),
            rtp_port: port,
            rtcp_port: port + 1,
        };
        let now = Instant::now();
        let ready = Input::MediaReady {
            a: at(30000),
            b: at(30002),
            webrtc: None,
        };
        call.handle(now, 1_000_100, ready);
        let outs = drain(&mut call);
        let Some(ring) = outs.iter().find_map(|o| match o {
            Output::Resolve { ring, .. } => Some(*ring),
            _ => None,
        }) else {
            panic!("A is resolved first: {outs:#?}");
        };
        let timeout = crate::media::Event::RtpTimeout {
            leg: crate::media::Leg::A,
        };
        call.handle(now, 1_000_200, Input::Media(timeout));
        let mut outs = drain(&mut call);
        call.handle(
            now,
            1_000_300,
            Input::Resolved {
                ring,
                results: vec![(
                    pcmo::TargetId(0),
                    Resolution::Contacts(vec![crate::call::Contact {
                        uri: crate::sip::message::Uri::parse("sip:bob@198.51.100.7:5060").unwrap(),
                        to: "<sip:bob@test.local>".into(),
                        peer: crate::sip::Peer::udp("198.51.100.7:5060".parse().unwrap()),
                        auth: None,
                        via: None,
                    }]),
                )],
            },
        );
        outs.extend(drain(&mut call));
        assert_eq!(count(&outs), (1, 1, 1, 0), "{outs:#?}");
    }
}
