//! Who a site is on the link (docs/federation.md, "Identities"): its agent id is base64url without padding of its
//! Ed25519 site key (MyCHIPs' JWK `x`); its Noise static key is that key's X25519 form, made as libsodium's
//! `crypto_sign_ed25519_pk_to_curve25519` and `crypto_sign_ed25519_sk_to_curve25519` make it (the Edwards point's
//! Montgomery u-coordinate; the first half of SHA-512 of the seed, clamped), as MyCHIPs does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("an agent id is 43 characters of base64url (a 32-byte Ed25519 key): {0}")]
    NotAnAgentId(String),
}

/// The site's agent id.
pub fn agent_id(site: &VerifyingKey) -> String {
    URL_SAFE_NO_PAD.encode(site.as_bytes())
}

/// The site key an agent id names; refused unless it is a valid Ed25519 point.
pub fn parse_agent_id(agent: &str) -> Result<VerifyingKey, KeyError> {
    let bytes: [u8; 32] = URL_SAFE_NO_PAD
        .decode(agent)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| KeyError::NotAnAgentId(agent.to_owned()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| KeyError::NotAnAgentId(agent.to_owned()))
}

/// The site's X25519 public static key.
pub fn noise_public_key(site: &VerifyingKey) -> [u8; 32] {
    site.to_montgomery().to_bytes()
}

/// The site's X25519 secret static key (keep it as secret as the site key), clamped as libsodium returns it.
/// (ed25519-dalek's `to_scalar_bytes` is the hash half before clamping; X25519 clamps anyway, so both agree on
/// every shared secret, but the bytes are libsodium's only once clamped: the cross-check below found it.)
pub fn noise_secret_key(site: &SigningKey) -> [u8; 32] {
    let mut secret = site.to_scalar_bytes();
    secret[0] &= 248;
    secret[31] &= 127;
    secret[31] |= 64;
    secret
}

#[cfg(test)]
mod tests {
    use curve25519_dalek::MontgomeryPoint;

    use super::*;

    #[test]
    fn the_agent_id_is_the_keys_base64url_and_reads_back() {
        let site = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let agent = agent_id(&site);
        assert_eq!(agent.len(), 43);
        assert!(!agent.contains(['+', '/', '=']), "{agent}");
        assert_eq!(parse_agent_id(&agent), Ok(site));
        assert!(parse_agent_id("not-an-agent").is_err());
        assert!(parse_agent_id(&URL_SAFE_NO_PAD.encode([1u8; 31])).is_err());
    }

    #[test]
    fn the_noise_secret_and_public_keys_are_one_x25519_pair() {
        for seed in [[1u8; 32], [42; 32], [255; 32]] {
            let site = SigningKey::from_bytes(&seed);
            let public = MontgomeryPoint::mul_base_clamped(noise_secret_key(&site));
            assert_eq!(public.to_bytes(), noise_public_key(&site.verifying_key()));
        }
    }

    #[test]
    fn the_conversion_is_libsodiums() {
        // RFC 8032 test 1's key, and its X25519 form as libsodium gives it (PyNaCl 1.6.2:
        // nacl.bindings.crypto_sign_ed25519_pk_to_curve25519 and crypto_sign_ed25519_sk_to_curve25519 of
        // crypto_sign_seed_keypair(seed)).
        let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap()
            .try_into()
            .unwrap();
        let site = SigningKey::from_bytes(&seed);
        assert_eq!(
            hex::encode(site.verifying_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        assert_eq!(
            hex::encode(noise_public_key(&site.verifying_key())),
            LIBSODIUM_PUBLIC,
            "crypto_sign_ed25519_pk_to_curve25519"
        );
        assert_eq!(hex::encode(noise_secret_key(&site)), LIBSODIUM_SECRET, "crypto_sign_ed25519_sk_to_curve25519");
    }

    const LIBSODIUM_PUBLIC: &str = "d85e07ec22b0ad881537c2f44d662d1a143cf830c57aca4305d85c7a90f6b62e";
    const LIBSODIUM_SECRET: &str = "307c83864f2833cb427a2ef1c00a013cfdff2768d980c0a3a520f006904de94f";
}
