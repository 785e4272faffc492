//! `home.mam_messages`: every stored MAM message by its address, so readers fetch by address.

use domain::home::StoredMessage;
use events::RecordedEvent;

use crate::Projection;

pub struct MamMessages;

fn hex32(text: &str) -> anyhow::Result<Vec<u8>> {
    let bytes = hex::decode(text)?;
    anyhow::ensure!(bytes.len() == 32, "{text} is not 32 bytes of hex");
    Ok(bytes)
}

#[async_trait::async_trait]
impl Projection for MamMessages {
    fn name(&self) -> &'static str {
        "home_mam_messages"
    }

    async fn reset(&self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
        tx.execute("DELETE FROM home.mam_messages", &[]).await?;
        Ok(())
    }

    async fn apply(&self, tx: &tokio_postgres::Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        let statement = tx
            .prepare(
                "INSERT INTO home.mam_messages \
                   (address, channel, message_index, epoch, kind, message, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .await?;
        for event in events.iter().filter(|e| e.event_type == "MamMessageStored") {
            // The payload is the variant's fields; the event type is the variant's tag.
            let m: StoredMessage = serde_json::from_value(event.payload.clone())?;
            let kind = serde_json::to_value(m.kind)?;
            tx.execute(
                &statement,
                &[
                    &hex32(&m.address)?,
                    &hex32(&m.channel)?,
                    &(m.index as i64),
                    &i64::from(m.epoch),
                    &kind.as_str().unwrap_or_default(),
                    &m.message,
                    &event.position,
                ],
            )
            .await?;
        }
        Ok(())
    }
}
