//! Runs projections: read from the checkpoint, apply, advance the checkpoint, commit; sleep when caught up.

use std::time::Duration;

use events::{RecordedEvent, Store};
use tokio::sync::watch;

use crate::Projection;

/// Events applied per transaction.
pub const PROJECTION_BATCH: usize = 500;
/// Longest wait between retries after a failed batch.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionStatus {
    pub name: String,
    pub position: i64,
}

/// Applies one batch; returns the new checkpoint, or `None` when there was nothing to apply.
async fn step(store: &Store, projection: &dyn Projection) -> anyhow::Result<Option<i64>> {
    let mut client = store.pool().get().await?;
    let tx = client.transaction().await?;
    let position = lock_checkpoint(&tx, projection.name()).await?;
    let batch: Vec<RecordedEvent> = events::store::read_from(&*tx, position + 1, PROJECTION_BATCH).await?;
    if batch.is_empty() {
        return Ok(None);
    }
    for (offset, event) in batch.iter().enumerate() {
        anyhow::ensure!(
            event.position == position + 1 + offset as i64,
            "projection {}: the log has a gap before position {}",
            projection.name(),
            event.position
        );
    }
    projection.apply(&tx, &batch).await?;
    let last = batch.last().expect("a non-empty batch").position;
    tx.execute(
        "UPDATE projection_checkpoints SET position = $2, updated_at = now() WHERE name = $1",
        &[&projection.name(), &last],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(last))
}

/// Locks the projection's checkpoint row (creating it at zero) and returns its position.
async fn lock_checkpoint(tx: &tokio_postgres::Transaction<'_>, name: &str) -> anyhow::Result<i64> {
    tx.execute("INSERT INTO projection_checkpoints (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", &[&name]).await?;
    Ok(tx.query_one("SELECT position FROM projection_checkpoints WHERE name = $1 FOR UPDATE", &[&name]).await?.get(0))
}

/// Applies everything committed so far; returns the checkpoint reached.
pub async fn catch_up(store: &Store, projection: &dyn Projection) -> anyhow::Result<i64> {
    let mut reached = 0;
    while let Some(position) = step(store, projection).await? {
        reached = position;
    }
    Ok(reached.max(checkpoint(store, projection.name()).await?))
}

/// Empties the projection and sets its checkpoint to zero in one transaction, then replays the whole log.
/// Safe while the service runs: the service's runner resumes from the new checkpoint.
pub async fn rebuild(store: &Store, projection: &dyn Projection) -> anyhow::Result<i64> {
    {
        let mut client = store.pool().get().await?;
        let tx = client.transaction().await?;
        lock_checkpoint(&tx, projection.name()).await?;
        projection.reset(&tx).await?;
        tx.execute(
            "UPDATE projection_checkpoints SET position = 0, updated_at = now() WHERE name = $1",
            &[&projection.name()],
        )
        .await?;
        tx.commit().await?;
    }
    catch_up(store, projection).await
}

/// Keeps the projection current until `shutdown` turns true. Failures are logged and retried with backoff.
pub async fn run(store: Store, projection: std::sync::Arc<dyn Projection>, mut shutdown: watch::Receiver<bool>) {
    let mut head = store.head_watch();
    let mut backoff = Duration::from_millis(100);
    while !*shutdown.borrow() {
        head.borrow_and_update();
        match step(&store, projection.as_ref()).await {
            Ok(Some(_)) => backoff = Duration::from_millis(100),
            Ok(None) => {
                tokio::select! {
                    changed = head.changed() => if changed.is_err() { return },
                    _ = shutdown.changed() => {}
                }
            }
            Err(err) => {
                tracing::warn!("projection {} failed ({err:#}); retrying in {backoff:?}", projection.name());
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// The checkpoint of `name` (zero if it never ran).
pub async fn checkpoint(store: &Store, name: &str) -> anyhow::Result<i64> {
    let client = store.pool().get().await?;
    let row = client.query_opt("SELECT position FROM projection_checkpoints WHERE name = $1", &[&name]).await?;
    Ok(row.map(|r| r.get(0)).unwrap_or(0))
}

/// Checkpoints of every projection.
pub async fn status(store: &Store) -> anyhow::Result<Vec<ProjectionStatus>> {
    let mut out = Vec::new();
    for projection in crate::all() {
        out.push(ProjectionStatus {
            name: projection.name().to_owned(),
            position: checkpoint(store, projection.name()).await?,
        });
    }
    Ok(out)
}
