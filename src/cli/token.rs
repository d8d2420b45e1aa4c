//! `ringmaster token create --app APPID`: a bearer token for PIOPIY's v3 API
//! (`Authorization: Bearer …` on `/v3/voice/…`), through the admin API. Tokens are signed
//! with the app's secret and are not stored: they stay valid while the app and its secret do.

use anyhow::anyhow;
use clap::Subcommand;
use serde_json::json;

use super::admin::Client;
use super::ClientOpts;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for an app; prints it (with `--json`: `{"token","app"}`).
    Create {
        #[arg(long)]
        app: u64,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(o: ClientOpts, cmd: TokenCommand) -> anyhow::Result<()> {
    let c = Client::new(&o)?;
    match cmd {
        TokenCommand::Create { app, json } => {
            let v = c.call(
                reqwest::Method::POST,
                "/admin/v1/tokens",
                Some(json!({ "app": app })),
            )?;
            let token = v["token"]
                .as_str()
                .ok_or_else(|| anyhow!("unexpected answer: no token"))?;
            if json {
                println!("{}", json!({ "token": token, "app": app }));
            } else {
                println!("{token}");
            }
        }
    }
    Ok(())
}
