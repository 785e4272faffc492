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

/// A stored message as a reader fetches it by address.
pub struct MessageAt {
    /// The channel's public key.
    pub channel: Vec<u8>,
    pub index: u64,
    /// Base64 of the message's wire bytes.
    pub message: String,
}

impl crate::Views {
    /// The message stored at `address` (32 bytes), if the view has it yet.
    pub async fn mam_message_at(&self, address: &[u8]) -> Result<Option<MessageAt>, crate::ViewError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT channel, message_index, message FROM home.mam_messages WHERE address = $1", &[&address])
            .await?;
        row.map(|row| {
            let index = u64::try_from(row.get::<_, i64>(1)).map_err(|_| crate::ViewError::Corrupt {
                view: "home.mam_messages",
                reason: "a negative message index".into(),
            })?;
            Ok(MessageAt { channel: row.get(0), index, message: row.get(2) })
        })
        .transpose()
    }
}
