//! The Tally aggregate (stream `tally-<uuid>`) with its chit chain. States: draft -> offered -> open ->
//! closing -> closed, or void. A tally opens only when both parties signed the same canonical bytes: RFC 8785
//! JSON of [`TallyBody`], which holds no signatures.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chit::{ChitBody, ChitKind};
use super::crypto::{blake2b_hex, canonical_json, CryptoError, PublicKey, SignatureB64};
use super::error::{SiteError, SiteResult};
use super::user::check_cid;
use crate::{Aggregate, Decider};

/// Bound on memo and agreement text: they are signed and stored in every replay.
const MAX_TEXT: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The creditor side: a positive balance is an asset of the stock holder.
    Stock,
    /// The debtor side.
    Foil,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Stock => Side::Foil,
            Side::Foil => Side::Stock,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Stock => "stock",
            Side::Foil => "foil",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Certificate {
    pub cid: String,
    pub name: String,
    pub chip_address: String,
    /// The device key this party signs the tally and its chits with.
    pub public_key: PublicKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Terms {
    /// Credit this side grants the other: how far the balance may move against this side.
    pub credit_limit_milli: i64,
    /// How far past zero this side lets a lift push it when it pays (0 = pure clearing).
    #[serde(default)]
    pub lift_margin_milli: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TallySide {
    pub cert: Certificate,
    pub terms: Terms,
}

/// The part of a tally both parties sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TallyBody {
    pub id: Uuid,
    pub version: u32,
    pub date: DateTime<Utc>,
    pub memo: String,
    pub agreement: String,
    pub stock: TallySide,
    pub foil: TallySide,
}

impl TallyBody {
    pub fn side(&self, side: Side) -> &TallySide {
        match side {
            Side::Stock => &self.stock,
            Side::Foil => &self.foil,
        }
    }

    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        canonical_json(self)
    }

    /// A party's signature over the canonical bytes (what clients do with their device key).
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> Result<SignatureB64, CryptoError> {
        Ok(SignatureB64::sign(key, &self.canonical_bytes()?))
    }

    /// The chain's genesis: the first chit's `prev_hash`.
    pub fn hash(&self) -> Result<String, CryptoError> {
        Ok(blake2b_hex(&self.canonical_bytes()?))
    }

    /// Lowest balance a chit may reach: the foil's credit to the stock.
    pub fn min_balance_milli(&self) -> i64 {
        -self.foil.terms.credit_limit_milli
    }

    /// Highest balance a chit may reach: the stock's credit to the foil.
    pub fn max_balance_milli(&self) -> i64 {
        self.stock.terms.credit_limit_milli
    }

    /// Range a lift may move the balance in: zero widened by each payer's margin, never past a credit limit.
    pub fn lift_bounds_milli(&self) -> (i64, i64) {
        let lower = -self.stock.terms.lift_margin_milli.min(self.foil.terms.credit_limit_milli);
        let upper = self.foil.terms.lift_margin_milli.min(self.stock.terms.credit_limit_milli);
        (lower, upper)
    }

    fn check(&self, tally_id: Uuid) -> SiteResult<()> {
        if self.id != tally_id {
            return Err(SiteError::Invalid("tally body names another tally".into()));
        }
        check_cid(&self.stock.cert.cid)?;
        check_cid(&self.foil.cert.cid)?;
        if self.stock.cert.cid == self.foil.cert.cid {
            return Err(SiteError::Invalid("a tally needs two different users".into()));
        }
        if self.memo.len() > MAX_TEXT || self.agreement.len() > MAX_TEXT {
            return Err(SiteError::Invalid(format!("memo and agreement are limited to {MAX_TEXT} bytes")));
        }
        for side in [&self.stock, &self.foil] {
            side.cert.public_key.verifying_key()?;
            if side.terms.credit_limit_milli < 0 || side.terms.lift_margin_milli < 0 {
                return Err(SiteError::Invalid("credit limits and lift margins must be >= 0".into()));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TallyStatus {
    #[default]
    Missing,
    Draft,
    Offered,
    Open,
    Closing,
    Closed,
    Void,
}

impl TallyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TallyStatus::Missing => "missing",
            TallyStatus::Draft => "draft",
            TallyStatus::Offered => "offered",
            TallyStatus::Open => "open",
            TallyStatus::Closing => "closing",
            TallyStatus::Closed => "closed",
            TallyStatus::Void => "void",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TallyState {
    pub id: Uuid,
    pub status: TallyStatus,
    /// The two CIDs a tally ticket brought together, before anyone proposed terms.
    pub parties: Vec<String>,
    pub body: Option<TallyBody>,
    pub proposed_by: Option<Side>,
    pub stock_signature: Option<SignatureB64>,
    pub foil_signature: Option<SignatureB64>,
    pub balance_milli: i64,
    pub chit_count: u64,
    /// Hash of the last chit, or of the tally body before the first chit.
    pub head_hash: String,
}

impl TallyState {
    pub fn side_of(&self, cid: &str) -> Option<Side> {
        let body = self.body.as_ref()?;
        if body.stock.cert.cid == cid {
            Some(Side::Stock)
        } else if body.foil.cert.cid == cid {
            Some(Side::Foil)
        } else {
            None
        }
    }

    pub fn is_party(&self, cid: &str) -> bool {
        self.side_of(cid).is_some() || self.parties.iter().any(|p| p == cid)
    }

    /// How far a lift in which `payer` pays may move this tally's balance: 0 unless the tally is open.
    pub fn lift_capacity_milli(&self, payer: Side) -> i64 {
        match (&self.body, self.status) {
            (Some(body), TallyStatus::Open) => {
                let (lower, upper) = body.lift_bounds_milli();
                match payer {
                    Side::Stock => (self.balance_milli - lower).max(0),
                    Side::Foil => (upper - self.balance_milli).max(0),
                }
            }
            _ => 0,
        }
    }

    /// The next chit's index and previous hash, which a party signs into its chit.
    pub fn chain_head(&self) -> (u64, String) {
        (self.chit_count, self.head_hash.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type")]
pub enum TallyCommand {
    DraftTally { tally_id: Uuid, parties: [String; 2], at: DateTime<Utc> },
    ProposeTally { body: TallyBody, by: Side, signature: SignatureB64, at: DateTime<Utc> },
    SignTally { by: Side, signature: SignatureB64, at: DateTime<Utc> },
    RefuseTally { by: Side, reason: String, at: DateTime<Utc> },
    CloseTally { by: Side, at: DateTime<Utc> },
    IssueChit { chit: ChitBody, signature: SignatureB64, at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum TallyEvent {
    TallyDrafted {
        tally_id: Uuid,
        parties: [String; 2],
        at: DateTime<Utc>,
    },
    TallyOffered {
        body: TallyBody,
        by: Side,
        signature: SignatureB64,
        at: DateTime<Utc>,
    },
    TallyOpened {
        by: Side,
        signature: SignatureB64,
        at: DateTime<Utc>,
    },
    TallyVoided {
        by: Side,
        reason: String,
        at: DateTime<Utc>,
    },
    TallyClosing {
        by: Side,
        at: DateTime<Utc>,
    },
    TallyClosed {
        at: DateTime<Utc>,
    },
    /// A party chit (signed by its issuer) or a lift chit (no party signature: the `LiftCommitted` event
    /// named in `chit.reference` authorises it).
    ChitIssued {
        chit: ChitBody,
        signature: Option<SignatureB64>,
        hash: String,
        at: DateTime<Utc>,
    },
}

pub struct Tally;

fn verify_side(body: &TallyBody, by: Side, signature: &SignatureB64) -> SiteResult<()> {
    let bytes = body.canonical_bytes()?;
    body.side(by).cert.public_key.verify(&bytes, signature)?;
    Ok(())
}

/// Checks a chit's place in the chain and returns its hash.
fn check_chain(state: &TallyState, chit: &ChitBody) -> SiteResult<String> {
    if chit.tally_id != state.id {
        return Err(SiteError::Chit("chit names another tally".into()));
    }
    let (index, prev_hash) = state.chain_head();
    if chit.index != index || chit.prev_hash != prev_hash {
        return Err(SiteError::Chit(format!("chain head is index {index}, hash {prev_hash}")));
    }
    if chit.units_milli <= 0 {
        return Err(SiteError::Chit("units_milli must be positive".into()));
    }
    if chit.memo.len() > MAX_TEXT || chit.reference.len() > MAX_TEXT {
        return Err(SiteError::Chit(format!("memo and reference are limited to {MAX_TEXT} bytes")));
    }
    Ok(chit.hash()?)
}

fn decide_chit(
    state: &TallyState,
    chit: ChitBody,
    signature: SignatureB64,
    at: DateTime<Utc>,
) -> SiteResult<Vec<TallyEvent>> {
    let body = state.body.as_ref().ok_or(SiteError::TallyMissing)?;
    if !matches!(state.status, TallyStatus::Open | TallyStatus::Closing) {
        return Err(SiteError::TallyState(state.status.as_str()));
    }
    if chit.kind == ChitKind::Lift {
        return Err(SiteError::Chit("lift chits come only from a committed lift".into()));
    }
    let hash = check_chain(state, &chit)?;
    body.side(chit.by).cert.public_key.verify(&chit.canonical_bytes()?, &signature)?;
    let balance = state.balance_milli.checked_add(chit.balance_delta_milli()).ok_or(SiteError::OverLimit)?;
    if balance < body.min_balance_milli() || balance > body.max_balance_milli() {
        return Err(SiteError::OverLimit);
    }
    if state.status == TallyStatus::Closing
        && (balance.signum() * state.balance_milli.signum() < 0 || balance.abs() >= state.balance_milli.abs())
    {
        return Err(SiteError::Chit("a closing tally only takes chits that bring it towards zero".into()));
    }
    let mut events = vec![TallyEvent::ChitIssued { chit, signature: Some(signature), hash, at }];
    if state.status == TallyStatus::Closing && balance == 0 {
        events.push(TallyEvent::TallyClosed { at });
    }
    Ok(events)
}

/// The lift chit for one hop of a committed lift: `payer` gives `units_milli`, within the lift bounds.
pub fn lift_chit(
    state: &TallyState,
    chit_id: Uuid,
    lift_id: Uuid,
    payer: Side,
    units_milli: i64,
    at: DateTime<Utc>,
) -> SiteResult<TallyEvent> {
    if state.status != TallyStatus::Open {
        return Err(SiteError::Lift(format!("tally {} is {}", state.id, state.status.as_str())));
    }
    if units_milli <= 0 || units_milli > state.lift_capacity_milli(payer) {
        return Err(SiteError::Lift(format!(
            "tally {} cannot move {units_milli} for the {}",
            state.id,
            payer.as_str()
        )));
    }
    let (index, prev_hash) = state.chain_head();
    let chit = ChitBody {
        id: chit_id,
        tally_id: state.id,
        index,
        prev_hash,
        by: payer,
        kind: ChitKind::Lift,
        units_milli,
        date: at,
        memo: String::new(),
        reference: lift_id.to_string(),
    };
    let hash = chit.hash()?;
    Ok(TallyEvent::ChitIssued { chit, signature: None, hash, at })
}

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "tally-";

impl Aggregate for Tally {
    type Id = Uuid;

    fn stream_id(tally_id: &Uuid) -> String {
        format!("{STREAM_PREFIX}{tally_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}

impl Decider for Tally {
    type State = TallyState;
    type Command = TallyCommand;
    type Event = TallyEvent;
    type Error = SiteError;

    fn decide(state: &TallyState, command: TallyCommand) -> SiteResult<Vec<TallyEvent>> {
        use TallyStatus::*;
        match command {
            TallyCommand::DraftTally { tally_id, parties, at } => {
                if state.status != Missing {
                    return Err(SiteError::TallyExists);
                }
                check_cid(&parties[0])?;
                check_cid(&parties[1])?;
                if parties[0] == parties[1] {
                    return Err(SiteError::Invalid("a tally needs two different users".into()));
                }
                Ok(vec![TallyEvent::TallyDrafted { tally_id, parties, at }])
            }
            TallyCommand::ProposeTally { body, by, signature, at } => {
                match state.status {
                    Draft => {
                        let mut cids = [body.stock.cert.cid.clone(), body.foil.cert.cid.clone()];
                        let mut parties = [state.parties[0].clone(), state.parties[1].clone()];
                        cids.sort();
                        parties.sort();
                        if cids != parties {
                            return Err(SiteError::Invalid("the tally must be between the two drafted parties".into()));
                        }
                    }
                    Offered => {
                        let current = state.body.as_ref().ok_or(SiteError::TallyMissing)?;
                        if body.version <= current.version {
                            return Err(SiteError::Invalid(format!(
                                "a revised offer needs a version above {}",
                                current.version
                            )));
                        }
                        if body.stock.cert.cid != current.stock.cert.cid || body.foil.cert.cid != current.foil.cert.cid
                        {
                            return Err(SiteError::Invalid("a revised offer keeps the parties and their sides".into()));
                        }
                    }
                    Missing => return Err(SiteError::TallyMissing),
                    other => return Err(SiteError::TallyState(other.as_str())),
                }
                body.check(state.id)?;
                verify_side(&body, by, &signature)?;
                Ok(vec![TallyEvent::TallyOffered { body, by, signature, at }])
            }
            TallyCommand::SignTally { by, signature, at } => {
                if state.status != Offered {
                    return Err(SiteError::TallyState(state.status.as_str()));
                }
                if state.proposed_by == Some(by) {
                    return Err(SiteError::Invalid("the proposer already signed; the other side must sign".into()));
                }
                let body = state.body.as_ref().ok_or(SiteError::TallyMissing)?;
                verify_side(body, by, &signature)?;
                Ok(vec![TallyEvent::TallyOpened { by, signature, at }])
            }
            TallyCommand::RefuseTally { by, reason, at } => match state.status {
                Draft | Offered => Ok(vec![TallyEvent::TallyVoided { by, reason, at }]),
                Missing => Err(SiteError::TallyMissing),
                other => Err(SiteError::TallyState(other.as_str())),
            },
            TallyCommand::CloseTally { by, at } => match state.status {
                Open if state.balance_milli == 0 => {
                    Ok(vec![TallyEvent::TallyClosing { by, at }, TallyEvent::TallyClosed { at }])
                }
                Open => Ok(vec![TallyEvent::TallyClosing { by, at }]),
                Missing => Err(SiteError::TallyMissing),
                other => Err(SiteError::TallyState(other.as_str())),
            },
            TallyCommand::IssueChit { chit, signature, at } => decide_chit(state, chit, signature, at),
        }
    }

    fn evolve(mut state: TallyState, event: &TallyEvent) -> TallyState {
        match event {
            TallyEvent::TallyDrafted { tally_id, parties, .. } => {
                state.id = *tally_id;
                state.parties = parties.to_vec();
                state.status = TallyStatus::Draft;
            }
            TallyEvent::TallyOffered { body, by, signature, .. } => {
                state.id = body.id;
                state.head_hash = body.hash().unwrap_or_default();
                state.body = Some(body.clone());
                state.proposed_by = Some(*by);
                let (mine, theirs) = match by {
                    Side::Stock => (&mut state.stock_signature, &mut state.foil_signature),
                    Side::Foil => (&mut state.foil_signature, &mut state.stock_signature),
                };
                *mine = Some(signature.clone());
                *theirs = None;
                state.status = TallyStatus::Offered;
            }
            TallyEvent::TallyOpened { by, signature, .. } => {
                match by {
                    Side::Stock => state.stock_signature = Some(signature.clone()),
                    Side::Foil => state.foil_signature = Some(signature.clone()),
                }
                state.status = TallyStatus::Open;
            }
            TallyEvent::TallyVoided { .. } => state.status = TallyStatus::Void,
            TallyEvent::TallyClosing { .. } => state.status = TallyStatus::Closing,
            TallyEvent::TallyClosed { .. } => state.status = TallyStatus::Closed,
            TallyEvent::ChitIssued { chit, hash, .. } => {
                state.balance_milli += chit.balance_delta_milli();
                state.chit_count += 1;
                state.head_hash = hash.clone();
            }
        }
        state
    }
}

#[cfg(test)]
#[path = "tally_tests.rs"]
mod tests;
