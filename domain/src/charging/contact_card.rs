//! Contact cards: an identity's signed self-description (alias, uid, public key, transports, optional meta),
//! exported as base64 text for pasting into an app or putting in a QR code.

use std::collections::BTreeMap;

use base64::Engine;
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use super::crypto::{hex_key, hex_signature, CryptoError, PublicKey, Signature, Uid};
use crate::crypto::{canonical_json, Purpose, Received};

pub const CONTACT_CARD_PURPOSE: Purpose = Purpose("notch/charging/contact-card/v1");
/// Bounds so a pasted or scanned card cannot make the service allocate without limit.
pub const MAX_EXPORT_LEN: usize = 8 * 1024;
const MAX_ALIAS_CHARS: usize = 64;
const MAX_TRANSPORTS: usize = 8;
const MAX_META_ENTRIES: usize = 16;
const MAX_FIELD_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactCardBody {
    pub alias: String,
    pub uid: Uid,
    #[serde(with = "hex_key")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub public_key: PublicKey,
    /// Where the identity can be reached, e.g. the service's base URL.
    pub transports: Vec<String>,
    /// Free key/value facts; a socket's card names its charge point and connector here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ContactCard {
    pub card: Received<ContactCardBody>,
    /// ed25519 by `card.public_key` for `CONTACT_CARD_PURPOSE` over JCS(card) as received.
    #[serde(with = "hex_signature")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub signature: Signature,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContactCardError {
    #[error("the contact card is not valid base64 of JSON: {0}")]
    Undecodable(String),
    #[error("the contact card is longer than {MAX_EXPORT_LEN} characters")]
    TooLong,
    #[error("the contact card's uid is not the hash of its public key")]
    UidMismatch,
    #[error("the contact card's signature does not verify")]
    BadSignature,
    #[error("the contact card's {0} is out of bounds")]
    OutOfBounds(&'static str),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

impl ContactCard {
    /// Builds and signs a card for `key`; the uid and public key are derived, never supplied.
    pub fn create(
        key: &SigningKey,
        alias: &str,
        transports: Vec<String>,
        meta: Option<BTreeMap<String, String>>,
    ) -> Result<ContactCard, ContactCardError> {
        let public_key = PublicKey::of(key);
        let card = ContactCardBody { alias: alias.to_owned(), uid: Uid::of(&public_key), public_key, transports, meta };
        check_bounds(&card)?;
        let card = Received::of(card)?;
        let signature = Signature::sign_canonical(key, CONTACT_CARD_PURPOSE, card.canonical());
        Ok(ContactCard { card, signature })
    }

    /// Checks bounds, that the uid is the hash of the key, and the self-signature.
    pub fn verify(&self) -> Result<(), ContactCardError> {
        check_bounds(&self.card)?;
        if Uid::of(&self.card.public_key) != self.card.uid {
            return Err(ContactCardError::UidMismatch);
        }
        self.card
            .verify(&self.card.public_key, CONTACT_CARD_PURPOSE, &self.signature)
            .map_err(|_| ContactCardError::BadSignature)
    }

    /// Standard base64 (with padding) of the canonical JSON of the whole card.
    pub fn export(&self) -> Result<String, ContactCardError> {
        let json = canonical_json(self)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(json))
    }

    /// Decodes an exported card and verifies it.
    pub fn import(text: &str) -> Result<ContactCard, ContactCardError> {
        let text = text.trim();
        if text.len() > MAX_EXPORT_LEN {
            return Err(ContactCardError::TooLong);
        }
        let json = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|e| ContactCardError::Undecodable(e.to_string()))?;
        let card: ContactCard =
            serde_json::from_slice(&json).map_err(|e| ContactCardError::Undecodable(e.to_string()))?;
        card.verify()?;
        Ok(card)
    }
}

fn check_bounds(card: &ContactCardBody) -> Result<(), ContactCardError> {
    let alias_chars = card.alias.chars().count();
    if alias_chars == 0 || alias_chars > MAX_ALIAS_CHARS {
        return Err(ContactCardError::OutOfBounds("alias"));
    }
    if card.transports.len() > MAX_TRANSPORTS || card.transports.iter().any(|t| t.len() > MAX_FIELD_CHARS) {
        return Err(ContactCardError::OutOfBounds("transports"));
    }
    if let Some(meta) = &card.meta {
        let too_long = meta.iter().any(|(k, v)| k.len() > MAX_FIELD_CHARS || v.len() > MAX_FIELD_CHARS);
        if meta.len() > MAX_META_ENTRIES || too_long {
            return Err(ContactCardError::OutOfBounds("meta"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card() -> ContactCard {
        let meta = BTreeMap::from([("socket".to_owned(), "CP1/1".to_owned())]);
        ContactCard::create(&SigningKey::from_bytes(&[3; 32]), "socket 1", vec!["http://x".into()], Some(meta)).unwrap()
    }

    #[test]
    fn export_then_import_round_trips() {
        let card = card();
        assert_eq!(ContactCard::import(&card.export().unwrap()), Ok(card));
    }

    #[test]
    fn a_changed_alias_breaks_the_signature() {
        let mut card = card();
        let mut body = card.card.clone().into_parsed();
        body.alias = "mallory".into();
        card.card = Received::of(body).unwrap();
        assert_eq!(ContactCard::import(&card.export().unwrap()), Err(ContactCardError::BadSignature));
    }

    #[test]
    fn a_uid_that_is_not_the_key_hash_is_refused() {
        let mut card = card();
        let mut body = card.card.clone().into_parsed();
        body.uid = Uid::of(&PublicKey::of(&SigningKey::from_bytes(&[4; 32])));
        card.card = Received::of(body).unwrap();
        assert_eq!(card.verify(), Err(ContactCardError::UidMismatch));
    }

    #[test]
    fn garbage_and_oversized_text_are_refused() {
        assert!(matches!(ContactCard::import("%%%"), Err(ContactCardError::Undecodable(_))));
        assert_eq!(ContactCard::import(&"A".repeat(MAX_EXPORT_LEN + 1)), Err(ContactCardError::TooLong));
    }
}
