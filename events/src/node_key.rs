//! The node key as the append path uses it: signatures made by AWS-LC.
//!
//! Every event the node appends carries the node's Ed25519 signature, so signing is on the per-event path. Ed25519
//! signatures are deterministic (RFC 8032): the same key and message give the same 64 bytes whichever library
//! computes them, and readers keep verifying with ed25519-dalek. AWS-LC's fixed-base multiplication (s2n-bignum,
//! with the CPU's ADX/BMI2 instructions) signed in 10 µs on this project's 2-core machine where ed25519-dalek's
//! constant-time table took 20–25 µs (docs/benchmarks.md), which is a tenth of the CPU `bench mam` spends per
//! message.

use ed25519_dalek::ed25519::signature::{Error, Keypair, Signer};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};

/// A signing key for the log and its seals. Built from an ed25519-dalek [`SigningKey`] (which the key file, the
/// genesis event and the readers use); signs with AWS-LC.
pub struct NodeKey {
    pair: aws_lc_rs::signature::Ed25519KeyPair,
    public: VerifyingKey,
}

impl NodeKey {
    pub fn new(key: &SigningKey) -> NodeKey {
        let pair = aws_lc_rs::signature::Ed25519KeyPair::from_seed_unchecked(key.as_bytes())
            .expect("any 32 bytes are an Ed25519 seed");
        let public = key.verifying_key();
        assert_eq!(
            aws_lc_rs::signature::KeyPair::public_key(&pair).as_ref(),
            public.as_bytes(),
            "AWS-LC and ed25519-dalek derive the same public key from a seed"
        );
        NodeKey { pair, public }
    }
}

impl Signer<Signature> for NodeKey {
    fn try_sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let signature = self.pair.sign(message);
        Signature::from_slice(signature.as_ref())
    }
}

impl Keypair for NodeKey {
    type VerifyingKey = VerifyingKey;

    fn verifying_key(&self) -> VerifyingKey {
        self.public
    }
}

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKey").field("public", &hex::encode(self.public.as_bytes())).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The append path's signatures are byte for byte those of ed25519-dalek, so nothing that reads the log
        /// can tell which library made them.
        #[test]
        fn signs_exactly_as_ed25519_dalek(seed in any::<[u8; 32]>(), message in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let dalek = SigningKey::from_bytes(&seed);
            let node = NodeKey::new(&dalek);
            let signature = node.sign(&message);
            prop_assert_eq!(signature, dalek.sign(&message));
            prop_assert!(node.verifying_key().verify_strict(&message, &signature).is_ok());
        }
    }
}
