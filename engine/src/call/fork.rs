//! Forking one connect round (the group-ring actor's logic): every target of the round rings
//! on every contact it resolved to (a SIP user registered from several devices rings all of
//! them), each contact one INVITE branch.
//!
//! Per target, the first 2xx wins: it is ACKed at once and handed to the call (which bridges
//! it or, if the script no longer wants it, hangs it up); the target's other branches are
//! CANCELled, and a 2xx that arrives on one of them anyway is ACKed and BYEd here. Across
//! targets the call decides (the script cancels the losers). The round reports, per target,
//! ringing, answered, or failed with the best final status of its branches.

use std::collections::HashMap;

use pcmo::TargetId;

use super::dialog::Dialog;
use super::LegId;
use crate::sip::message::{HeaderView, Method, Request, Response};
use crate::sip::Peer;

/// One INVITE branch to send.
#[derive(Debug, Clone)]
pub struct BranchPlan {
    pub leg: LegId,
    pub target: TargetId,
    pub invite: Request,
    pub peer: Peer,
    /// Credentials to answer a 401/407 with (a trunk's), once.
    pub auth: Option<ClientAuth>,
}

/// A username and password for a server that challenges our requests.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientAuth {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientAuth {{ username: {:?}, .. }}", self.username)
    }
}

/// What happened, for the call.
#[derive(Debug, Clone)]
pub enum ForkEvent {
    /// A branch sent its first provisional response above 100.
    Ringing {
        leg: LegId,
        target: TargetId,
        response: Response,
    },
    /// A target's first 2xx (already ACKed). The call now owns this dialog.
    Answered {
        leg: LegId,
        target: TargetId,
        dialog: Box<Dialog>,
        response: Response,
    },
    /// A branch ended without being the answer: its final status (408 for a timeout, 487 when
    /// cancelled, 200 for a 2xx that lost and was hung up here).
    LegEnded {
        leg: LegId,
        target: TargetId,
        status: u16,
    },
    /// Every branch of a target failed; `status` is the most telling of their finals.
    TargetFailed { target: TargetId, status: u16 },
    /// Nothing of this round is alive any more.
    Done,
}

/// What the shell must do.
#[derive(Debug, Clone)]
pub enum ForkOutput {
    SendInvite {
        leg: LegId,
        request: Request,
        peer: Peer,
    },
    /// CANCEL the INVITE of this leg (the transaction layer waits for a provisional if needed).
    Cancel {
        leg: LegId,
    },
    SendAck {
        request: Request,
        peer: Peer,
    },
    SendBye {
        leg: LegId,
        request: Request,
        peer: Peer,
    },
    Event(ForkEvent),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BranchState {
    Trying,
    Ringing,
    /// CANCEL asked; waiting for the final response.
    Cancelling,
    /// Won its target and was handed to the call.
    HandedOver,
    /// A losing 2xx: BYE sent, waiting for its answer.
    Hanging,
    Ended,
}

struct Branch {
    plan: BranchPlan,
    state: BranchState,
    final_status: Option<u16>,
    /// A challenge was answered already (a second 401/407 is final).
    authenticated: bool,
}

/// The fork of one round.
pub struct Fork {
    branches: Vec<Branch>,
    /// Targets that already have an answer (or were cancelled by the call).
    settled: HashMap<TargetId, bool>,
    contact: String,
    out: Vec<ForkOutput>,
    done_reported: bool,
}

impl Fork {
    pub fn new(plans: Vec<BranchPlan>, contact: &str) -> Fork {
        Fork {
            branches: plans
                .into_iter()
                .map(|plan| Branch {
                    plan,
                    state: BranchState::Trying,
                    final_status: None,
                    authenticated: false,
                })
                .collect(),
            settled: HashMap::new(),
            contact: contact.to_string(),
            out: Vec::new(),
            done_reported: false,
        }
    }

    /// Sends every INVITE.
    pub fn start(&mut self) {
        for b in &self.branches {
            self.out.push(ForkOutput::SendInvite {
                leg: b.plan.leg,
                request: b.plan.invite.clone(),
                peer: b.plan.peer,
            });
        }
        self.check_done();
    }

    pub fn drain(&mut self) -> Vec<ForkOutput> {
        std::mem::take(&mut self.out)
    }

    pub fn legs(&self) -> impl Iterator<Item = LegId> + '_ {
        self.branches.iter().map(|b| b.plan.leg)
    }

    fn branch(&mut self, leg: LegId) -> Option<&mut Branch> {
        self.branches.iter_mut().find(|b| b.plan.leg == leg)
    }

    /// A response to a branch's INVITE.
    pub fn on_response(&mut self, leg: LegId, resp: Response) {
        let contact = self.contact.clone();
        let Some(b) = self.branch(leg) else { return };
        let target = b.plan.target;
        match resp.status {
            100 => {}
            101..=199 => {
                if b.state == BranchState::Trying {
                    b.state = BranchState::Ringing;
                    self.out.push(ForkOutput::Event(ForkEvent::Ringing {
                        leg,
                        target,
                        response: resp,
                    }));
                }
            }
            200..=299 => {
                let seq = b.plan.invite.cseq().map(|c| c.seq).unwrap_or(1);
                // Our Contact in this dialog is the one the branch INVITE carried (it names
                // the branch's transport).
                let contact = b
                    .plan
                    .invite
                    .headers
                    .get(&crate::sip::message::HeaderName::Contact)
                    .map_or(contact, str::to_owned);
                let Some(mut dialog) = Dialog::uac(&b.plan.invite, &resp, b.plan.peer, &contact)
                else {
                    return;
                };
                let peer = dialog.peer;
                match b.state {
                    // A retransmitted 2xx of a dialog we already handled: ACK it again.
                    BranchState::HandedOver | BranchState::Hanging | BranchState::Ended => {
                        self.out.push(ForkOutput::SendAck {
                            request: dialog.ack(seq, None),
                            peer,
                        });
                        return;
                    }
                    _ => {}
                }
                self.out.push(ForkOutput::SendAck {
                    request: dialog.ack(seq, None),
                    peer,
                });
                let already = self.settled.get(&target).copied().unwrap_or(false);
                let b = self.branch(leg).expect("branch exists");
                if already || b.state == BranchState::Cancelling {
                    // It lost (another branch of its target won, or it was cancelled and the
                    // 2xx crossed the CANCEL): hang it up.
                    b.state = BranchState::Hanging;
                    b.final_status = Some(200);
                    let bye = dialog.request(Method::Bye, None);
                    self.out.push(ForkOutput::SendBye {
                        leg,
                        request: bye,
                        peer,
                    });
                    self.out.push(ForkOutput::Event(ForkEvent::LegEnded {
                        leg,
                        target,
                        status: 200,
                    }));
                    return;
                }
                b.state = BranchState::HandedOver;
                b.final_status = Some(resp.status);
                self.settled.insert(target, true);
                self.out.push(ForkOutput::Event(ForkEvent::Answered {
                    leg,
                    target,
                    dialog: Box::new(dialog),
                    response: resp,
                }));
                // The target's other branches stop ringing.
                let others: Vec<LegId> = self
                    .branches
                    .iter()
                    .filter(|o| o.plan.target == target && o.plan.leg != leg)
                    .filter(|o| matches!(o.state, BranchState::Trying | BranchState::Ringing))
                    .map(|o| o.plan.leg)
                    .collect();
                for o in others {
                    self.cancel_leg(o);
                }
                self.check_done();
            }
            status => {
                if matches!(
                    b.state,
                    BranchState::Ended | BranchState::HandedOver | BranchState::Hanging
                ) {
                    return;
                }
                if (status == 401 || status == 407) && b.state != BranchState::Cancelling {
                    if let Some(retry) = authenticate(b, &resp) {
                        b.authenticated = true;
                        b.plan.invite = retry.clone();
                        let peer = b.plan.peer;
                        self.out.push(ForkOutput::SendInvite {
                            leg,
                            request: retry,
                            peer,
                        });
                        return;
                    }
                }
                self.end_branch(leg, status);
            }
        }
    }

    /// The INVITE transaction of a branch timed out or its connection failed.
    pub fn on_timeout(&mut self, leg: LegId) {
        let Some(b) = self.branch(leg) else { return };
        match b.state {
            BranchState::Hanging => {
                b.state = BranchState::Ended;
                self.check_done();
            }
            BranchState::Ended | BranchState::HandedOver => {}
            _ => self.end_branch(leg, 408),
        }
    }

    /// The BYE of a losing 2xx got its answer (or timed out).
    pub fn on_bye_done(&mut self, leg: LegId) {
        if let Some(b) = self.branch(leg) {
            if b.state == BranchState::Hanging {
                b.state = BranchState::Ended;
            }
        }
        self.check_done();
    }

    /// The call no longer wants these targets: CANCEL whatever still rings.
    pub fn cancel_targets(&mut self, targets: &[TargetId]) {
        for t in targets {
            self.settled.entry(*t).or_insert(false);
        }
        let legs: Vec<LegId> = self
            .branches
            .iter()
            .filter(|b| targets.contains(&b.plan.target))
            .filter(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing))
            .map(|b| b.plan.leg)
            .collect();
        for l in legs {
            self.cancel_leg(l);
        }
        self.check_done();
    }

    fn cancel_leg(&mut self, leg: LegId) {
        if let Some(b) = self.branch(leg) {
            b.state = BranchState::Cancelling;
            self.out.push(ForkOutput::Cancel { leg });
        }
    }

    fn end_branch(&mut self, leg: LegId, status: u16) {
        let Some(b) = self.branch(leg) else { return };
        b.state = BranchState::Ended;
        b.final_status = Some(status);
        let target = b.plan.target;
        self.out.push(ForkOutput::Event(ForkEvent::LegEnded {
            leg,
            target,
            status,
        }));
        let of_target: Vec<&Branch> = self
            .branches
            .iter()
            .filter(|o| o.plan.target == target)
            .collect();
        let all_ended = of_target.iter().all(|o| o.state == BranchState::Ended);
        let answered = self.settled.get(&target).copied().unwrap_or(false);
        if all_ended && !answered {
            let best = best_status(of_target.iter().filter_map(|o| o.final_status));
            self.settled.insert(target, false);
            self.out.push(ForkOutput::Event(ForkEvent::TargetFailed {
                target,
                status: best,
            }));
        }
        self.check_done();
    }

    fn check_done(&mut self) {
        let alive = self
            .branches
            .iter()
            .any(|b| !matches!(b.state, BranchState::Ended | BranchState::HandedOver));
        if !alive && !self.done_reported {
            self.done_reported = true;
            self.out.push(ForkOutput::Event(ForkEvent::Done));
        }
    }

    pub fn is_done(&self) -> bool {
        self.done_reported
    }
}

/// The INVITE again, with an answer to the challenge in `resp` and the next CSeq (RFC 3261
/// §22.2), if the branch has credentials and has not used them yet.
fn authenticate(b: &Branch, resp: &Response) -> Option<Request> {
    use crate::sip::digest::Challenge;
    use crate::sip::message::HeaderName;
    let auth = b.plan.auth.as_ref().filter(|_| !b.authenticated)?;
    let (challenge_header, answer_header) = if resp.status == 407 {
        (
            HeaderName::ProxyAuthenticate,
            HeaderName::ProxyAuthorization,
        )
    } else {
        (HeaderName::WwwAuthenticate, HeaderName::Authorization)
    };
    let challenge = resp
        .headers
        .get_all(&challenge_header)
        .find_map(|v| Challenge::parse(v).ok())?;
    let mut invite = b.plan.invite.clone();
    let seq = invite.cseq().ok()?.seq + 1;
    invite
        .headers
        .set(HeaderName::CSeq, format!("{seq} INVITE"));
    // A new transaction: the layer gives it a fresh Via branch.
    invite.headers.remove_all(&HeaderName::Via);
    let uri = invite.uri.to_string();
    let cnonce = format!("{:016x}", seq as u64 ^ 0x9e37_79b9_7f4a_7c15);
    invite.headers.push(
        answer_header,
        challenge.answer(&auth.username, &auth.password, "INVITE", &uri, &cnonce, 1),
    );
    Some(invite)
}

/// The most telling final status of several branches (after RFC 3261 §16.7 step 6): a 6xx
/// (the callee's own "no, everywhere"), then busy, then the lowest other error class, with
/// 408/487 (nobody answered, or we gave up) last.
pub fn best_status(statuses: impl Iterator<Item = u16>) -> u16 {
    let rank = |s: u16| -> (u8, u16) {
        match s {
            600..=699 => (0, s),
            486 => (1, s),
            408 | 480 | 487 => (4, s),
            400..=599 => (2, s),
            _ => (3, s),
        }
    };
    statuses.min_by_key(|s| rank(*s)).unwrap_or(480)
}

#[cfg(test)]
mod tests;
