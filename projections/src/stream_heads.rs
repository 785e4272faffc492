//! `log_views.stream_heads`: every stream, its version, event count and last event. Small, but it exercises the
//! runner end to end, and `event_count` makes a twice-applied event visible.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use events::RecordedEvent;

use crate::Projection;

pub struct StreamHeads;

struct Head<'a> {
    version: i64,
    count: i64,
    first_position: i64,
    last_position: i64,
    last_type: &'a str,
    last_time: DateTime<Utc>,
}

#[async_trait::async_trait]
impl Projection for StreamHeads {
    fn name(&self) -> &'static str {
        "stream_heads"
    }

    async fn reset(&self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()> {
        tx.execute("DELETE FROM log_views.stream_heads", &[]).await?;
        Ok(())
    }

    async fn apply(&self, tx: &tokio_postgres::Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        let mut heads: BTreeMap<&str, Head> = BTreeMap::new();
        for event in events {
            let head = heads.entry(&event.stream_id).or_insert(Head {
                version: 0,
                count: 0,
                first_position: event.position,
                last_position: 0,
                last_type: "",
                last_time: event.time,
            });
            head.version = event.stream_version;
            head.count += 1;
            head.last_position = event.position;
            head.last_type = &event.event_type;
            head.last_time = event.time;
        }
        let ids: Vec<&str> = heads.keys().copied().collect();
        let versions: Vec<i64> = heads.values().map(|h| h.version).collect();
        let counts: Vec<i64> = heads.values().map(|h| h.count).collect();
        let firsts: Vec<i64> = heads.values().map(|h| h.first_position).collect();
        let lasts: Vec<i64> = heads.values().map(|h| h.last_position).collect();
        let types: Vec<&str> = heads.values().map(|h| h.last_type).collect();
        let times: Vec<DateTime<Utc>> = heads.values().map(|h| h.last_time).collect();
        tx.execute(
            "INSERT INTO log_views.stream_heads AS h \
               (stream_id, version, event_count, first_position, last_position, last_event_type, last_event_time) \
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int8[], $5::int8[], $6::text[], $7::timestamptz[]) \
             ON CONFLICT (stream_id) DO UPDATE SET \
               version = EXCLUDED.version, event_count = h.event_count + EXCLUDED.event_count, \
               last_position = EXCLUDED.last_position, last_event_type = EXCLUDED.last_event_type, \
               last_event_time = EXCLUDED.last_event_time",
            &[&ids, &versions, &counts, &firsts, &lasts, &types, &times],
        )
        .await?;
        Ok(())
    }
}
