//! `ringmaster user create|list|delete`: Bandwidth App Platform users (the `userId`, API token
//! and secret a Bandwidth SDK is given), through the admin API.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};

use super::admin::Client;
use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints its id, token and secret (the secret is shown only now).
    Create {
        /// PIOPIY apps this user may also drive live (repeatable).
        #[arg(long = "app")]
        apps: Vec<u64>,
        /// Print exactly one JSON object `{"user_id","token","secret"}`.
        #[arg(long)]
        json: bool,
    },
    /// List users (never their secrets).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a user with its domains, endpoints and applications.
    Delete { id: String },
}

pub fn run(o: ClientOpts, cmd: UserCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    match cmd {
        UserCommand::Create { apps, json } => {
            let v = c.call(
                reqwest::Method::POST,
                "/admin/v1/users",
                Some(json!({ "apps": apps })),
            )?;
            let field = |k: &str| {
                v[k].as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow!("unexpected answer: no {k}"))
            };
            let (id, token, secret) = (field("user_id")?, field("token")?, field("secret")?);
            if json {
                println!(
                    "{}",
                    json!({ "user_id": id, "token": token, "secret": secret })
                );
            } else {
                println!("user_id: {id}\ntoken:   {token}\nsecret:  {secret}");
                println!("(the secret is not shown again)");
            }
        }
        UserCommand::List { json } => {
            let v = c.call(reqwest::Method::GET, "/admin/v1/users", None)?;
            let users = v["users"]
                .as_array()
                .ok_or_else(|| anyhow!("unexpected answer"))?;
            if json {
                println!("{}", Value::Array(users.clone()));
            } else {
                println!("{:<24} APPS", "USER_ID");
                for u in users {
                    let apps: Vec<String> = u["apps"]
                        .as_array()
                        .map(|a| a.iter().map(Value::to_string).collect())
                        .unwrap_or_default();
                    println!(
                        "{:<24} {}",
                        u["user_id"].as_str().unwrap_or(""),
                        apps.join(",")
                    );
                }
            }
        }
        UserCommand::Delete { id } => {
            c.call(
                reqwest::Method::DELETE,
                &format!("/admin/v1/users/{}", id.trim()),
                None,
            )?;
            println!("deleted user {}", id.trim());
        }
    }
    Ok(())
}
