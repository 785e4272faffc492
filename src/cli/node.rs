//! Opening this node: its data directory, its database, its key, its log.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use events::database::{Database, Target};
use events::node::NodeIdentity;
use events::{Store, StoreOptions};

#[derive(Args, Clone, Debug)]
pub struct DbArgs {
    /// Data directory: the node key, its config, and the embedded PostgreSQL cluster.
    #[arg(long, env = "NOTCH_DATA_DIR", default_value = "notch-data")]
    pub data_dir: PathBuf,
    /// Use this PostgreSQL server instead of the embedded one (the key and config stay in --data-dir).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DbArgs {
    pub fn target(&self) -> Target {
        match &self.database_url {
            Some(url) => Target::Url(url.clone()),
            None => Target::Embedded(self.data_dir.clone()),
        }
    }
}

/// A running node: its database, identity and log.
pub struct Node {
    pub database: Database,
    pub store: Store,
}

impl Node {
    pub async fn open(args: &DbArgs, pool_size: usize) -> anyhow::Result<Node> {
        let identity = NodeIdentity::load_or_create(&args.data_dir)?;
        let database = Database::open(&args.target()).await?;
        let options = StoreOptions { pool_size, set_role: database.service_set_role.clone(), ..Default::default() };
        let store = Store::open(database.service.clone(), identity.signing_key, options)
            .await
            .context("opening the event log")?;
        Ok(Node { database, store })
    }

    /// Closes the log and stops the embedded cluster if this process was its last user.
    pub async fn close(self) {
        drop(self.store);
        self.database.close().await;
    }
}
