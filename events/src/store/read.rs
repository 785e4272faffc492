//! Ordered reads of the log: a stream from a version, everything from a position.

use std::collections::HashMap;

use deadpool_postgres::Pool;
use ed25519_dalek::{Signature, VerifyingKey};
use tokio_postgres::{GenericClient, Row};

use super::error::StoreError;
use super::Store;
use crate::envelope::{Hash, RecordedEvent};

/// Most rows one read returns.
pub const MAX_READ_LIMIT: usize = 20_000;

pub const COLUMNS: &str =
    "position, event_id, stream_id, stream_version, event_type, payload, time, signer, signature, prev_hash, hash";

impl Store {
    /// Events of `stream_id` with version >= `from_version`, in version order, at most `limit` (capped).
    pub async fn read_stream(
        &self,
        stream_id: &str,
        from_version: i64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE stream_id = $1 AND stream_version >= $2 \
                     ORDER BY stream_version LIMIT $3"
                ),
                &[&stream_id, &from_version, &(limit.min(MAX_READ_LIMIT) as i64)],
            )
            .await?;
        decode_rows(&rows)
    }

    /// The ids of the streams whose id starts with `prefix`, sorted, at most `limit`.
    pub async fn stream_ids(&self, prefix: &str, limit: i64) -> Result<Vec<String>, StoreError> {
        let client = self.pool().get().await?;
        // Every stream has a version 1; the (stream_id, stream_version) key finds each once. `starts_with` keeps
        // `%` and `_` in the prefix literal.
        let rows = client
            .query(
                "SELECT stream_id FROM events WHERE stream_id >= $1 AND starts_with(stream_id, $1)                  AND stream_version = 1 ORDER BY stream_id LIMIT $2",
                &[&prefix, &limit],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    /// The last event of `stream_id`, if the stream exists.
    pub async fn read_stream_last(&self, stream_id: &str) -> Result<Option<RecordedEvent>, StoreError> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                &format!("SELECT {COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version DESC LIMIT 1"),
                &[&stream_id],
            )
            .await?;
        Ok(decode_rows(&rows)?.pop())
    }

    /// Events with position >= `from_position`, in position order, at most `limit` (capped).
    pub async fn read_all(&self, from_position: i64, limit: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        read_from(&**self.pool().get().await?, from_position, limit).await
    }

    /// The position and stream of each event after `after_position`, in position order, at most `limit` (capped):
    /// who was written to, without the payloads (long-polled stream reads wake on it).
    pub async fn streams_after(&self, after_position: i64, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                "SELECT position, stream_id FROM events WHERE position > $1 ORDER BY position LIMIT $2",
                &[&after_position, &(limit.min(MAX_READ_LIMIT) as i64)],
            )
            .await?;
        Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
    }

    /// The committed head: position and hash of the last event.
    pub async fn head(&self) -> Result<Option<(i64, Hash)>, StoreError> {
        let client = self.pool().get().await?;
        let row = client.query_opt("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1", &[]).await?;
        row.map(|row| {
            let position: i64 = row.get(0);
            let hash = Hash::from_slice(row.get(1))
                .ok_or_else(|| StoreError::Corrupt { position, reason: "hash is not 32 bytes".into() })?;
            Ok((position, hash))
        })
        .transpose()
    }
}

/// Events with position >= `from_position`, in position order, at most `limit` (capped), through any client or
/// transaction: the one read of the log that the store, subscriptions, the audit and projections all use.
pub async fn read_from(
    client: &impl GenericClient,
    from_position: i64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"),
            &[&from_position, &(limit.min(MAX_READ_LIMIT) as i64)],
        )
        .await?;
    decode_rows(&rows)
}

pub(crate) async fn head_position(pool: &Pool) -> Result<i64, StoreError> {
    head_position_with(&**pool.get().await?).await
}

pub(crate) async fn head_position_with(client: &tokio_postgres::Client) -> Result<i64, StoreError> {
    Ok(client.query_one("SELECT coalesce(max(position), 0) FROM events", &[]).await?.get(0))
}

/// Signer keys decoded once per read: turning 32 bytes into a `VerifyingKey` decompresses a curve point (a
/// field exponentiation, ~10 µs), and a log has few signers, so without this a full replay spends about a fifth
/// of its CPU decoding the same key again and again.
#[derive(Default)]
struct SignerKeys {
    known: HashMap<[u8; 32], VerifyingKey>,
}

impl SignerKeys {
    /// Distinct keys kept; past it the cache starts over, so a log with many signers costs memory only up to here.
    const MAX_KEYS: usize = 1024;

    fn decode(&mut self, bytes: &[u8]) -> Option<VerifyingKey> {
        let bytes: [u8; 32] = bytes.try_into().ok()?;
        if let Some(key) = self.known.get(&bytes) {
            return Some(*key);
        }
        let key = VerifyingKey::from_bytes(&bytes).ok()?;
        if self.known.len() >= Self::MAX_KEYS {
            self.known.clear();
        }
        self.known.insert(bytes, key);
        Some(key)
    }
}

/// Rows of `COLUMNS` as events, sharing one signer-key cache.
fn decode_rows(rows: &[Row]) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut keys = SignerKeys::default();
    rows.iter().map(|row| decode_with(row, &mut keys)).collect()
}

/// A row of `COLUMNS` as an event; a malformed row is reported with its position, never skipped.
fn decode_with(row: &Row, keys: &mut SignerKeys) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.try_get(0)?;
    let corrupt = |reason: &str| StoreError::Corrupt { position, reason: reason.to_owned() };
    let signer: &[u8] = row.try_get(7)?;
    let signer = keys.decode(signer).ok_or_else(|| corrupt("signer is not an ed25519 public key"))?;
    let signature: &[u8] = row.try_get(8)?;
    let signature = Signature::from_slice(signature).map_err(|_| corrupt("signature is not 64 bytes"))?;
    Ok(RecordedEvent {
        position,
        event_id: row.try_get(1)?,
        stream_id: row.try_get(2)?,
        stream_version: row.try_get(3)?,
        event_type: row.try_get(4)?,
        payload: row.try_get(5)?,
        time: row.try_get(6)?,
        signer,
        signature,
        prev_hash: Hash::from_slice(row.try_get(9)?).ok_or_else(|| corrupt("prev_hash is not 32 bytes"))?,
        hash: Hash::from_slice(row.try_get(10)?).ok_or_else(|| corrupt("hash is not 32 bytes"))?,
    })
}
