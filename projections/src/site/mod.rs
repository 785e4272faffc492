//! The site views (schema `site`): the site, users and device keys, tallies with balances, chits, lifts, and
//! the lift finder's graph of open tallies. Built only from the log: `notch projections rebuild site` recreates
//! them identically. Each batch is folded in memory (`batch.rs`) and written set-based (`flush.rs`).

mod batch;
mod flush;
pub mod queries;

use events::RecordedEvent;
use tokio_postgres::Transaction;

use crate::Projection;

pub struct SiteViews;

#[async_trait::async_trait]
impl Projection for SiteViews {
    fn name(&self) -> &'static str {
        "site"
    }

    async fn reset(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        tx.batch_execute(
            "DELETE FROM site.site; DELETE FROM site.users; DELETE FROM site.device_keys; \
             DELETE FROM site.tallies; DELETE FROM site.chits; DELETE FROM site.lifts; \
             DELETE FROM site.open_tallies;",
        )
        .await?;
        Ok(())
    }

    async fn apply(&self, tx: &Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        let mut batch = batch::Batch::default();
        for event in events {
            batch.add(event)?;
        }
        batch.flush(tx).await
    }
}
