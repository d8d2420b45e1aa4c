//! The SRTP (SDES) side of one call's offer/answer state: per leg, what its `a=crypto`
//! settled, and our own key for it. `media_plan` calls in here around its anchoring: an SDP
//! from a leg is read (and turned into its plain form) before it is planned, and an SDP to a
//! leg gets our key written after it is anchored. The decisions are `media::sdp::crypto`'s.

use crate::media::sdp::crypto::{self, Sdes, SrtpPolicy, SrtpRefusal};
use crate::media::sdp::{MediaKind, SessionDescription};
use crate::media::srtp::{LegKeys, MasterKey};
use crate::media::Leg;

/// What a call is created with: the policy, and our key for each leg (A, B), drawn from the
/// operating system's random source by the shell (this core has no randomness of its own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpSetup {
    pub policy: SrtpPolicy,
    pub keys: [MasterKey; 2],
}

impl SrtpSetup {
    /// For a leg we never write SRTP to (an answer to our own plain offer): `never` takes no
    /// key from it and refuses a secure profile it had no right to answer with.
    pub fn plain(&self) -> SrtpSetup {
        SrtpSetup {
            policy: SrtpPolicy::Never,
            keys: self.keys.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SdesPlan {
    setup: SrtpSetup,
    legs: [Option<Sdes>; 2],
}

/// The m-line a leg's audio is on: the first enabled audio one (the one `plan_offer` relays
/// when it has a codec we carry; [`SdesPlan::settle`] drops the decision otherwise).
fn first_audio(sdp: &SessionDescription) -> Option<usize> {
    sdp.media
        .iter()
        .position(|m| m.kind == MediaKind::Audio && m.port != 0)
}

impl SdesPlan {
    pub fn new(setup: SrtpSetup) -> Self {
        SdesPlan {
            setup,
            legs: [None, None],
        }
    }

    /// An offer from `leg`: decide its SRTP and leave `sdp` in plain form. Returns the m-line
    /// decided on.
    pub fn offer_from(
        &mut self,
        leg: Leg,
        sdp: &mut SessionDescription,
    ) -> Result<Option<usize>, SrtpRefusal> {
        let Some(index) = first_audio(sdp) else {
            return Ok(None);
        };
        let local = &self.setup.keys[leg.index()];
        self.legs[leg.index()] =
            crypto::take_offer(&mut sdp.media[index], self.setup.policy, local)?;
        Ok(Some(index))
    }

    /// An answer from `leg` to what we offered it; leaves `sdp` in plain form.
    pub fn answer_from(
        &mut self,
        leg: Leg,
        sdp: &mut SessionDescription,
    ) -> Result<(), SrtpRefusal> {
        let Some(index) = first_audio(sdp) else {
            return Ok(());
        };
        let offered = self.legs[leg.index()].as_ref();
        self.legs[leg.index()] = crypto::take_answer(&mut sdp.media[index], offered)?;
        Ok(())
    }

    /// The relay settled on m-line `relayed` for `leg`; a decision about another line is void.
    pub fn settle(&mut self, leg: Leg, decided: Option<usize>, relayed: usize) {
        if decided != Some(relayed) {
            self.legs[leg.index()] = None;
        }
    }

    /// What B legs are offered: `RTP/SAVP` under `require`, plain otherwise.
    pub fn offer_to_b(&mut self) {
        self.legs[Leg::B.index()] =
            crypto::offer_to_b(self.setup.policy, &self.setup.keys[Leg::B.index()]);
    }

    /// Write our side onto the audio m-line `index` of an SDP going to `leg`.
    pub fn seal_towards(&self, leg: Leg, sdp: &mut SessionDescription, index: usize) {
        if let (Some(sdes), Some(media)) = (&self.legs[leg.index()], sdp.media.get_mut(index)) {
            if media.port != 0 {
                crypto::seal(media, sdes);
            }
        }
    }

    /// The leg's keys for its media task; `None`: plain RTP.
    pub fn keys(&self, leg: Leg) -> Option<LegKeys> {
        self.legs[leg.index()].as_ref().map(Sdes::keys)
    }
}
