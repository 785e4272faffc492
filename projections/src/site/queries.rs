//! Typed queries over the site views, for the command side (the lift run's graph and tally states) and for the
//! users' reads (their tallies, chits, balances and lifts), plus the command nonces the HTTP adapter keeps.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::crypto::Signature;
use domain::site::tally::{Side, SignedTerms, TallyState, TallyStatus};
use serde_json::Value;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::views::{ViewError, Views};

/// The lift finder's graph as five aligned arrays (one row: one message to decode instead of one per tally).
pub struct GraphRows {
    /// Users are indexed densely from 0; this is how many there are.
    pub users: usize,
    pub tally_ix: Vec<i32>,
    pub stock_ix: Vec<i32>,
    pub foil_ix: Vec<i32>,
    pub stock_pays_milli: Vec<i64>,
    pub foil_pays_milli: Vec<i64>,
}

/// The aggregates of one scan see the rows in the same order, so the arrays line up.
const OPEN_TALLIES: &str = "SELECT coalesce(array_agg(tally_ix), '{}'), coalesce(array_agg(stock_ix), '{}'), \
     coalesce(array_agg(foil_ix), '{}'), coalesce(array_agg(stock_pays_milli), '{}'), \
     coalesce(array_agg(foil_pays_milli), '{}') FROM site.open_tallies";

/// Every simple cycle through $1 of at most $2 hops with positive capacity. The positive edges are materialised
/// once per query, as a recursive walk over them is what MyCHIPs runs.
const CYCLES_THROUGH: &str = "
WITH RECURSIVE edges AS MATERIALIZED (
    SELECT tally_id::text || ':' || payer_side AS hop, payer_cid, payee_cid
      FROM site.lift_edges WHERE capacity_milli > 0
), walk(last_cid, visited, path, len) AS (
    SELECT payee_cid, ARRAY[payer_cid, payee_cid], ARRAY[hop], 1 FROM edges WHERE payer_cid = $1
    UNION ALL
    SELECT e.payee_cid, w.visited || e.payee_cid, w.path || e.hop, w.len + 1
      FROM walk w JOIN edges e ON e.payer_cid = w.last_cid
     WHERE w.len < $2 AND w.last_cid <> $1 AND (e.payee_cid = $1 OR NOT e.payee_cid = ANY(w.visited))
)
SELECT path FROM walk WHERE last_cid = $1";

/// Rows of a user's listing, at most.
pub const MAX_LISTED_ROWS: i64 = 1000;

impl Views {
    /// The graph of open tallies.
    pub async fn site_graph(&self) -> Result<GraphRows, ViewError> {
        let client = self.client().await?;
        let (users, row) = futures::try_join!(
            client.query_one("SELECT coalesce(max(ix) + 1, 0) FROM site.users", &[]),
            client.query_one(OPEN_TALLIES, &[]),
        )?;
        let users = usize::try_from(users.get::<_, i32>(0))
            .map_err(|_| ViewError::Corrupt { view: "site.users", reason: "a negative index".into() })?;
        Ok(GraphRows {
            users,
            tally_ix: row.try_get(0)?,
            stock_ix: row.try_get(1)?,
            foil_ix: row.try_get(2)?,
            stock_pays_milli: row.try_get(3)?,
            foil_pays_milli: row.try_get(4)?,
        })
    }

    /// The ids of the tallies with indexes `ixs`, by index.
    pub async fn tally_ids(&self, ixs: &[i32]) -> Result<HashMap<i32, Uuid>, ViewError> {
        let client = self.client().await?;
        let rows = client.query("SELECT ix, tally_id FROM site.tallies WHERE ix = ANY($1)", &[&ixs]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The dense index of each user in `cids` (in that order); `None` for a CID the site does not know.
    pub async fn user_indexes(&self, cids: &[String]) -> Result<Vec<Option<u32>>, ViewError> {
        let client = self.client().await?;
        let rows = client.query("SELECT cid, ix FROM site.users WHERE cid = ANY($1)", &[&cids]).await?;
        let found: HashMap<String, i32> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok(cids.iter().map(|cid| found.get(cid).and_then(|&ix| u32::try_from(ix).ok())).collect())
    }

    /// The whole state of each open tally with an index in `ixs`, and its stream's version, by index. A row may
    /// trail the log; an append built on it expects that version, so a stale row is refused, never misapplied.
    pub async fn open_tally_states(&self, ixs: &[i32]) -> Result<HashMap<i32, (TallyState, i64)>, ViewError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT ix, tally_id, body, balance_milli, chit_count, head_hash, stream_version, proposed_by, \
                   stock_signature, foil_signature, rebased FROM site.tallies WHERE status = 'open' AND ix = ANY($1)",
                &[&ixs],
            )
            .await?;
        rows.iter().map(open_tally).collect()
    }

    /// The tallies `cid` is a party of, oldest first, as JSON rows (bodies left out).
    pub async fn tallies_of(&self, cid: &str) -> Result<Vec<Value>, ViewError> {
        self.json_rows(
            "SELECT to_jsonb(t) - 'body' - 'ix' FROM site.tallies t WHERE stock_cid = $1 OR foil_cid = $1 \
             ORDER BY created_at LIMIT $2",
            cid,
        )
        .await
    }

    /// The chits of a tally, in chain order.
    pub async fn chits_of(&self, tally_id: Uuid) -> Result<Vec<Value>, ViewError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT to_jsonb(c) FROM site.chits c WHERE tally_id = $1 ORDER BY chit_index LIMIT $2",
                &[&tally_id, &MAX_LISTED_ROWS],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// `cid`'s side of each of its tallies' balances.
    pub async fn balances_of(&self, cid: &str) -> Result<Vec<Value>, ViewError> {
        self.json_rows("SELECT to_jsonb(b) FROM site.balances b WHERE cid = $1 ORDER BY tally_id LIMIT $2", cid).await
    }

    /// The lifts in which `cid` paid (and so was paid), in log order.
    pub async fn lifts_of(&self, cid: &str) -> Result<Vec<Value>, ViewError> {
        self.json_rows(
            "SELECT to_jsonb(l) FROM site.lifts l \
             WHERE hops @> jsonb_build_array(jsonb_build_object('payer_cid', $1::text)) ORDER BY position LIMIT $2",
            cid,
        )
        .await
    }

    /// Every user's net position (what others owe them less what they owe), by cid.
    pub async fn net_positions(&self) -> Result<Vec<(String, i64)>, ViewError> {
        let client = self.client().await?;
        let rows = client.query("SELECT cid, net_milli FROM report.balances ORDER BY cid", &[]).await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The lift benchmark's baseline: every simple cycle through `cid` of at most `max_len` hops with positive
    /// capacity, found by a recursive query over the views as MyCHIPs does, as `tally:payer_side` lists.
    pub async fn cycles_by_recursive_query(&self, cid: &str, max_len: usize) -> Result<Vec<Vec<String>>, ViewError> {
        let client = self.client().await?;
        let max_len = i32::try_from(max_len).unwrap_or(i32::MAX);
        let rows = client.query(CYCLES_THROUGH, &[&cid, &max_len]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn json_rows(&self, sql: &str, cid: &str) -> Result<Vec<Value>, ViewError> {
        let client = self.client().await?;
        let rows = client.query(sql, &[&cid, &MAX_LISTED_ROWS]).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Records that `key` used `nonce` at `now`, forgetting nonces seen before `horizon`; false if the nonce was
    /// seen already (a replay).
    pub async fn remember_nonce(
        &self,
        key: &str,
        nonce: &str,
        now: DateTime<Utc>,
        horizon: DateTime<Utc>,
    ) -> Result<bool, ViewError> {
        let client = self.client().await?;
        client.execute("DELETE FROM site.command_nonces WHERE seen_at < $1", &[&horizon]).await?;
        let inserted = client
            .execute(
                "INSERT INTO site.command_nonces (public_key, nonce, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                &[&key, &nonce, &now],
            )
            .await?;
        Ok(inserted == 1)
    }
}

fn open_tally(row: &tokio_postgres::Row) -> Result<(i32, (TallyState, i64)), ViewError> {
    let corrupt = |reason: String| ViewError::Corrupt { view: "site.tallies", reason };
    let id: Uuid = row.get(1);
    let Json(body): Json<SignedTerms> = row.try_get(2).map_err(|err| corrupt(format!("tally {id}: body: {err}")))?;
    let proposed_by = match row.get::<_, Option<&str>>(7) {
        Some("stock") => Some(Side::Stock),
        Some("foil") => Some(Side::Foil),
        None => None,
        Some(other) => return Err(corrupt(format!("tally {id}: proposed by {other:?}"))),
    };
    let chit_count = u64::try_from(row.get::<_, i64>(4)).map_err(|_| corrupt(format!("tally {id}: chit count")))?;
    let state = TallyState {
        id,
        status: TallyStatus::Open,
        parties: vec![body.stock.cert.cid.clone(), body.foil.cert.cid.clone()],
        body: Some(body),
        proposed_by,
        stock_signature: signature(row.get(8)).map_err(|err| corrupt(format!("tally {id}: {err}")))?,
        foil_signature: signature(row.get(9)).map_err(|err| corrupt(format!("tally {id}: {err}")))?,
        balance_milli: row.get(3),
        chit_count,
        head_hash: row.get(5),
        rebased: row.get(10),
    };
    Ok((row.get(0), (state, row.get(6))))
}

fn signature(text: Option<&str>) -> Result<Option<Signature>, domain::crypto::CryptoError> {
    text.map(Signature::from_base64url).transpose()
}
