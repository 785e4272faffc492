//! Seals: the node's signature over the chain's head after each committed batch.
//!
//! Event hashes are unkeyed, so anyone with write access to the database could reorder or drop events and
//! recompute every later hash. A seal signs `(position, hash)` with the pinned node key; recomputed hashes no
//! longer match the sealed ones, and new seals cannot be made without the key. One signature per batch keeps
//! the cost off the per-event path.

use chrono::{DateTime, Utc};
use ed25519_dalek::ed25519::signature::{Keypair, Signer};
use ed25519_dalek::{Signature, VerifyingKey};
use serde::Serialize;

use crate::envelope::{format_time, Hash};

/// Domain separation for seal signatures.
pub const SEAL_SIGNATURE_CONTEXT: &[u8] = b"notch/seal/v1\0";

#[derive(Debug, Clone, PartialEq)]
pub struct Seal {
    /// The last position of the committed batch.
    pub position: i64,
    /// The hash of the event at that position.
    pub hash: Hash,
    pub sealed_at: DateTime<Utc>,
    pub signer: VerifyingKey,
    pub signature: Signature,
}

#[derive(Serialize)]
struct SealFields {
    hash: String,
    position: i64,
    sealed_at: String,
    signer: String,
}

fn message(position: i64, hash: &Hash, sealed_at: &DateTime<Utc>, signer: &VerifyingKey) -> Vec<u8> {
    let fields = SealFields {
        hash: hash.to_hex(),
        position,
        sealed_at: format_time(sealed_at),
        signer: hex::encode(signer.as_bytes()),
    };
    let mut bytes = SEAL_SIGNATURE_CONTEXT.to_vec();
    bytes.extend(serde_json_canonicalizer::to_vec(&fields).expect("seal fields are plain JSON"));
    bytes
}

impl Seal {
    pub fn sign<K>(key: &K, position: i64, hash: Hash, sealed_at: DateTime<Utc>) -> Seal
    where
        K: Signer<Signature> + Keypair<VerifyingKey = VerifyingKey>,
    {
        use chrono::SubsecRound;
        let sealed_at = sealed_at.trunc_subsecs(6);
        let signer = key.verifying_key();
        let signature = key.sign(&message(position, &hash, &sealed_at, &signer));
        Seal { position, hash, sealed_at, signer, signature }
    }

    pub fn verifies(&self) -> bool {
        self.signer.verify_strict(&self.signed_message(), &self.signature).is_ok()
    }

    /// The exact message the signature covers.
    pub fn signed_message(&self) -> Vec<u8> {
        message(self.position, &self.hash, &self.sealed_at, &self.signer)
    }

    /// Whether every seal verifies, checked as one ed25519 batch (much cheaper per signature than one by one).
    pub fn all_verify(seals: &[Seal]) -> bool {
        let messages: Vec<Vec<u8>> = seals.iter().map(Seal::signed_message).collect();
        let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let signatures: Vec<Signature> = seals.iter().map(|s| s.signature).collect();
        let keys: Vec<VerifyingKey> = seals.iter().map(|s| s.signer).collect();
        ed25519_dalek::verify_batch(&message_refs, &signatures, &keys).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    #[test]
    fn a_seal_verifies_and_names_exactly_one_head() {
        let key = SigningKey::from_bytes(&[3; 32]);
        let seal = Seal::sign(&key, 10, Hash([9; 32]), Utc::now());
        assert!(seal.verifies());
        let mut moved = seal.clone();
        moved.position = 11;
        assert!(!moved.verifies());
        let mut rehashed = seal;
        rehashed.hash = Hash([8; 32]);
        assert!(!rehashed.verifies());
    }
}
