//! Conformance checks for the Bandwidth model: users, domains, endpoints by id and by domain,
//! endpoints without an app, number updates. App ids 8800–8809, users `u-conf*`.

use super::{app, binding, endpoint};
use crate::sip::registrar::Aor;
use crate::store::{Account, AppId, BwDomain, Endpoint, Number, Store, StoreError};

fn account(id: &str) -> Account {
    Account {
        id: id.to_owned(),
        token: format!("t-{id}"),
        secret_sha256: "00".repeat(32),
        apps: vec![AppId(8800)],
        created_at: 1_700_000_000,
    }
}

fn domain(id: &str, user: &str, name: &str) -> BwDomain {
    BwDomain {
        id: id.to_owned(),
        account: user.to_owned(),
        name: name.to_owned(),
        description: format!("{name} test"),
        sip_domain: format!("{name}.bwapp.conf.example"),
        created_at: 1_700_000_000,
    }
}

fn bw_endpoint(id: &str, d: &BwDomain, username: &str, app: Option<u64>) -> Endpoint {
    let mut ep = endpoint(0, &d.sip_domain, username);
    ep.app = app.map(AppId);
    ep.id = Some(id.to_owned());
    ep.bw_domain = Some(d.id.clone());
    ep.description = Some(format!("{username} phone"));
    ep
}

pub(super) fn accounts(store: &dyn Store) {
    store.insert_account(&account("u-conf2")).unwrap();
    store.insert_account(&account("u-conf1")).unwrap();
    assert!(matches!(
        store.insert_account(&account("u-conf1")),
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.account("u-conf1").unwrap(), Some(account("u-conf1")));
    assert_eq!(store.account("u-nobody").unwrap(), None);
    let ids: Vec<String> = store
        .accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(ids, ["u-conf1", "u-conf2"]);
    store.delete_account("u-conf2").unwrap();
    assert!(matches!(
        store.delete_account("u-conf2"),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.insert_account(&account("u-\0")),
        Err(StoreError::InvalidKey(_))
    ));
}

pub(super) fn domains_and_endpoints(store: &dyn Store) {
    store.insert_account(&account("u-conf3")).unwrap();
    store.insert_app(&app(8801, "apps81.example")).unwrap();
    let d1 = domain("rd-b", "u-conf3", "conf-one");
    let d2 = domain("rd-a", "u-conf3", "conf-two");
    store.insert_bw_domain(&d1).unwrap();
    store.insert_bw_domain(&d2).unwrap();
    // Names are unique (across users), so are ids; the user must exist.
    assert!(matches!(
        store.insert_bw_domain(&domain("rd-c", "u-conf3", "conf-one")),
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.insert_bw_domain(&domain("rd-b", "u-conf3", "conf-three")),
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.insert_bw_domain(&domain("rd-d", "u-nobody", "conf-four")),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.bw_domain("rd-b").unwrap(), Some(d1.clone()));
    let ids: Vec<String> = store
        .bw_domains_of_account("u-conf3")
        .unwrap()
        .into_iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids, ["rd-a", "rd-b"]);
    assert!(store.bw_domains_of_account("u-conf1").unwrap().is_empty());

    // Endpoints with and without an app, found by id and listed by domain in username order.
    let zed = bw_endpoint("re-1", &d1, "zed", Some(8801));
    let amy = bw_endpoint("re-2", &d1, "amy", None);
    store.insert_endpoint(&zed).unwrap();
    store.insert_endpoint(&amy).unwrap();
    store
        .insert_endpoint(&bw_endpoint("re-3", &d2, "amy", None))
        .unwrap();
    assert!(matches!(
        store.insert_endpoint(&bw_endpoint("re-1", &d2, "bob", None)),
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store.insert_endpoint(&bw_endpoint("re-9", &domain("rd-x", "u", "x"), "bob", None)),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.endpoint_by_id("re-2").unwrap(), Some(amy.clone()));
    assert_eq!(store.endpoint_by_id("re-none").unwrap(), None);
    let names: Vec<String> = store
        .endpoints_of_bw_domain("rd-b")
        .unwrap()
        .into_iter()
        .map(|e| e.username)
        .collect();
    assert_eq!(names, ["amy", "zed"]);
    assert_eq!(store.endpoints_of_app(AppId(8801), 0, 10).unwrap().1, 1);

    // An app can be set and cleared.
    let mut moved = amy.clone();
    moved.app = Some(AppId(8801));
    store.update_endpoint(&moved).unwrap();
    assert_eq!(store.endpoints_of_app(AppId(8801), 0, 10).unwrap().1, 2);
    moved.app = None;
    store.update_endpoint(&moved).unwrap();
    assert_eq!(store.endpoints_of_app(AppId(8801), 0, 10).unwrap().1, 1);
    assert_eq!(store.endpoint_by_id("re-2").unwrap(), Some(moved));

    // Deleting one endpoint drops its indexes.
    store.delete_endpoint(&d2.sip_domain, "amy").unwrap();
    assert_eq!(store.endpoint_by_id("re-3").unwrap(), None);
    assert!(store.endpoints_of_bw_domain("rd-a").unwrap().is_empty());

    // Deleting a domain takes its endpoints and their bindings along, and frees the name.
    store
        .put_bindings(
            &Aor::new("zed", &d1.sip_domain),
            &[binding("sip:zed@192.0.2.9", u64::MAX)],
        )
        .unwrap();
    let gone = store.delete_bw_domain("rd-b").unwrap();
    let mut names: Vec<String> = gone.into_iter().map(|e| e.username).collect();
    names.sort();
    assert_eq!(names, ["amy", "zed"]);
    assert_eq!(store.endpoint(&d1.sip_domain, "zed").unwrap(), None);
    assert_eq!(store.endpoint_by_id("re-1").unwrap(), None);
    assert!(store
        .bindings(&Aor::new("zed", &d1.sip_domain))
        .unwrap()
        .is_empty());
    assert_eq!(store.endpoints_of_app(AppId(8801), 0, 10).unwrap().1, 0);
    assert!(matches!(
        store.delete_bw_domain("rd-b"),
        Err(StoreError::NotFound)
    ));
    store
        .insert_bw_domain(&domain("rd-e", "u-conf3", "conf-one"))
        .unwrap();
}

pub(super) fn apps_detach_bandwidth_endpoints(store: &dyn Store) {
    store.insert_account(&account("u-conf4")).unwrap();
    store.insert_app(&app(8802, "apps82.example")).unwrap();
    let d = domain("rd-f", "u-conf4", "conf-detach");
    store.insert_bw_domain(&d).unwrap();
    store
        .insert_endpoint(&bw_endpoint("re-10", &d, "kai", Some(8802)))
        .unwrap();
    store
        .insert_endpoint(&endpoint(8802, "apps82.example", "piopiy"))
        .unwrap();
    store.delete_app(AppId(8802)).unwrap();
    // The PIOPIY endpoint went with its app; the Bandwidth one stays, without an app.
    assert_eq!(store.endpoint("apps82.example", "piopiy").unwrap(), None);
    let kai = store.endpoint_by_id("re-10").unwrap().unwrap();
    assert_eq!(kai.app, None);
    assert_eq!(store.endpoints_of_bw_domain("rd-f").unwrap(), vec![kai]);
}

pub(super) fn apps_update(store: &dyn Store) {
    let mut a = app(8805, "apps85.example");
    assert!(matches!(store.update_app(&a), Err(StoreError::NotFound)));
    store.insert_app(&a).unwrap();
    a.account = Some("u-conf1".to_owned());
    a.live = Some(crate::store::LiveApp {
        incoming_call_url: "https://app.example.com/cb".to_owned(),
        incoming_call_timeout_ms: Some(5000),
        incoming_call_fallback_url: None,
        callback_method: crate::store::CallbackMethod::Get,
        auto_answer: false,
    });
    store.update_app(&a).unwrap();
    assert_eq!(store.app(AppId(8805)).unwrap(), Some(a));
}

pub(super) fn numbers_change_app(store: &dyn Store) {
    store.insert_app(&app(8803, "apps83.example")).unwrap();
    store.insert_app(&app(8804, "apps83.example")).unwrap();
    let mut n = Number {
        number: "4930555000".to_owned(),
        app: AppId(8803),
        created_at: 1_700_000_000,
        name: None,
    };
    assert!(matches!(store.update_number(&n), Err(StoreError::NotFound)));
    store.insert_number(&n).unwrap();
    n.app = AppId(8804);
    n.name = Some("front desk".to_owned());
    store.update_number(&n).unwrap();
    assert_eq!(store.number("4930555000").unwrap(), Some(n.clone()));
    assert!(store.numbers(Some(AppId(8803))).unwrap().is_empty());
    assert_eq!(store.numbers(Some(AppId(8804))).unwrap(), vec![n.clone()]);
    n.app = AppId(8809);
    assert!(matches!(store.update_number(&n), Err(StoreError::NotFound)));
}
