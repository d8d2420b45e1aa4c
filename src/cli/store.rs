//! `ringmaster store migrate`: moves a single node's embedded store into PostgreSQL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use engine::store::{PgStore, SledStore, StoreError};

#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy the sled store of a data directory into an empty PostgreSQL store (stop the
    /// server that uses the data directory first). The outbox becomes the given node's.
    Migrate {
        /// The data directory whose store is copied.
        #[arg(long, env = "RINGMASTER_DATA_DIR", default_value = "./data")]
        data_dir: PathBuf,
        /// The PostgreSQL store: postgres://user:password@host:port/database
        #[arg(long, env = "RINGMASTER_STORE_URL", hide_env_values = true)]
        to: String,
        /// The node that will deliver the copied outbox. Default: the host name.
        #[arg(long, env = "RINGMASTER_NODE_ID")]
        node_id: Option<String>,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub fn run(command: StoreCommand) -> anyhow::Result<ExitCode> {
    let StoreCommand::Migrate {
        data_dir,
        to,
        node_id,
        json,
    } = command;
    let mut settings = engine::config::Settings::default();
    settings.cluster.node_id = node_id;
    let node = engine::actors::backend::node_id(&settings);
    let from = SledStore::open(&data_dir.join("store"))
        .with_context(|| format!("opening the store in {}", data_dir.display()))?;
    let to_store = PgStore::open(&to, &node, &data_dir)?;
    let copied = match to_store.copy_from(&from) {
        Ok(c) => c,
        Err(StoreError::Conflict) => {
            to_store.close();
            anyhow::bail!(
                "the PostgreSQL store at {} already holds data; migrate into an empty database",
                engine::config::redact_url(&to)
            );
        }
        Err(e) => {
            to_store.close();
            return Err(e.into());
        }
    };
    to_store.close();
    if json {
        println!("{}", serde_json::to_string(&copied)?);
    } else {
        println!(
            "copied {} apps ({} deleted ids), {} endpoints, {} bindings, {} numbers, {} trunks, \
             {} accounts, {} Bandwidth domains, {} Cloud UA domains, {} CDRs, {} deliveries",
            copied.apps,
            copied.deleted_apps,
            copied.endpoints,
            copied.bindings,
            copied.numbers,
            copied.trunks,
            copied.accounts,
            copied.bw_domains,
            copied.cloudua_domains,
            copied.cdrs,
            copied.deliveries
        );
    }
    Ok(ExitCode::SUCCESS)
}
