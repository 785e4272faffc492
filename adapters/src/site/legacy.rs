//! Upgrading a log written in the old lift layout (`domain::site::legacy`): every tally with lift chits in the
//! shared `lifts` stream gets one `TallyRebased` event in its own stream, then the site records that the upgrade
//! is done. Runs when a command opens the site ledger; a log that never had a `lifts` stream costs one read, an
//! upgraded one the site's own load. Idempotent: a rebased tally is left alone, so a run cut short resumes.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use domain::site::legacy::{rebase, LEGACY_LIFTS_STREAM};
use domain::site::site_aggregate::{Site, SiteCommand};
use domain::site::tally::{Tally, TallyEvent};
use domain::Aggregate;
use events::Store;
use uuid::Uuid;

use super::AppResult;
use crate::command::{decode, execute, load, read_events, LogError};

/// Events read per round trip from the `lifts` stream.
const READ_PAGE_EVENTS: usize = 1000;

/// Rebases the tallies of an old-layout log; returns how many it rebased (0 for a log in the current layout).
pub async fn adopt_legacy_lifts(store: &Store, now: DateTime<Utc>) -> AppResult<u64> {
    if store.read_stream_last(LEGACY_LIFTS_STREAM).await.map_err(LogError::from)?.is_none() {
        return Ok(0);
    }
    let site = load::<Site>(store, &()).await?;
    if site.state.legacy_lifts_adopted {
        return Ok(0);
    }
    let (lifted, through_position) = legacy_chits(store).await?;
    let tallies = lifted.len() as u64;
    for (tally_id, chits) in lifted {
        let own = read_events::<TallyEvent>(store, &Tally::stream_id(&tally_id)).await?;
        if let Some(command) = rebase(&own, &chits, now) {
            execute::<Tally>(store, &tally_id, command).await?;
        }
    }
    tracing::info!(tallies, "upgraded the log's old lift layout: each tally's lift chits now count from its stream");
    execute::<Site>(store, &(), SiteCommand::RecordLegacyLiftsAdopted { tallies, through_position, at: now }).await?;
    Ok(tallies)
}

/// The lift chits of the `lifts` stream by tally, each with its position, and the stream's last position.
async fn legacy_chits(store: &Store) -> Result<(BTreeMap<Uuid, Vec<(i64, TallyEvent)>>, i64), LogError> {
    let mut lifted: BTreeMap<Uuid, Vec<(i64, TallyEvent)>> = BTreeMap::new();
    let (mut version, mut through_position) = (0, 0);
    loop {
        let page = store.read_stream(LEGACY_LIFTS_STREAM, version + 1, READ_PAGE_EVENTS).await?;
        for recorded in &page {
            (version, through_position) = (recorded.stream_version, recorded.position);
            // The lift records stay where they are: the lift views already hold them.
            if recorded.event_type == "ChitIssued" {
                let chit: TallyEvent = decode(recorded)?;
                let TallyEvent::ChitIssued { chit: body, .. } = &chit else { unreachable!("tagged ChitIssued") };
                lifted.entry(body.tally_id).or_default().push((recorded.position, chit));
            }
        }
        if page.len() < READ_PAGE_EVENTS {
            return Ok((lifted, through_position));
        }
    }
}
