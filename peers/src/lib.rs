//! The site-to-site link of the credit network, as MyCHIPs puts it on the wire (docs/federation.md): frames of
//! one header byte and a Noise message or transport ciphertext, sites named by their agent id, and the X25519
//! static keys Noise uses, made from the sites' Ed25519 keys; the handshakes and the transport in MyCHIPs'
//! orientation (`noise`).
//!
//! Pure: bytes in, bytes out; the sockets, timers and bounds on connections are the peer server's.

mod frame;
mod keys;
pub mod noise;

pub use frame::{Frame, FrameDecoder, FrameError, Header, DEFAULT_MAX_BODY_BYTES, LENGTH_BYTES, MAX_BODY_BYTES};
pub use keys::{agent_id, noise_public_key, noise_secret_key, parse_agent_id, KeyError};
