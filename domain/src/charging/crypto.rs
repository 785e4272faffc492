//! The byte constructions every charging document shares: uids, hex-encoded keys and signatures, and
//! signatures over a purpose tag followed by the RFC 8785 canonical JSON of a document body.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An identity's uid: lowercase hex of BLAKE2b-256 over the 32 raw bytes of its ed25519 public key.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Uid(String);

impl Uid {
    pub fn of(key: &PublicKey) -> Uid {
        Uid(hex::encode(Blake2b::<U32>::digest(key.0.as_bytes())))
    }

    /// Accepts only the exact form [`Uid::of`] produces (64 lowercase hex digits), so a uid read from a URL
    /// or a command can be used as a stream name as it is.
    pub fn parse(text: &str) -> Result<Uid, CryptoError> {
        let well_formed = text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(Uid(text.to_owned()))
        } else {
            Err(CryptoError::MalformedUid)
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

/// An ed25519 public key, in JSON as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(pub VerifyingKey);

impl PublicKey {
    pub fn of(key: &SigningKey) -> PublicKey {
        PublicKey(key.verifying_key())
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0.as_bytes())
    }

    pub fn from_hex(text: &str) -> Result<PublicKey, CryptoError> {
        let bytes: [u8; 32] =
            hex::decode(text).ok().and_then(|b| b.try_into().ok()).ok_or(CryptoError::MalformedKey)?;
        VerifyingKey::from_bytes(&bytes).map(PublicKey).map_err(|_| CryptoError::MalformedKey)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.to_hex())
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        PublicKey::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for PublicKey {
    fn schema_name() -> String {
        "PublicKeyHex".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

/// An ed25519 signature, in JSON as 128 lowercase hex digits.
#[derive(Clone, PartialEq, Eq)]
pub struct Signature(pub ed25519_dalek::Signature);

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0.to_bytes())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_hex())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let bytes: [u8; 64] = hex::decode(&text)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| serde::de::Error::custom("a signature is 128 hex digits"))?;
        Ok(Signature(ed25519_dalek::Signature::from_bytes(&bytes)))
    }
}

impl JsonSchema for Signature {
    fn schema_name() -> String {
        "SignatureHex".into()
    }
    fn json_schema(gen: &mut schemars::gen::SchemaGenerator) -> schemars::schema::Schema {
        String::json_schema(gen)
    }
}

/// Why a signed charging document was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("a uid is 64 lowercase hex digits (BLAKE2b-256 of the public key)")]
    MalformedUid,
    #[error("a public key is 64 hex digits of a valid ed25519 point")]
    MalformedKey,
    #[error("the signature does not verify")]
    BadSignature,
    #[error("the document cannot be put in canonical JSON: {0}")]
    NotCanonicalizable(String),
}

/// The exact bytes signed: the purpose tag, one newline, then the RFC 8785 canonical JSON of the body.
/// The tag keeps a signature made for one kind of document from being accepted as another.
pub fn signing_bytes<T: Serialize>(purpose: &str, body: &T) -> Result<Vec<u8>, CryptoError> {
    let canonical =
        serde_json_canonicalizer::to_vec(body).map_err(|e| CryptoError::NotCanonicalizable(e.to_string()))?;
    let mut bytes = Vec::with_capacity(purpose.len() + 1 + canonical.len());
    bytes.extend_from_slice(purpose.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&canonical);
    Ok(bytes)
}

pub fn sign<T: Serialize>(key: &SigningKey, purpose: &str, body: &T) -> Result<Signature, CryptoError> {
    Ok(Signature(key.sign(&signing_bytes(purpose, body)?)))
}

pub fn verify<T: Serialize>(
    key: &PublicKey,
    purpose: &str,
    body: &T,
    signature: &Signature,
) -> Result<(), CryptoError> {
    key.0.verify(&signing_bytes(purpose, body)?, &signature.0).map_err(|_| CryptoError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_blake2b_256_hex_of_the_public_key() {
        let key = PublicKey::of(&SigningKey::from_bytes(&[7; 32]));
        let uid = Uid::of(&key);
        assert_eq!(uid.as_str().len(), 64);
        assert_eq!(uid.as_str(), hex::encode(Blake2b::<U32>::digest(key.0.as_bytes())));
        assert_eq!(Uid::parse(uid.as_str()), Ok(uid));
        assert_eq!(Uid::parse("ABC"), Err(CryptoError::MalformedUid));
    }

    #[test]
    fn a_signature_binds_purpose_and_body() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let public = PublicKey::of(&key);
        let body = serde_json::json!({"b": 1, "a": [true]});
        let signature = sign(&key, "p1", &body).unwrap();
        assert_eq!(verify(&public, "p1", &body, &signature), Ok(()));
        assert_eq!(verify(&public, "p2", &body, &signature), Err(CryptoError::BadSignature));
        let other = serde_json::json!({"b": 2, "a": [true]});
        assert_eq!(verify(&public, "p1", &other, &signature), Err(CryptoError::BadSignature));
        assert_eq!(signing_bytes("p1", &body).unwrap(), b"p1\n{\"a\":[true],\"b\":1}".to_vec());
    }
}
