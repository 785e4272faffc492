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
use super::error::{SiteError, SiteResult};
use super::tally::TallyBody;

/// How far a request's timestamp may be from the service's clock; the service remembers nonces twice as long,
/// so a request can never be replayed within its window.
pub const REPLAY_WINDOW_S: i64 = 300;
/// Bounds on a nonce's length in bytes: enough for 64 random bits in any encoding, short enough to store.
pub const NONCE_BYTES: std::ops::RangeInclusive<usize> = 8..=128;

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
    /// Refuses a request whose timestamp is outside the replay window around `now`, or whose nonce is out of
    /// bounds. Checked before the signature: a stale request says so, not "bad signature".
    pub fn check_fresh(&self, now: DateTime<Utc>) -> SiteResult<()> {
        let skew_s = (now - self.timestamp).num_seconds();
        if skew_s.abs() > REPLAY_WINDOW_S {
            return Err(SiteError::StaleRequest { skew_s });
        }
        if !NONCE_BYTES.contains(&self.nonce.len()) {
            return Err(SiteError::Invalid(format!(
                "a nonce has {} to {} bytes",
                NONCE_BYTES.start(),
                NONCE_BYTES.end()
            )));
        }
        Ok(())
    }

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
    fn a_request_outside_the_window_or_with_a_short_nonce_is_refused_as_such() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let body = RequestBody {
            cid: "alice".into(),
            key: PublicKey::of(&key),
            timestamp: at,
            nonce: "nonce-0001".into(),
            request: UserRequest::GetBalances,
        };
        assert_eq!(body.check_fresh(at + chrono::Duration::seconds(REPLAY_WINDOW_S)), Ok(()));
        let late = at + chrono::Duration::seconds(REPLAY_WINDOW_S + 1);
        assert_eq!(body.check_fresh(late), Err(SiteError::StaleRequest { skew_s: REPLAY_WINDOW_S + 1 }));
        let early = at - chrono::Duration::seconds(REPLAY_WINDOW_S + 5);
        assert_eq!(body.check_fresh(early), Err(SiteError::StaleRequest { skew_s: -REPLAY_WINDOW_S - 5 }));
        let short = RequestBody { nonce: "n-1".into(), ..body };
        assert!(matches!(short.check_fresh(at), Err(SiteError::Invalid(_))));
    }

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
