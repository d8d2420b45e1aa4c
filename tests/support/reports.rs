//! What the app learns about a call, checked: signed live events and CDRs on its event URL
//! (compat-fields §b5), and the CDRs stored and read back through the admin API.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::Hit;
use super::rig::Rig;

const SEC: Duration = Duration::from_secs(1);

/// Live events and CDRs of a delivered report stream, checked against compat-fields §b5.
pub struct Reports {
    pub events: Vec<Value>,
    pub cdrs: Vec<Value>,
}

/// Waits for `legs` CDRs of `cmiuuid` on the event URL; checks every delivery's signature
/// and delivery id.
pub fn reports(rig: &Rig, cmiuuid: &str, legs: usize) -> Reports {
    let is_cdr = |h: &Hit| h.json()["type"] == "cdr";
    let hits = rig.web.wait_hits("/events", 15 * SEC, |h| {
        h.iter().filter(|h| is_cdr(h)).count() >= legs
    });
    let mut ids = HashSet::new();
    for h in &hits {
        h.verify_signature(&rig.secret)
            .unwrap_or_else(|e| panic!("event URL delivery not signed right: {e}"));
        let id = h
            .header("x-ringmaster-delivery-id")
            .expect("X-Ringmaster-Delivery-Id");
        assert!(ids.insert(id.to_string()), "delivery id {id} used twice");
    }
    let bodies: Vec<Value> = hits
        .iter()
        .map(Hit::json)
        .filter(|b| b["cmiuuid"] == cmiuuid)
        .collect();
    let (cdrs, events): (Vec<Value>, Vec<Value>) =
        bodies.into_iter().partition(|b| b["type"] == "cdr");
    assert!(events.iter().all(|e| e["type"] == "event"), "{events:#?}");
    let seqs: Vec<u64> = events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "a call's events arrive in order: {seqs:?}"
    );
    Reports { events, cdrs }
}

impl Reports {
    /// Each leg's event statuses in delivery order, by `leg_id`.
    pub fn by_leg(&self) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for e in &self.events {
            m.entry(e["leg_id"].as_str().unwrap().into())
                .or_default()
                .push(e["status"].as_str().unwrap().into());
        }
        m
    }

    /// Each leg's CDR kinds, by `leg_id`.
    pub fn cdr_kinds(&self) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for c in &self.cdrs {
            m.entry(c["leg_id"].as_str().unwrap().into())
                .or_default()
                .push(c["cdr_kind"].as_str().unwrap().into());
        }
        m
    }

    /// Exactly one terminal event and one CDR per leg, the terminal event last.
    pub fn assert_one_end_per_leg(&self, legs: usize) {
        let by_leg = self.by_leg();
        assert_eq!(by_leg.len(), legs, "legs with events: {by_leg:#?}");
        for (leg, statuses) in &by_leg {
            assert_eq!(
                statuses.iter().filter(|s| *s == "hangup").count(),
                1,
                "{leg}: {statuses:?}"
            );
            assert_eq!(
                statuses.last().map(String::as_str),
                Some("hangup"),
                "{leg}: {statuses:?}"
            );
        }
        let kinds = self.cdr_kinds();
        assert_eq!(kinds.len(), legs, "{kinds:#?}");
        assert!(
            kinds.values().all(|k| k.len() == 1),
            "one CDR per leg: {kinds:#?}"
        );
    }
}

/// A B leg cancelled while ringing: `ringing` then `hangup`, or `hangup` alone when the
/// CANCEL was decided before the phone's 180 arrived (under load that race is real).
pub fn assert_missed(leg: &str, statuses: &[String]) {
    assert!(
        statuses == ["ringing", "hangup"] || statuses == ["hangup"],
        "{leg}: {statuses:?}"
    );
}

/// Every stored CDR of `cmiuuid` (bounded wait until `legs` are there): `leg_id` → kind.
pub fn stored_cdrs(rig: &Rig, cmiuuid: &str, legs: usize) -> BTreeMap<String, String> {
    let deadline = Instant::now() + 5 * SEC;
    loop {
        let (status, body) = super::rig::admin_get(
            &rig.srv,
            &format!("/admin/v1/calls?app={}&limit=100", rig.appid),
        );
        assert_eq!(status, 200, "{body}");
        let mine: Vec<&Value> = body["calls"]
            .as_array()
            .expect("calls")
            .iter()
            .filter(|c| c["cmiuuid"] == cmiuuid)
            .collect();
        if mine.len() >= legs || Instant::now() > deadline {
            let mut kinds = BTreeMap::new();
            for c in &mine {
                let leg = c["leg_id"].as_str().expect("leg_id").to_string();
                assert!(
                    kinds
                        .insert(leg.clone(), c["cdr_kind"].as_str().unwrap().to_string())
                        .is_none(),
                    "two CDRs for leg {leg}"
                );
            }
            assert_eq!(kinds.len(), legs, "{mine:#?}");
            return kinds;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A CDR of `appid`'s call `call`, leg `leg_id` ("a" or a B leg), answered, as the engine
/// writes them, with the app's `extra_params` (a JSON text): for tests that seed a store.
pub fn sample_cdr(
    appid: u64,
    call: &str,
    leg_id: &str,
    time_ms: u64,
    extra_params: &str,
) -> engine::store::Cdr {
    let leg = if leg_id == "a" { "a" } else { "b" };
    serde_json::from_value(serde_json::json!({
        "type": "cdr", "cmiuuid": call, "leg_id": leg_id, "leg": leg,
        "conversation_uuid": format!("conv-{call}"), "appid": appid,
        "from": "14155550100", "to": "14155550199", "callerid": "14155550100",
        "direction": if leg == "a" { "inbound" } else { "outbound" },
        "time": time_ms, "start_time": time_ms / 1000 - 30, "answer_time": time_ms / 1000 - 20,
        "end_time": time_ms / 1000, "duration": 20, "status": "answered",
        "cdr_kind": if leg == "a" { "in_answered" } else { "out_answered" },
        "extra_params": extra_params, "call_rate": 0.0, "balance": 0.0,
        "hangup_cause": "NORMAL_CLEARING", "sip_status": 200, "request_id": null
    }))
    .expect("a CDR in the engine's format")
}
