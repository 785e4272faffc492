use crate::charging::certificate::Certificate;
use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::{PublicKey, Uid};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Everything the authority records about a user relationship. No event carries a card number or a CVC.
// Events are serialized once, not held in bulk in memory, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(tag = "type")]
pub enum CustomerEvent {
    ConnectionRequested {
        uid: Uid,
        alias: String,
        #[serde(with = "crate::crypto::hex_key")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        public_key: PublicKey,
        contact_card: ContactCard,
        at: DateTime<Utc>,
    },
    BillingAccepted {
        uid: Uid,
        /// Keyed BLAKE2b-256 of the card digits under the authority's token secret, hex.
        card_token: String,
        card_last4: String,
        /// "MM/YYYY".
        card_expiry: String,
        at: DateTime<Utc>,
    },
    RelationshipTrusted {
        uid: Uid,
        at: DateTime<Utc>,
    },
    CredentialRegistered {
        uid: Uid,
        provider_uid: Uid,
        id_tag: String,
        at: DateTime<Utc>,
    },
    CertificateIssued {
        certificate: Certificate,
        at: DateTime<Utc>,
    },
    CertificateRevoked {
        uid: Uid,
        serial: String,
        reason: String,
        at: DateTime<Utc>,
    },
}
