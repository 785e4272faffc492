//! The part of a tally both parties sign: who they are (each side's certificate), the terms each grants, and
//! the text they agree to. It holds no signatures, so both sign the same canonical bytes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::crypto::{CryptoError, PublicKey, Purpose, Received, Signature};
use crate::site::error::{SiteError, SiteResult};
use crate::site::user::check_cid;

/// What a party's signature of the tally's terms is for (see `crate::crypto`).
pub const TALLY_PURPOSE: Purpose = Purpose("notch/site/tally/v1");

/// The terms as the proposer sent them: both parties' signatures and the chain's genesis hash are over the RFC
/// 8785 bytes of that JSON.
pub type SignedTerms = Received<TallyBody>;

/// Bound on memo and agreement text: they are signed and stored in every replay.
pub const MAX_TEXT_BYTES: usize = 4000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// One party as the tally names it (MyCHIPs' tally "cert").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct PartyCertificate {
    pub cid: String,
    pub name: String,
    pub chip_address: String,
    /// The device key this party signs the tally and its chits with.
    pub public_key: PublicKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Terms {
    /// Credit this side grants the other: how far the balance may move against this side.
    pub credit_limit_milli: i64,
    /// How far past zero this side lets a lift push it when it pays (0 = pure clearing).
    #[serde(default)]
    pub lift_margin_milli: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TallySide {
    pub cert: PartyCertificate,
    pub terms: Terms,
}

/// The part of a tally both parties sign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

    /// The side `cid` holds on this tally, if it is a party.
    pub fn side_of(&self, cid: &str) -> Option<Side> {
        if self.stock.cert.cid == cid {
            Some(Side::Stock)
        } else if self.foil.cert.cid == cid {
            Some(Side::Foil)
        } else {
            None
        }
    }

    /// A party's signature of the terms (what an app does with its device key).
    pub fn sign(&self, key: &ed25519_dalek::SigningKey) -> Result<Signature, CryptoError> {
        Signature::sign(key, TALLY_PURPOSE, self)
    }

    /// The terms as they are sent: their JSON is their serde form.
    pub fn sent(self) -> Result<SignedTerms, CryptoError> {
        Received::of(self)
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

    pub(super) fn check(&self, tally_id: Uuid) -> SiteResult<()> {
        if self.id != tally_id {
            return Err(SiteError::Invalid("tally body names another tally".into()));
        }
        check_cid(&self.stock.cert.cid)?;
        check_cid(&self.foil.cert.cid)?;
        if self.stock.cert.cid == self.foil.cert.cid {
            return Err(SiteError::Invalid("a tally needs two different users".into()));
        }
        if self.memo.len() > MAX_TEXT_BYTES || self.agreement.len() > MAX_TEXT_BYTES {
            return Err(SiteError::Invalid(format!("memo and agreement are limited to {MAX_TEXT_BYTES} bytes")));
        }
        for side in [&self.stock, &self.foil] {
            if side.terms.credit_limit_milli < 0 || side.terms.lift_margin_milli < 0 {
                return Err(SiteError::Invalid("credit limits and lift margins must be >= 0".into()));
            }
        }
        Ok(())
    }
}

/// Checks `signature` by the `by` side of the terms, over the terms as received.
pub fn verify_side(terms: &SignedTerms, by: Side, signature: &Signature) -> SiteResult<()> {
    terms.verify(&terms.side(by).cert.public_key, TALLY_PURPOSE, signature)?;
    Ok(())
}
