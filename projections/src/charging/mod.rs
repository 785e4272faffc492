//! Schema `charging`: the authority's users, credentials and certificates; the provider's trusted
//! authorities, charge points, sessions and bills. Built from the streams `charging-*`.

mod apply;
pub mod queries;

use events::RecordedEvent;

use crate::Projection;

pub struct ChargingViews;

const TABLES: &str = "charging.authority_users, charging.credentials, charging.authority_certificates, \
     charging.trusted_authorities, charging.charge_points, charging.sessions, charging.bills";

#[async_trait::async_trait]
impl Projection for ChargingViews {
    fn name(&self) -> &'static str {
        "charging"
    }

    async fn reset(&self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
        tx.batch_execute(&format!("TRUNCATE {TABLES}")).await?;
        Ok(())
    }

    async fn apply(&self, tx: &tokio_postgres::Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        for event in events.iter().filter(|e| e.stream_id.starts_with("charging-")) {
            apply::one(tx, event)
                .await
                .map_err(|e| anyhow::anyhow!("charging projection at position {}: {e:#}", event.position))?;
        }
        Ok(())
    }
}
