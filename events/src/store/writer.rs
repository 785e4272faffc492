//! The single writer: group commit of verified appends into the hash chain.
//!
//! All appends of a batch share one transaction. The transaction first takes an advisory lock that every writer
//! of this database (in any process) takes, then reads the chain's tail: positions are handed out only while
//! holding the lock, so commits happen in position order and no reader can see position N+1 before N.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use ed25519_dalek::SigningKey;
use tokio::sync::{mpsc, watch};
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use super::error::{AppendError, Expected};
use super::{drain_waiting, AppendRequest, Appended};
use crate::envelope::{Hash, RecordedEvent, GENESIS_PREV_HASH};
use crate::seal::Seal;

/// The advisory lock every writer of a notch database holds while it extends the chain.
pub const CHAIN_LOCK_KEY: i64 = 0x6e6f_7463_685f_6368; // "notch_ch"
/// Most events one commit carries: bounds the transaction and the latency of the appends waiting behind it.
pub const MAX_EVENTS_PER_COMMIT: usize = 2000;
/// The channel on which the writer announces each new head position.
pub const NOTIFY_CHANNEL: &str = "notch_events";

pub struct Writer {
    pub pool: deadpool_postgres::Pool,
    pub key: SigningKey,
    pub head: watch::Sender<i64>,
}

impl Writer {
    /// Commits one batch at a time. A second transaction in flight was measured to be slower: it starts with
    /// the few appends waiting at that instant, so batches shrink and every commit pays its own WAL flush. Waiting
    /// lets each batch gather every append that arrived during the previous commit (group commit).
    pub async fn run(self, mut verified: mpsc::Receiver<Vec<AppendRequest>>) {
        let mut carried: Vec<AppendRequest> = Vec::new();
        while let Some(first) = next_batch(&mut verified, &mut carried).await {
            carried = self.commit(gather(&mut verified, first)).await;
        }
    }

    /// Commits what it can of `batch`, answers every request it settles, and returns the requests that must wait
    /// for the next commit (a retry racing its own original in the same batch).
    async fn commit(&self, batch: Vec<AppendRequest>) -> Vec<AppendRequest> {
        let started = std::time::Instant::now();
        let (requests, events) = (batch.len(), batch.iter().map(|r| r.events.len()).sum::<usize>());
        let carried = self.settle(batch).await;
        tracing::debug!(requests, events, elapsed_us = started.elapsed().as_micros() as u64, "committed batch");
        carried
    }

    async fn settle(&self, batch: Vec<AppendRequest>) -> Vec<AppendRequest> {
        match self.try_commit(batch).await {
            Ok((settled, carried, head)) => {
                if let Some(head) = head {
                    self.head.send_if_modified(|known| std::mem::replace(known, (*known).max(head)) < head);
                }
                for (request, outcome) in settled {
                    let _ = request.reply.send(outcome);
                }
                carried
            }
            Err((batch, err)) => {
                tracing::warn!("append batch of {} requests failed: {err}", batch.len());
                for request in batch {
                    let _ = request.reply.send(Err(AppendError::Unavailable(err.to_string())));
                }
                Vec::new()
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn try_commit(
        &self,
        batch: Vec<AppendRequest>,
    ) -> Result<
        (Vec<(AppendRequest, Result<Appended, AppendError>)>, Vec<AppendRequest>, Option<i64>),
        (Vec<AppendRequest>, anyhow::Error),
    > {
        let client = match self.pool.get().await {
            Ok(client) => client,
            Err(err) => return Err((batch, err.into())),
        };
        match self.transact(&client, &batch).await {
            Err(err) => {
                // The connection's transaction state is unknown: never give it back to the pool.
                drop(deadpool_postgres::Object::take(client));
                Err((batch, err))
            }
            Ok(plan) => {
                let head = plan.linked.last().map(|e| e.position);
                let mut settled = Vec::with_capacity(batch.len());
                let mut carried = Vec::new();
                for (request, decision) in batch.into_iter().zip(plan.decisions) {
                    match decision {
                        Decision::Settled(outcome) => settled.push((request, outcome)),
                        Decision::Carry => carried.push(request),
                    }
                }
                Ok((settled, carried, head))
            }
        }
    }

    /// One transaction in two round trips: BEGIN, the chain lock and the reads are sent together (the server runs
    /// them in order, so the reads see the log as of after the lock); then the inserts, the NOTIFY and COMMIT.
    /// If any statement fails, PostgreSQL turns the COMMIT into a rollback.
    async fn transact(&self, client: &deadpool_postgres::Client, batch: &[AppendRequest]) -> anyhow::Result<Plan> {
        let (lock, tail, versions, existing) = futures::try_join!(
            client.prepare_cached("SELECT pg_advisory_xact_lock($1)"),
            client.prepare_cached("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1"),
            client.prepare_cached(
                "SELECT s.id, (SELECT max(stream_version) FROM events e WHERE e.stream_id = s.id) \
                 FROM unnest($1::text[]) AS s(id)"
            ),
            client.prepare_cached(
                "SELECT event_id, stream_id, position, stream_version FROM events WHERE event_id = ANY($1)"
            ),
        )?;
        let stream_ids: Vec<&str> =
            batch.iter().map(|r| r.stream_id.as_str()).collect::<HashSet<_>>().into_iter().collect();
        let event_ids: Vec<Uuid> = batch.iter().flat_map(|r| r.events.iter().map(|e| e.event_id)).collect();
        let lock_params: [&(dyn ToSql + Sync); 1] = [&CHAIN_LOCK_KEY];
        let version_params: [&(dyn ToSql + Sync); 1] = [&stream_ids];
        let existing_params: [&(dyn ToSql + Sync); 1] = [&event_ids];
        let (begun, locked, tail_row, version_rows, existing_rows) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.execute(&lock, &lock_params),
            client.query_opt(&tail, &[]),
            client.query(&versions, &version_params),
            client.query(&existing, &existing_params),
        );
        begun?;
        locked?;
        let reads = Reads { tail: tail_row?, versions: version_rows?, existing: existing_rows? };
        let plan = plan(reads, batch)?;
        let Some(last) = plan.linked.last() else {
            client.batch_execute("ROLLBACK").await?;
            return Ok(plan);
        };
        let (insert_events, insert_seal, notify) = futures::try_join!(
            client.prepare_cached(INSERT_EVENTS),
            client.prepare_cached(
                "INSERT INTO event_seals (position, hash, sealed_at, signer, signature) VALUES ($1, $2, $3, $4, $5)"
            ),
            client.prepare_cached("SELECT pg_notify($1, $2)"),
        )?;
        let seal = Seal::sign(&self.key, last.position, last.hash, Utc::now());
        let columns = Columns::of(&plan.linked);
        let head = last.position.to_string();
        let event_params = columns.params();
        let seal_signature = seal.signature.to_bytes();
        let seal_params: [&(dyn ToSql + Sync); 5] = [
            &seal.position,
            &seal.hash.0.as_slice(),
            &seal.sealed_at,
            &seal.signer.as_bytes().as_slice(),
            &seal_signature.as_slice(),
        ];
        let notify_params: [&(dyn ToSql + Sync); 2] = [&NOTIFY_CHANNEL, &head];
        let (inserted, sealed, notified, committed) = tokio::join!(
            client.execute(&insert_events, &event_params),
            client.execute(&insert_seal, &seal_params),
            client.execute(&notify, &notify_params),
            client.batch_execute("COMMIT"),
        );
        inserted?;
        sealed?;
        notified?;
        committed?;
        Ok(plan)
    }
}

/// Adds every verified batch already waiting, up to [`MAX_EVENTS_PER_COMMIT`] events.
fn gather(verified: &mut mpsc::Receiver<Vec<AppendRequest>>, first: Vec<AppendRequest>) -> Vec<AppendRequest> {
    let events = |batch: &Vec<AppendRequest>| batch.iter().map(|r| r.events.len()).sum();
    drain_waiting(verified, first, MAX_EVENTS_PER_COMMIT, events).into_iter().flatten().collect()
}

async fn next_batch(
    verified: &mut mpsc::Receiver<Vec<AppendRequest>>,
    carried: &mut Vec<AppendRequest>,
) -> Option<Vec<AppendRequest>> {
    if carried.is_empty() {
        verified.recv().await
    } else {
        Some(std::mem::take(carried))
    }
}

enum Decision {
    Settled(Result<Appended, AppendError>),
    Carry,
}

struct Plan {
    decisions: Vec<Decision>,
    linked: Vec<RecordedEvent>,
}

struct Reads {
    tail: Option<tokio_postgres::Row>,
    versions: Vec<tokio_postgres::Row>,
    existing: Vec<tokio_postgres::Row>,
}

/// Decides each request of the batch against the committed log, in arrival order, and links the accepted events
/// onto the chain.
fn plan(reads: Reads, batch: &[AppendRequest]) -> anyhow::Result<Plan> {
    let (mut position, mut prev_hash) = match reads.tail {
        Some(row) => (
            row.get::<_, i64>(0),
            Hash::from_slice(row.get(1)).ok_or_else(|| anyhow::anyhow!("stored hash is not 32 bytes"))?,
        ),
        None => (0, GENESIS_PREV_HASH),
    };
    let mut versions: HashMap<String, i64> =
        reads.versions.iter().map(|row| (row.get(0), row.get::<_, Option<i64>>(1).unwrap_or(0))).collect();
    let existing: HashMap<Uuid, (String, i64, i64)> =
        reads.existing.iter().map(|row| (row.get(0), (row.get(1), row.get(2), row.get(3)))).collect();

    let mut in_batch: HashSet<Uuid> = HashSet::new();
    let mut decisions = Vec::with_capacity(batch.len());
    let mut linked = Vec::new();
    for request in batch {
        if let Some(decision) = already_stored(request, &existing) {
            decisions.push(decision);
            continue;
        }
        if request.events.iter().any(|e| in_batch.contains(&e.event_id)) {
            decisions.push(Decision::Carry);
            continue;
        }
        let actual = versions.get(&request.stream_id).copied().unwrap_or(0);
        let matches = match request.expected {
            Expected::Any => true,
            Expected::NoStream => actual == 0,
            Expected::Exact(version) => actual == version,
        };
        if !matches {
            decisions.push(Decision::Settled(Err(AppendError::WrongExpectedVersion {
                stream_id: request.stream_id.clone(),
                expected: request.expected,
                actual,
            })));
            continue;
        }
        let first_position = position + 1;
        let mut version = actual;
        for (event, canonical) in request.events.iter().zip(&request.canonical) {
            position += 1;
            version += 1;
            let recorded = event.clone().link_canonical(canonical, position, version, prev_hash);
            prev_hash = recorded.hash;
            in_batch.insert(event.event_id);
            linked.push(recorded);
        }
        versions.insert(request.stream_id.clone(), version);
        decisions.push(Decision::Settled(Ok(Appended {
            first_position,
            last_position: position,
            stream_version: version,
        })));
    }
    Ok(Plan { decisions, linked })
}

/// A request whose events are all stored already is a retry: it gets the original result. One that is partly
/// stored conflicts with another append.
fn already_stored(request: &AppendRequest, existing: &HashMap<Uuid, (String, i64, i64)>) -> Option<Decision> {
    let stored: Vec<&(String, i64, i64)> = request.events.iter().filter_map(|e| existing.get(&e.event_id)).collect();
    if stored.is_empty() {
        return None;
    }
    let whole_retry = stored.len() == request.events.len() && stored.iter().all(|(s, _, _)| *s == request.stream_id);
    let contiguous = stored.windows(2).all(|w| w[1].1 == w[0].1 + 1);
    if whole_retry && contiguous {
        let (first, last) = (stored[0], stored[stored.len() - 1]);
        return Some(Decision::Settled(Ok(Appended {
            first_position: first.1,
            last_position: last.1,
            stream_version: last.2,
        })));
    }
    let (event_id, position) = request
        .events
        .iter()
        .find_map(|e| existing.get(&e.event_id).map(|(_, p, _)| (e.event_id, *p)))
        .expect("at least one stored event");
    Some(Decision::Settled(Err(AppendError::DuplicateEventId { event_id, position })))
}

/// One INSERT for the whole batch, column arrays unnested server-side.
const INSERT_EVENTS: &str = "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, payload, \
     time, signer, signature, prev_hash, hash) \
     SELECT * FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::jsonb[], \
     $7::timestamptz[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bytea[])";

/// The batch as one array per column.
struct Columns<'a> {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    payloads: Vec<Json<&'a serde_json::Value>>,
    times: Vec<chrono::DateTime<Utc>>,
    signers: Vec<&'a [u8]>,
    signatures: Vec<Vec<u8>>,
    prev_hashes: Vec<&'a [u8]>,
    hashes: Vec<&'a [u8]>,
}

impl<'a> Columns<'a> {
    fn of(events: &'a [RecordedEvent]) -> Columns<'a> {
        Columns {
            positions: events.iter().map(|e| e.position).collect(),
            ids: events.iter().map(|e| e.event_id).collect(),
            streams: events.iter().map(|e| e.stream_id.as_str()).collect(),
            versions: events.iter().map(|e| e.stream_version).collect(),
            types: events.iter().map(|e| e.event_type.as_str()).collect(),
            payloads: events.iter().map(|e| Json(&e.payload)).collect(),
            times: events.iter().map(|e| e.time).collect(),
            signers: events.iter().map(|e| e.signer.as_bytes().as_slice()).collect(),
            signatures: events.iter().map(|e| e.signature.to_vec()).collect(),
            prev_hashes: events.iter().map(|e| e.prev_hash.0.as_slice()).collect(),
            hashes: events.iter().map(|e| e.hash.0.as_slice()).collect(),
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        vec![
            &self.positions,
            &self.ids,
            &self.streams,
            &self.versions,
            &self.types,
            &self.payloads,
            &self.times,
            &self.signers,
            &self.signatures,
            &self.prev_hashes,
            &self.hashes,
        ]
    }
}
