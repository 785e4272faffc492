//! MAM: a channel of signed, encrypted messages whose addresses only key holders can compute.
//!
//! Pure cryptography, no IO: the device seals with [`Channel`], the ledger stores
//! [`SealedMessage`]s by address, a provider reads with [`Reader`] after receiving a [`Grant`].
//! Every random byte comes from the caller's `RngCore + CryptoRng`. The exact byte constructions
//! are in docs/home.md.

mod batch;
mod channel;
mod error;
mod grant;
mod keys;
mod message;
mod reader;
mod rotation;

pub use batch::ChannelKey;
pub use channel::{Channel, ChannelState};
pub use error::MamError;
pub use grant::Grant;
pub use keys::{Address, ProviderKeyPair, ProviderPublicKey, SideKey};
pub use message::{Envelope, Kind, SealedMessage, HEADER_LEN};
pub use reader::{Opened, Reader, Walk};
