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

/// How a benchmark's store commits: the `StoreOptions` a run may vary.
#[derive(Args, Clone, Copy, Debug)]
pub struct WriterArgs {
    /// Speculative commits the store's writer keeps in flight (StoreOptions::commits_in_flight).
    #[arg(
        long,
        default_value_t = events::store::DEFAULT_COMMITS_IN_FLIGHT as u8,
        value_parser = clap::value_parser!(u8).range(1..=events::store::MAX_COMMITS_IN_FLIGHT as i64)
    )]
    pub commits_in_flight: u8,
}

impl WriterArgs {
    /// Store options with `pool_size` connections, as the service role of `database`.
    pub fn store_options(&self, pool_size: usize, database: &Database) -> StoreOptions {
        StoreOptions {
            pool_size,
            set_role: database.service_set_role.clone(),
            commits_in_flight: usize::from(self.commits_in_flight),
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
        let database = Database::open(&args.target(), &projections::schema()).await?;
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
