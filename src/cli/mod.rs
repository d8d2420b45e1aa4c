//! Command-line parsing and dispatch.

mod admin;
mod bans;
mod cloudua;
mod number;
mod pcmo;
mod serve;
mod store;
mod token;
mod trunk;
mod user;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ringmaster",
    version,
    about = "SIP registrar, B2BUA and RTP relay driven by PCMO call scripts"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

/// How the operator commands reach the running server.
#[derive(clap::Args, Debug, Clone)]
pub struct ClientOpts {
    /// The running server's HTTP address.
    #[arg(
        long,
        env = "RINGMASTER_SERVER",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub server: String,
    /// The server's data directory, to read `admin.token` from.
    #[arg(
        long,
        env = "RINGMASTER_DATA_DIR",
        default_value = "./data",
        global = true
    )]
    pub data_dir: PathBuf,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the engine (SIP on UDP+TCP, HTTP API).
    Serve(Box<serve::ServeArgs>),
    /// Manage apps.
    App {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: admin::AppCommand,
    },
    /// Manage trunks (carriers).
    Trunk {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: trunk::TrunkCommand,
    },
    /// Manage apps' phone numbers.
    Number {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: number::NumberCommand,
    },
    /// Manage Bandwidth App Platform users (credentials for `/v1/users/{userId}/…`).
    User {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Cloud SIP UA domains (`/mediaservice/{domain}/…`): which app a domain drives.
    Cloudua {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: cloudua::CloudUaCommand,
    },
    /// Bearer tokens for PIOPIY's v3 API (`/v3/voice/…`).
    Token {
        #[command(flatten)]
        client: ClientOpts,
        #[command(subcommand)]
        command: token::TokenCommand,
    },
    /// List live SIP registrations.
    Registrations {
        #[command(flatten)]
        client: ClientOpts,
        /// Only this app's endpoints.
        #[arg(long)]
        app: Option<u64>,
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
    /// List what the SIP defences refuse now: banned addresses and blocked (address, user)
    /// pairs.
    Bans {
        #[command(flatten)]
        client: ClientOpts,
        /// One JSON array on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Lift a block: `ADDR` (the address's ban and every pair block it has) or `ADDR/USER`
    /// (that user from that address; `name` or `name@realm`).
    Unban {
        #[command(flatten)]
        client: ClientOpts,
        target: String,
    },
    /// Check and explain PCMO call scripts, offline.
    Pcmo {
        #[command(subcommand)]
        command: pcmo::PcmoCommand,
    },
    /// The store itself: `migrate` a single node's data into a PostgreSQL store.
    Store {
        #[command(subcommand)]
        command: store::StoreCommand,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Serve(a) => serve::run(*a).map(|_| ExitCode::SUCCESS),
        Command::App { client, command } => admin::app(client, command).map(|_| ExitCode::SUCCESS),
        Command::Trunk { client, command } => {
            trunk::run(client, command).map(|_| ExitCode::SUCCESS)
        }
        Command::Number { client, command } => {
            number::run(client, command).map(|_| ExitCode::SUCCESS)
        }
        Command::User { client, command } => user::run(client, command).map(|_| ExitCode::SUCCESS),
        Command::Cloudua { client, command } => {
            cloudua::run(client, command).map(|_| ExitCode::SUCCESS)
        }
        Command::Token { client, command } => {
            token::run(client, command).map(|_| ExitCode::SUCCESS)
        }
        Command::Registrations { client, app, json } => {
            admin::registrations(client, app, json).map(|_| ExitCode::SUCCESS)
        }
        Command::Bans { client, json } => bans::list(client, json).map(|_| ExitCode::SUCCESS),
        Command::Unban { client, target } => bans::unban(client, target).map(|_| ExitCode::SUCCESS),
        Command::Pcmo { command } => pcmo::run(command),
        Command::Store { command } => store::run(command),
    }
}
