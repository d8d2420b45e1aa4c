//! `ringmaster bans` and `ringmaster unban ADDR[/USER]`: what the SIP defences refuse now, and
//! lifting a block, through the admin API.

use anyhow::anyhow;
use serde_json::{json, Value};

use super::admin::Client;
use super::ClientOpts;

/// `ADDR` or `ADDR/USER` (the user as `name` or `name@realm`). IPv6 addresses contain no `/`,
/// so the first `/` separates.
fn target(spec: &str) -> (String, Option<String>) {
    match spec.split_once('/') {
        Some((addr, user)) if !user.is_empty() => (addr.to_string(), Some(user.to_string())),
        Some((addr, _)) => (addr.to_string(), None),
        None => (spec.to_string(), None),
    }
}

pub fn unban(o: ClientOpts, spec: String) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    let (address, user) = target(spec.trim());
    let v = c.call(
        reqwest::Method::POST,
        "/admin/v1/bans/lift",
        Some(json!({ "address": address, "user": user })),
    )?;
    let lifted = v["lifted"].as_u64().unwrap_or(0);
    match (lifted, &user) {
        (0, _) => println!("nothing was blocked for {spec}"),
        (n, Some(u)) => println!("lifted {n} block(s) of {u} from {address}"),
        (n, None) => println!("lifted {n} block(s) of {address}"),
    }
    Ok(())
}

pub fn list(o: ClientOpts, json: bool) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    let v = c.call(reqwest::Method::GET, "/admin/v1/bans", None)?;
    let bans = v["bans"]
        .as_array()
        .ok_or_else(|| anyhow!("unexpected answer"))?;
    if json {
        println!("{}", Value::Array(bans.clone()));
        return Ok(());
    }
    println!("{:<40} {:<32} SECONDS_LEFT", "ADDRESS", "USER");
    for b in bans {
        println!(
            "{:<40} {:<32} {}",
            b["address"].as_str().unwrap_or(""),
            b["user"].as_str().unwrap_or("(whole address)"),
            b["seconds_left"]
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn an_address_with_or_without_a_user() {
        assert_eq!(target("192.0.2.7"), ("192.0.2.7".into(), None));
        assert_eq!(
            target("192.0.2.7/alice"),
            ("192.0.2.7".into(), Some("alice".into()))
        );
        assert_eq!(
            target("2001:db8::7/alice@pbx.example.com"),
            ("2001:db8::7".into(), Some("alice@pbx.example.com".into()))
        );
        assert_eq!(target("192.0.2.7/"), ("192.0.2.7".into(), None));
    }
}
