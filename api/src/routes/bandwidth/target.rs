//! Where a Bandwidth `to` (or `transferTo`) leads: an endpoint of one of the user's domains
//! (`sip:name@domain`), another SIP URI (under the egress policy when dialled), or a phone
//! number (`+E.164`, through the trunk); and which of the user's applications the call runs
//! for (the endpoint's, else the user's first application).

use actix_web::http::StatusCode;
use engine::store::App;
use pcmo::Destination;

use super::{BwError, BwUser};
use crate::State;

pub(super) struct Target {
    pub app: App,
    pub destination: Destination,
    /// The SIP domain of an endpoint destination.
    pub domain: Option<String>,
}

fn bad(msg: &str) -> BwError {
    BwError::new(
        StatusCode::BAD_REQUEST,
        "bad-request",
        "invalid-to",
        msg.to_string(),
    )
}

pub(super) fn resolve(state: &State, user: &BwUser, to: &str) -> Result<Target, BwError> {
    let to = to.trim();
    let bw = &state.engine.bandwidth;
    let default_app = || -> Result<App, BwError> {
        let apps = bw.applications(&user.account).unwrap_or_default();
        apps.iter()
            .find(|a| a.live.is_some())
            .or_else(|| apps.first())
            .cloned()
            .ok_or_else(|| {
                BwError::new(
                    StatusCode::CONFLICT,
                    "conflict",
                    "call-no-application",
                    "the user has no application to run the call for: create one first",
                )
            })
    };
    if let Some(rest) = to.strip_prefix("sip:") {
        let (name, host) = rest
            .split_once('@')
            .ok_or_else(|| bad("a SIP URI needs a user and a host"))?;
        let host = host
            .split([';', '?'])
            .next()
            .unwrap_or(host)
            .to_ascii_lowercase();
        let domains = bw.domains(&user.account).unwrap_or_default();
        if let Some(d) = domains.iter().find(|d| d.sip_domain == host) {
            let ep = bw
                .endpoints(d)
                .unwrap_or_default()
                .into_iter()
                .find(|e| e.username == name)
                .ok_or_else(|| bad("no such endpoint in the domain"))?;
            let app = match ep
                .app
                .and_then(|a| state.engine.directory.app(a).ok().flatten())
            {
                Some(a) if user.owns_app(&a) => a,
                _ => default_app()?,
            };
            return Ok(Target {
                app,
                destination: Destination::SipUser(ep.username),
                domain: Some(d.sip_domain.clone()),
            });
        }
        // An endpoint of this server that is not the user's (another user's domain, a
        // PIOPIY app's) is not the user's to call.
        if state.engine.domains.is_own(&host) {
            return Err(BwError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "invalid-to",
                "the SIP URI is not an endpoint of one of your domains",
            ));
        }
        return Ok(Target {
            app: default_app()?,
            destination: Destination::SipUri(to.to_string()),
            domain: None,
        });
    }
    let digits = to.strip_prefix('+').unwrap_or(to);
    if !(1..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("to must be an E.164 number (+…) or a sip: URI"));
    }
    Ok(Target {
        app: default_app()?,
        destination: Destination::Pstn(digits.to_string()),
        domain: None,
    })
}
