//! Byte constructions shared by every signed site object: canonical JSON (RFC 8785), ed25519 keys and
//! signatures carried as base64url strings, BLAKE2b-256 hashes carried as hex.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Why a signature or key was not accepted. Deliberately coarse: callers must not learn more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("malformed public key")]
    BadKey,
    #[error("malformed signature")]
    BadSignatureEncoding,
    #[error("signature does not verify")]
    BadSignature,
    #[error("value cannot be canonicalised: {0}")]
    Canonical(String),
}

/// An ed25519 public key, serialised as unpadded base64url of its 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct PublicKey(pub String);

impl PublicKey {
    pub fn from_verifying_key(key: &VerifyingKey) -> PublicKey {
        PublicKey(URL_SAFE_NO_PAD.encode(key.as_bytes()))
    }

    pub fn of(signing_key: &SigningKey) -> PublicKey {
        PublicKey::from_verifying_key(&signing_key.verifying_key())
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, CryptoError> {
        let bytes: [u8; 32] = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| CryptoError::BadKey)?
            .try_into()
            .map_err(|_| CryptoError::BadKey)?;
        VerifyingKey::from_bytes(&bytes).map_err(|_| CryptoError::BadKey)
    }

    /// Checks `signature` over `message` with this key (strict verification: no malleable signatures).
    pub fn verify(&self, message: &[u8], signature: &SignatureB64) -> Result<(), CryptoError> {
        let key = self.verifying_key()?;
        let sig = signature.signature()?;
        // Strict: rejects small-order keys and non-canonical signatures, so a signature cannot be reshaped.
        key.verify_strict(message, &sig).map_err(|_| CryptoError::BadSignature)
    }
}

/// An ed25519 signature, serialised as unpadded base64url of its 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct SignatureB64(pub String);

impl SignatureB64 {
    pub fn sign(key: &SigningKey, message: &[u8]) -> SignatureB64 {
        SignatureB64(URL_SAFE_NO_PAD.encode(key.sign(message).to_bytes()))
    }

    fn signature(&self) -> Result<ed25519_dalek::Signature, CryptoError> {
        let bytes: [u8; 64] = URL_SAFE_NO_PAD
            .decode(&self.0)
            .map_err(|_| CryptoError::BadSignatureEncoding)?
            .try_into()
            .map_err(|_| CryptoError::BadSignatureEncoding)?;
        Ok(ed25519_dalek::Signature::from_bytes(&bytes))
    }
}

/// RFC 8785 canonical JSON of any serialisable value: the bytes every site signature covers.
pub fn canonical_json(value: &impl Serialize) -> Result<Vec<u8>, CryptoError> {
    serde_json_canonicalizer::to_vec(value).map_err(|e| CryptoError::Canonical(e.to_string()))
}

/// BLAKE2b with a 256-bit output, lower-case hex.
pub fn blake2b_hex(bytes: &[u8]) -> String {
    let mut hasher = Blake2b::<U32>::new();
    hasher.update(bytes);
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip_and_tamper() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = PublicKey::of(&key);
        let sig = SignatureB64::sign(&key, b"hello");
        assert_eq!(public.verify(b"hello", &sig), Ok(()));
        assert_eq!(public.verify(b"hellO", &sig), Err(CryptoError::BadSignature));
        assert_eq!(PublicKey("x".into()).verify(b"hello", &sig), Err(CryptoError::BadKey));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let v = serde_json::json!({"b": 1, "a": [true, null]});
        assert_eq!(canonical_json(&v).unwrap(), br#"{"a":[true,null],"b":1}"#.to_vec());
    }

    #[test]
    fn blake2b_is_256_bits() {
        assert_eq!(blake2b_hex(b"").len(), 64);
    }
}
