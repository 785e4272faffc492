//! The one refusal type of the home context.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HomeError {
    /// The index is taken; the caller compares the bytes to tell a repeat from a conflict.
    #[error("message {index} is already stored")]
    AlreadyStored { index: u64 },
    #[error("message {got} arrived but the channel is at {expected}: earlier messages are missing")]
    Gap { expected: u64, got: u64 },
    #[error("message {index} is in epoch {got}; the channel is in epoch {expected}")]
    WrongEpoch { index: u64, expected: u32, got: u32 },
}
