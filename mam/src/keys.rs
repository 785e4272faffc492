//! Side keys, the keys derived from them, addresses, and the providers' X25519 key pairs.

use blake2::digest::consts::U32;
use blake2::digest::Mac;
use blake2::Blake2bMac;
use hpke::{Deserializable, Kem as _, Serializable};
use rand_core::{CryptoRng, RngCore};

pub(crate) type HpkeKem = hpke::kem::X25519HkdfSha256;

/// BLAKE2b personalisations (16 bytes each) that keep the two uses of a side key apart.
const ADDRESS_PERSONAL: &[u8; 16] = b"notchmam-address";
const ENCRYPT_PERSONAL: &[u8; 16] = b"notchmam-encrypt";

/// Where a message lives in the ledger; 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// The all-zero address a KEY_ROTATION message puts in its next-address field: the next
    /// message lives at an address under the new key, which the header must not reveal.
    pub const UNDER_NEW_KEY: Address = Address([0; 32]);

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl std::fmt::Debug for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Address({})", self.to_hex())
    }
}

/// The symmetric key of one epoch of a channel; 32 random bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SideKey(pub(crate) [u8; 32]);

impl SideKey {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> SideKey {
        let mut key = [0u8; 32];
        rng.fill_bytes(&mut key);
        SideKey(key)
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SideKey {
        SideKey(bytes)
    }

    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    fn mac(&self, personal: &[u8; 16]) -> Blake2bMac<U32> {
        Blake2bMac::<U32>::new_with_salt_and_personal(&self.0, &[], personal)
            .expect("a 32-byte key and 16-byte personalisation are valid for BLAKE2b")
    }

    /// BLAKE2b-256, keyed with the side key, personal `notchmam-address`, over
    /// `channel public key (32) || index (u64 big-endian)`.
    pub fn address(&self, channel: &[u8; 32], index: u64) -> Address {
        let mut mac = self.mac(ADDRESS_PERSONAL);
        mac.update(channel);
        mac.update(&index.to_be_bytes());
        Address(mac.finalize().into_bytes().into())
    }

    /// The XChaCha20-Poly1305 key: BLAKE2b-256, keyed with the side key, personal
    /// `notchmam-encrypt`, over `channel public key (32) || epoch (u32 big-endian)`.
    pub(crate) fn encryption_key(&self, channel: &[u8; 32], epoch: u32) -> [u8; 32] {
        let mut mac = self.mac(ENCRYPT_PERSONAL);
        mac.update(channel);
        mac.update(&epoch.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl std::fmt::Debug for SideKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SideKey(..)")
    }
}

/// A provider's X25519 public key, to which side keys are wrapped.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProviderPublicKey(pub [u8; 32]);

impl ProviderPublicKey {
    pub(crate) fn hpke(&self) -> Result<<HpkeKem as hpke::Kem>::PublicKey, crate::MamError> {
        <HpkeKem as hpke::Kem>::PublicKey::from_bytes(&self.0).map_err(|e| crate::MamError::Hpke(e.to_string()))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The key from its hex form (as provider cards and `notch-p1 channel grant` carry it).
    pub fn from_hex(text: &str) -> Result<ProviderPublicKey, crate::MamError> {
        let bytes = hex::decode(text).ok().and_then(|b| b.try_into().ok());
        bytes.map(ProviderPublicKey).ok_or(crate::MamError::Malformed("a provider key is 32 bytes of hex"))
    }
}

impl std::fmt::Debug for ProviderPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProviderPublicKey({})", self.to_hex())
    }
}

/// A provider's X25519 key pair.
#[derive(Clone)]
pub struct ProviderKeyPair {
    pub(crate) secret: <HpkeKem as hpke::Kem>::PrivateKey,
    pub public: ProviderPublicKey,
}

impl ProviderKeyPair {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> ProviderKeyPair {
        let (secret, public) = HpkeKem::gen_keypair(rng);
        ProviderKeyPair { secret, public: ProviderPublicKey(public.to_bytes().into()) }
    }

    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Result<ProviderKeyPair, crate::MamError> {
        let secret =
            <HpkeKem as hpke::Kem>::PrivateKey::from_bytes(bytes).map_err(|e| crate::MamError::Hpke(e.to_string()))?;
        let public = HpkeKem::sk_to_pk(&secret);
        Ok(ProviderKeyPair { secret, public: ProviderPublicKey(public.to_bytes().into()) })
    }

    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.to_bytes().into()
    }
}
