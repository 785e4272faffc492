//! The writer's statements and their parameters.

use bytes::BufMut;
use chrono::Utc;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use uuid::Uuid;

use super::plan::Link;
use super::AppendRequest;
use crate::envelope::SignedEvent;
use crate::seal::Seal;

pub(super) const LOCK_CHAIN: &str = "SELECT pg_advisory_xact_lock($1)";
pub(super) const INSERT_SEAL: &str =
    "INSERT INTO event_seals (position, hash, sealed_at, signer, signature) VALUES ($1, $2, $3, $4, $5)";
pub(super) const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// One INSERT for the whole batch, column arrays unnested server-side.
pub(super) const INSERT_EVENTS: &str =
    "INSERT INTO events (position, event_id, stream_id, stream_version, event_type, payload, \
     time, signer, signature, prev_hash, hash) \
     SELECT * FROM unnest($1::int8[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::jsonb[], \
     $7::timestamptz[], $8::bytea[], $9::bytea[], $10::bytea[], $11::bytea[])";

/// A seal as statement parameters.
pub(super) struct SealRow<'a> {
    seal: &'a Seal,
    hash: &'a [u8],
    signer: &'a [u8],
    signature: Vec<u8>,
}

impl<'a> SealRow<'a> {
    pub fn of(seal: &'a Seal) -> SealRow<'a> {
        SealRow {
            seal,
            hash: seal.hash.0.as_slice(),
            signer: seal.signer.as_bytes().as_slice(),
            signature: seal.signature.to_vec(),
        }
    }

    pub fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [&self.seal.position, &self.hash, &self.seal.sealed_at, &self.signer, &self.signature]
    }
}

/// The batch as one array per column.
pub(super) struct Columns<'a> {
    positions: Vec<i64>,
    ids: Vec<Uuid>,
    streams: Vec<&'a str>,
    versions: Vec<i64>,
    types: Vec<&'a str>,
    payloads: Vec<CanonicalJsonb<'a>>,
    times: Vec<chrono::DateTime<Utc>>,
    signers: Vec<&'a [u8]>,
    signatures: Vec<Vec<u8>>,
    prev_hashes: Vec<&'a [u8]>,
    hashes: Vec<&'a [u8]>,
}

impl<'a> Columns<'a> {
    /// The columns of the `linked` events of `batch`, in chain order.
    pub fn of(batch: &'a [AppendRequest], linked: &'a [Link]) -> Columns<'a> {
        let events: Vec<&'a SignedEvent> = linked.iter().map(|l| &batch[l.request].events[l.event]).collect();
        Columns {
            positions: linked.iter().map(|l| l.position).collect(),
            ids: events.iter().map(|e| e.event_id).collect(),
            streams: events.iter().map(|e| e.stream_id.as_str()).collect(),
            versions: linked.iter().map(|l| l.stream_version).collect(),
            types: events.iter().map(|e| e.event_type.as_str()).collect(),
            payloads: linked.iter().map(|l| CanonicalJsonb(&batch[l.request].canonical[l.event])).collect(),
            times: events.iter().map(|e| e.time).collect(),
            signers: events.iter().map(|e| e.signer.as_bytes().as_slice()).collect(),
            signatures: events.iter().map(|e| e.signature.to_vec()).collect(),
            prev_hashes: linked.iter().map(|l| l.prev_hash.0.as_slice()).collect(),
            hashes: linked.iter().map(|l| l.hash.0.as_slice()).collect(),
        }
    }

    pub fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
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

/// After the chain lock: fails (SQLSTATE NTCH1) unless the commit's predecessor is committed (V400__chain_guard.sql).
pub(super) const EXPECT_TAIL: &str = "SELECT notch_expect_tail($1, $2)";
/// The SQLSTATE of [`EXPECT_TAIL`]'s refusal.
pub(super) const TAIL_MOVED: &str = "NTCH1";
/// Fails (SQLSTATE NTCH2) unless each stream is at the version the speculative commit trusted
/// (V500__stream_guard.sql).
pub(super) const EXPECT_VERSIONS: &str = "SELECT notch_expect_versions($1::text[], $2::int8[])";
/// The SQLSTATE of [`EXPECT_VERSIONS`]'s refusal.
pub(super) const VERSION_MOVED: &str = "NTCH2";

/// A payload's canonical JSON sent as a `jsonb` parameter as it is: it is already JSON text, so serialising the
/// `serde_json::Value` again (about 2 µs for a 2 KB MAM message) would only repeat work.
#[derive(Debug)]
struct CanonicalJsonb<'a>(&'a [u8]);

/// The version byte of PostgreSQL's binary `jsonb` format, which is followed by the JSON text.
const JSONB_FORMAT_VERSION: u8 = 1;

impl ToSql for CanonicalJsonb<'_> {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        out.put_u8(JSONB_FORMAT_VERSION);
        out.put_slice(self.0);
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::JSONB
    }

    to_sql_checked!();
}
