//! Reading the views: every projection module exports typed queries over its own tables, so that no other crate
//! writes SQL against them. A view trails the log by moments; callers that must see their own write read the log.

use deadpool_postgres::{Object, Pool};

/// Why a query of the views failed.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error("database: {0}")]
    Database(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("view {view} holds a row it should not: {reason}")]
    Corrupt { view: &'static str, reason: String },
}

/// A handle on the views of one database; cheap to clone.
#[derive(Clone)]
pub struct Views {
    pool: Pool,
}

impl Views {
    /// The views of the database `store` writes to.
    pub fn of(store: &events::Store) -> Views {
        Views { pool: store.pool().clone() }
    }

    pub(crate) async fn client(&self) -> Result<Object, ViewError> {
        Ok(self.pool.get().await?)
    }
}
