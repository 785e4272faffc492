//! Benchmarks run in a scratch database beside the node's own, dropped afterwards, so they never touch the log.

use events::database::Database;

use super::node::DbArgs;

/// Runs `work` on a fresh, migrated scratch database, then drops the database whatever `work` returned.
pub async fn with_scratch<T>(
    db: &DbArgs,
    label: &str,
    work: impl AsyncFnOnce(&Database) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let name = format!("notch_bench_{label}_{}", std::process::id());
    let database = Database::open_scratch(&db.target(), &name, &projections::schema()).await?;
    let result = work(&database).await;
    if let Err(err) = database.drop_scratch().await {
        tracing::warn!("dropping the scratch database {name}: {err:#}");
    }
    database.close().await;
    result
}
