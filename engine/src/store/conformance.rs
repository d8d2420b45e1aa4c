//! One behavioural test suite for every [`Store`] backend.
//!
//! Each backend's tests call [`run`] with a fresh, empty store (and [`concurrent_inserts`] with
//! a shared one), so the backends cannot drift apart: same errors, same cascades, same orders.
//! The checks use disjoint app ids and domains, so they can share one store.

mod bandwidth;
pub(crate) mod calls;
mod cloudua;
mod routing;

use std::sync::{Arc, Barrier};

use super::{
    App, AppId, CallUuid, Cdr, CdrKind, CdrStatus, Delivery, DeliveryKind, Direction, Endpoint,
    Leg, Store, StoreError, Trunk,
};
use crate::sip::registrar::{Aor, Binding};
use crate::sip::Transport;

/// Appears in every fixture HA1, so a test can assert that it never shows up in `Debug` output.
pub(crate) const HA1_MARK: &str = "5ec12e7";

pub(crate) fn app(id: u64, domain: &str) -> App {
    App {
        id: AppId(id),
        name: format!("app {id}"),
        secret: format!("secret-{id}"),
        answer_url: "https://app.example.com/answer".to_owned(),
        event_url: None,
        domain: domain.to_owned(),
        fallback_pcmo: None,
        answer_timeout_ms: None,
        created_at: 1_700_000_000,
        account: None,
        live: None,
    }
}

pub(crate) fn endpoint(app: u64, domain: &str, username: &str) -> Endpoint {
    Endpoint {
        app: Some(AppId(app)),
        domain: domain.to_owned(),
        username: username.to_owned(),
        ha1_md5: format!("{HA1_MARK}md5"),
        ha1_sha256: format!("{HA1_MARK}sha256"),
        enabled: true,
        sealed_password: None,
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
        id: None,
        description: None,
        bw_domain: None,
        tokens: Vec::new(),
    }
}

pub(crate) fn binding(contact: &str, expires_at: u64) -> Binding {
    Binding {
        contact: contact.to_owned(),
        instance: Some("<urn:uuid:00000000-0000-0000-0000-000000000001>".to_owned()),
        reg_id: Some(1),
        q: None,
        call_id: "a84b4c76e66710@pc33.example.com".to_owned(),
        cseq: 7,
        expires_at,
        registered_at: 1_700_000_000,
        transport: Transport::Udp,
        source: "192.0.2.10:5060".parse().expect("a literal socket address"),
        user_agent: Some("conformance".to_owned()),
        node: None,
    }
}

/// A trunk at `sip.carrier.example:5060` (UDP) accepting calls from `ips`.
pub(crate) fn trunk(name: &str, ips: &[&str]) -> Trunk {
    Trunk {
        name: name.to_owned(),
        host: "sip.carrier.example".to_owned(),
        port: 5060,
        transport: Transport::Udp,
        allow_ips: ips
            .iter()
            .map(|ip| ip.parse().expect("a literal IP"))
            .collect(),
        username: None,
        sealed_password: None,
        created_at: 1_700_000_000,
    }
}

/// An answered inbound CDR of `app` for leg `leg_id` of call `call`, made at `time` (ms).
pub(crate) fn cdr(app: u64, call: &str, leg_id: &str, time: u64) -> Cdr {
    let leg = if leg_id == "a" { Leg::A } else { Leg::B };
    Cdr {
        tag: Default::default(),
        cmiuuid: CallUuid::from(call),
        leg_id: leg_id.to_owned(),
        leg,
        conversation_uuid: format!("conv-{call}"),
        appid: AppId(app),
        from: "14155550100".to_owned(),
        to: "14155550199".to_owned(),
        callerid: "14155550100".to_owned(),
        direction: Direction::Inbound,
        time,
        start_time: (time / 1000).saturating_sub(30),
        answer_time: Some((time / 1000).saturating_sub(20)),
        end_time: time / 1000,
        duration: 20,
        status: CdrStatus::Answered,
        cdr_kind: CdrKind::InAnswered,
        extra_params: String::new(),
        metadata: None,
        call_rate: 0.0,
        balance: 0.0,
        hangup_cause: "NORMAL_CLEARING".to_owned(),
        sip_status: Some(200),
        request_id: None,
    }
}

/// A pending event delivery of app 1 for `call`.
pub(crate) fn delivery(seq: u64, call: Option<&str>) -> Delivery {
    Delivery {
        seq,
        id: format!("d-{seq}"),
        app: AppId(1),
        url: "https://app.example.com/events".to_owned(),
        kind: DeliveryKind::Event,
        call: call.map(str::to_owned),
        body: format!(r#"{{"seq":{seq}}}"#),
        attempt: 0,
        due_at: 1_700_000_000_000,
        created_at: 1_700_000_000_000,
    }
}

/// App 1 in `seed.example` with three endpoints, one of them registered.
pub(crate) fn seed(store: &dyn Store) {
    store.insert_app(&app(1, "seed.example")).unwrap();
    for user in ["carol", "alice", "bob"] {
        store
            .insert_endpoint(&endpoint(1, "seed.example", user))
            .unwrap();
    }
    let aor = Aor::new("alice", "seed.example");
    store
        .put_bindings(&aor, &[binding("sip:alice@192.0.2.10", 1_700_003_600)])
        .unwrap();
}

/// Runs every check against an empty store.
pub(crate) fn run(store: &dyn Store) {
    // First: pruning by age spans every app, so it wants a store with only its own CDRs.
    calls::cdr_retention(store);
    apps(store);
    endpoints(store);
    paging(store);
    bindings(store);
    cascades(store);
    moving_between_apps(store);
    routing::trunks(store);
    routing::numbers(store);
    routing::numbers_go_with_their_app(store);
    calls::cdrs(store);
    calls::cdr_listing(store);
    calls::outbox(store);
    bandwidth::accounts(store);
    bandwidth::domains_and_endpoints(store);
    bandwidth::apps_detach_bandwidth_endpoints(store);
    bandwidth::numbers_change_app(store);
    bandwidth::apps_update(store);
    cloudua::domains(store);
    store.flush().unwrap();
}

fn usernames(list: &[Endpoint]) -> Vec<&str> {
    list.iter().map(|e| e.username.as_str()).collect()
}

fn apps(store: &dyn Store) {
    for id in [300, 2, 70_000] {
        store.insert_app(&app(id, "apps.example")).unwrap();
    }
    assert!(matches!(
        store.insert_app(&app(300, "other.example")),
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.app(AppId(300)).unwrap(),
        Some(app(300, "apps.example"))
    );
    assert_eq!(store.app(AppId(301)).unwrap(), None);
    let ids: Vec<u64> = store.apps().unwrap().iter().map(|a| a.id.0).collect();
    assert_eq!(ids, [2, 300, 70_000], "apps come back in id order");
    assert!(matches!(
        store.delete_app(AppId(301)),
        Err(StoreError::NotFound)
    ));
    for id in [300, 2, 70_000] {
        store.delete_app(AppId(id)).unwrap();
    }
    assert!(store.apps().unwrap().is_empty());
    for id in [300, 2, 70_000] {
        assert!(
            matches!(
                store.insert_app(&app(id, "apps.example")),
                Err(StoreError::Conflict)
            ),
            "a deleted app's id ({id}) is never handed out again"
        );
        assert_eq!(store.app(AppId(id)).unwrap(), None);
        assert!(matches!(
            store.delete_app(AppId(id)),
            Err(StoreError::NotFound)
        ));
    }
    // An id with CDRs but no app (deleted before tombstones existed) is taken too.
    store
        .insert_cdr(&cdr(303, "tomb-call", "a", 5), None)
        .unwrap();
    assert!(matches!(
        store.insert_app(&app(303, "apps.example")),
        Err(StoreError::Conflict)
    ));
    store.insert_app(&app(304, "apps.example")).unwrap();
    store.delete_app(AppId(304)).unwrap();
}

fn endpoints(store: &dyn Store) {
    let alice = endpoint(10, "ep.example", "alice");
    assert!(
        matches!(store.insert_endpoint(&alice), Err(StoreError::NotFound)),
        "an endpoint needs its app"
    );
    store.insert_app(&app(10, "ep.example")).unwrap();
    store.insert_endpoint(&alice).unwrap();
    let shouting = endpoint(10, "EP.Example", "alice");
    assert!(
        matches!(store.insert_endpoint(&shouting), Err(StoreError::Conflict)),
        "domains compare case-insensitively"
    );
    store
        .insert_endpoint(&endpoint(10, "ep.example", "Alice"))
        .expect("usernames are case-sensitive");
    store
        .insert_endpoint(&endpoint(10, "other.example", "alice"))
        .expect("the same username in another domain is another endpoint");
    assert_eq!(store.endpoint("EP.EXAMPLE", "alice").unwrap(), Some(alice));
    assert_eq!(store.endpoint("ep.example", "ALICE").unwrap(), None);

    let mut changed = endpoint(10, "ep.example", "alice");
    changed.ha1_md5 = "00".repeat(16);
    changed.updated_at += 60;
    store.update_endpoint(&changed).unwrap();
    assert_eq!(
        store.endpoint("ep.example", "alice").unwrap(),
        Some(changed)
    );
    assert!(matches!(
        store.update_endpoint(&endpoint(10, "ep.example", "nobody")),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.delete_endpoint("ep.example", "nobody"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.insert_endpoint(&endpoint(10, "ep.example", "a\0b")),
        Err(StoreError::InvalidKey("username"))
    ));
    assert!(matches!(
        store.endpoint("ep\0example", "alice"),
        Err(StoreError::InvalidKey("domain"))
    ));
    store.delete_endpoint("Ep.Example", "alice").unwrap();
    assert_eq!(store.endpoint("ep.example", "alice").unwrap(), None);
    assert_eq!(store.endpoints_of_app(AppId(10), 0, 10).unwrap().1, 2);
    store
        .insert_endpoint(&endpoint(10, "ep.example", "alice"))
        .expect("a deleted username can be taken again");
}

fn paging(store: &dyn Store) {
    store.insert_app(&app(20, "page.example")).unwrap();
    store.insert_app(&app(21, "page.example")).unwrap();
    // Inserted out of order; 25 users u00..u24, plus one of another app in between.
    for n in (0..25).map(|i| (i * 7) % 25) {
        let user = format!("u{n:02}");
        store
            .insert_endpoint(&endpoint(20, "page.example", &user))
            .unwrap();
    }
    store
        .insert_endpoint(&endpoint(21, "page.example", "u10x"))
        .unwrap();

    let (first, total) = store.endpoints_of_app(AppId(20), 0, 10).unwrap();
    assert_eq!(total, 25);
    let expected: Vec<String> = (0..10).map(|n| format!("u{n:02}")).collect();
    assert_eq!(usernames(&first), expected);
    let (last, total) = store.endpoints_of_app(AppId(20), 20, 10).unwrap();
    assert_eq!(
        (usernames(&last), total),
        (vec!["u20", "u21", "u22", "u23", "u24"], 25)
    );
    let (beyond, total) = store.endpoints_of_app(AppId(20), 30, 10).unwrap();
    assert!(beyond.is_empty());
    assert_eq!(total, 25);
    assert_eq!(store.endpoints_of_app(AppId(20), 0, 0).unwrap().1, 25);
    let (other, total) = store.endpoints_of_app(AppId(21), 0, 10).unwrap();
    assert_eq!((usernames(&other), total), (vec!["u10x"], 1));
    assert_eq!(store.endpoints_of_app(AppId(22), 0, 10).unwrap().1, 0);
}

fn bindings(store: &dyn Store) {
    store.insert_app(&app(30, "reg.example")).unwrap();
    store
        .insert_endpoint(&endpoint(30, "reg.example", "dave"))
        .unwrap();
    let mut off = endpoint(30, "reg.example", "erin");
    off.enabled = false;
    store.insert_endpoint(&off).unwrap();

    let dave = Aor::new("dave", "REG.example");
    let one = vec![binding("sip:dave@192.0.2.20:5060", 1_700_000_600)];
    assert!(store.bindings(&dave).unwrap().is_empty());
    store.put_bindings(&dave, &one).unwrap();
    assert_eq!(
        store.bindings(&Aor::new("dave", "reg.example")).unwrap(),
        one
    );
    let two = vec![
        binding("sip:dave@192.0.2.20:5060", 1_700_000_900),
        binding("sip:dave@192.0.2.21:5070;transport=tcp", 1_700_001_200),
    ];
    store.put_bindings(&dave, &two).unwrap();
    assert_eq!(store.bindings(&dave).unwrap(), two, "put replaces the list");

    for nobody in [
        Aor::new("erin", "reg.example"),
        Aor::new("frank", "reg.example"),
    ] {
        assert!(
            matches!(store.put_bindings(&nobody, &one), Err(StoreError::NotFound)),
            "bindings need an enabled endpoint ({nobody})"
        );
        assert!(store.bindings(&nobody).unwrap().is_empty());
    }

    let all = store.all_bindings().unwrap();
    let listed: Vec<_> = all
        .iter()
        .filter(|(aor, _)| aor.domain == "reg.example")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0], &(Aor::new("dave", "reg.example"), two));

    store.put_bindings(&dave, &[]).unwrap();
    assert!(store.bindings(&dave).unwrap().is_empty());
    assert!(!store
        .all_bindings()
        .unwrap()
        .iter()
        .any(|(aor, _)| aor.domain == "reg.example"));
}

fn cascades(store: &dyn Store) {
    let domain = "cascade.example";
    store.insert_app(&app(40, domain)).unwrap();
    store.insert_app(&app(41, domain)).unwrap();
    for (app_id, user) in [(40, "gina"), (40, "hank"), (40, "ivan"), (41, "jane")] {
        store
            .insert_endpoint(&endpoint(app_id, domain, user))
            .unwrap();
        let aor = Aor::new(user, domain);
        store
            .put_bindings(
                &aor,
                &[binding(&format!("sip:{user}@192.0.2.30"), 1_700_009_000)],
            )
            .unwrap();
    }

    store.delete_endpoint(domain, "gina").unwrap();
    assert!(store
        .bindings(&Aor::new("gina", domain))
        .unwrap()
        .is_empty());
    let (page, total) = store.endpoints_of_app(AppId(40), 0, 10).unwrap();
    assert_eq!((usernames(&page), total), (vec!["hank", "ivan"], 2));

    let mut hank = endpoint(40, domain, "hank");
    hank.enabled = false;
    store.update_endpoint(&hank).unwrap();
    assert!(
        store
            .bindings(&Aor::new("hank", domain))
            .unwrap()
            .is_empty(),
        "disabling an endpoint drops its bindings"
    );

    // A new password drops what was registered with the old one, at once; an update that keeps
    // the credentials (say, the updated_at stamp) keeps the bindings.
    let ivan = Aor::new("ivan", domain);
    let mut same = endpoint(40, domain, "ivan");
    same.updated_at += 1;
    store.update_endpoint(&same).unwrap();
    assert_eq!(store.bindings(&ivan).unwrap().len(), 1, "same credentials");
    let mut rekeyed = same.clone();
    rekeyed.ha1_md5 = format!("{HA1_MARK}md5-new");
    rekeyed.ha1_sha256 = format!("{HA1_MARK}sha256-new");
    store.update_endpoint(&rekeyed).unwrap();
    assert!(
        store.bindings(&ivan).unwrap().is_empty(),
        "a password change drops the endpoint's bindings"
    );
    assert_eq!(store.endpoint(domain, "ivan").unwrap(), Some(rekeyed));
    store
        .put_bindings(&ivan, &[binding("sip:ivan@192.0.2.31", 1_700_009_000)])
        .expect("the endpoint registers again with its new password");

    store.delete_app(AppId(40)).unwrap();
    assert_eq!(store.app(AppId(40)).unwrap(), None);
    for user in ["hank", "ivan"] {
        assert_eq!(store.endpoint(domain, user).unwrap(), None);
        assert!(store.bindings(&Aor::new(user, domain)).unwrap().is_empty());
    }
    assert_eq!(store.endpoints_of_app(AppId(40), 0, 10).unwrap().1, 0);
    assert!(
        store.endpoint(domain, "jane").unwrap().is_some(),
        "other apps keep theirs"
    );
    assert_eq!(store.bindings(&Aor::new("jane", domain)).unwrap().len(), 1);
    assert!(matches!(
        store.insert_endpoint(&endpoint(40, domain, "ivan")),
        Err(StoreError::NotFound)
    ));
}

fn moving_between_apps(store: &dyn Store) {
    let domain = "move.example";
    store.insert_app(&app(50, domain)).unwrap();
    store.insert_app(&app(51, domain)).unwrap();
    store.insert_endpoint(&endpoint(50, domain, "kim")).unwrap();
    assert!(matches!(
        store.update_endpoint(&endpoint(59, domain, "kim")),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store.endpoint(domain, "kim").unwrap().unwrap().app,
        Some(AppId(50))
    );
    store.update_endpoint(&endpoint(51, domain, "kim")).unwrap();
    assert_eq!(store.endpoints_of_app(AppId(50), 0, 10).unwrap().1, 0);
    let (page, total) = store.endpoints_of_app(AppId(51), 0, 10).unwrap();
    assert_eq!((usernames(&page), total), (vec!["kim"], 1));
}

/// Eight threads race to insert the same app and the same 50 endpoints: exactly one insert of
/// each succeeds, the rest get `Conflict`, and the index counts each endpoint once.
pub(crate) fn concurrent_inserts(store: Arc<dyn Store>) {
    const THREADS: usize = 8;
    const USERS: usize = 50;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                let mut won = 0;
                let mut app_won = 0;
                match store.insert_app(&app(60, "race.example")) {
                    Ok(()) => app_won += 1,
                    Err(StoreError::Conflict) => {}
                    Err(e) => panic!("unexpected {e}"),
                }
                // Wait until the app exists, whoever created it.
                while store.app(AppId(60)).unwrap().is_none() {
                    std::thread::yield_now();
                }
                for n in 0..USERS {
                    let e = endpoint(60, "race.example", &format!("r{n:02}"));
                    match store.insert_endpoint(&e) {
                        Ok(()) => won += 1,
                        Err(StoreError::Conflict) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
                (app_won, won)
            })
        })
        .collect();
    let (apps, endpoints) = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .fold((0, 0), |(a, e), (a2, e2)| (a + a2, e + e2));
    assert_eq!(apps, 1, "exactly one insert of the app wins");
    assert_eq!(endpoints, USERS, "exactly one insert of each endpoint wins");
    assert_eq!(store.endpoints_of_app(AppId(60), 0, 100).unwrap().1, USERS);
}

/// Registrations race the removal of their endpoints: one thread keeps writing bindings for 40
/// endpoints while another deletes them one by one. Afterwards no binding is left for any of
/// them, whatever the interleaving (a binding never outlives its endpoint).
pub(crate) fn bindings_race_deletes(store: Arc<dyn Store>) {
    const USERS: usize = 40;
    store.insert_app(&app(70, "gone.example")).unwrap();
    for n in 0..USERS {
        store
            .insert_endpoint(&endpoint(70, "gone.example", &format!("g{n:02}")))
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(2));
    let writer = {
        let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
        std::thread::spawn(move || {
            barrier.wait();
            for round in 0..20u64 {
                for n in 0..USERS {
                    let aor = Aor::new(format!("g{n:02}"), "gone.example");
                    let list = [binding("sip:g@192.0.2.30", 1_700_000_000 + round)];
                    match store.put_bindings(&aor, &list) {
                        Ok(()) | Err(StoreError::NotFound) => {}
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }
        })
    };
    barrier.wait();
    for n in 0..USERS {
        store
            .delete_endpoint("gone.example", &format!("g{n:02}"))
            .unwrap();
    }
    writer.join().unwrap();
    let left: Vec<_> = store
        .all_bindings()
        .unwrap()
        .into_iter()
        .filter(|(aor, _)| aor.domain == "gone.example")
        .collect();
    assert!(
        left.is_empty(),
        "bindings outlived their endpoints: {left:?}"
    );
}
