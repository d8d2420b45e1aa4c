//! `ringmaster number add|list|delete`: apps' phone numbers, through the admin API.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::{json, Value};

use super::admin::Client;
use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum NumberCommand {
    /// Assign a number (E.164 digits, + optional) to an app: calls to it run the app's script.
    Add {
        number: String,
        #[arg(long)]
        app: u64,
        /// Print the number as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List numbers.
    List {
        /// Only this app's.
        #[arg(long)]
        app: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Unassign a number.
    Delete { number: String },
}

pub fn run(o: ClientOpts, cmd: NumberCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    match cmd {
        NumberCommand::Add { number, app, json } => {
            let n = c.call(
                reqwest::Method::POST,
                "/admin/v1/numbers",
                Some(json!({ "number": number, "appid": app })),
            )?;
            if json {
                println!("{n}");
            } else {
                println!(
                    "added number {} to app {}",
                    n["number"].as_str().unwrap_or(""),
                    n["appid"]
                );
            }
        }
        NumberCommand::List { app, json } => {
            let path = match app {
                Some(a) => format!("/admin/v1/numbers?app={a}"),
                None => "/admin/v1/numbers".into(),
            };
            let v = c.call(reqwest::Method::GET, &path, None)?;
            let numbers = v["numbers"]
                .as_array()
                .ok_or_else(|| anyhow!("unexpected answer"))?;
            if json {
                println!("{}", Value::Array(numbers.clone()));
            } else {
                println!("{:<16} APPID", "NUMBER");
                for n in numbers {
                    println!("{:<16} {}", n["number"].as_str().unwrap_or(""), n["appid"]);
                }
            }
        }
        NumberCommand::Delete { number } => {
            let v = c.call(
                reqwest::Method::DELETE,
                &format!("/admin/v1/numbers/{}", number.trim()),
                None,
            )?;
            println!("deleted number {}", v["number"].as_str().unwrap_or(&number));
        }
    }
    Ok(())
}
