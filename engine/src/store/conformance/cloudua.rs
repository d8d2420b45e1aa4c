//! Cloud UA domains: unique names, one per app, the app must exist, listing by name.

use super::app;
use crate::store::{AppId, CloudUaDomain, Store, StoreError};

fn domain(name: &str, app: u64) -> CloudUaDomain {
    CloudUaDomain {
        name: name.into(),
        app: AppId(app),
        hs256_secret: Some("s3cret".into()),
        public_key_pem: None,
        issuer: None,
        audience: None,
        callback_base_url: Some("https://device.example.com/cb".into()),
        created_at: 1_700_000_000,
    }
}

pub(super) fn domains(store: &dyn Store) {
    store.insert_app(&app(9_100, "cua1.example")).unwrap();
    store.insert_app(&app(9_101, "cua2.example")).unwrap();
    let a = domain("zeta.cua.example", 9_100);
    store.insert_cloudua_domain(&a).unwrap();
    assert!(
        matches!(
            store.insert_cloudua_domain(&domain("zeta.cua.example", 9_101)),
            Err(StoreError::Conflict)
        ),
        "names are unique"
    );
    assert!(
        matches!(
            store.insert_cloudua_domain(&domain("other.cua.example", 9_100)),
            Err(StoreError::Conflict)
        ),
        "one domain per app"
    );
    assert!(
        matches!(
            store.insert_cloudua_domain(&domain("x.cua.example", 9_999)),
            Err(StoreError::NotFound)
        ),
        "the app must exist"
    );
    let b = domain("alpha.cua.example", 9_101);
    store.insert_cloudua_domain(&b).unwrap();
    assert_eq!(
        store.cloudua_domain("zeta.cua.example").unwrap(),
        Some(a.clone())
    );
    let names: Vec<String> = store
        .cloudua_domains()
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .filter(|n| n.ends_with(".cua.example"))
        .collect();
    assert_eq!(names, ["alpha.cua.example", "zeta.cua.example"]);
    assert_eq!(store.cloudua_domain_of_app(AppId(9_101)).unwrap(), Some(b));
    store.delete_cloudua_domain("alpha.cua.example").unwrap();
    assert!(matches!(
        store.delete_cloudua_domain("alpha.cua.example"),
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.cloudua_domain_of_app(AppId(9_101)).unwrap(), None);
    assert!(
        !format!("{a:?}").contains("s3cret"),
        "Debug hides the secret"
    );
}
