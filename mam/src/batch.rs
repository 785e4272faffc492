//! Ed25519 batch verification of channel messages, on curve25519-dalek 5.
//!
//! The ledger checks every posted message's signature, and under load it checks them in batches of up to a few
//! hundred (`adapters::http::mam::signatures`). The batch equation is ed25519-dalek's `verify_batch`, the
//! cofactored one of RFC 8032: with random 128-bit `zᵢ` (a forged signature passes with probability about
//! 2⁻¹²⁸), `[8](−(Σzᵢsᵢ)·B + Σzᵢ·Rᵢ + Σ(zᵢkᵢ)·Aᵢ) = 0` where `kᵢ = SHA-512(Rᵢ ‖ Aᵢ ‖ Mᵢ) mod ℓ`, `sᵢ` must be
//! canonical and `Rᵢ` must decompress. It is written out here, not called from ed25519-dalek 2, for one reason:
//! curve25519-dalek 5 selects an AVX-512 IFMA multiscalar multiplication at run time when the CPU has it (built
//! with `curve25519_dalek_backend="avx512"`, see .cargo/config.toml), which took the multiplication from 3.8 to
//! 1.7 µs per point on this project's machine; ed25519-dalek 2's curve25519-dalek 4 has that backend only on
//! nightly Rust. On other CPUs the same code runs the AVX2 or portable backend. Tested against ed25519-dalek.

use curve25519_dalek_5::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek_5::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek_5::scalar::Scalar;
use curve25519_dalek_5::traits::{IsIdentity, VartimeMultiscalarMul};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha512};

/// A channel's public key, decoded once (decoding is a square root in the field) and known not to be weak.
#[derive(Clone, Copy, Debug)]
pub struct ChannelKey {
    bytes: [u8; 32],
    point: EdwardsPoint,
}

impl ChannelKey {
    /// `None` unless `bytes` is a curve point of more than small order: a weak key never passes the strict check.
    pub fn decode(bytes: &[u8; 32]) -> Option<ChannelKey> {
        let point = CompressedEdwardsY(*bytes).decompress()?;
        if point.is_small_order() {
            return None;
        }
        Some(ChannelKey { bytes: *bytes, point })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

/// One signature to check: the signed message as its parts (hashed in order, never copied together).
pub(crate) struct Signed<'a> {
    pub key: &'a ChannelKey,
    pub message: [&'a [u8]; 2],
    pub signature: &'a [u8; 64],
}

/// Whether every signature holds, by one batch equation (see the module).
pub(crate) fn verify(batch: &[Signed]) -> bool {
    let mut z_bytes = vec![0u8; 16 * batch.len()];
    OsRng.fill_bytes(&mut z_bytes);
    let mut scalars = Vec::with_capacity(1 + 2 * batch.len());
    let mut points = Vec::with_capacity(1 + 2 * batch.len());
    scalars.push(Scalar::ZERO);
    points.push(ED25519_BASEPOINT_POINT);
    let mut b_coefficient = Scalar::ZERO;
    for (signed, z) in batch.iter().zip(z_bytes.chunks_exact(16)) {
        let (r_bytes, s_bytes) = signed.signature.split_at(32);
        let s_bytes: [u8; 32] = s_bytes.try_into().expect("64 = 32 + 32");
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let Some(r) = CompressedEdwardsY(r_bytes.try_into().expect("32 bytes")).decompress() else {
            return false;
        };
        let mut hash = Sha512::new();
        hash.update(r_bytes);
        hash.update(signed.key.bytes);
        signed.message.iter().for_each(|part| hash.update(part));
        let k = Scalar::from_bytes_mod_order_wide(&hash.finalize().into());
        let z = Scalar::from(u128::from_le_bytes(z.try_into().expect("16 bytes")));
        b_coefficient -= z * s;
        scalars.push(z);
        points.push(r);
        scalars.push(z * k);
        points.push(signed.key.point);
    }
    scalars[0] = b_coefficient;
    EdwardsPoint::vartime_multiscalar_mul(scalars, points).mul_by_cofactor().is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    struct Case {
        keys: Vec<SigningKey>,
        messages: Vec<Vec<u8>>,
        signatures: Vec<[u8; 64]>,
    }

    fn case(n: u8) -> Case {
        let keys: Vec<SigningKey> = (0..n).map(|i| SigningKey::from_bytes(&[i + 1; 32])).collect();
        let messages: Vec<Vec<u8>> = (0..n).map(|i| vec![i; 100 + i as usize]).collect();
        let signatures = keys.iter().zip(&messages).map(|(k, m)| k.sign(m).to_bytes()).collect();
        Case { keys, messages, signatures }
    }

    fn check(case: &Case) -> (bool, bool) {
        let channel_keys: Vec<ChannelKey> =
            case.keys.iter().map(|k| ChannelKey::decode(k.verifying_key().as_bytes()).unwrap()).collect();
        let batch: Vec<Signed> = (0..case.keys.len())
            .map(|i| Signed {
                key: &channel_keys[i],
                // Split anywhere: the parts are hashed as one message.
                message: [
                    &case.messages[i][..i.min(case.messages[i].len())],
                    &case.messages[i][i.min(case.messages[i].len())..],
                ],
                signature: &case.signatures[i],
            })
            .collect();
        let verifying: Vec<_> = case.keys.iter().map(SigningKey::verifying_key).collect();
        let messages: Vec<&[u8]> = case.messages.iter().map(Vec::as_slice).collect();
        let signatures: Vec<ed25519_dalek::Signature> =
            case.signatures.iter().map(ed25519_dalek::Signature::from_bytes).collect();
        (verify(&batch), ed25519_dalek::verify_batch(&messages, &signatures, &verifying).is_ok())
    }

    #[test]
    fn agrees_with_ed25519_dalek_on_good_and_broken_batches() {
        let good = case(40);
        assert_eq!(check(&good), (true, true));

        let mut changed_message = case(40);
        changed_message.messages[17][3] ^= 1;
        assert_eq!(check(&changed_message), (false, false));

        let mut swapped = case(40);
        swapped.signatures.swap(3, 4);
        assert_eq!(check(&swapped), (false, false));

        let mut other_key = case(40);
        other_key.keys[9] = SigningKey::from_bytes(&[99; 32]);
        assert_eq!(check(&other_key), (false, false));

        let mut bad_s = case(40);
        bad_s.signatures[0][63] |= 0xf0; // s ≥ ℓ: not canonical
        assert_eq!(check(&bad_s), (false, false));

        let mut bad_r = case(40);
        bad_r.signatures[5][..32].copy_from_slice(&[0xff; 32]); // not a point
        assert_eq!(check(&bad_r), (false, false));

        assert_eq!(check(&case(1)), (true, true));
    }

    #[test]
    fn keys_decode_as_ed25519_dalek_accepts_them() {
        let identity = {
            let mut bytes = [0u8; 32];
            bytes[0] = 1;
            bytes
        };
        assert!(ChannelKey::decode(&identity).is_none(), "small order");
        let mut invalid = 0;
        for i in 0..=255u8 {
            let bytes = [i; 32];
            let dalek = ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok().filter(|k| !k.is_weak());
            invalid += usize::from(dalek.is_none());
            assert_eq!(ChannelKey::decode(&bytes).is_some(), dalek.is_some(), "{bytes:?}");
        }
        assert!(invalid > 0, "some patterns are not points");
        let key = SigningKey::from_bytes(&[5; 32]).verifying_key();
        assert_eq!(ChannelKey::decode(key.as_bytes()).unwrap().as_bytes(), key.as_bytes());
    }
}
