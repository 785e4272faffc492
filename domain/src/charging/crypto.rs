//! The charging context's identities: a uid is the hash of a public key. Keys, signatures and purpose tags are the
//! shared ones of `crate::crypto`; charging documents carry keys and signatures as hex ([`hex_key`],
//! [`hex_signature`]).

use std::fmt;

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use serde::{Deserialize, Serialize};

pub use crate::crypto::{hex_key, hex_signature, CryptoError, PublicKey, Signature};

/// An identity's uid: lowercase hex of BLAKE2b-256 over the 32 raw bytes of its ed25519 public key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Uid(String);

impl Uid {
    pub fn of(key: &PublicKey) -> Uid {
        Uid(hex::encode(Blake2b::<U32>::digest(key.as_bytes())))
    }

    /// Accepts only the exact form [`Uid::of`] produces (64 lowercase hex digits), so a uid read from a URL
    /// or a command can be used as a stream name as it is.
    pub fn parse(text: &str) -> Result<Uid, CryptoError> {
        let well_formed = text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Uid(text.to_owned()))
        } else {
            Err(CryptoError::MalformedId)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uid({})", self.0)
    }
}

/// The construction charging documents were signed with before the one scheme of `crate::crypto`: the legacy
/// tag (`notch.charging.<document>.v1`), a newline, then the canonical JSON. Accepted only for certificates, which
/// live as long as a year in users' apps; everything else is signed and checked in the one scheme.
pub fn verify_legacy(
    key: &PublicKey,
    legacy_tag: &str,
    canonical: &[u8],
    signature: &Signature,
) -> Result<(), CryptoError> {
    let mut bytes = Vec::with_capacity(legacy_tag.len() + 1 + canonical.len());
    bytes.extend_from_slice(legacy_tag.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(canonical);
    let signature = ed25519_dalek::Signature::from_bytes(&signature.to_bytes());
    key.verifying_key()?.verify_strict(&bytes, &signature).map_err(|_| CryptoError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn uid_is_blake2b_256_hex_of_the_public_key() {
        let key = PublicKey::of(&SigningKey::from_bytes(&[7; 32]));
        let uid = Uid::of(&key);
        assert_eq!(uid.as_str().len(), 64);
        assert_eq!(uid.as_str(), hex::encode(Blake2b::<U32>::digest(key.as_bytes())));
        assert_eq!(Uid::parse(uid.as_str()), Ok(uid));
        assert_eq!(Uid::parse("ABC"), Err(CryptoError::MalformedId));
    }

    #[test]
    fn a_legacy_signature_is_the_old_tag_a_newline_and_the_document() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let signature = key.sign(b"notch.charging.certificate.v1\n{\"a\":1}");
        let signature = Signature::from_bytes(&signature.to_bytes()).unwrap();
        let public = PublicKey::of(&key);
        assert_eq!(verify_legacy(&public, "notch.charging.certificate.v1", br#"{"a":1}"#, &signature), Ok(()));
        assert_eq!(
            verify_legacy(&public, "notch.charging.contact-card.v1", br#"{"a":1}"#, &signature),
            Err(CryptoError::BadSignature)
        );
    }
}
