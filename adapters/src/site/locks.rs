//! Serialising writers of the ledger across processes with PostgreSQL advisory locks held in an open
//! transaction. Tally commands hold the ledger lock shared plus their tally's lock; a lift run holds the ledger
//! lock exclusively, so the balances it lifts cannot move under it, and its lift chits and the tallies' own
//! chits never claim the same place in a chain.

use deadpool_postgres::Object;
use events::Store;
use uuid::Uuid;

use super::log::AppResult;

/// Advisory lock namespaces (first key) of the site context.
const LEDGER_NAMESPACE: i32 = 0x5173_0001;
const TALLY_NAMESPACE: i32 = 0x5173_0002;

/// Holds its locks until `release`; if dropped without it (an early return or a panic), the connection is
/// closed instead of returned to the pool, which ends the transaction and frees the locks.
pub struct LedgerGuard {
    client: Option<Object>,
}

impl LedgerGuard {
    pub async fn release(mut self) -> AppResult<()> {
        if let Some(client) = self.client.take() {
            client.batch_execute("COMMIT").await?;
        }
        Ok(())
    }
}

impl Drop for LedgerGuard {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            drop(Object::take(client));
        }
    }
}

fn tally_key(id: Uuid) -> i32 {
    let b = id.as_bytes();
    i32::from_le_bytes([b[12] ^ b[0], b[13] ^ b[1], b[14] ^ b[2], b[15] ^ b[3]])
}

/// Shared ledger lock plus the locks of `tallies` (taken in a fixed order, so two commands cannot deadlock).
pub async fn lock_tallies(store: &Store, tallies: &[Uuid]) -> AppResult<LedgerGuard> {
    let client = store.pool().get().await?;
    let guard = LedgerGuard { client: Some(client) };
    let client = guard.client.as_ref().expect("just set");
    client.batch_execute("BEGIN").await?;
    client.execute("SELECT pg_advisory_xact_lock_shared($1, 0)", &[&LEDGER_NAMESPACE]).await?;
    let mut keys: Vec<i32> = tallies.iter().map(|id| tally_key(*id)).collect();
    keys.sort_unstable();
    keys.dedup();
    for key in keys {
        client.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&TALLY_NAMESPACE, &key]).await?;
    }
    Ok(guard)
}

/// The ledger lock, exclusively: no tally command runs until it is released.
pub async fn lock_ledger(store: &Store) -> AppResult<LedgerGuard> {
    let client = store.pool().get().await?;
    let guard = LedgerGuard { client: Some(client) };
    let client = guard.client.as_ref().expect("just set");
    client.batch_execute("BEGIN").await?;
    client.execute("SELECT pg_advisory_xact_lock($1, 0)", &[&LEDGER_NAMESPACE]).await?;
    Ok(guard)
}
