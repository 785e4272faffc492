//! What users send over HTTP: a [`UserRequest`] inside a [`SignedRequest`] envelope, signed by one of the
//! user's registered device keys (or, to redeem a connection ticket, by the key being registered). The signed
//! bytes are the RFC 8785 JSON of the envelope without its `signature`; `timestamp` and `nonce` let the
//! service refuse replays.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::chit::ChitBody;
use super::crypto::{canonical_json, CryptoError, PublicKey, SignatureB64};
use super::tally::TallyBody;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum UserRequest {
    RedeemConnectionTicket { token: String },
    IssueTallyTicket { counterpart: Option<String>, lifetime_s: Option<i64> },
    RedeemTallyTicket { token: String },
    ProposeTally { body: TallyBody, signature: SignatureB64 },
    SignTally { tally_id: Uuid, signature: SignatureB64 },
    RefuseTally { tally_id: Uuid, reason: String },
    CloseTally { tally_id: Uuid },
    IssueChit { chit: ChitBody, signature: SignatureB64 },
    GetTally { tally_id: Uuid },
    ListTallies,
    ListChits { tally_id: Uuid },
    GetBalances,
    ListLifts,
}

/// The part of the envelope the device signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub cid: String,
    pub key: PublicKey,
    pub timestamp: DateTime<Utc>,
    pub nonce: String,
    pub request: UserRequest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    #[serde(flatten)]
    pub body: RequestBody,
    pub signature: SignatureB64,
}

impl RequestBody {
    pub fn signing_bytes(&self) -> Result<Vec<u8>, CryptoError> {
        canonical_json(self)
    }

    pub fn sign(self, key: &ed25519_dalek::SigningKey) -> Result<SignedRequest, CryptoError> {
        let signature = SignatureB64::sign(key, &self.signing_bytes()?);
        Ok(SignedRequest { body: self, signature })
    }
}

impl SignedRequest {
    /// Checks the signature with the key the envelope names (whether that key may act for `cid` is the
    /// service's question).
    pub fn verify(&self) -> Result<(), CryptoError> {
        self.body.key.verify(&self.body.signing_bytes()?, &self.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn envelope_round_trip_and_tamper() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let body = RequestBody {
            cid: "alice".into(),
            key: PublicKey::of(&key),
            timestamp: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            nonce: "n-1".into(),
            request: UserRequest::GetBalances,
        };
        let signed = body.sign(&key).unwrap();
        let wire = serde_json::to_string(&signed).unwrap();
        let back: SignedRequest = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.verify(), Ok(()));
        let mut tampered = back.clone();
        tampered.body.cid = "bob".into();
        assert_eq!(tampered.verify(), Err(CryptoError::BadSignature));
    }
}
