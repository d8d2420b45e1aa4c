//! Operator commands: clients of the running server's admin API.

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use serde_json::{json, Value};

use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum AppCommand {
    /// Create an app; prints its appid, secret and realm.
    Create {
        #[arg(long)]
        name: String,
        /// Where calls fetch their PCMO. Without it (and without --default-script) a call
        /// rings the dialled user of the app, or the dialled number through the trunk.
        #[arg(long)]
        answer_url: Option<String>,
        /// A PCMO file every call runs, for an app with no answer URL.
        #[arg(long, conflicts_with_all = ["answer_url", "fallback_pcmo"])]
        default_script: Option<std::path::PathBuf>,
        #[arg(long)]
        event_url: Option<String>,
        /// The app's own SIP domain (default: the server's).
        #[arg(long)]
        domain: Option<String>,
        /// A PCMO file run when the answer URL fails (down, slow, invalid script).
        #[arg(long)]
        fallback_pcmo: Option<std::path::PathBuf>,
        /// Total time allowed for the answer URL, in ms (500-30000; default: the server's
        /// `calls.answer_timeout_ms`).
        #[arg(long)]
        answer_timeout_ms: Option<u32>,
        /// Print exactly one JSON object {"appid","secret","realm"}.
        #[arg(long)]
        json: bool,
    },
    /// List apps.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an app with its endpoints and registrations.
    Delete { appid: u64 },
}

pub(super) struct Client {
    base: String,
    token: String,
    http: reqwest::Client,
    rt: tokio::runtime::Runtime,
}

impl Client {
    pub(super) fn new(o: &ClientOpts) -> anyhow::Result<Client> {
        let token = match std::env::var("RINGMASTER_ADMIN_TOKEN") {
            Ok(t) if !t.is_empty() => t,
            _ => {
                let p = o.data_dir.join("admin.token");
                std::fs::read_to_string(&p)
                    .with_context(|| {
                        format!(
                            "reading the admin token from {} (or set RINGMASTER_ADMIN_TOKEN)",
                            p.display()
                        )
                    })?
                    .trim()
                    .to_string()
            }
        };
        Ok(Client {
            base: o.server.trim_end_matches('/').to_string(),
            token,
            http: reqwest::Client::new(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        })
    }

    pub(super) fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{}", self.base, path);
        self.rt.block_on(async {
            let mut req = self.http.request(method, &url).bearer_auth(&self.token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req
                .send()
                .await
                .with_context(|| format!("cannot reach {url}; is `ringmaster serve` running?"))?;
            let status = resp.status();
            let v: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                let msg = v
                    .get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or("request failed");
                bail!("{status}: {msg}");
            }
            Ok(v)
        })
    }
}

pub fn app(o: ClientOpts, cmd: AppCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    match cmd {
        AppCommand::Create {
            name,
            answer_url,
            event_url,
            domain,
            fallback_pcmo,
            default_script,
            answer_timeout_ms,
            json,
        } => {
            // A default script is kept as the fallback of an app with no answer URL, which
            // runs it for every call.
            let fallback = match fallback_pcmo.or(default_script) {
                Some(p) => Some(
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("reading {}", p.display()))?,
                ),
                None => None,
            };
            let v = c.call(
                reqwest::Method::POST,
                "/admin/v1/apps",
                Some(json!({
                    "name": name,
                    "answer_url": answer_url,
                    "event_url": event_url,
                    "domain": domain,
                    "fallback_pcmo": fallback,
                    "answer_timeout_ms": answer_timeout_ms,
                })),
            )?;
            if json {
                println!(
                    "{}",
                    json!({"appid": v["appid"], "secret": v["secret"], "realm": v["realm"]})
                );
            } else {
                println!("appid:  {}", v["appid"]);
                println!("secret: {}", v["secret"].as_str().unwrap_or(""));
                println!("realm:  {}", v["realm"].as_str().unwrap_or(""));
            }
        }
        AppCommand::List { json } => {
            let v = c.call(reqwest::Method::GET, "/admin/v1/apps", None)?;
            let apps = v["apps"]
                .as_array()
                .ok_or_else(|| anyhow!("unexpected answer"))?;
            if json {
                println!("{}", Value::Array(apps.clone()));
            } else {
                println!("{:<9} {:<24} {:<28} ANSWER_URL", "APPID", "NAME", "REALM");
                for a in apps {
                    println!(
                        "{:<9} {:<24} {:<28} {}",
                        a["appid"],
                        a["name"].as_str().unwrap_or(""),
                        a["realm"].as_str().unwrap_or(""),
                        a["answer_url"].as_str().unwrap_or("")
                    );
                }
            }
        }
        AppCommand::Delete { appid } => {
            c.call(
                reqwest::Method::DELETE,
                &format!("/admin/v1/apps/{appid}"),
                None,
            )?;
            println!("deleted app {appid}");
        }
    }
    Ok(())
}

pub fn registrations(o: ClientOpts, app: Option<u64>, json: bool) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    let path = match app {
        Some(a) => format!("/admin/v1/registrations?app={a}"),
        None => "/admin/v1/registrations".into(),
    };
    let v = c.call(reqwest::Method::GET, &path, None)?;
    let list = v["registrations"]
        .as_array()
        .ok_or_else(|| anyhow!("unexpected answer"))?;
    if json {
        println!("{}", Value::Array(list.clone()));
        return Ok(());
    }
    println!(
        "{:<20} {:<24} {:<40} {:<4} {:<22} EXPIRES_AT",
        "USERNAME", "REALM", "CONTACT", "TP", "SOURCE"
    );
    for r in list {
        println!(
            "{:<20} {:<24} {:<40} {:<4} {:<22} {}",
            r["username"].as_str().unwrap_or(""),
            r["realm"].as_str().unwrap_or(""),
            r["contact"].as_str().unwrap_or(""),
            r["transport"].as_str().unwrap_or(""),
            r["source"].as_str().unwrap_or(""),
            r["expires_at"]
        );
    }
    Ok(())
}
