//! The site-to-site link over TCP (docs/federation.md): the peer server and the dialer around the pure
//! `peers` crate (frames, keys, Noise). Each connection is bounded in frame size, handshake time and idle time;
//! the server bounds handshakes, connections per address, and cools off addresses that fail. Nothing here
//! knows tallies or chits: the business comes in through [`PeerHandler`].

mod admission;
mod connection;
mod dial;
mod handler;
mod identity;
mod limits;
mod link;
mod refusal;
mod respond;
mod server;
mod status;
mod wire;

pub use connection::Direction;
pub use dial::{dial, Dialed};
pub use handler::{PeerHandler, TicketClaim};
pub use identity::{noise_key_of, PeerAddress, SiteIdentity};
pub use limits::PeerLimits;
pub use link::{PeerLink, SendError};
pub use refusal::Refusal;
pub use server::PeerServer;
pub use status::{ConnectionStatus, PeerCounters, PeerStatus};
