//! The one refusal type of the federation context.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("{pending} messages to this site wait for its acknowledgement; at most {most} may")]
    TooManyPending { pending: usize, most: usize },
    #[error("a message to another site is a JSON object")]
    NotAnObject,
    #[error("the acknowledgement names message {through}, but only {sent} were sent")]
    AckBeyondSent { through: u64, sent: u64 },
    #[error("message {seq} arrived before message {expected}; it is taken after it")]
    OutOfOrder { seq: u64, expected: u64 },
}

pub type PeerResult<T> = Result<T, PeerError>;
