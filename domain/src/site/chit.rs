//! Chits: value moving on one tally. Every chit names its place in the tally's chain (index and hash of the
//! previous chit; the first chit points at the tally's own hash), so either party can prove the order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::tally::Side;
use crate::crypto::{CryptoError, Purpose, Received, Signature};

/// What a party's chit signature is for (see `crate::crypto`).
pub const CHIT_PURPOSE: Purpose = Purpose("notch/site/chit/v1");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum ChitKind {
    Transaction,
    Settlement,
    Lift,
}

impl ChitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChitKind::Transaction => "transaction",
            ChitKind::Settlement => "settlement",
            ChitKind::Lift => "lift",
        }
    }
}

/// The signed part of a chit. `by` is the side that gives value: a foil chit raises the balance (the foil
/// owes the stock more), a stock chit lowers it. `units_milli` is always positive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ChitBody {
    pub id: Uuid,
    pub tally_id: Uuid,
    pub index: u64,
    pub prev_hash: String,
    pub by: Side,
    pub kind: ChitKind,
    pub units_milli: i64,
    pub date: DateTime<Utc>,
    pub memo: String,
    /// Free reference for party chits; the lift id for lift chits.
    pub reference: String,
}

/// A chit as its issuer sent it (or as the site made it, for a lift chit): its signature and its hash, the next
/// chit's `prev_hash`, are over the RFC 8785 bytes of that JSON.
pub type Chit = Received<ChitBody>;

impl ChitBody {
    /// The issuer's signature (what an app does with its device key).
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> Result<Signature, CryptoError> {
        Signature::sign(key, CHIT_PURPOSE, self)
    }

    /// The chit as it is sent: its JSON is its serde form.
    pub fn sent(self) -> Result<Chit, CryptoError> {
        Received::of(self)
    }

    /// Signed change of the tally balance (stock's view: positive = the foil owes the stock).
    pub fn balance_delta_milli(&self) -> i64 {
        match self.by {
            Side::Foil => self.units_milli,
            Side::Stock => -self.units_milli,
        }
    }
}
