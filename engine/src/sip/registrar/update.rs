//! RFC 3261 §10.3 steps 6–8: turning a REGISTER into the new set of bindings of one address of
//! record, and the 200 that lists them. Pure: the caller passes the current bindings and the
//! wall-clock time, and stores what comes back before sending the response.

use super::binding::Binding;
use crate::sip::message::{
    parse_delta_seconds, response_to, ContactList, HeaderName, HeaderView, NameAddr, Request,
    Response, SipUri, Uri,
};
use crate::sip::{ConnId, Peer};

/// Registration limits, and the node bindings are recorded as held by.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Shorter non-zero expiries get 423 Interval Too Brief.
    pub min_expires: u32,
    /// Longer expiries are capped (the 200 says what was granted).
    pub max_expires: u32,
    /// When neither the contact nor the request says.
    pub default_expires: u32,
    /// Bindings per address of record; past it the bindings closest to expiry are dropped.
    pub max_contacts: usize,
    /// This node's id when several nodes share the store: every binding it writes records it
    /// (`Binding::node`), so the others route calls for it through this node. `None` on a
    /// single node.
    pub node: Option<String>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        RegistrarConfig {
            min_expires: 60,
            max_expires: 7200,
            default_expires: 3600,
            max_contacts: 10,
            node: None,
        }
    }
}

/// The outcome of an accepted REGISTER.
#[derive(Debug, Clone)]
pub struct Update {
    /// The complete new set of bindings (possibly empty).
    pub bindings: Vec<Binding>,
    /// True when anything must be written (a pure fetch changes nothing).
    pub changed: bool,
    /// The 200 to send once the bindings are durable.
    pub response: Response,
}

impl Update {
    /// For a REGISTER that came over a stream connection: that connection and until when it
    /// is a flow (RFC 5626; Unix seconds), the latest expiry of the bindings registered from
    /// it, or 0 when none is left (an unregistration ends the flow). `None` over UDP.
    pub fn flow(&self, peer: &Peer) -> Option<(ConnId, u64)> {
        let conn = peer.conn.filter(|_| peer.transport.is_reliable())?;
        let until = self
            .bindings
            .iter()
            .filter(|b| b.source == peer.addr && b.transport == peer.transport)
            .map(|b| b.expires_at)
            .max()
            .unwrap_or(0);
        Some((conn, until))
    }
}

/// Applies `req` to `current` (expired ones are dropped first). `Err` is the response to send
/// instead (400, 416, 423, 500).
pub fn apply(
    req: &Request,
    current: &[Binding],
    now: u64,
    source: Peer,
    cfg: &RegistrarConfig,
    to_tag: &str,
) -> Result<Update, Box<Response>> {
    let reject = |status: u16, why: &str| {
        let mut r = response_to(req, status, Some(to_tag));
        if !why.is_empty() {
            r.reason = format!("{} ({why})", r.reason);
        }
        Box::new(r)
    };
    let mut bindings: Vec<Binding> = current
        .iter()
        .filter(|b| b.expires_at > now)
        .cloned()
        .collect();
    let mut changed = bindings.len() != current.len();
    let call_id = req.call_id().unwrap_or_default().to_string();
    let cseq = req.cseq().map_err(|_| reject(400, "CSeq"))?.seq;
    let header_expires = req.expires().map_err(|_| reject(400, "Expires"))?;
    let user_agent = req.headers.get(&HeaderName::UserAgent).map(str::to_string);

    match req.contacts().map_err(|_| reject(400, "Contact"))? {
        ContactList::Star => {
            // §10.3 step 6: `*` only with Expires: 0, alone.
            if header_expires != Some(0) {
                return Err(reject(400, "Contact * needs Expires: 0"));
            }
            let before = bindings.len();
            bindings.retain(|b| b.call_id == call_id && b.cseq >= cseq);
            changed |= bindings.len() != before;
        }
        ContactList::Addrs(addrs) => {
            for addr in &addrs {
                let Uri::Sip(uri) = &addr.uri else {
                    // RFC 4475 unksm2: never bind a URI we cannot reach.
                    return Err(reject(416, "Contact scheme"));
                };
                let requested = match addr.params.value("expires") {
                    Some(v) => parse_delta_seconds(v).map_err(|_| reject(400, "expires"))?,
                    None => header_expires.unwrap_or(cfg.default_expires),
                };
                if requested != 0 && requested < cfg.min_expires {
                    let mut r = reject(423, "");
                    r.headers
                        .push(HeaderName::MinExpires, cfg.min_expires.to_string());
                    return Err(r);
                }
                let granted = requested.min(cfg.max_expires);
                let instance = addr.params.value("+sip.instance").map(str::to_string);
                let reg_id = addr.params.value("reg-id").and_then(|v| v.parse().ok());
                let existing = bindings
                    .iter()
                    .position(|b| same_binding(b, uri, &instance, reg_id));
                if let Some(i) = existing {
                    let b = &bindings[i];
                    // Step 7: an older or repeated request of the same Call-ID must not undo a
                    // newer one.
                    if b.call_id == call_id && cseq <= b.cseq {
                        return Err(reject(500, "out of order REGISTER"));
                    }
                    if granted == 0 {
                        bindings.remove(i);
                    } else {
                        let b = &mut bindings[i];
                        b.contact = uri.to_string();
                        b.q = addr.params.value("q").map(str::to_string);
                        b.call_id = call_id.clone();
                        b.cseq = cseq;
                        b.expires_at = now + u64::from(granted);
                        b.transport = source.transport;
                        b.source = source.addr;
                        b.user_agent = user_agent.clone();
                        // The flow is wherever the device registered last.
                        b.node = cfg.node.clone();
                    }
                    changed = true;
                } else if granted > 0 {
                    bindings.push(Binding {
                        contact: uri.to_string(),
                        instance,
                        reg_id,
                        q: addr.params.value("q").map(str::to_string),
                        call_id: call_id.clone(),
                        cseq,
                        expires_at: now + u64::from(granted),
                        registered_at: now,
                        transport: source.transport,
                        source: source.addr,
                        user_agent: user_agent.clone(),
                        node: cfg.node.clone(),
                    });
                    changed = true;
                }
            }
            if bindings.len() > cfg.max_contacts {
                // Keep the freshest: a device that re-registered from a new NAT port leaves its
                // old binding behind, and the newest one is the reachable one.
                bindings.sort_by_key(|b| std::cmp::Reverse(b.expires_at));
                bindings.truncate(cfg.max_contacts);
            }
        }
    }
    let mut response = response_to(req, 200, Some(to_tag));
    for b in &bindings {
        response
            .headers
            .push(HeaderName::Contact, contact_value(b, now));
    }
    Ok(Update {
        bindings,
        changed,
        response,
    })
}

/// `<uri>;expires=N[;q=..][;+sip.instance=..][;reg-id=..]`, N the remaining seconds.
pub fn contact_value(b: &Binding, now: u64) -> String {
    let mut v = format!(
        "<{}>;expires={}",
        b.contact,
        b.expires_at.saturating_sub(now)
    );
    if let Some(q) = &b.q {
        v.push_str(";q=");
        v.push_str(q);
    }
    if let Some(i) = &b.instance {
        v.push_str(";+sip.instance=");
        v.push_str(i);
    }
    if let Some(r) = b.reg_id {
        v.push_str(&format!(";reg-id={r}"));
    }
    v
}

/// RFC 5626: with `+sip.instance` (and `reg-id`) the instance identifies the binding; else the
/// contact URI does (§10.3 step 7, URI comparison of §19.1.4 on the parts that matter).
fn same_binding(b: &Binding, uri: &SipUri, instance: &Option<String>, reg_id: Option<u32>) -> bool {
    if instance.is_some() || b.instance.is_some() {
        return b.instance == *instance && b.reg_id == reg_id;
    }
    match NameAddr::parse(&format!("<{}>", b.contact)).map(|a| a.uri) {
        Ok(Uri::Sip(stored)) => same_uri(&stored, uri),
        _ => false,
    }
}

fn same_uri(a: &SipUri, b: &SipUri) -> bool {
    a.secure == b.secure
        && a.user_unescaped() == b.user_unescaped()
        && a.host.matches(&b.host)
        && a.port == b.port
        && a.transport_param() == b.transport_param()
}
