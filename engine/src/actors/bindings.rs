//! Registrations as the engine holds them: restored from the store at start-up, and listed
//! for the admin API and the CLI.

use std::net::SocketAddr;

use serde::Serialize;

use super::clock::unix_now;
use super::Engine;
use crate::sip::registrar::{Aor, Binding};
use crate::sip::Transport;
use crate::store::{AppId, Store, StoreError};

/// A live binding as the admin API and CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct RegistrationView {
    pub appid: Option<u64>,
    pub username: String,
    pub realm: String,
    pub aor: String,
    pub contact: String,
    pub transport: Transport,
    pub source: SocketAddr,
    /// Absolute expiry, Unix seconds.
    pub expires_at: u64,
    pub expires_in: u64,
    pub registered_at: u64,
    pub user_agent: Option<String>,
    /// The node holding the binding's flow, when several nodes share the store.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl Engine {
    /// Live registrations, optionally of one app, ordered by realm and user.
    pub fn registrations(&self, app: Option<AppId>) -> Result<Vec<RegistrationView>, StoreError> {
        let now = unix_now();
        let mut out = Vec::new();
        for (aor, bindings) in self.store.all_bindings()? {
            let owner = self
                .store
                .endpoint(&aor.domain, &aor.user)?
                .and_then(|e| e.app);
            if app.is_some() && owner != app {
                continue;
            }
            for b in bindings.into_iter().filter(|b| b.expires_at > now) {
                out.push(view(&aor, b, owner, now));
            }
        }
        out.sort_by(|a, b| {
            (&a.realm, &a.username, &a.contact).cmp(&(&b.realm, &b.username, &b.contact))
        });
        Ok(out)
    }
}

fn view(aor: &Aor, b: Binding, owner: Option<AppId>, now: u64) -> RegistrationView {
    RegistrationView {
        appid: owner.map(|a| a.0),
        username: aor.user.clone(),
        realm: aor.domain.clone(),
        aor: format!("sip:{aor}"),
        contact: b.contact,
        transport: b.transport,
        source: b.source,
        expires_at: b.expires_at,
        expires_in: b.expires_at.saturating_sub(now),
        registered_at: b.registered_at,
        user_agent: b.user_agent,
        node: b.node,
    }
}

/// Loads bindings, drops the expired ones from the store, returns the live ones. With a
/// shared store (`node`: this node's id) only the bindings this node holds are restored and
/// pruned: those of other nodes are theirs, and their connections did not die with us.
pub(super) fn restore_bindings(
    store: &dyn Store,
    node: Option<&str>,
) -> Result<Vec<(Aor, Vec<Binding>)>, StoreError> {
    let now = unix_now();
    let mut live = Vec::new();
    let mut purged = 0;
    for (aor, bindings) in store.all_bindings()? {
        // A crash between a binding's write and its endpoint check (`Store::put_bindings`)
        // can leave bindings of a removed or disabled endpoint: they go now.
        let owner_live = store
            .endpoint(&aor.domain, &aor.user)?
            .is_some_and(|e| e.enabled);
        if !owner_live {
            purged += bindings.len();
            store.put_bindings(&aor, &[])?;
            continue;
        }
        let ours: Vec<Binding> = bindings
            .iter()
            .filter(|b| b.held_by(node))
            .cloned()
            .collect();
        // A binding over WS, WSS or TLS is reached only over the connection it came on,
        // which died with the previous process: the device registers again when it
        // reconnects.
        let keep: Vec<Binding> = ours
            .iter()
            .filter(|b| b.expires_at > now && !b.transport.binding_needs_its_connection())
            .cloned()
            .collect();
        if keep.len() != ours.len() {
            purged += ours.len() - keep.len();
            let all = crate::sip::registrar::with_others(&keep, &bindings, node);
            store.put_bindings(&aor, &all)?;
        }
        if !keep.is_empty() {
            live.push((aor, keep));
        }
    }
    let count: usize = live.iter().map(|(_, b)| b.len()).sum();
    tracing::info!(
        live = count,
        dropped = purged,
        "registrations restored (expired ones and those over WS, WSS or TLS dropped)"
    );
    Ok(live)
}
