//! Test support: every test gets a fresh database in one embedded cluster shared by all test processes (the
//! same mechanism `notch` uses for its data directory), so tests run against real PostgreSQL without paying for
//! an `initdb` each.

use std::path::PathBuf;

use ed25519_dalek::SigningKey;

use crate::database::Database;
use crate::schema::Schema;
use crate::store::{Store, StoreOptions};

/// The shared cluster's directory: `NOTCH_TEST_PG_DIR`, else a per-user directory under the system temp dir.
pub fn cluster_dir() -> PathBuf {
    std::env::var_os("NOTCH_TEST_PG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("notch-testkit-{}", nix::unistd::Uid::effective())))
}

/// A migrated database of its own with an open store.
pub struct TestDb {
    pub store: Store,
    pub key: SigningKey,
    pub database: Database,
    pub name: String,
}

/// A fresh database named after `label` with only the log's schema, and an open store signing with a fresh node
/// key. Tests above the log take `projections::testkit`, which adds the views' migrations.
pub async fn test_db(label: &str) -> TestDb {
    test_db_with(label, &Schema::log()).await
}

/// A fresh database named after `label`, brought to `schema`, with an open store.
pub async fn test_db_with(label: &str, schema: &Schema) -> TestDb {
    let name = unique_name(label);
    let database = Database::open_embedded(&cluster_dir(), &name, true, schema)
        .await
        .unwrap_or_else(|err| panic!("starting the test database {name}: {err:#}"));
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let store = Store::open(database.service.clone(), key.clone(), StoreOptions::default())
        .await
        .unwrap_or_else(|err| panic!("opening the store on {name}: {err}"));
    TestDb { store, key, database, name }
}

/// Just the store of a fresh database.
pub async fn test_store(label: &str) -> Store {
    test_db(label).await.store
}

fn unique_name(label: &str) -> String {
    let clean: String =
        label.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
    format!("t_{clean}_{:08x}", rand::random::<u32>())
}
