//! SRTP termination per leg (SDES keys from the call core, `Command::SetSrtp`): what an SRTP
//! leg sends is checked and decrypted in place as soon as it is read, so the relay, the
//! stages (DTMF, recording, transcoding) and the other leg only ever see plain RTP; what goes
//! to an SRTP leg is protected in place just before it is sent. Plain legs cost one branch.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use crate::media::control::{Channel, Command, Leg};
use crate::media::relay::Relay;
use crate::media::srtp::{LegKeys, Receiver, Sender, SRTCP_OVERHEAD};

/// Room for a packet ringmaster makes itself (a prompt frame or DTMF event is < 200 bytes).
const MADE_LEN: usize = 1500;

/// One SRTP leg's two contexts, and the keys they came from (a `SetSrtp` with the same keys,
/// as a re-INVITE that keeps them sends, must not restart the indexes).
struct LegCrypto {
    keys: LegKeys,
    inbound: Receiver,
    outbound: Sender,
}

/// Both legs' protection; `None` is a plain RTP leg. Boxed: most calls have none.
#[derive(Default)]
pub(super) struct Protection {
    legs: [Option<Box<LegCrypto>>; 2],
}

impl Protection {
    pub fn handle(&mut self, command: &Command) {
        let Command::SetSrtp { leg, keys } = command else {
            return;
        };
        let slot = &mut self.legs[leg.index()];
        match keys {
            None => *slot = None,
            Some(keys) if slot.as_ref().is_some_and(|c| c.keys == **keys) => {}
            Some(keys) => {
                *slot = Some(Box::new(LegCrypto {
                    inbound: Receiver::new(keys.suite, &keys.inbound),
                    outbound: Sender::new(keys.suite, &keys.outbound),
                    keys: (**keys).clone(),
                }));
            }
        }
    }

    /// The plain length of a datagram read from `leg`, decrypted in place; `None` (counted
    /// in the leg's drops) when it fails authentication or is a replay.
    pub fn inbound(
        &mut self,
        leg: Leg,
        channel: Channel,
        packet: &mut [u8],
        relay: &mut Relay,
    ) -> Option<usize> {
        let Some(crypto) = self.legs[leg.index()].as_mut() else {
            return Some(packet.len());
        };
        let plain = match channel {
            Channel::Rtp => crypto.inbound.unprotect_rtp(packet),
            Channel::Rtcp => crypto.inbound.unprotect_rtcp(packet),
        };
        match plain {
            Ok(len) => Some(len),
            Err(error) => {
                tracing::trace!(?leg, ?channel, len = packet.len(), %error, "SRTP packet refused");
                relay.on_srtp_refused(leg);
                // Rare (forgeries, replays, a peer with the wrong key): one atomic add.
                crate::metrics::metrics().srtp_refused.inc();
                None
            }
        }
    }

    /// The length to send of `buf[..len]` towards `leg`, protected in place if it is an SRTP
    /// leg (`buf` has room behind the packet); `None` if it cannot be protected.
    pub fn outbound(
        &mut self,
        leg: Leg,
        channel: Channel,
        buf: &mut [u8],
        len: usize,
    ) -> Option<usize> {
        let Some(crypto) = self.legs[leg.index()].as_mut() else {
            return Some(len);
        };
        let sealed = match channel {
            Channel::Rtp => crypto.outbound.protect_rtp(buf, len),
            Channel::Rtcp => crypto.outbound.protect_rtcp(buf, len),
        };
        sealed
            .inspect_err(|error| tracing::trace!(?leg, %error, "SRTP protect failed"))
            .ok()
    }

    /// Send an RTP packet ringmaster made (prompt, DTMF) to `leg`. A full socket buffer loses
    /// it like the network would.
    pub fn send_made(&mut self, leg: Leg, socket: &UdpSocket, packet: &[u8], to: SocketAddr) {
        if self.legs[leg.index()].is_none() {
            let _ = socket.try_send_to(packet, to);
            return;
        }
        let mut buf = [0u8; MADE_LEN];
        if packet.len() + SRTCP_OVERHEAD > MADE_LEN {
            return;
        }
        buf[..packet.len()].copy_from_slice(packet);
        if let Some(len) = self.outbound(leg, Channel::Rtp, &mut buf, packet.len()) {
            let _ = socket.try_send_to(&buf[..len], to);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::srtp::{MasterKey, Suite};

    fn keys(inbound: u8, outbound: u8) -> Option<Box<LegKeys>> {
        Some(Box::new(LegKeys {
            suite: Suite::AesCm128HmacSha1_80,
            inbound: MasterKey::new([inbound; 30]),
            outbound: MasterKey::new([outbound; 30]),
        }))
    }

    #[test]
    fn a_leg_with_keys_round_trips_and_a_plain_leg_passes_through() {
        let mut ours = Protection::default();
        ours.handle(&Command::SetSrtp {
            leg: Leg::A,
            keys: keys(1, 2),
        });
        // The phone's side: it sends with key 1 and receives with key 2.
        let mut phone = Protection::default();
        phone.handle(&Command::SetSrtp {
            leg: Leg::B,
            keys: keys(2, 1),
        });
        let mut relay = Relay::new(Default::default(), std::time::Instant::now());
        let plain = [0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 7, 0xff, 0xfe, 0xfd];
        let mut buf = [0u8; 64];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = phone
            .outbound(Leg::B, Channel::Rtp, &mut buf, plain.len())
            .unwrap();
        assert_eq!(n, plain.len() + 10);
        let got = ours.inbound(Leg::A, Channel::Rtp, &mut buf[..n], &mut relay);
        assert_eq!(got, Some(plain.len()));
        assert_eq!(buf[..plain.len()], plain);
        // Replayed: refused and counted.
        buf[..plain.len()].copy_from_slice(&plain);
        let mut phone2 = Protection::default();
        phone2.handle(&Command::SetSrtp {
            leg: Leg::B,
            keys: keys(2, 1),
        });
        let n = phone2
            .outbound(Leg::B, Channel::Rtp, &mut buf, plain.len())
            .unwrap();
        assert_eq!(
            ours.inbound(Leg::A, Channel::Rtp, &mut buf[..n], &mut relay),
            None
        );
        assert_eq!(relay.stats().a_to_b.dropped.srtp, 1);
        // Leg B is plain both ways.
        let mut copy = plain;
        assert_eq!(
            ours.inbound(Leg::B, Channel::Rtp, &mut copy, &mut relay),
            Some(plain.len())
        );
        assert_eq!(ours.outbound(Leg::B, Channel::Rtp, &mut buf, 15), Some(15));
        // The same keys again keep the contexts (the replay is still refused); None ends it.
        ours.handle(&Command::SetSrtp {
            leg: Leg::A,
            keys: keys(1, 2),
        });
        assert_eq!(
            ours.inbound(Leg::A, Channel::Rtp, &mut buf[..n], &mut relay),
            None
        );
        ours.handle(&Command::SetSrtp {
            leg: Leg::A,
            keys: None,
        });
        assert_eq!(ours.outbound(Leg::A, Channel::Rtp, &mut buf, 15), Some(15));
    }
}
