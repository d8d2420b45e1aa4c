//! Conformance checks for trunks and numbers. App ids 70–72, trunk names `t-*`.

use super::{app, trunk};
use crate::store::{AppId, Number, Store, StoreError};

fn number(digits: &str, app: u64) -> Number {
    Number {
        number: digits.to_owned(),
        app: AppId(app),
        created_at: 1_700_000_000,
        name: None,
    }
}

fn digits(list: &[Number]) -> Vec<&str> {
    list.iter().map(|n| n.number.as_str()).collect()
}

pub(super) fn trunks(store: &dyn Store) {
    let mut with_password = trunk("t-carrier", &["192.0.2.1", "2001:db8::7"]);
    with_password.username = Some("acct".to_owned());
    with_password.sealed_password = Some(vec![1, 2, 3]);
    store.insert_trunk(&with_password).unwrap();
    store.insert_trunk(&trunk("t-backup", &[])).unwrap();
    assert!(matches!(
        store.insert_trunk(&trunk("t-carrier", &["192.0.2.9"])),
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.trunk("t-carrier").unwrap(),
        Some(with_password.clone()),
        "the first insert is kept whole"
    );
    assert_eq!(store.trunk("t-CARRIER").unwrap(), None, "names are exact");
    let names: Vec<String> = store
        .trunks()
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .filter(|n| n.starts_with("t-"))
        .collect();
    assert_eq!(names, ["t-backup", "t-carrier"], "by name");
    assert!(matches!(
        store.insert_trunk(&trunk("t-\0", &[])),
        Err(StoreError::InvalidKey("trunk name"))
    ));
    store.delete_trunk("t-backup").unwrap();
    assert!(matches!(
        store.delete_trunk("t-backup"),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.trunk("t-backup").unwrap(), None);
    store.delete_trunk("t-carrier").unwrap();
    store
        .insert_trunk(&trunk("t-carrier", &[]))
        .expect("a deleted name can be taken again");
    store.delete_trunk("t-carrier").unwrap();
}

pub(super) fn numbers(store: &dyn Store) {
    assert!(
        matches!(
            store.insert_number(&number("14155550100", 70)),
            Err(StoreError::NotFound)
        ),
        "a number needs its app"
    );
    store.insert_app(&app(70, "num.example")).unwrap();
    store.insert_app(&app(71, "num.example")).unwrap();
    for d in ["14155550102", "14155550100", "4930123456"] {
        store.insert_number(&number(d, 70)).unwrap();
    }
    store.insert_number(&number("14155550101", 71)).unwrap();
    assert!(
        matches!(
            store.insert_number(&number("14155550100", 71)),
            Err(StoreError::Conflict)
        ),
        "a number belongs to one app at most"
    );
    assert_eq!(
        store.number("14155550100").unwrap(),
        Some(number("14155550100", 70))
    );
    assert_eq!(store.number("14155550109").unwrap(), None);
    assert_eq!(
        digits(&store.numbers(Some(AppId(70))).unwrap()),
        ["14155550100", "14155550102", "4930123456"],
        "one app's, in digit order"
    );
    let all = store.numbers(None).unwrap();
    let ours: Vec<&str> = digits(&all)
        .into_iter()
        .filter(|d| d.starts_with("1415555010") || d.starts_with("4930"))
        .collect();
    assert_eq!(
        ours,
        ["14155550100", "14155550101", "14155550102", "4930123456"]
    );
    assert!(store.numbers(Some(AppId(79))).unwrap().is_empty());

    store.delete_number("14155550100").unwrap();
    assert!(matches!(
        store.delete_number("14155550100"),
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        digits(&store.numbers(Some(AppId(70))).unwrap()),
        ["14155550102", "4930123456"],
        "the index follows the delete"
    );
    store
        .insert_number(&number("14155550100", 71))
        .expect("a freed number can go to another app");
    assert!(matches!(
        store.number("1\x002"),
        Err(StoreError::InvalidKey("number"))
    ));
}

pub(super) fn numbers_go_with_their_app(store: &dyn Store) {
    store.insert_app(&app(72, "num.example")).unwrap();
    store.insert_number(&number("3312345678", 72)).unwrap();
    store.insert_number(&number("3312345679", 72)).unwrap();
    store.delete_app(AppId(72)).unwrap();
    assert_eq!(store.number("3312345678").unwrap(), None);
    assert_eq!(store.number("3312345679").unwrap(), None);
    assert!(store.numbers(Some(AppId(72))).unwrap().is_empty());
    assert!(
        store.number("14155550101").unwrap().is_some(),
        "other apps keep theirs"
    );
    // The id cannot be re-created (tombstone); the freed number goes to a new app.
    assert!(matches!(
        store.insert_app(&app(72, "num.example")),
        Err(StoreError::Conflict)
    ));
    store.insert_app(&app(73, "num.example")).unwrap();
    assert!(store.numbers(Some(AppId(73))).unwrap().is_empty());
    store.insert_number(&number("3312345678", 73)).unwrap();
}
