//! Test support above the log: a fresh database of the shared test cluster with the whole schema (log and views).

pub use events::testkit::{cluster_dir, TestDb};

/// A fresh database named after `label`, with every migration, and an open store.
pub async fn test_db(label: &str) -> TestDb {
    events::testkit::test_db_with(label, &crate::schema()).await
}

/// Just the store of such a database.
pub async fn test_store(label: &str) -> events::Store {
    test_db(label).await.store
}
