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
