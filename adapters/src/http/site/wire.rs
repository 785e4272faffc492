//! What users send to `POST /site/commands`: a [`UserRequest`] inside a [`SignedRequest`] envelope, signed by one
//! of the user's registered device keys (or, to redeem a connection ticket, by the key being registered) for
//! `notch/site/request/v1`. The signature covers the RFC 8785 form of the envelope *as received*, less its
//! `signature` ([`SignedRequest::receive`]); the terms and chits inside carry their parties' own signatures, over
//! those documents as received.

use chrono::{DateTime, Utc};
use domain::crypto::{detach_signature, CryptoError, PublicKey, Purpose, Signature};
use domain::site::chit::Chit;
use domain::site::tally::SignedTerms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a request signature is for.
pub const REQUEST_PURPOSE: Purpose = Purpose("notch/site/request/v1");

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type", deny_unknown_fields)]
pub enum UserRequest {
    RedeemConnectionTicket { token: String },
    IssueTallyTicket { counterpart: Option<String>, lifetime_s: Option<i64> },
    RedeemTallyTicket { token: String },
    ProposeTally { body: SignedTerms, signature: Signature },
    SignTally { tally_id: Uuid, signature: Signature },
    RefuseTally { tally_id: Uuid, reason: String },
    CloseTally { tally_id: Uuid },
    IssueChit { chit: Chit, signature: Signature },
    GetTally { tally_id: Uuid },
    ListTallies,
    ListChits { tally_id: Uuid },
    GetBalances,
    ListLifts,
}

/// The part of the envelope the device signs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    pub cid: String,
    pub key: PublicKey,
    pub timestamp: DateTime<Utc>,
    pub nonce: String,
    pub request: UserRequest,
}

/// The envelope as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct SignedRequest {
    #[serde(flatten)]
    pub body: RequestBody,
    pub signature: Signature,
}

/// An envelope as the service received it: the parsed request and the canonical bytes its signature covers.
pub struct ReceivedRequest {
    pub request: SignedRequest,
    signed: Vec<u8>,
}

impl RequestBody {
    /// The device's envelope (what an app does with its key).
    pub fn sign(self, key: &ed25519_dalek::SigningKey) -> Result<SignedRequest, CryptoError> {
        let signature = Signature::sign(key, REQUEST_PURPOSE, &self)?;
        Ok(SignedRequest { body: self, signature })
    }
}

/// Why a request body was not taken: not an envelope at all, or one without a well-formed signature.
#[derive(Debug, thiserror::Error)]
pub enum MalformedRequest {
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("the request's signature: {0}")]
    Signature(#[from] CryptoError),
}

impl SignedRequest {
    /// Parses an envelope as received, keeping the canonical bytes of what was sent (less `signature`).
    pub fn receive(bytes: &[u8]) -> Result<ReceivedRequest, MalformedRequest> {
        let json: serde_json::Value = serde_json::from_slice(bytes)?;
        let (signed, _) = detach_signature(&json, "signature")?;
        let request = serde_json::from_value(json)?;
        Ok(ReceivedRequest { request, signed })
    }
}

impl ReceivedRequest {
    /// Checks the signature with the key the envelope names (whether that key may act for `cid` is the service's
    /// question).
    pub fn verify(&self) -> Result<(), CryptoError> {
        self.request.body.key.verify_canonical(REQUEST_PURPOSE, &self.signed, &self.request.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::crypto::canonical_json;
    use ed25519_dalek::SigningKey;

    fn body(key: &SigningKey) -> RequestBody {
        RequestBody {
            cid: "alice".into(),
            key: PublicKey::of(key),
            timestamp: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
            nonce: "nonce-0001".into(),
            request: UserRequest::GetBalances,
        }
    }

    #[test]
    fn an_envelope_verifies_as_sent_and_not_once_tampered() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let wire = serde_json::to_vec(&body(&key).sign(&key).unwrap()).unwrap();
        assert_eq!(SignedRequest::receive(&wire).unwrap().verify(), Ok(()));
        let mut tampered: serde_json::Value = serde_json::from_slice(&wire).unwrap();
        tampered["cid"] = "bob".into();
        let tampered = serde_json::to_vec(&tampered).unwrap();
        assert_eq!(SignedRequest::receive(&tampered).unwrap().verify(), Err(CryptoError::BadSignature));
    }

    #[test]
    fn an_envelope_without_an_optional_field_and_with_a_plus_zero_time_verifies_as_sent() {
        let key = SigningKey::from_bytes(&[6; 32]);
        // What a Python or JavaScript app writes: no `counterpart`, `+00:00` and milliseconds in the time.
        let sent = serde_json::json!({
            "cid": "alice",
            "key": PublicKey::of(&key),
            "timestamp": "2026-12-01T10:00:00.000+00:00",
            "nonce": "nonce-0002",
            "request": { "type": "IssueTallyTicket", "lifetime_s": 60 },
        });
        let signature = Signature::sign(&key, REQUEST_PURPOSE, &sent).unwrap();
        let mut envelope = sent.clone();
        envelope["signature"] = serde_json::to_value(signature).unwrap();
        let received = SignedRequest::receive(&serde_json::to_vec(&envelope).unwrap()).unwrap();
        assert_eq!(received.verify(), Ok(()));
        let reserialised = canonical_json(&received.request.body).unwrap();
        assert_ne!(reserialised, canonical_json(&sent).unwrap(), "the parsed copy would not have verified");
    }

    #[test]
    fn a_signature_for_another_purpose_is_refused() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let body = body(&key);
        let signature = Signature::sign(&key, Purpose("notch/site/chit/v1"), &body).unwrap();
        let wire = serde_json::to_vec(&SignedRequest { body, signature }).unwrap();
        assert_eq!(SignedRequest::receive(&wire).unwrap().verify(), Err(CryptoError::BadSignature));
    }
}
