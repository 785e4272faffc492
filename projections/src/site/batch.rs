//! One projection batch folded in memory: rows created in the batch are built whole, changes to rows from
//! earlier batches are reduced to one change per row (last value wins, balance deltas add up). `flush.rs` then
//! writes the batch with a handful of set-based statements instead of one round trip per event: the views
//! keep up with the log at the rate the log is written.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::site::chit::Chit;
use domain::site::legacy::LEGACY_LIFTS_STREAM;
use domain::site::lift::{Lift, LiftEvent};
use domain::site::site_aggregate::{Site, SiteEvent};
use domain::site::tally::{Side, SignedTerms, Tally, TallyEvent, TallyStatus};
use domain::site::user::{User, UserEvent};
use domain::Aggregate;
use events::RecordedEvent;
use serde_json::Value;
use uuid::Uuid;

pub(super) struct NewUser {
    pub cid: String,
    pub name: String,
    pub contact: Value,
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A change to a user registered in an earlier batch.
pub(super) struct UserChange {
    pub name: Option<String>,
    pub contact: Option<Value>,
    pub status: Option<&'static str>,
    pub updated_at: DateTime<Utc>,
}

pub(super) struct DeviceKey {
    pub key: String,
    pub cid: String,
    pub at: DateTime<Utc>,
}

/// The terms of an offer, as `site.tallies` spreads them over columns.
pub(super) struct Offer {
    pub version: i32,
    pub stock_cid: String,
    pub foil_cid: String,
    pub memo: String,
    pub stock_limit_milli: i64,
    pub foil_limit_milli: i64,
    pub lift_lower_milli: i64,
    pub lift_upper_milli: i64,
    pub body: Value,
    pub body_hash: String,
}

impl Offer {
    fn of(body: &SignedTerms) -> anyhow::Result<Offer> {
        let (lift_lower_milli, lift_upper_milli) = body.lift_bounds_milli();
        Ok(Offer {
            version: i32::try_from(body.version)?,
            stock_cid: body.stock.cert.cid.clone(),
            foil_cid: body.foil.cert.cid.clone(),
            memo: body.memo.clone(),
            stock_limit_milli: body.stock.terms.credit_limit_milli,
            foil_limit_milli: body.foil.terms.credit_limit_milli,
            lift_lower_milli,
            lift_upper_milli,
            body: serde_json::to_value(body)?,
            body_hash: body.hash(),
        })
    }
}

/// A tally drafted in this batch: the whole row.
pub(super) struct NewTally {
    /// Drafted as the batch's n-th new tally: its index follows this order.
    pub order: i32,
    pub status: &'static str,
    pub stock_cid: String,
    pub foil_cid: String,
    pub offer: Option<Offer>,
    pub balance_milli: i64,
    pub chit_count: i64,
    pub head_hash: String,
    pub signatures: Signatures,
    pub stream_version: i64,
    pub rebased: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who proposed the terms and each side's signature over them; `None` where the batch leaves a column as it is.
#[derive(Default)]
pub(super) struct Signatures {
    /// Set by an offer, which also clears the other side's signature.
    pub proposed_by: Option<Side>,
    pub stock: Option<Option<String>>,
    pub foil: Option<Option<String>>,
}

impl Signatures {
    fn offered(&mut self, by: Side, signature: &str) {
        self.proposed_by = Some(by);
        let (mine, theirs) = match by {
            Side::Stock => (&mut self.stock, &mut self.foil),
            Side::Foil => (&mut self.foil, &mut self.stock),
        };
        *mine = Some(Some(signature.to_owned()));
        *theirs = Some(None);
    }

    fn signed(&mut self, by: Side, signature: &str) {
        let slot = match by {
            Side::Stock => &mut self.stock,
            Side::Foil => &mut self.foil,
        };
        *slot = Some(Some(signature.to_owned()));
    }
}

/// The net change to a tally drafted in an earlier batch.
pub(super) struct TallyDelta {
    pub status: Option<&'static str>,
    pub offer: Option<Offer>,
    pub balance_delta_milli: i64,
    pub chit_delta: i64,
    pub head_hash: Option<String>,
    pub signatures: Signatures,
    /// The tally stream's version after the batch, if the batch holds events of that stream.
    pub stream_version: Option<i64>,
    pub rebased: bool,
    pub updated_at: DateTime<Utc>,
}

pub(super) enum TallyChange {
    New(NewTally),
    Existing(TallyDelta),
}

impl TallyChange {
    fn status(&mut self, status: TallyStatus, at: DateTime<Utc>) {
        match self {
            TallyChange::New(row) => (row.status, row.updated_at) = (status.as_str(), at),
            TallyChange::Existing(delta) => (delta.status, delta.updated_at) = (Some(status.as_str()), at),
        }
    }

    fn offer(&mut self, offer: Offer, at: DateTime<Utc>) {
        match self {
            TallyChange::New(row) => {
                row.stock_cid.clone_from(&offer.stock_cid);
                row.foil_cid.clone_from(&offer.foil_cid);
                row.head_hash.clone_from(&offer.body_hash);
                row.offer = Some(offer);
            }
            TallyChange::Existing(delta) => {
                delta.head_hash = Some(offer.body_hash.clone());
                delta.offer = Some(offer);
            }
        }
        self.status(TallyStatus::Offered, at);
    }

    fn signatures(&mut self) -> &mut Signatures {
        match self {
            TallyChange::New(row) => &mut row.signatures,
            TallyChange::Existing(delta) => &mut delta.signatures,
        }
    }

    /// The tally's stream is at `version` (events of other streams, the old layout's lift chits, leave it).
    fn stream_version(&mut self, version: i64) {
        match self {
            TallyChange::New(row) => row.stream_version = version,
            TallyChange::Existing(delta) => delta.stream_version = Some(version),
        }
    }

    fn rebased(&mut self, at: DateTime<Utc>) {
        match self {
            TallyChange::New(row) => (row.rebased, row.updated_at) = (true, at),
            TallyChange::Existing(delta) => (delta.rebased, delta.updated_at) = (true, at),
        }
    }

    fn chit(&mut self, delta_milli: i64, hash: &str, at: DateTime<Utc>) {
        match self {
            TallyChange::New(row) => {
                row.balance_milli += delta_milli;
                row.chit_count += 1;
                hash.clone_into(&mut row.head_hash);
                row.updated_at = at;
            }
            TallyChange::Existing(delta) => {
                delta.balance_delta_milli += delta_milli;
                delta.chit_delta += 1;
                delta.head_hash = Some(hash.to_owned());
                delta.updated_at = at;
            }
        }
    }
}

pub(super) struct ChitRow {
    /// The tally whose stream (or lift) carried the chit.
    pub tally_id: Uuid,
    pub chit: Chit,
    pub hash: String,
    pub position: i64,
}

pub(super) struct LiftRow {
    pub lift_id: Uuid,
    pub units_milli: i64,
    pub hop_count: i32,
    pub hops: Value,
    pub lifted_at: DateTime<Utc>,
    pub position: i64,
}

#[derive(Default)]
pub(super) struct Batch {
    /// Site events, in log order (they touch only `site.site`, so they keep their order among themselves).
    pub site: Vec<SiteEvent>,
    /// Users registered in this batch, in log order: their dense index follows this order.
    pub new_users: Vec<NewUser>,
    new_user_at: HashMap<String, usize>,
    pub user_changes: HashMap<String, UserChange>,
    pub device_keys: Vec<DeviceKey>,
    pub tallies: HashMap<Uuid, TallyChange>,
    new_tallies: usize,
    pub chits: Vec<ChitRow>,
    pub lifts: Vec<LiftRow>,
}

fn decode<E: serde::de::DeserializeOwned>(event: &RecordedEvent) -> anyhow::Result<E> {
    E::deserialize(&event.payload)
        .map_err(|err| anyhow::anyhow!("position {}: {} does not decode: {err}", event.position, event.event_type))
}

impl Batch {
    pub fn add(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let stream = event.stream_id.as_str();
        if Site::owns_stream(stream) {
            self.site.push(decode(event)?);
        } else if let Some(cid) = stream.strip_prefix("user-").filter(|_| User::owns_stream(stream)) {
            self.user(cid, decode(event)?)?;
        } else if let Some(id) = Tally::tally_id(stream) {
            self.tally(id, event.position, Some(event.stream_version), decode(event)?)?;
        } else if Lift::owns_stream(stream) {
            self.lift(event, decode(event)?)?;
        } else if stream == LEGACY_LIFTS_STREAM {
            self.legacy_lift(event)?;
        }
        Ok(())
    }

    fn lift(&mut self, event: &RecordedEvent, lift: LiftEvent) -> anyhow::Result<()> {
        let LiftEvent::LiftCommitted { lift_id, units_milli, hops, at } = lift;
        self.lifts.push(LiftRow {
            lift_id,
            units_milli,
            hop_count: i32::try_from(hops.len())?,
            hops: serde_json::to_value(&hops)?,
            lifted_at: at,
            position: event.position,
        });
        Ok(())
    }

    /// The old layout's `lifts` stream: lift records and their chits together (domain::site::legacy).
    fn legacy_lift(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        if event.event_type == "LiftCommitted" {
            return self.lift(event, decode(event)?);
        }
        let chit: TallyEvent = decode(event)?;
        let TallyEvent::ChitIssued { chit: body, .. } = &chit else {
            anyhow::bail!("position {}: the lifts stream holds only lifts and lift chits", event.position);
        };
        let id = body.tally_id;
        self.tally(id, event.position, None, chit)
    }

    fn user(&mut self, cid: &str, event: UserEvent) -> anyhow::Result<()> {
        let at = match &event {
            UserEvent::UserRegistered { name, contact, at, .. } => {
                anyhow::ensure!(!self.new_user_at.contains_key(cid), "user {cid} registered twice");
                self.new_user_at.insert(cid.to_owned(), self.new_users.len());
                self.new_users.push(NewUser {
                    cid: cid.to_owned(),
                    name: name.clone(),
                    contact: serde_json::to_value(contact)?,
                    status: "active",
                    created_at: *at,
                    updated_at: *at,
                });
                return Ok(());
            }
            UserEvent::DeviceKeyRegistered { key, at, .. } => {
                self.device_keys.push(DeviceKey { key: key.to_base64url(), cid: cid.to_owned(), at: *at });
                return Ok(());
            }
            UserEvent::UserEdited { at, .. }
            | UserEvent::UserLocked { at }
            | UserEvent::UserUnlocked { at }
            | UserEvent::UserClosed { at } => *at,
        };
        let (name, contact, status) = match event {
            UserEvent::UserEdited { name, contact, .. } => (Some(name), Some(serde_json::to_value(contact)?), None),
            UserEvent::UserLocked { .. } => (None, None, Some("locked")),
            UserEvent::UserUnlocked { .. } => (None, None, Some("active")),
            _ => (None, None, Some("closed")),
        };
        if let Some(&i) = self.new_user_at.get(cid) {
            let row = &mut self.new_users[i];
            row.updated_at = at;
            if let Some(name) = name {
                row.name = name;
            }
            if let Some(contact) = contact {
                row.contact = contact;
            }
            if let Some(status) = status {
                row.status = status;
            }
        } else {
            let change = self.user_changes.entry(cid.to_owned()).or_insert(UserChange {
                name: None,
                contact: None,
                status: None,
                updated_at: at,
            });
            change.updated_at = at;
            if name.is_some() {
                change.name = name;
            }
            if contact.is_some() {
                change.contact = contact;
            }
            if status.is_some() {
                change.status = status;
            }
        }
        Ok(())
    }

    /// A tally event at `position`, from the tally's own stream at `stream_version` (or from the old layout's
    /// `lifts` stream: `None`).
    fn tally(&mut self, id: Uuid, position: i64, stream_version: Option<i64>, event: TallyEvent) -> anyhow::Result<()> {
        if let TallyEvent::TallyDrafted { parties, at, .. } = &event {
            anyhow::ensure!(!self.tallies.contains_key(&id), "tally {id} drafted twice");
            let [stock_cid, foil_cid] = parties.clone();
            let order = i32::try_from(self.new_tallies)?;
            self.new_tallies += 1;
            self.tallies.insert(
                id,
                TallyChange::New(NewTally {
                    order,
                    status: TallyStatus::Draft.as_str(),
                    stock_cid,
                    foil_cid,
                    offer: None,
                    balance_milli: 0,
                    chit_count: 0,
                    head_hash: String::new(),
                    signatures: Signatures::default(),
                    stream_version: stream_version.unwrap_or(0),
                    rebased: false,
                    created_at: *at,
                    updated_at: *at,
                }),
            );
            return Ok(());
        }
        let change = self.tallies.entry(id).or_insert_with(|| {
            TallyChange::Existing(TallyDelta {
                status: None,
                offer: None,
                balance_delta_milli: 0,
                chit_delta: 0,
                head_hash: None,
                signatures: Signatures::default(),
                stream_version: None,
                rebased: false,
                updated_at: DateTime::<Utc>::MIN_UTC,
            })
        });
        if let Some(version) = stream_version {
            change.stream_version(version);
        }
        match event {
            TallyEvent::TallyDrafted { .. } => unreachable!("handled above"),
            TallyEvent::TallyOffered { body, by, signature, at } => {
                change.signatures().offered(by, &signature.to_base64url());
                change.offer(Offer::of(&body)?, at)
            }
            TallyEvent::TallyOpened { by, signature, at } => {
                change.signatures().signed(by, &signature.to_base64url());
                change.status(TallyStatus::Open, at)
            }
            // The views counted the old layout's lift chits where they stood: the rebase restates what they hold.
            TallyEvent::TallyRebased { at, .. } => change.rebased(at),
            TallyEvent::TallyVoided { at, .. } => change.status(TallyStatus::Void, at),
            TallyEvent::TallyClosing { at, .. } => change.status(TallyStatus::Closing, at),
            TallyEvent::TallyClosed { at } => change.status(TallyStatus::Closed, at),
            TallyEvent::ChitIssued { chit, hash, at, .. } => {
                change.chit(chit.balance_delta_milli(), &hash, at);
                self.chits.push(ChitRow { tally_id: id, chit, hash, position });
            }
        }
        Ok(())
    }
}
