//! Requests inside the call's dialogs (BYE, re-INVITE, INFO), the caller's CANCEL, and the
//! answers to the requests the call sent itself.

use super::Call;
use crate::call::effects::Effects;
use crate::call::io::{Output, Purpose};
use crate::call::live::LiveEvent;
use crate::call::LegId;
use crate::media::{Command as MediaCommand, Leg};
use crate::sip::message::{
    reason_phrase, response_to, HeaderName, HeaderView, Method, Request, Response,
};
use crate::sip::transaction::TxId;

impl Call {
    pub(super) fn on_request(&mut self, leg: LegId, tx: TxId, req: Request) {
        let tag = self.a.tag().to_string();
        // The tags are checked before the CSeq is recorded: a stranger's request must not
        // move the dialog's sequence either.
        let in_order = self
            .dialog_mut(leg)
            .filter(|d| d.matches(&req))
            .map(|d| d.accept_remote_cseq(&req));
        match in_order {
            None => {
                // No dialog on that leg (any more), or not this one's tags: §12.2.2.
                let r = response_to(&req, 481, Some(&tag));
                return self.outbox.push(Output::Respond { tx, response: r });
            }
            Some(false) => {
                let mut r = response_to(&req, 500, Some(&tag));
                r.reason = "Server Internal Error (CSeq out of order)".into();
                r.headers.push(HeaderName::RetryAfter, "1");
                return self.outbox.push(Output::Respond { tx, response: r });
            }
            Some(true) => {}
        }
        match req.method {
            Method::Bye => {
                self.outbox.push(Output::Respond {
                    tx,
                    response: response_to(&req, 200, None),
                });
                if leg == LegId::A {
                    self.end_a("caller-hung-up", None);
                    if self.script_running() && !self.ending {
                        self.outbox.event(pcmo::Event::CallerHungUp);
                        self.run_events();
                    }
                    if !self.ending {
                        self.hangup_all("caller-hung-up", None);
                    }
                } else {
                    let target = self.b.target(leg);
                    if self.b.bridged() == Some(leg) {
                        self.b.clear_bridge();
                        self.unbridge_media();
                    }
                    self.end_b(leg, "callee-hung-up", None);
                    if let (Some(target_id), false) = (target, self.ending) {
                        self.outbox.event(pcmo::Event::BLegHungUp { target_id });
                    }
                }
            }
            Method::Invite => {
                if leg == LegId::A && self.is_live() {
                    self.outbox
                        .push(Output::Live(LiveEvent::Reoffer { update: false }));
                }
                self.on_reinvite(leg, tx, req)
            }
            Method::Info if leg == LegId::A && is_dtmf_info(&req) => {
                // SIP INFO DTMF (application/dtmf-relay, application/dtmf) from the caller.
                let content_type = req.headers.get(&HeaderName::ContentType).unwrap_or("");
                let status = match crate::media::dtmf::parse_info(content_type, &req.body) {
                    Ok(d) => {
                        self.on_digit(crate::media::Leg::A, d.digit);
                        200
                    }
                    Err(e) => {
                        tracing::debug!(call = %self.setup.cmiuuid, error = %e, "unreadable DTMF INFO");
                        400
                    }
                };
                self.outbox.push(Output::Respond {
                    tx,
                    response: response_to(&req, status, None),
                });
            }
            _ => {
                if req.method == Method::Update && leg == LegId::A && self.is_live() {
                    self.outbox
                        .push(Output::Live(LiveEvent::Reoffer { update: true }));
                }
                // Other INFO, OPTIONS, UPDATE without SDP.
                self.outbox.push(Output::Respond {
                    tx,
                    response: response_to(&req, 200, None),
                });
            }
        }
    }

    /// Our Contact in a response to `req`, for the transport it came over.
    fn contact_for(&self, req: &Request) -> String {
        let transport = crate::call::contact::via_transport(req);
        self.setup
            .contacts
            .for_transport(&self.setup.contact, transport)
    }

    fn dialog_mut(&mut self, leg: LegId) -> Option<&mut crate::call::dialog::Dialog> {
        if leg == LegId::A {
            self.a.dialog_mut()
        } else {
            self.b.dialog_mut(leg)
        }
    }

    /// A re-INVITE (hold, unhold, a new address): relayed to the bridged leg with our ports
    /// in place of the sender's; without a bridge, answered with what we last offered.
    fn on_reinvite(&mut self, leg: LegId, tx: TxId, req: Request) {
        let other = if leg == LegId::A {
            self.b.bridged()
        } else {
            Some(LegId::A)
        };
        let other = other.filter(|o| self.dialog_mut(*o).is_some() && self.b.bridged().is_some());
        if let (Some(other), false) = (other, req.body.is_empty()) {
            let towards = if other == LegId::A { Leg::A } else { Leg::B };
            let from = if leg == LegId::A { Leg::A } else { Leg::B };
            let fresh = (self.token(8), self.token(24));
            let relayed = self
                .plan
                .as_mut()
                .map(|p| p.relay(towards, &req.body, true, || fresh));
            match relayed {
                Some(Ok(relayed)) => {
                    if let Some((leg, restart)) = relayed.ice_restart {
                        self.media(MediaCommand::RestartIce {
                            leg,
                            local: restart.local,
                            remote: restart.remote,
                        });
                    }
                    let sdp = relayed.sdp;
                    self.srtp_to_media(from, relayed.srtp);
                    if let Some((rtp, rtcp)) = relayed.audio {
                        self.media(MediaCommand::SetRemote {
                            leg: from,
                            rtp,
                            rtcp,
                        });
                    }
                    self.media(MediaCommand::OpenLatchWindow { leg: from });
                    let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                    self.video.moved(fx, from, relayed.video);
                    let Some(d) = self.dialog_mut(other) else {
                        return;
                    };
                    let reinvite = d.request(Method::Invite, Some(("application/sdp", sdp)));
                    let peer = d.peer;
                    self.relayed.insert(tx, req);
                    self.outbox.push(Output::Send {
                        leg: other,
                        purpose: Purpose::Reinvite { origin: leg, tx },
                        request: reinvite,
                        peer,
                    });
                }
                _ => {
                    let r = response_to(&req, 488, None);
                    self.outbox.push(Output::Respond { tx, response: r });
                }
            }
            return;
        }
        let sdp = if leg == LegId::A {
            self.plan.as_ref().and_then(|p| p.last_to_a())
        } else {
            self.plan.as_ref().and_then(|p| match p.b_is_webrtc() {
                true => p.offer_to_b_webrtc(),
                false => p.offer_to_b(),
            })
        };
        let mut ok = response_to(&req, 200, None);
        ok.headers.push(HeaderName::Contact, self.contact_for(&req));
        if let Some(sdp) = sdp {
            ok.headers.push(HeaderName::ContentType, "application/sdp");
            ok.body = sdp;
        }
        self.outbox.push(Output::Respond { tx, response: ok });
    }

    pub(super) fn on_ack(&mut self, _leg: LegId) {
        // The transaction layer already stopped retransmitting our 2xx; nothing else waits.
    }

    pub(super) fn on_caller_cancelled(&mut self) {
        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
        if !self.a.cancelled(fx, &self.extra_params) {
            return;
        }
        if self.script_running() {
            self.outbox.event(pcmo::Event::CallerHungUp);
            self.run_events();
        }
        if !self.ending {
            self.hangup_all("caller-cancelled", None);
        }
    }

    pub(super) fn on_response(&mut self, leg: LegId, purpose: Purpose, resp: Response) {
        match purpose {
            Purpose::Bye => {
                if resp.status >= 200 {
                    self.bye_done(leg, Some(resp.status));
                }
            }
            Purpose::Reinvite { origin, tx } => {
                if resp.status < 200 {
                    return;
                }
                if (200..300).contains(&resp.status) {
                    let seq = resp.cseq().map(|c| c.seq).unwrap_or(1);
                    if let Some(d) = self.dialog_mut(leg) {
                        let ack = d.ack(seq, None);
                        let peer = d.peer;
                        self.outbox.push(Output::SendAck { request: ack, peer });
                    }
                    let towards = if origin == LegId::A { Leg::A } else { Leg::B };
                    let answered = if leg == LegId::A { Leg::A } else { Leg::B };
                    let relayed = if resp.body.is_empty() {
                        None
                    } else {
                        self.plan
                            .as_mut()
                            .map(|p| p.relay(towards, &resp.body, false, Default::default))
                    };
                    let mut ok = Response {
                        status: resp.status,
                        reason: resp.reason.clone(),
                        headers: Default::default(),
                        body: Default::default(),
                    };
                    if let Some(Ok(relayed)) = relayed {
                        let sdp = relayed.sdp;
                        self.srtp_to_media(answered, relayed.srtp);
                        if let Some((rtp, rtcp)) = relayed.audio {
                            self.media(MediaCommand::SetRemote {
                                leg: answered,
                                rtp,
                                rtcp,
                            });
                        }
                        self.media(MediaCommand::OpenLatchWindow { leg: answered });
                        let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
                        self.video.moved(fx, answered, relayed.video);
                        ok.headers.push(HeaderName::ContentType, "application/sdp");
                        ok.body = sdp;
                    }
                    self.respond_relayed(tx, ok);
                } else {
                    let r = Response {
                        status: resp.status,
                        reason: resp.reason.clone(),
                        headers: Default::default(),
                        body: Default::default(),
                    };
                    self.respond_relayed(tx, r);
                }
            }
        }
    }

    /// Answers a relayed re-INVITE on its own server transaction with the status (and SDP)
    /// the other leg gave.
    fn respond_relayed(&mut self, tx: TxId, answer: Response) {
        let Some(req) = self.relayed.remove(&tx) else {
            return;
        };
        let mut r = response_to(&req, answer.status, None);
        r.reason = answer.reason;
        if answer.status < 300 {
            r.headers.push(HeaderName::Contact, self.contact_for(&req));
        }
        for h in answer.headers.iter() {
            r.headers.push(h.name.clone(), h.value.clone());
        }
        r.body = answer.body;
        self.outbox.push(Output::Respond { tx, response: r });
    }

    /// Answers a relayed request with `status` of our own (the other leg gave no answer).
    pub(super) fn fail_relayed(&mut self, tx: TxId, status: u16) {
        let r = Response {
            status,
            reason: reason_phrase(status).into(),
            headers: Default::default(),
            body: Default::default(),
        };
        self.respond_relayed(tx, r);
    }

    pub(super) fn on_request_failed(&mut self, leg: LegId, purpose: Purpose) {
        match purpose {
            Purpose::Bye => self.bye_done(leg, None),
            Purpose::Reinvite { tx, .. } => self.fail_relayed(tx, 408),
        }
    }

    /// The BYE we sent on `leg` was answered (or got nothing): that leg is over.
    fn bye_done(&mut self, leg: LegId, status: Option<u16>) {
        if leg == LegId::A {
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            self.a.bye_done(fx, status, &self.extra_params);
        } else {
            let fx = &mut Effects::new(&mut self.outbox, &self.setup.cmiuuid);
            self.b.bye_done(fx, leg, status, &self.extra_params);
        }
    }
}

/// An INFO whose body is a DTMF digit (by its content type).
fn is_dtmf_info(req: &crate::sip::message::Request) -> bool {
    let media_type = req
        .headers
        .get(&HeaderName::ContentType)
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim();
    media_type.eq_ignore_ascii_case("application/dtmf-relay")
        || media_type.eq_ignore_ascii_case("application/dtmf")
}
