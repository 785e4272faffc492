//! ed25519 batch verification of many signatures by one key.
//!
//! Every event of the log is signed by the pinned node key. ed25519-dalek's `verify_batch` takes a key per
//! signature and checks `[8](−Σzᵢsᵢ·B + Σzᵢ·Rᵢ + Σzᵢkᵢ·Aᵢ) = 0` as one multiscalar multiplication over 2n + 1
//! points. When every `Aᵢ` is the same `A`, the last sum is one term `(Σzᵢkᵢ)·A`, so the multiplication runs over
//! n + 2 points: the same equation, about half the work. Everything else is as in ed25519-dalek's batch: `sᵢ` must
//! be canonical, `Rᵢ` must decompress, `kᵢ = SHA-512(Rᵢ ‖ A ‖ Mᵢ) mod ℓ`, and the `zᵢ` are random 128-bit scalars
//! (here from the thread's CSPRNG) that make a forged signature pass with probability about 2⁻¹²⁸. It is
//! tested against ed25519-dalek on valid and broken batches. As with any batch check, a failure says only that
//! some signature is bad; callers then verify one by one with `verify_strict` to name it.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::CompressedEdwardsY;
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha512};

/// Whether every `signatures[i]` is `key`'s signature of `messages[i]` (batch semantics, see the module).
pub fn verify(key: &VerifyingKey, messages: &[&[u8]], signatures: &[Signature]) -> bool {
    assert_eq!(messages.len(), signatures.len(), "one message per signature");
    if key.is_weak() {
        return false;
    }
    let a = key.to_edwards();
    let mut rs = Vec::with_capacity(signatures.len());
    let mut b_coefficient = Scalar::ZERO;
    let mut a_coefficient = Scalar::ZERO;
    let mut zs = Vec::with_capacity(signatures.len());
    for (message, signature) in messages.iter().zip(signatures) {
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(*signature.s_bytes())) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(*signature.r_bytes()).decompress() else {
            return false;
        };
        if r.is_small_order() {
            return false;
        }
        let k = Scalar::from_hash(
            Sha512::new().chain_update(signature.r_bytes()).chain_update(key.as_bytes()).chain_update(message),
        );
        let z = Scalar::from(rand::random::<u128>());
        b_coefficient -= z * s;
        a_coefficient += z * k;
        zs.push(z);
        rs.push(r);
    }
    let scalars = [b_coefficient, a_coefficient].into_iter().chain(zs);
    let points = [ED25519_BASEPOINT_POINT, a].into_iter().chain(rs);
    curve25519_dalek::edwards::EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn signed(key: &SigningKey, n: usize) -> (Vec<Vec<u8>>, Vec<Signature>) {
        let messages: Vec<Vec<u8>> = (0..n).map(|i| format!("message {i}").into_bytes()).collect();
        let signatures = messages.iter().map(|m| key.sign(m)).collect();
        (messages, signatures)
    }

    fn refs(messages: &[Vec<u8>]) -> Vec<&[u8]> {
        messages.iter().map(Vec::as_slice).collect()
    }

    #[test]
    fn good_batches_pass_and_any_change_fails() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let (mut messages, mut signatures) = signed(&key, 64);
        assert!(verify(&key.verifying_key(), &refs(&messages), &signatures));
        messages[17].push(b'!');
        assert!(!verify(&key.verifying_key(), &refs(&messages), &signatures), "a changed message");
        messages[17].pop();
        let mut bytes = signatures[40].to_bytes();
        bytes[40] ^= 1;
        signatures[40] = Signature::from_bytes(&bytes);
        assert!(!verify(&key.verifying_key(), &refs(&messages), &signatures), "a changed s");
        let (_, good) = signed(&key, 64);
        let other = SigningKey::from_bytes(&[43; 32]);
        let mut foreign = good.clone();
        foreign[3] = other.sign(&messages[3]);
        assert!(!verify(&key.verifying_key(), &refs(&messages), &foreign), "another key's signature");
        assert!(!verify(&other.verifying_key(), &refs(&messages), &good), "checked against another key");
    }

    #[test]
    fn a_non_canonical_s_fails_even_when_it_would_reduce_to_a_valid_one() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let (messages, mut signatures) = signed(&key, 4);
        // s + ℓ is the same scalar mod ℓ but not the canonical encoding: strict verifiers refuse it.
        let mut bytes = signatures[1].to_bytes();
        let s = Scalar::from_canonical_bytes(bytes[32..].try_into().unwrap()).unwrap();
        let ell_bytes = (Scalar::ZERO - Scalar::ONE).to_bytes(); // ℓ − 1
        let mut carry = 1u16; // s + (ℓ − 1) + 1 = s + ℓ, little-endian
        for i in 0..32 {
            let sum = s.to_bytes()[i] as u16 + ell_bytes[i] as u16 + carry;
            bytes[32 + i] = sum as u8;
            carry = sum >> 8;
        }
        signatures[1] = Signature::from_bytes(&bytes);
        assert!(!verify(&key.verifying_key(), &refs(&messages), &signatures));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn agrees_with_ed25519_dalek(seed in any::<[u8; 32]>(), n in 1usize..40, broken in proptest::option::of(0usize..40)) {
            let key = SigningKey::from_bytes(&seed);
            let (mut messages, signatures) = signed(&key, n);
            if let Some(i) = broken.filter(|i| *i < n) {
                messages[i] = b"not what was signed".to_vec();
            }
            let keys = vec![key.verifying_key(); n];
            let theirs = ed25519_dalek::verify_batch(&refs(&messages), &signatures, &keys).is_ok();
            prop_assert_eq!(verify(&key.verifying_key(), &refs(&messages), &signatures), theirs);
        }
    }
}
