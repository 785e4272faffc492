//! Typed queries over the home views, for the providers' reads.

use crate::views::{ViewError, Views};

/// A stored message as a reader fetches it by address.
pub struct MessageAt {
    /// The channel's public key.
    pub channel: Vec<u8>,
    pub index: u64,
    /// Base64 of the message's wire bytes.
    pub message: String,
}

impl Views {
    /// The message stored at `address` (32 bytes), if the view has it yet.
    pub async fn mam_message_at(&self, address: &[u8]) -> Result<Option<MessageAt>, ViewError> {
        let client = self.client().await?;
        let row = client
            .query_opt("SELECT channel, message_index, message FROM home.mam_messages WHERE address = $1", &[&address])
            .await?;
        row.map(|row| {
            let index = u64::try_from(row.get::<_, i64>(1)).map_err(|_| ViewError::Corrupt {
                view: "home.mam_messages",
                reason: "a negative message index".into(),
            })?;
            Ok(MessageAt { channel: row.get(0), index, message: row.get(2) })
        })
        .transpose()
    }
}

impl Views {
    /// The newest `limit` rows of `report.provider_readings` (a provider's node), for one policy or device or all,
    /// oldest first per policy; each row as its JSON object (the view's columns).
    pub async fn provider_readings(
        &self,
        policy: Option<uuid::Uuid>,
        device: Option<&str>,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, ViewError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT row_to_json(r) FROM ( \
                   SELECT * FROM report.provider_readings \
                   WHERE ($1::uuid IS NULL OR policy_id = $1) AND ($2::text IS NULL OR device_id = $2) \
                   ORDER BY stored_at DESC, policy_id, message_index DESC LIMIT $3) r \
                 ORDER BY r.policy_id, r.message_index",
                &[&policy, &device, &limit],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}
