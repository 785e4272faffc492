#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MamError {
    #[error("message is malformed: {0}")]
    Malformed(&'static str),
    #[error("message belongs to another channel")]
    ForeignChannel,
    #[error("signature does not verify")]
    BadSignature,
    #[error("expected message {expected}, got {got}")]
    OutOfOrder { expected: u64, got: u64 },
    #[error("expected epoch {expected}, got {got}")]
    WrongEpoch { expected: u32, got: u32 },
    #[error("message is not at the address its index has under the side key")]
    WrongAddress,
    #[error("payload does not decrypt under the side key")]
    Decrypt,
    #[error("the key rotation carries no key for this provider: access was withdrawn")]
    Revoked,
    #[error("key wrapping failed: {0}")]
    Hpke(String),
}
