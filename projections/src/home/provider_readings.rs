//! `home.provider_channels` and `home.provider_readings`: what a provider read through each policy (its own log's
//! `readings-<policy id>` streams), shown per device and policy by `report.provider_readings` and
//! `report.provider_policies`.

use domain::home::{PolicyReadings, PolicyReadingsEvent};
use domain::Aggregate;
use events::RecordedEvent;

use crate::Projection;

pub struct ProviderReadings;

const OPENED: &str = "INSERT INTO home.provider_channels \
       (policy_id, channel, device_id, home, from_index, epoch, opened_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const STORED: &str = "INSERT INTO home.provider_readings \
       (policy_id, channel, message_index, device_id, epoch, from_at, until_at, samples, power_import_w, \
        power_export_w, energy_import_wh, energy_export_wh, gas_dm3, phases, stored_at, position) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
const CLOSED: &str =
    "UPDATE home.provider_channels SET closed_at = $3, closed_index = $4 WHERE policy_id = $1 AND channel = $2";

#[async_trait::async_trait]
impl Projection for ProviderReadings {
    fn name(&self) -> &'static str {
        "home_provider_readings"
    }

    async fn reset(&self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
        tx.batch_execute("DELETE FROM home.provider_readings; DELETE FROM home.provider_channels").await?;
        Ok(())
    }

    async fn apply(&self, tx: &tokio_postgres::Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        let ours = events.iter().filter(|e| PolicyReadings::owns_stream(&e.stream_id));
        for event in ours {
            let parsed: PolicyReadingsEvent = serde_json::from_value(event.payload.clone())?;
            apply_one(tx, &parsed, event.position).await?;
        }
        Ok(())
    }
}

async fn apply_one(
    tx: &tokio_postgres::Transaction<'_>,
    event: &PolicyReadingsEvent,
    position: i64,
) -> anyhow::Result<()> {
    match event {
        PolicyReadingsEvent::ChannelOpened { policy_id, device_id, home, channel, from_index, epoch, at } => {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
                [policy_id, channel, device_id, home, &(*from_index as i64), &i64::from(*epoch), at];
            tx.execute(OPENED, &params).await?;
        }
        PolicyReadingsEvent::ReadingStored { policy_id, device_id, channel, index, epoch, values, at } => {
            let v = values;
            tx.execute(
                STORED,
                &[
                    policy_id,
                    channel,
                    &(*index as i64),
                    device_id,
                    &i64::from(*epoch),
                    &v.from,
                    &v.until,
                    &(v.samples as i32),
                    &v.power_import_w,
                    &v.power_export_w,
                    &v.energy_import_wh,
                    &v.energy_export_wh,
                    &v.gas_dm3,
                    &v.phases,
                    at,
                    &position,
                ],
            )
            .await?;
        }
        PolicyReadingsEvent::ChannelClosed { policy_id, channel, index, at, .. } => {
            tx.execute(CLOSED, &[policy_id, channel, at, &(*index as i64)]).await?;
        }
    }
    Ok(())
}
