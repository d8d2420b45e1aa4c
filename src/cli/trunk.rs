//! `ringmaster trunk add|list|delete`: carriers, through the admin API.

use std::net::IpAddr;

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};

use super::admin::Client;
use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum TrunkCommand {
    /// Add a trunk (a carrier's SIP address, the source IPs it calls from, its credentials).
    Add {
        /// Unique name: 1-64 of A-Z a-z 0-9 _ -.
        #[arg(long)]
        name: String,
        /// HOST[:PORT] of the carrier (port 5060 when omitted; IPv6 as [ADDR]:PORT).
        #[arg(long)]
        address: String,
        /// tls: we open a TLS connection and check the carrier's certificate against HOST
        /// (public roots plus `[transports] tls_trust`); give the port (usually 5061).
        #[arg(long, default_value = "udp", value_parser = ["udp", "tcp", "tls"])]
        transport: String,
        /// A source IP whose calls come from this trunk (repeat for several).
        #[arg(long = "allow-ip")]
        allow_ip: Vec<IpAddr>,
        /// Digest username towards the carrier (with --password).
        #[arg(long, requires = "password")]
        username: Option<String>,
        /// Digest password towards the carrier (with --username); stored sealed, never shown.
        #[arg(
            long,
            requires = "username",
            env = "RINGMASTER_TRUNK_PASSWORD",
            hide_env_values = true
        )]
        password: Option<String>,
        /// Print the trunk as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List trunks.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a trunk.
    Delete { name: String },
}

pub fn run(o: ClientOpts, cmd: TrunkCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    match cmd {
        TrunkCommand::Add {
            name,
            address,
            transport,
            allow_ip,
            username,
            password,
            json,
        } => {
            let t = c.call(
                reqwest::Method::POST,
                "/admin/v1/trunks",
                Some(json!({
                    "name": name, "address": address, "transport": transport,
                    "allow_ips": allow_ip, "username": username, "password": password,
                })),
            )?;
            if json {
                println!("{t}");
            } else {
                println!(
                    "added trunk {} ({} {})",
                    t["name"].as_str().unwrap_or(""),
                    t["address"].as_str().unwrap_or(""),
                    t["transport"].as_str().unwrap_or("")
                );
            }
        }
        TrunkCommand::List { json } => {
            let v = c.call(reqwest::Method::GET, "/admin/v1/trunks", None)?;
            let trunks = v["trunks"]
                .as_array()
                .ok_or_else(|| anyhow!("unexpected answer"))?;
            if json {
                println!("{}", Value::Array(trunks.clone()));
            } else {
                println!(
                    "{:<20} {:<32} {:<4} {:<16} {:<8} ALLOW_IPS",
                    "NAME", "ADDRESS", "TP", "USERNAME", "PASSWORD"
                );
                for t in trunks {
                    let ips: Vec<&str> = t["allow_ips"]
                        .as_array()
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<20} {:<32} {:<4} {:<16} {:<8} {}",
                        t["name"].as_str().unwrap_or(""),
                        t["address"].as_str().unwrap_or(""),
                        t["transport"].as_str().unwrap_or(""),
                        t["username"].as_str().unwrap_or("-"),
                        if t["has_password"] == true {
                            "set"
                        } else {
                            "-"
                        },
                        ips.join(",")
                    );
                }
            }
        }
        TrunkCommand::Delete { name } => {
            c.call(
                reqwest::Method::DELETE,
                &format!("/admin/v1/trunks/{name}"),
                None,
            )?;
            println!("deleted trunk {name}");
        }
    }
    Ok(())
}
