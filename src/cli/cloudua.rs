//! `ringmaster cloudua domain add|list|delete`: Cloud SIP UA domains, through the admin API.
//! Secrets and keys are read from files, never taken on the command line (where `ps` and
//! shell history would show them).

use std::path::PathBuf;

use anyhow::{anyhow, Context};
use clap::Subcommand;
use serde_json::{json, Value};

use super::admin::Client;
use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum CloudUaCommand {
    /// Cloud UA domains: which app a media-service domain drives, and its token keys.
    #[command(subcommand)]
    Domain(DomainCommand),
}

#[derive(Subcommand, Debug)]
pub enum DomainCommand {
    /// Map a domain onto an app (its endpoints and numbers) with its token keys.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long)]
        app: u64,
        /// A file holding the HS256 shared secret (at least 32 bytes; one trailing newline
        /// is dropped).
        #[arg(long)]
        hs256_secret_file: Option<PathBuf>,
        /// A PEM file with an RSA (RS256) or EC P-256 (ES256) public key.
        #[arg(long)]
        public_key: Option<PathBuf>,
        /// Require this `iss`.
        #[arg(long)]
        issuer: Option<String>,
        /// Accept this `aud` besides the domain's name (the `domain` claim then names it).
        #[arg(long)]
        audience: Option<String>,
        /// Where callbacks go when a call names no `callbackBaseUrl`.
        #[arg(long)]
        callback_base_url: Option<String>,
        #[arg(long)]
        json: bool,
    },
    List {
        #[arg(long)]
        json: bool,
    },
    Delete {
        name: String,
    },
}

fn read(path: &PathBuf, what: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the {what} file {}", path.display()))?;
    Ok(text.strip_suffix('\n').unwrap_or(&text).to_string())
}

pub fn run(o: ClientOpts, cmd: CloudUaCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    let CloudUaCommand::Domain(cmd) = cmd;
    match cmd {
        DomainCommand::Add {
            name,
            app,
            hs256_secret_file,
            public_key,
            issuer,
            audience,
            callback_base_url,
            json,
        } => {
            let secret = hs256_secret_file
                .as_ref()
                .map(|p| read(p, "secret"))
                .transpose()?;
            let key = public_key
                .as_ref()
                .map(|p| read(p, "public key"))
                .transpose()?;
            let d = c.call(
                reqwest::Method::POST,
                "/admin/v1/cloudua/domains",
                Some(json!({
                    "name": name, "appid": app, "hs256_secret": secret, "public_key": key,
                    "issuer": issuer, "audience": audience,
                    "callback_base_url": callback_base_url,
                })),
            )?;
            if json {
                println!("{d}");
            } else {
                println!(
                    "added Cloud UA domain {} for app {} ({})",
                    d["name"].as_str().unwrap_or(""),
                    d["app"],
                    d["algorithms"]
                );
            }
        }
        DomainCommand::List { json } => {
            let v = c.call(reqwest::Method::GET, "/admin/v1/cloudua/domains", None)?;
            let all = v["domains"]
                .as_array()
                .ok_or_else(|| anyhow!("unexpected answer"))?;
            if json {
                println!("{}", Value::Array(all.clone()));
            } else {
                println!("{:<32} {:<8} ALGORITHMS", "DOMAIN", "APPID");
                for d in all {
                    println!(
                        "{:<32} {:<8} {}",
                        d["name"].as_str().unwrap_or(""),
                        d["app"],
                        d["algorithms"]
                    );
                }
            }
        }
        DomainCommand::Delete { name } => {
            c.call(
                reqwest::Method::DELETE,
                &format!("/admin/v1/cloudua/domains/{}", name.trim()),
                None,
            )?;
            println!("deleted Cloud UA domain {}", name.trim());
        }
    }
    Ok(())
}
