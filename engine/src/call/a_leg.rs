//! The A leg: the caller of an inbound call (its INVITE's server transaction until answered,
//! then its dialog), or the party a placed call dials first. It owns its state, its tag and
//! its record; it answers, refuses, hangs up and reports through a borrowed [`Effects`], and
//! the call asks it what it is doing rather than reading its fields.

use std::net::IpAddr;

use bytes::Bytes;

use super::dialog::{Dialog, DialogId};
use super::effects::Effects;
use super::io::{Output, Purpose};
use super::report::{EventStatus, LegRecord};
use super::LegId;
use crate::sip::message::{response_to, HeaderName, HeaderView, Method, Request};
use crate::sip::transaction::TxId;
use crate::sip::Peer;

#[derive(Debug, Clone, PartialEq, Eq)]
enum AState {
    /// Our 180 went out; no final response yet.
    Ringing,
    /// A call ringmaster places: the A leg is being dialled (ring 0).
    Dialing,
    Answered(Box<Dialog>),
    /// BYE sent, waiting for its answer.
    Ending,
    Ended,
}

/// The A leg of an inbound call: its INVITE's server transaction.
#[derive(Debug, Clone)]
struct InboundA {
    tx: TxId,
    invite: Request,
    peer: Peer,
}

pub(super) struct ALeg {
    /// Our tag in the caller's dialog (chosen at creation, so the dialog can be routed early).
    tag: String,
    state: AState,
    record: LegRecord,
    /// Why the leg is being hung up (used when its BYE is answered).
    end_cause: Option<String>,
    /// The cause and status it ended with (for a live call's `Ended`).
    outcome: Option<(String, Option<u16>)>,
    /// The INVITE when the call came in, until A is answered; `None` for a call ringmaster
    /// places. Boxed: a placed call has none, an answered call no longer needs it.
    inbound: Option<Box<InboundA>>,
    /// Where a placed call's party sends from when its SIP passes another node (the flow's
    /// address, for the media latch); `None`: where its SIP comes from.
    media_source: Option<IpAddr>,
}

impl ALeg {
    /// The caller of an inbound call, ringing on server transaction `tx`.
    pub(super) fn inbound(
        tag: String,
        record: LegRecord,
        tx: TxId,
        invite: Request,
        peer: Peer,
    ) -> ALeg {
        ALeg {
            tag,
            state: AState::Ringing,
            record,
            end_cause: None,
            outcome: None,
            inbound: Some(Box::new(InboundA { tx, invite, peer })),
            media_source: None,
        }
    }

    /// The party a placed call dials.
    pub(super) fn dialled(tag: String, record: LegRecord) -> ALeg {
        ALeg {
            tag,
            state: AState::Dialing,
            record,
            end_cause: None,
            outcome: None,
            inbound: None,
            media_source: None,
        }
    }

    pub(super) fn tag(&self) -> &str {
        &self.tag
    }

    /// Our 180 went out and nothing final yet.
    pub(super) fn is_answered(&self) -> bool {
        matches!(self.state, AState::Answered(_))
    }

    /// Why the leg ended and the SIP status that ended it, once it has.
    pub(super) fn outcome(&self) -> Option<(&str, Option<u16>)> {
        self.outcome.as_ref().map(|(c, s)| (c.as_str(), *s))
    }

    pub(super) fn is_ringing(&self) -> bool {
        self.state == AState::Ringing
    }

    /// A placed call still dialling its A leg.
    pub(super) fn is_dialing(&self) -> bool {
        self.state == AState::Dialing
    }

    pub(super) fn is_ended(&self) -> bool {
        self.state == AState::Ended
    }

    /// The caller's SDP offer, while its INVITE is kept.
    pub(super) fn offer(&self) -> Option<&Bytes> {
        self.inbound.as_ref().map(|inb| &inb.invite.body)
    }

    /// The caller's dialog as it will be once answered; `None` for a call ringmaster
    /// places, or an INVITE without a Call-ID or a readable From.
    pub(super) fn dialog_id(&self) -> Option<DialogId> {
        let inv = &self.inbound.as_ref()?.invite;
        let from = inv.hdr_from().ok()?;
        Some(DialogId::new(
            inv.call_id()?,
            &self.tag,
            from.tag().unwrap_or_default(),
        ))
    }

    /// Where A's SIP comes from: the caller's source, or where a placed call's INVITE went.
    pub(super) fn signalling_source(&self) -> Option<IpAddr> {
        match (&self.inbound, &self.state) {
            (Some(inb), _) => Some(inb.peer.addr.ip()),
            (None, AState::Answered(d)) => Some(self.media_source.unwrap_or(d.peer.addr.ip())),
            _ => None,
        }
    }

    /// A placed call dials a device whose SIP another node forwards: its media comes from
    /// `ip` (see [`crate::call::Contact::media_source`]).
    pub(super) fn set_media_source(&mut self, ip: IpAddr) {
        self.media_source = Some(ip);
    }

    /// The transport A's SIP uses (UDP before anything is known).
    pub(super) fn transport(&self) -> crate::sip::transport::Transport {
        match (&self.inbound, &self.state) {
            (Some(inb), _) => inb.peer.transport,
            (None, AState::Answered(d)) => d.peer.transport,
            _ => crate::sip::transport::Transport::Udp,
        }
    }

    /// The answered dialog, for in-dialog requests.
    pub(super) fn dialog_mut(&mut self) -> Option<&mut Dialog> {
        match &mut self.state {
            AState::Answered(d) => Some(d),
            _ => None,
        }
    }

    /// A response of ours on the caller's INVITE (none once answered, or for a placed call).
    pub(super) fn respond(&self, fx: &mut Effects, status: u16, reason: Option<String>) {
        if let Some(inb) = &self.inbound {
            let mut r = response_to(&inb.invite, status, Some(&self.tag));
            if let Some(reason) = reason {
                r.reason = reason;
            }
            fx.push(Output::Respond {
                tx: inb.tx,
                response: r,
            });
        }
    }

    /// A live event for the app about this leg.
    pub(super) fn event(&self, fx: &mut Effects, status: EventStatus, extra: &Option<String>) {
        fx.report(self.record.event(status, fx.wall_ms(), extra));
    }

    /// A placed call's A leg rings (reported once: true the first time).
    pub(super) fn ringing(&mut self, fx: &mut Effects, extra: &Option<String>) -> bool {
        if self.record.ringing {
            return false;
        }
        self.record.ringing = true;
        self.event(fx, EventStatus::Ringing, extra);
        true
    }

    /// Ends the leg's record (terminal event and CDR, once).
    pub(super) fn end(
        &mut self,
        fx: &mut Effects,
        cause: &str,
        status: Option<u16>,
        extra: &Option<String>,
    ) {
        self.state = AState::Ended;
        if self.outcome.is_none() {
            self.outcome = Some((cause.to_string(), status));
        }
        for r in self.record.end(fx.wall_ms(), cause, status, extra) {
            fx.report(r);
        }
    }

    /// The call is torn down: a ringing caller gets `status` (480 by default), an answered
    /// leg a BYE. A placed call's A leg whose ring is out (`dial_out`) ends when the ring
    /// reports; before that nothing will report, so it ends here.
    pub(super) fn hang_up(
        &mut self,
        fx: &mut Effects,
        cause: &str,
        status: Option<u16>,
        dial_out: bool,
        extra: &Option<String>,
    ) {
        match std::mem::replace(&mut self.state, AState::Ending) {
            AState::Ringing => {
                let status = status.unwrap_or(480);
                self.respond(fx, status, None);
                self.end(fx, cause, Some(status), extra);
            }
            AState::Dialing => {
                if dial_out {
                    self.end_cause = Some(cause.to_string());
                } else {
                    self.end(fx, cause, None, extra);
                }
            }
            AState::Answered(mut dialog) => {
                send_bye(fx, &mut dialog);
                self.end_cause = Some(cause.to_string());
            }
            other => self.state = other,
        }
    }

    /// The caller CANCELled while ringing: 487 and the leg's end. False when A was not
    /// ringing (the CANCEL crossed our final response).
    pub(super) fn cancelled(&mut self, fx: &mut Effects, extra: &Option<String>) -> bool {
        if self.state != AState::Ringing || self.inbound.is_none() {
            return false;
        }
        self.respond(fx, 487, None);
        self.end(fx, "caller-cancelled", Some(487), extra);
        true
    }

    /// Sends the caller our 200 with `sdp` (and `contact`) and keeps the dialog. Without a
    /// caller's INVITE nothing happens (`Ok`); an INVITE no dialog can be built from stays
    /// ringing and is an `Err` (the call refuses it).
    pub(super) fn answer(
        &mut self,
        fx: &mut Effects,
        sdp: Bytes,
        contact: &str,
        extra: &Option<String>,
    ) -> Result<(), ()> {
        // Once answered, the INVITE is not needed again (everything later goes in the
        // dialog), so it is not kept for the whole call: with the datagram its parse points
        // into, ~2 KiB per call.
        let Some(inb) = self.inbound.take() else {
            return Ok(());
        };
        let mut ok = response_to(&inb.invite, 200, Some(&self.tag));
        ok.headers.push(HeaderName::Contact, contact.to_string());
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        ok.body = sdp;
        let Some(dialog) = Dialog::uas(&inb.invite, &self.tag, inb.peer, contact) else {
            // Still ringing: the final response goes on the INVITE.
            self.inbound = Some(inb);
            return Err(());
        };
        fx.push(Output::Respond {
            tx: inb.tx,
            response: ok,
        });
        self.state = AState::Answered(Box::new(dialog));
        self.record.answer_ms = Some(fx.wall_ms());
        self.event(fx, EventStatus::InAnswered, extra);
        Ok(())
    }

    /// A B leg's early media for the ringing caller: a 183 with `sdp`.
    pub(super) fn early_media(&self, fx: &mut Effects, sdp: Bytes, contact: &str) {
        let Some(inb) = &self.inbound else {
            return;
        };
        let mut progress = response_to(&inb.invite, 183, Some(&self.tag));
        progress
            .headers
            .push(HeaderName::Contact, contact.to_string());
        progress
            .headers
            .push(HeaderName::ContentType, "application/sdp");
        progress.body = sdp;
        fx.push(Output::Respond {
            tx: inb.tx,
            response: progress,
        });
    }

    /// The party a placed call dialled answered with `dialog`. If the call is `ending`
    /// meanwhile (the 2xx crossed our CANCEL) it gets a BYE at once; returns whether the leg
    /// is up.
    pub(super) fn dial_answered(
        &mut self,
        fx: &mut Effects,
        mut dialog: Dialog,
        ending: bool,
        extra: &Option<String>,
    ) -> bool {
        if ending {
            send_bye(fx, &mut dialog);
            self.state = AState::Ending;
            return false;
        }
        self.state = AState::Answered(Box::new(dialog));
        self.record.answer_ms = Some(fx.wall_ms());
        self.event(fx, EventStatus::OutAnswered, extra);
        true
    }

    /// A placed call's ring to A ended without an answer (or after our BYE): the leg ends.
    /// Returns the cause when it did (`default` unless the call gave one).
    pub(super) fn dial_ended(
        &mut self,
        fx: &mut Effects,
        status: u16,
        default: &str,
        extra: &Option<String>,
    ) -> Option<String> {
        if !matches!(self.state, AState::Dialing | AState::Ending) {
            return None;
        }
        let cause = self
            .end_cause
            .clone()
            .unwrap_or_else(|| default.to_string());
        self.end(fx, &cause, Some(status), extra);
        Some(cause)
    }

    /// Our BYE was answered (or got nothing): the leg is over.
    pub(super) fn bye_done(
        &mut self,
        fx: &mut Effects,
        status: Option<u16>,
        extra: &Option<String>,
    ) {
        if self.state != AState::Ended {
            let cause = self.end_cause.clone().unwrap_or_else(|| "hangup".into());
            self.end(fx, &cause, status, extra);
        }
    }
}

fn send_bye(fx: &mut Effects, dialog: &mut Dialog) {
    let bye = dialog.request(Method::Bye, None);
    fx.push(Output::Send {
        leg: LegId::A,
        purpose: Purpose::Bye,
        request: bye,
        peer: dialog.peer,
    });
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::call::effects::Outbox;
    use crate::call::report::{Direction, Report, Side};
    use crate::sip::message::{parse, Message};

    fn caller() -> ALeg {
        let invite = "INVITE sip:5000@test.local SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK1\r\nFrom: <sip:alice@test.local>;tag=a1\r\nTo: <sip:5000@test.local>\r\nCall-ID: c1@198.51.100.7\r\nCSeq: 1 INVITE\r\nContact: <sip:alice@198.51.100.7:5060>\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Request(invite)) = parse(Bytes::from(invite)) else {
            panic!("test INVITE")
        };
        let record = LegRecord::new(LegId::A, Side::A, Direction::Inbound, "alice", "5000", 0);
        let peer = Peer::udp("198.51.100.7:5060".parse().unwrap());
        ALeg::inbound("ourtag".into(), record, TxId(1), invite, peer)
    }

    fn statuses(out: &mut Outbox) -> Vec<u16> {
        std::iter::from_fn(|| out.pop())
            .filter_map(|o| match o {
                Output::Respond { response, .. } => Some(response.status),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_cancelled_caller_gets_487_and_one_end_and_a_late_cancel_is_refused() {
        let mut out = Outbox::new(Instant::now(), 1_000);
        let mut a = caller();
        let fx = &mut Effects::new(&mut out, "call-1");
        assert!(a.cancelled(fx, &None));
        assert!(a.is_ended());
        assert!(!a.cancelled(fx, &None), "not ringing any more");
        a.bye_done(fx, Some(200), &None);
        let cdrs = std::iter::from_fn(|| out.pop())
            .filter(|o| matches!(o, Output::Report(Report::Cdr(_))))
            .count();
        assert_eq!(cdrs, 1);
    }

    #[test]
    fn hanging_up_a_ringing_caller_answers_its_invite_with_the_status() {
        let mut out = Outbox::new(Instant::now(), 1_000);
        let mut a = caller();
        let fx = &mut Effects::new(&mut out, "call-1");
        a.respond(fx, 180, None);
        a.hang_up(fx, "answer-url-failed", Some(503), false, &None);
        assert!(a.is_ended());
        assert_eq!(statuses(&mut out), vec![180, 503]);
    }

    #[test]
    fn an_answered_caller_gets_a_bye_and_ends_when_it_is_answered() {
        let mut out = Outbox::new(Instant::now(), 1_000);
        let mut a = caller();
        let fx = &mut Effects::new(&mut out, "call-1");
        let sdp = Bytes::from_static(b"v=0\r\n");
        assert!(a
            .answer(fx, sdp, "<sip:ringmaster@203.0.113.1>", &None)
            .is_ok());
        assert!(a.dialog_mut().is_some());
        assert!(a.offer().is_none(), "the INVITE is not kept once answered");
        a.hang_up(fx, "script-ended", None, false, &None);
        assert!(!a.is_ended(), "ends when the BYE is answered");
        a.bye_done(fx, Some(200), &None);
        assert!(a.is_ended());
        let byes = std::iter::from_fn(|| out.pop())
            .filter(|o| {
                matches!(o, Output::Send { purpose: Purpose::Bye, leg, .. } if *leg == LegId::A)
            })
            .count();
        assert_eq!(byes, 1);
    }
}
