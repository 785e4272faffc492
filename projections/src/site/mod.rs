//! The site views (schema `site`): the site, users and device keys, tallies with balances, chits and lifts.
//! Built only from the log: `notch projections rebuild site` recreates them identically.

use domain::site::lift::LiftEvent;
use domain::site::site_aggregate::SiteEvent;
use domain::site::tally::TallyEvent;
use domain::site::user::UserEvent;
use events::RecordedEvent;
use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{Statement, Transaction};
use uuid::Uuid;

use crate::Projection;

pub struct SiteViews;

/// The batch's transaction with each statement prepared once per batch (one round trip per event after that).
struct Tx<'a, 'b> {
    tx: &'a Transaction<'b>,
    prepared: HashMap<&'static str, Statement>,
}

impl Tx<'_, '_> {
    async fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> anyhow::Result<u64> {
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let statement = self.tx.prepare(sql).await?;
                self.prepared.insert(sql, statement.clone());
                statement
            }
        };
        Ok(self.tx.execute(&statement, params).await?)
    }
}

fn decode<E: serde::de::DeserializeOwned>(event: &RecordedEvent) -> anyhow::Result<E> {
    serde_json::from_value(event.payload.clone())
        .map_err(|err| anyhow::anyhow!("position {}: {} does not decode: {err}", event.position, event.event_type))
}

#[async_trait::async_trait]
impl Projection for SiteViews {
    fn name(&self) -> &'static str {
        "site"
    }

    async fn reset(&self, tx: &Transaction<'_>) -> anyhow::Result<()> {
        tx.batch_execute(
            "DELETE FROM site.site; DELETE FROM site.users; DELETE FROM site.device_keys; \
             DELETE FROM site.tallies; DELETE FROM site.chits; DELETE FROM site.lifts;",
        )
        .await?;
        Ok(())
    }

    async fn apply(&self, tx: &Transaction<'_>, events: &[RecordedEvent]) -> anyhow::Result<()> {
        let tx = &mut Tx { tx, prepared: HashMap::new() };
        for event in events {
            let stream = event.stream_id.as_str();
            if stream == "site" {
                apply_site(tx, event, decode(event)?).await?;
            } else if let Some(cid) = stream.strip_prefix("user-") {
                apply_user(tx, event, cid, decode(event)?).await?;
            } else if let Some(id) = stream.strip_prefix("tally-") {
                let id: Uuid = id.parse()?;
                apply_tally(tx, event, id, decode(event)?).await?;
            } else if stream == "lifts" {
                if event.event_type == "LiftCommitted" {
                    let LiftEvent::LiftCommitted { lift_id, units_milli, hops, at } = decode(event)?;
                    tx.execute(
                        "INSERT INTO site.lifts (lift_id, units_milli, hop_count, hops, lifted_at, position) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                        &[
                            &lift_id,
                            &units_milli,
                            &(hops.len() as i32),
                            &serde_json::to_value(&hops)?,
                            &at,
                            &event.position,
                        ],
                    )
                    .await?;
                } else {
                    let chit: TallyEvent = decode(event)?;
                    if let TallyEvent::ChitIssued { chit: body, .. } = &chit {
                        apply_tally(tx, event, body.tally_id, chit.clone()).await?;
                    }
                }
            }
        }
        Ok(())
    }
}

async fn apply_site(tx: &mut Tx<'_, '_>, event: &RecordedEvent, site: SiteEvent) -> anyhow::Result<()> {
    match site {
        SiteEvent::SiteInitialised { identity, config, at } => {
            tx.execute(
                "INSERT INTO site.site (name, host, port, site_key, config, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&identity.name, &identity.host, &i32::from(identity.port), &identity.site_key.0, &serde_json::to_value(&config)?, &at],
            )
            .await?;
        }
        SiteEvent::SiteKeyRotated { site_key, at } => {
            tx.execute("UPDATE site.site SET site_key = $1, updated_at = $2", &[&site_key.0, &at]).await?;
        }
        SiteEvent::SiteLocked { at } | SiteEvent::SiteUnlocked { at } => {
            let locked = matches!(site, SiteEvent::SiteLocked { .. });
            tx.execute("UPDATE site.site SET locked = $1, updated_at = $2", &[&locked, &at]).await?;
        }
        SiteEvent::SiteConfigChanged { key, value, at } => {
            tx.execute(
                "UPDATE site.site SET config = jsonb_set(config, ARRAY[$1::text], to_jsonb($2::int8)), updated_at = $3",
                &[&key, &value, &at],
            )
            .await?;
        }
    }
    let _ = event;
    Ok(())
}

async fn apply_user(tx: &mut Tx<'_, '_>, _event: &RecordedEvent, cid: &str, user: UserEvent) -> anyhow::Result<()> {
    let status = |s: &str, at| (s.to_owned(), at);
    let (sql, args): (&str, Option<(String, chrono::DateTime<chrono::Utc>)>) = match &user {
        UserEvent::UserRegistered { name, contact, at, .. } => {
            tx.execute(
                "INSERT INTO site.users (cid, name, contact, status, created_at, updated_at) VALUES ($1, $2, $3, 'active', $4, $4)",
                &[&cid, name, &serde_json::to_value(contact)?, at],
            )
            .await?;
            return Ok(());
        }
        UserEvent::UserEdited { name, contact, at } => {
            tx.execute(
                "UPDATE site.users SET name = $2, contact = $3, updated_at = $4 WHERE cid = $1",
                &[&cid, name, &serde_json::to_value(contact)?, at],
            )
            .await?;
            return Ok(());
        }
        UserEvent::DeviceKeyRegistered { key, at, .. } => {
            tx.execute(
                "INSERT INTO site.device_keys (public_key, cid, registered_at) VALUES ($1, $2, $3)",
                &[&key.0, &cid, at],
            )
            .await?;
            return Ok(());
        }
        UserEvent::UserLocked { at } => {
            ("UPDATE site.users SET status = $2, updated_at = $3 WHERE cid = $1", Some(status("locked", *at)))
        }
        UserEvent::UserUnlocked { at } => {
            ("UPDATE site.users SET status = $2, updated_at = $3 WHERE cid = $1", Some(status("active", *at)))
        }
        UserEvent::UserClosed { at } => {
            ("UPDATE site.users SET status = $2, updated_at = $3 WHERE cid = $1", Some(status("closed", *at)))
        }
    };
    if let Some((status, at)) = args {
        tx.execute(sql, &[&cid, &status, &at]).await?;
    }
    Ok(())
}

async fn set_status(
    tx: &mut Tx<'_, '_>,
    id: Uuid,
    status: &str,
    at: &chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    tx.execute("UPDATE site.tallies SET status = $2, updated_at = $3 WHERE tally_id = $1", &[&id, &status, at]).await?;
    Ok(())
}

async fn apply_tally(tx: &mut Tx<'_, '_>, event: &RecordedEvent, id: Uuid, tally: TallyEvent) -> anyhow::Result<()> {
    match tally {
        TallyEvent::TallyDrafted { parties, at, .. } => {
            tx.execute(
                "INSERT INTO site.tallies (tally_id, status, stock_cid, foil_cid, created_at, updated_at) \
                 VALUES ($1, 'draft', $2, $3, $4, $4)",
                &[&id, &parties[0], &parties[1], &at],
            )
            .await?;
        }
        TallyEvent::TallyOffered { body, at, .. } => {
            let (lower, upper) = body.lift_bounds_milli();
            tx.execute(
                "UPDATE site.tallies SET status = 'offered', version = $2, stock_cid = $3, foil_cid = $4, memo = $5, \
                   stock_limit_milli = $6, foil_limit_milli = $7, lift_lower_milli = $8, lift_upper_milli = $9, \
                   body = $10, head_hash = $11, updated_at = $12 WHERE tally_id = $1",
                &[
                    &id,
                    &(body.version as i32),
                    &body.stock.cert.cid,
                    &body.foil.cert.cid,
                    &body.memo,
                    &body.stock.terms.credit_limit_milli,
                    &body.foil.terms.credit_limit_milli,
                    &lower,
                    &upper,
                    &serde_json::to_value(&body)?,
                    &body.hash()?,
                    &at,
                ],
            )
            .await?;
        }
        TallyEvent::TallyOpened { at, .. } => set_status(tx, id, "open", &at).await?,
        TallyEvent::TallyVoided { at, .. } => set_status(tx, id, "void", &at).await?,
        TallyEvent::TallyClosing { at, .. } => set_status(tx, id, "closing", &at).await?,
        TallyEvent::TallyClosed { at } => set_status(tx, id, "closed", &at).await?,
        TallyEvent::ChitIssued { chit, hash, at, .. } => {
            let delta = chit.balance_delta_milli();
            tx.execute(
                "INSERT INTO site.chits (chit_id, tally_id, chit_index, by_side, kind, units_milli, balance_delta_milli, \
                   memo, reference, hash, prev_hash, issued_at, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &chit.id,
                    &id,
                    &(chit.index as i64),
                    &chit.by.as_str(),
                    &chit.kind.as_str(),
                    &chit.units_milli,
                    &delta,
                    &chit.memo,
                    &chit.reference,
                    &hash,
                    &chit.prev_hash,
                    &chit.date,
                    &event.position,
                ],
            )
            .await?;
            tx.execute(
                "UPDATE site.tallies SET balance_milli = balance_milli + $2, chit_count = chit_count + 1, \
                   head_hash = $3, updated_at = $4 WHERE tally_id = $1",
                &[&id, &delta, &hash, &at],
            )
            .await?;
        }
    }
    Ok(())
}
