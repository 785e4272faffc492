//! Replays the whole log and checks everything an outside auditor would: every signature and that it is the
//! pinned key's, every hash, the chain links, contiguous positions and stream versions, the genesis event, and
//! the seals. Batches are fetched ahead while the previous one is verified on all cores.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use tokio::sync::mpsc;

use crate::envelope::{Hash, RecordedEvent, GENESIS_PREV_HASH};
use crate::one_key_batch;
use crate::seal::Seal;
use crate::store::{read_from, StoreError, GENESIS_EVENT_TYPE};

/// Events fetched and verified per batch.
pub const AUDIT_BATCH: usize = crate::store::MAX_READ_LIMIT;
/// Batches fetched ahead of verification.
const PREFETCH: usize = 2;
/// Events per ed25519 batch verification: large batches are cheaper per signature (Pippenger), and eight chunks
/// per fetched batch keep both cores busy.
const SIGNATURE_CHUNK: usize = 2500;

#[derive(Debug, Clone, PartialEq)]
pub struct AuditReport {
    pub events: i64,
    pub streams: usize,
    pub seals: usize,
    pub head: Option<(i64, Hash)>,
    pub elapsed: Duration,
}

impl AuditReport {
    pub fn events_per_s(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The first thing wrong with the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("position {position}: {problem}")]
pub struct AuditFailure {
    pub position: i64,
    pub problem: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("the log does not verify: {0}")]
    Failed(#[from] AuditFailure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Batch {
    events: Vec<RecordedEvent>,
    seals: Vec<Seal>,
}

/// Audits the log readable through `client`'s database against `pinned`. `progress` is told the number of
/// events checked so far and the head position when the audit began.
pub async fn audit(
    config: &tokio_postgres::Config,
    pinned: VerifyingKey,
    progress: impl Fn(i64, i64),
) -> Result<AuditReport, AuditError> {
    let started = Instant::now();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(StoreError::from)?;
    tokio::spawn(connection);
    let total: i64 =
        client.query_one("SELECT coalesce(max(position), 0) FROM events", &[]).await.map_err(StoreError::from)?.get(0);
    let (batches_tx, mut batches) = mpsc::channel::<Result<Batch, StoreError>>(PREFETCH);
    tokio::spawn(async move {
        let mut after = 0i64;
        loop {
            let batch = fetch(&client, after).await;
            let last = batch.as_ref().ok().and_then(|b| b.events.last().map(|e| e.position));
            let done = batch.as_ref().map(|b| b.events.is_empty()).unwrap_or(true);
            if batches_tx.send(batch).await.is_err() || done {
                return;
            }
            after = last.expect("a non-empty batch has a last event");
        }
    });

    let mut chain = ChainState::new(pinned);
    while let Some(batch) = batches.recv().await {
        let batch = batch?;
        if batch.events.is_empty() {
            // Seals beyond the last event: the log lost its tail.
            if let Some(seal) = batch.seals.first() {
                chain.check_seal(seal, &[], false)?;
            }
            break;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let state = std::mem::replace(&mut chain, ChainState::new(pinned));
        rayon::spawn(move || {
            let mut state = state;
            let verdict = state.check(&batch);
            let _ = tx.send((state, verdict));
        });
        let (state, verdict) = rx.await.expect("the verifier thread answers");
        chain = state;
        verdict?;
        progress(chain.events, total);
    }
    chain.finish()?;
    Ok(AuditReport {
        events: chain.events,
        streams: chain.versions.len(),
        seals: chain.seals,
        head: chain.last,
        elapsed: started.elapsed(),
    })
}

async fn fetch(client: &tokio_postgres::Client, after: i64) -> Result<Batch, StoreError> {
    let events = read_from(client, after + 1, AUDIT_BATCH).await?;
    let last = events.last().map(|e| e.position).unwrap_or(after);
    let seal_rows = client
        .query(
            "SELECT position, hash, sealed_at, signer, signature FROM event_seals \
             WHERE position > $1 AND ($2 OR position <= $3) ORDER BY position",
            &[&after, &events.is_empty(), &last],
        )
        .await?;
    let seals = seal_rows.iter().map(decode_seal).collect::<Result<Vec<_>, _>>()?;
    Ok(Batch { events, seals })
}

fn decode_seal(row: &tokio_postgres::Row) -> Result<Seal, StoreError> {
    let position: i64 = row.try_get(0)?;
    let corrupt = |reason: &str| StoreError::Corrupt { position, reason: format!("seal: {reason}") };
    let signer: &[u8] = row.try_get(3)?;
    Ok(Seal {
        position,
        hash: Hash::from_slice(row.try_get(1)?).ok_or_else(|| corrupt("hash is not 32 bytes"))?,
        sealed_at: row.try_get(2)?,
        signer: <[u8; 32]>::try_from(signer)
            .ok()
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| corrupt("signer is not an ed25519 key"))?,
        signature: Signature::from_slice(row.try_get(4)?).map_err(|_| corrupt("signature is not 64 bytes"))?,
    })
}

/// What the audit carries from one batch to the next.
struct ChainState {
    pinned: VerifyingKey,
    events: i64,
    seals: usize,
    last: Option<(i64, Hash)>,
    last_sealed: i64,
    versions: HashMap<String, i64>,
}

fn fail(position: i64, problem: impl Into<String>) -> AuditFailure {
    AuditFailure { position, problem: problem.into() }
}

impl ChainState {
    fn new(pinned: VerifyingKey) -> ChainState {
        ChainState { pinned, events: 0, seals: 0, last: None, last_sealed: 0, versions: HashMap::new() }
    }

    /// Checks one batch; on failure names the lowest bad position of the batch.
    fn check(&mut self, batch: &Batch) -> Result<(), AuditFailure> {
        // Per event, independent of the others, in parallel chunks: signer pinned, hash recomputes, signatures.
        // The seals' signatures as one more batch beside the events' chunks; only if it fails are they checked
        // one by one below, to name the first bad one.
        let (mut failures, seals_verify): (Vec<AuditFailure>, bool) = rayon::join(
            || batch.events.par_chunks(SIGNATURE_CHUNK).flat_map_iter(|chunk| self.check_chunk(chunk)).collect(),
            || Seal::all_verify(&batch.seals),
        );
        // Along the chain, in order.
        for event in &batch.events {
            if let Err(failure) = self.check_link(event) {
                failures.push(failure);
                break;
            }
        }
        for seal in &batch.seals {
            if let Err(failure) = self.check_seal(seal, &batch.events, seals_verify) {
                failures.push(failure);
                break;
            }
        }
        match failures.into_iter().min_by_key(|f| f.position) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Checks each event of `chunk` on its own; the payload is canonicalised once per event for both the hash and
    /// the signed message, and the signatures are verified as one ed25519 batch.
    fn check_chunk(&self, chunk: &[RecordedEvent]) -> Vec<AuditFailure> {
        let digests: Vec<(Vec<u8>, Hash)> = chunk.iter().map(RecordedEvent::digests).collect();
        let mut failures = Vec::new();
        for (event, (_, hash)) in chunk.iter().zip(&digests) {
            if event.signer != self.pinned {
                failures.push(fail(
                    event.position,
                    format!("signed by {}, not by the pinned node key", hex::encode(event.signer.as_bytes())),
                ));
            } else if *hash != event.hash {
                failures.push(fail(
                    event.position,
                    "stored hash does not match the event's fields (content or placement changed)",
                ));
            }
        }
        // Events signed by another key have failed above; the rest are checked against the pinned key as one
        // batch (one key: half the work of a general batch, see one_key_batch.rs).
        let pinned: Vec<usize> = (0..chunk.len()).filter(|&i| chunk[i].signer == self.pinned).collect();
        let messages: Vec<&[u8]> = pinned.iter().map(|&i| digests[i].0.as_slice()).collect();
        let signatures: Vec<Signature> = pinned.iter().map(|&i| chunk[i].signature).collect();
        if !one_key_batch::verify(&self.pinned, &messages, &signatures) {
            let messages: Vec<&[u8]> = digests.iter().map(|(message, _)| message.as_slice()).collect();
            // Only a failing batch pays for one-by-one verification, to name the culprits.
            failures.extend(
                chunk
                    .iter()
                    .zip(&messages)
                    .filter(|(event, message)| event.signer.verify_strict(message, &event.signature).is_err())
                    .map(|(event, _)| fail(event.position, "the signature does not verify")),
            );
        }
        failures
    }

    fn check_link(&mut self, event: &RecordedEvent) -> Result<(), AuditFailure> {
        let (expected_position, expected_prev) = match self.last {
            Some((position, hash)) => (position + 1, hash),
            None => (1, GENESIS_PREV_HASH),
        };
        if event.position != expected_position {
            return Err(fail(expected_position, format!("missing: the log jumps to position {}", event.position)));
        }
        if event.prev_hash != expected_prev {
            return Err(fail(event.position, "previous hash does not link to the event before it"));
        }
        if event.position == 1 {
            let key = event.payload.get("node_public_key").and_then(|v| v.as_str());
            if event.event_type != GENESIS_EVENT_TYPE || key != Some(hex::encode(self.pinned.as_bytes()).as_str()) {
                return Err(fail(1, "the genesis event does not pin this node's key"));
            }
        }
        // Look up before inserting: most events continue a known stream, and the key would be a fresh String.
        let version = match self.versions.get_mut(&event.stream_id) {
            Some(version) => version,
            None => self.versions.entry(event.stream_id.clone()).or_insert(0),
        };
        if event.stream_version != *version + 1 {
            return Err(fail(
                event.position,
                format!("stream {} jumps from version {} to {}", event.stream_id, version, event.stream_version),
            ));
        }
        *version += 1;
        self.events += 1;
        self.last = Some((event.position, event.hash));
        Ok(())
    }

    /// `verified`: the seal's signature is known to verify (its batch did); otherwise it is checked here.
    fn check_seal(&mut self, seal: &Seal, events: &[RecordedEvent], verified: bool) -> Result<(), AuditFailure> {
        if seal.signer != self.pinned || !(verified || seal.verifies()) {
            return Err(fail(seal.position, "the seal at this position is not signed by the pinned node key"));
        }
        let first = events.first().map(|e| e.position).unwrap_or(i64::MAX);
        let sealed = usize::try_from(seal.position - first).ok().and_then(|i| events.get(i));
        match sealed {
            Some(event) if event.hash == seal.hash => {}
            Some(_) => return Err(fail(seal.position, "the event here is not the one the node sealed")),
            None => return Err(fail(seal.position, "a seal names this position, but the log has no event there")),
        }
        self.seals += 1;
        self.last_sealed = seal.position;
        Ok(())
    }

    fn finish(&self) -> Result<(), AuditFailure> {
        match self.last {
            Some((position, _)) if self.last_sealed < position => Err(fail(
                self.last_sealed + 1,
                format!("events {}..={} are not covered by a seal of the node", self.last_sealed + 1, position),
            )),
            _ => Ok(()),
        }
    }
}
