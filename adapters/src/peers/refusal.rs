//! Why a connection was refused or closed. Each kind is counted in the link's status; none sends an `A`.

use peers::noise::NoiseError;
use peers::{FrameError, Header};

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("the peer speaks MyCHIPs' unencrypted raw mode; notch speaks only encrypted Noise (IK, or N then KK)")]
    Raw,
    #[error("a {0:?} frame where the handshake does not allow it")]
    Unexpected(Header),
    #[error("{0}")]
    Noise(#[from] NoiseError),
    #[error("the payload is not a JSON object: {0}")]
    Payload(String),
    #[error("the IK static key is not the key of agent {claimed}, which the ticket request names")]
    KeyMismatch { claimed: String },
    #[error("bad agent id: {0}")]
    Agent(String),
    #[error("ticket refused: {0}")]
    Ticket(String),
    #[error("the handshake took longer than its bound")]
    HandshakeTimeout,
    #[error("the connection was idle longer than its bound")]
    Idle,
    #[error("too many {0} at once")]
    Busy(&'static str),
    #[error("this address failed too often and is cooling off")]
    CoolingOff,
    #[error("the peer closed the connection")]
    Closed,
    #[error("socket: {0}")]
    Io(#[from] std::io::Error),
}

impl Refusal {
    /// The counter this refusal goes to in `notch admin peer status`.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Frame(FrameError::TooLong { .. }) => "frame_too_long",
            Refusal::Frame(_) => "bad_frame",
            Refusal::Raw => "raw_mode",
            Refusal::Unexpected(_) => "unexpected_frame",
            Refusal::Noise(_) => "handshake_failed",
            Refusal::Payload(_) => "bad_payload",
            Refusal::KeyMismatch { .. } => "key_mismatch",
            Refusal::Agent(_) => "bad_agent",
            Refusal::Ticket(_) => "ticket_refused",
            Refusal::HandshakeTimeout => "handshake_timeout",
            Refusal::Idle => "idle",
            Refusal::Busy(_) => "busy",
            Refusal::CoolingOff => "cooling_off",
            Refusal::Closed => "closed",
            Refusal::Io(_) => "io",
        }
    }

    /// Whether the remote address is to blame (counts towards its cool-off); idling and closing are not failures.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Refusal::Idle | Refusal::Closed | Refusal::Busy(_) | Refusal::CoolingOff | Refusal::Io(_))
    }
}
