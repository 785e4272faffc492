//! Writes a folded batch (`batch.rs`) with one set-based statement per table and kind of change: arrays of
//! column values unnested server-side. Order matters only where statements touch the same rows: users before
//! the lift graph (it joins their indexes), tallies before the lift graph (it is derived from them).

use chrono::{DateTime, Utc};
use domain::site::site_aggregate::SiteEvent;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;
use uuid::Uuid;

use domain::site::tally::Side;

use super::batch::{Batch, NewTally, Offer, TallyChange, TallyDelta};

type Params<'a> = [&'a (dyn ToSql + Sync)];

async fn execute(tx: &Transaction<'_>, sql: &str, params: &Params<'_>) -> anyhow::Result<u64> {
    Ok(tx.execute(sql, params).await?)
}

impl Batch {
    pub async fn flush(self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        for event in &self.site {
            site(tx, event).await?;
        }
        self.users(tx).await?;
        self.tallies(tx).await?;
        self.chits(tx).await?;
        self.lifts(tx).await?;
        self.lift_graph(tx).await
    }

    async fn users(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        if !self.new_users.is_empty() {
            let next: i32 = tx.query_one("SELECT coalesce(max(ix) + 1, 0) FROM site.users", &[]).await?.get(0);
            let u = &self.new_users;
            let cids: Vec<&str> = u.iter().map(|r| r.cid.as_str()).collect();
            let names: Vec<&str> = u.iter().map(|r| r.name.as_str()).collect();
            let contacts: Vec<&Value> = u.iter().map(|r| &r.contact).collect();
            let statuses: Vec<&str> = u.iter().map(|r| r.status).collect();
            let created: Vec<DateTime<Utc>> = u.iter().map(|r| r.created_at).collect();
            let updated: Vec<DateTime<Utc>> = u.iter().map(|r| r.updated_at).collect();
            let ixs: Vec<i32> = (0..u.len()).map(|i| next + i as i32).collect();
            execute(
                tx,
                "INSERT INTO site.users (cid, name, contact, status, created_at, updated_at, ix) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::timestamptz[], \
                   $6::timestamptz[], $7::int4[])",
                &[&cids, &names, &contacts, &statuses, &created, &updated, &ixs],
            )
            .await?;
        }
        if !self.user_changes.is_empty() {
            let c = &self.user_changes;
            let cids: Vec<&str> = c.keys().map(String::as_str).collect();
            let names: Vec<Option<&str>> = c.values().map(|r| r.name.as_deref()).collect();
            let contacts: Vec<Option<&Value>> = c.values().map(|r| r.contact.as_ref()).collect();
            let statuses: Vec<Option<&str>> = c.values().map(|r| r.status).collect();
            let updated: Vec<DateTime<Utc>> = c.values().map(|r| r.updated_at).collect();
            execute(
                tx,
                "UPDATE site.users u SET name = coalesce(d.name, u.name), contact = coalesce(d.contact, u.contact), \
                   status = coalesce(d.status, u.status), updated_at = d.updated_at \
                 FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::text[], $5::timestamptz[]) \
                   AS d(cid, name, contact, status, updated_at) \
                 WHERE u.cid = d.cid",
                &[&cids, &names, &contacts, &statuses, &updated],
            )
            .await?;
        }
        if !self.device_keys.is_empty() {
            let k = &self.device_keys;
            let keys: Vec<&str> = k.iter().map(|r| r.key.as_str()).collect();
            let cids: Vec<&str> = k.iter().map(|r| r.cid.as_str()).collect();
            let at: Vec<DateTime<Utc>> = k.iter().map(|r| r.at).collect();
            execute(
                tx,
                "INSERT INTO site.device_keys (public_key, cid, registered_at) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])",
                &[&keys, &cids, &at],
            )
            .await?;
        }
        Ok(())
    }

    async fn tallies(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        let (mut new, mut changed) = (NewColumns::default(), DeltaColumns::default());
        for (&id, change) in &self.tallies {
            match change {
                TallyChange::New(row) => new.push(id, row),
                TallyChange::Existing(delta) => changed.push(id, delta),
            }
        }
        if !new.ids.is_empty() {
            let next: i32 = tx.query_one("SELECT coalesce(max(ix) + 1, 0) FROM site.tallies", &[]).await?.get(0);
            let ixs: Vec<i32> = new.orders.iter().map(|order| next + order).collect();
            let n = &new;
            execute(
                tx,
                "INSERT INTO site.tallies (ix, tally_id, status, version, stock_cid, foil_cid, memo, stock_limit_milli, \
                   foil_limit_milli, lift_lower_milli, lift_upper_milli, balance_milli, chit_count, body, head_hash, \
                   created_at, updated_at, stream_version, proposed_by, stock_signature, foil_signature, rebased) \
                 SELECT * FROM unnest($1::int4[], $2::uuid[], $3::text[], $4::int4[], $5::text[], $6::text[], \
                   $7::text[], $8::int8[], $9::int8[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], \
                   $14::jsonb[], $15::text[], $16::timestamptz[], $17::timestamptz[], $18::int8[], $19::text[], \
                   $20::text[], $21::text[], $22::bool[])",
                &[
                    &ixs,
                    &n.ids,
                    &n.statuses,
                    &n.versions,
                    &n.stock_cids,
                    &n.foil_cids,
                    &n.memos,
                    &n.stock_limits,
                    &n.foil_limits,
                    &n.lowers,
                    &n.uppers,
                    &n.balances,
                    &n.chit_counts,
                    &n.bodies,
                    &n.head_hashes,
                    &n.created,
                    &n.updated,
                    &n.stream_versions,
                    &n.proposed_by,
                    &n.stock_signatures,
                    &n.foil_signatures,
                    &n.rebased,
                ],
            )
            .await?;
        }
        if !changed.ids.is_empty() {
            let c = &changed;
            let o = &c.offers;
            execute(
                tx,
                "UPDATE site.tallies t SET status = coalesce(d.status, t.status), \
                   version = coalesce(d.version, t.version), stock_cid = coalesce(d.stock_cid, t.stock_cid), \
                   foil_cid = coalesce(d.foil_cid, t.foil_cid), memo = coalesce(d.memo, t.memo), \
                   stock_limit_milli = coalesce(d.stock_limit, t.stock_limit_milli), \
                   foil_limit_milli = coalesce(d.foil_limit, t.foil_limit_milli), \
                   lift_lower_milli = coalesce(d.lower, t.lift_lower_milli), \
                   lift_upper_milli = coalesce(d.upper, t.lift_upper_milli), body = coalesce(d.body, t.body), \
                   balance_milli = t.balance_milli + d.balance_delta, chit_count = t.chit_count + d.chit_delta, \
                   head_hash = coalesce(d.head_hash, t.head_hash), updated_at = d.updated_at, \
                   stream_version = coalesce(d.stream_version, t.stream_version), \
                   proposed_by = coalesce(d.proposed_by, t.proposed_by), \
                   stock_signature = CASE WHEN d.stock_set THEN d.stock_signature ELSE t.stock_signature END, \
                   foil_signature = CASE WHEN d.foil_set THEN d.foil_signature ELSE t.foil_signature END, \
                   rebased = t.rebased OR d.rebased \
                 FROM unnest($1::uuid[], $2::text[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::int8[], \
                   $8::int8[], $9::int8[], $10::int8[], $11::jsonb[], $12::int8[], $13::int8[], $14::text[], \
                   $15::timestamptz[], $16::int8[], $17::text[], $18::bool[], $19::text[], $20::bool[], $21::text[], \
                   $22::bool[]) \
                   AS d(tally_id, status, version, stock_cid, foil_cid, memo, stock_limit, foil_limit, lower, upper, \
                     body, balance_delta, chit_delta, head_hash, updated_at, stream_version, proposed_by, stock_set, \
                     stock_signature, foil_set, foil_signature, rebased) \
                 WHERE t.tally_id = d.tally_id",
                &[
                    &c.ids,
                    &c.statuses,
                    &o.versions,
                    &o.stock_cids,
                    &o.foil_cids,
                    &o.memos,
                    &o.stock_limits,
                    &o.foil_limits,
                    &o.lowers,
                    &o.uppers,
                    &o.bodies,
                    &c.balance_deltas,
                    &c.chit_deltas,
                    &c.head_hashes,
                    &c.updated,
                    &c.stream_versions,
                    &c.proposed_by,
                    &c.stock_set,
                    &c.stock_signatures,
                    &c.foil_set,
                    &c.foil_signatures,
                    &c.rebased,
                ],
            )
            .await?;
        }
        Ok(())
    }

    async fn chits(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        if self.chits.is_empty() {
            return Ok(());
        }
        let c = &self.chits;
        let ids: Vec<Uuid> = c.iter().map(|r| r.chit.id).collect();
        let tallies: Vec<Uuid> = c.iter().map(|r| r.tally_id).collect();
        let indexes: Vec<i64> = c.iter().map(|r| r.chit.index as i64).collect();
        let sides: Vec<&str> = c.iter().map(|r| r.chit.by.as_str()).collect();
        let kinds: Vec<&str> = c.iter().map(|r| r.chit.kind.as_str()).collect();
        let units: Vec<i64> = c.iter().map(|r| r.chit.units_milli).collect();
        let deltas: Vec<i64> = c.iter().map(|r| r.chit.balance_delta_milli()).collect();
        let memos: Vec<&str> = c.iter().map(|r| r.chit.memo.as_str()).collect();
        let references: Vec<&str> = c.iter().map(|r| r.chit.reference.as_str()).collect();
        let hashes: Vec<&str> = c.iter().map(|r| r.hash.as_str()).collect();
        let prev_hashes: Vec<&str> = c.iter().map(|r| r.chit.prev_hash.as_str()).collect();
        let dates: Vec<DateTime<Utc>> = c.iter().map(|r| r.chit.date).collect();
        let positions: Vec<i64> = c.iter().map(|r| r.position).collect();
        execute(
            tx,
            "INSERT INTO site.chits (chit_id, tally_id, chit_index, by_side, kind, units_milli, balance_delta_milli, \
               memo, reference, hash, prev_hash, issued_at, position) \
             SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::int8[], $4::text[], $5::text[], $6::int8[], \
               $7::int8[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], $13::int8[])",
            &[
                &ids,
                &tallies,
                &indexes,
                &sides,
                &kinds,
                &units,
                &deltas,
                &memos,
                &references,
                &hashes,
                &prev_hashes,
                &dates,
                &positions,
            ],
        )
        .await?;
        Ok(())
    }

    async fn lifts(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        if self.lifts.is_empty() {
            return Ok(());
        }
        let l = &self.lifts;
        let ids: Vec<Uuid> = l.iter().map(|r| r.lift_id).collect();
        let units: Vec<i64> = l.iter().map(|r| r.units_milli).collect();
        let hop_counts: Vec<i32> = l.iter().map(|r| r.hop_count).collect();
        let hops: Vec<&Value> = l.iter().map(|r| &r.hops).collect();
        let at: Vec<DateTime<Utc>> = l.iter().map(|r| r.lifted_at).collect();
        let positions: Vec<i64> = l.iter().map(|r| r.position).collect();
        execute(
            tx,
            "INSERT INTO site.lifts (lift_id, units_milli, hop_count, hops, lifted_at, position) \
             SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::jsonb[], $5::timestamptz[], $6::int8[])",
            &[&ids, &units, &hop_counts, &hops, &at, &positions],
        )
        .await?;
        Ok(())
    }

    /// `site.open_tallies` for every tally the batch touched, derived from `site.tallies` as just written.
    async fn lift_graph(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        if self.tallies.is_empty() {
            return Ok(());
        }
        let ids: Vec<Uuid> = self.tallies.keys().copied().collect();
        execute(
            tx,
            "DELETE FROM site.open_tallies o USING site.tallies t \
             WHERE o.tally_ix = t.ix AND t.tally_id = ANY($1) AND t.status <> 'open'",
            &[&ids],
        )
        .await?;
        execute(
            tx,
            "INSERT INTO site.open_tallies (tally_ix, stock_ix, foil_ix, stock_pays_milli, foil_pays_milli) \
             SELECT t.ix, s.ix, f.ix, t.balance_milli - t.lift_lower_milli, \
                    t.lift_upper_milli - t.balance_milli \
               FROM site.tallies t JOIN site.users s ON s.cid = t.stock_cid JOIN site.users f ON f.cid = t.foil_cid \
              WHERE t.tally_id = ANY($1) AND t.status = 'open' \
             ON CONFLICT (tally_ix) DO UPDATE SET stock_ix = EXCLUDED.stock_ix, foil_ix = EXCLUDED.foil_ix, \
               stock_pays_milli = EXCLUDED.stock_pays_milli, foil_pays_milli = EXCLUDED.foil_pays_milli",
            &[&ids],
        )
        .await?;
        Ok(())
    }
}

/// Columns of the tallies drafted in the batch (a tally not yet offered has no terms: zeros and no body).
#[derive(Default)]
struct NewColumns<'a> {
    orders: Vec<i32>,
    ids: Vec<Uuid>,
    statuses: Vec<&'a str>,
    versions: Vec<i32>,
    stock_cids: Vec<&'a str>,
    foil_cids: Vec<&'a str>,
    memos: Vec<&'a str>,
    stock_limits: Vec<i64>,
    foil_limits: Vec<i64>,
    lowers: Vec<i64>,
    uppers: Vec<i64>,
    balances: Vec<i64>,
    chit_counts: Vec<i64>,
    bodies: Vec<Option<&'a Value>>,
    head_hashes: Vec<&'a str>,
    created: Vec<DateTime<Utc>>,
    updated: Vec<DateTime<Utc>>,
    stream_versions: Vec<i64>,
    proposed_by: Vec<Option<&'a str>>,
    stock_signatures: Vec<Option<&'a str>>,
    foil_signatures: Vec<Option<&'a str>>,
    rebased: Vec<bool>,
}

impl<'a> NewColumns<'a> {
    fn push(&mut self, id: Uuid, row: &'a NewTally) {
        let offer = row.offer.as_ref();
        self.orders.push(row.order);
        self.ids.push(id);
        self.statuses.push(row.status);
        self.versions.push(offer.map_or(0, |o| o.version));
        self.stock_cids.push(&row.stock_cid);
        self.foil_cids.push(&row.foil_cid);
        self.memos.push(offer.map_or("", |o| o.memo.as_str()));
        self.stock_limits.push(offer.map_or(0, |o| o.stock_limit_milli));
        self.foil_limits.push(offer.map_or(0, |o| o.foil_limit_milli));
        self.lowers.push(offer.map_or(0, |o| o.lift_lower_milli));
        self.uppers.push(offer.map_or(0, |o| o.lift_upper_milli));
        self.balances.push(row.balance_milli);
        self.chit_counts.push(row.chit_count);
        self.bodies.push(offer.map(|o| &o.body));
        self.head_hashes.push(&row.head_hash);
        self.created.push(row.created_at);
        self.updated.push(row.updated_at);
        self.stream_versions.push(row.stream_version);
        self.proposed_by.push(row.signatures.proposed_by.map(Side::as_str));
        self.stock_signatures.push(row.signatures.stock.as_ref().and_then(|s| s.as_deref()));
        self.foil_signatures.push(row.signatures.foil.as_ref().and_then(|s| s.as_deref()));
        self.rebased.push(row.rebased);
    }
}

/// Columns of the changes to tallies of earlier batches; `None` where the batch leaves a column as it is.
#[derive(Default)]
struct DeltaColumns<'a> {
    ids: Vec<Uuid>,
    statuses: Vec<Option<&'a str>>,
    offers: OfferColumns<'a>,
    balance_deltas: Vec<i64>,
    chit_deltas: Vec<i64>,
    head_hashes: Vec<Option<&'a str>>,
    updated: Vec<DateTime<Utc>>,
    stream_versions: Vec<Option<i64>>,
    proposed_by: Vec<Option<&'a str>>,
    stock_set: Vec<bool>,
    stock_signatures: Vec<Option<&'a str>>,
    foil_set: Vec<bool>,
    foil_signatures: Vec<Option<&'a str>>,
    rebased: Vec<bool>,
}

impl<'a> DeltaColumns<'a> {
    fn push(&mut self, id: Uuid, delta: &'a TallyDelta) {
        self.ids.push(id);
        self.statuses.push(delta.status);
        self.offers.push(delta.offer.as_ref());
        self.balance_deltas.push(delta.balance_delta_milli);
        self.chit_deltas.push(delta.chit_delta);
        self.head_hashes.push(delta.head_hash.as_deref());
        self.updated.push(delta.updated_at);
        self.stream_versions.push(delta.stream_version);
        let signatures = &delta.signatures;
        self.proposed_by.push(signatures.proposed_by.map(Side::as_str));
        self.stock_set.push(signatures.stock.is_some());
        self.stock_signatures.push(signatures.stock.as_ref().and_then(|s| s.as_deref()));
        self.foil_set.push(signatures.foil.is_some());
        self.foil_signatures.push(signatures.foil.as_ref().and_then(|s| s.as_deref()));
        self.rebased.push(delta.rebased);
    }
}

#[derive(Default)]
struct OfferColumns<'a> {
    versions: Vec<Option<i32>>,
    stock_cids: Vec<Option<&'a str>>,
    foil_cids: Vec<Option<&'a str>>,
    memos: Vec<Option<&'a str>>,
    stock_limits: Vec<Option<i64>>,
    foil_limits: Vec<Option<i64>>,
    lowers: Vec<Option<i64>>,
    uppers: Vec<Option<i64>>,
    bodies: Vec<Option<&'a Value>>,
}

impl<'a> OfferColumns<'a> {
    fn push(&mut self, offer: Option<&'a Offer>) {
        self.versions.push(offer.map(|o| o.version));
        self.stock_cids.push(offer.map(|o| o.stock_cid.as_str()));
        self.foil_cids.push(offer.map(|o| o.foil_cid.as_str()));
        self.memos.push(offer.map(|o| o.memo.as_str()));
        self.stock_limits.push(offer.map(|o| o.stock_limit_milli));
        self.foil_limits.push(offer.map(|o| o.foil_limit_milli));
        self.lowers.push(offer.map(|o| o.lift_lower_milli));
        self.uppers.push(offer.map(|o| o.lift_upper_milli));
        self.bodies.push(offer.map(|o| &o.body));
    }
}

async fn site(tx: &Transaction<'_>, event: &SiteEvent) -> anyhow::Result<()> {
    match event {
        SiteEvent::SiteInitialised { identity, config, at } => {
            let config = serde_json::to_value(config)?;
            execute(
                tx,
                "INSERT INTO site.site (name, host, port, site_key, config, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&identity.name, &identity.host, &i32::from(identity.port), &identity.site_key.to_base64url(), &config, at],
            )
            .await?;
        }
        SiteEvent::SiteKeyRotated { site_key, at } => {
            execute(tx, "UPDATE site.site SET site_key = $1, updated_at = $2", &[&site_key.to_base64url(), at]).await?;
        }
        SiteEvent::SiteLocked { at } | SiteEvent::SiteUnlocked { at } => {
            let locked = matches!(event, SiteEvent::SiteLocked { .. });
            execute(tx, "UPDATE site.site SET locked = $1, updated_at = $2", &[&locked, at]).await?;
        }
        SiteEvent::SiteConfigChanged { key, value, at } => {
            execute(
                tx,
                "UPDATE site.site SET config = jsonb_set(config, ARRAY[$1::text], to_jsonb($2::int8)), updated_at = $3",
                &[key, value, at],
            )
            .await?;
        }
        SiteEvent::LegacyLiftsAdopted { .. } => {}
    }
    Ok(())
}
