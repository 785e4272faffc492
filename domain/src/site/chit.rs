//! Chits: value moving on one tally. Every chit names its place in the tally's chain (index and hash of the
//! previous chit; the first chit points at the tally's own hash), so either party can prove the order.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::crypto::{blake2b_hex, canonical_json, CryptoError, SignatureB64};
use super::tally::Side;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

impl ChitBody {
    /// What the issuer signs and what the chain hashes: RFC 8785 JSON of the body.
    pub fn canonical_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        canonical_json(self)
    }

    /// The issuer's signature over the canonical bytes.
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> Result<SignatureB64, CryptoError> {
        Ok(SignatureB64::sign(key, &self.canonical_bytes()?))
    }

    /// BLAKE2b-256 of the canonical bytes, hex: the next chit's `prev_hash`.
    pub fn hash(&self) -> Result<String, CryptoError> {
        Ok(blake2b_hex(&self.canonical_bytes()?))
    }

    /// Signed change of the tally balance (stock's view: positive = the foil owes the stock).
    pub fn balance_delta_milli(&self) -> i64 {
        match self.by {
            Side::Foil => self.units_milli,
            Side::Stock => -self.units_milli,
        }
    }
}
