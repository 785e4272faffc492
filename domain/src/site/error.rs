//! The one refusal type of the site context. Messages are safe to show to the caller: a refused ticket
//! says only "invalid ticket", never which check failed.

use crate::crypto::CryptoError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiteError {
    #[error("site is not initialised")]
    SiteMissing,
    #[error("site is already initialised")]
    SiteExists,
    #[error("site is locked")]
    SiteLocked,
    #[error("invalid value: {0}")]
    Invalid(String),
    #[error("unknown config key {0}")]
    UnknownConfigKey(String),
    #[error("user not found")]
    UserMissing,
    #[error("user already exists")]
    UserExists,
    #[error("user is {0}")]
    UserNotActive(&'static str),
    #[error("device key already registered")]
    KeyExists,
    #[error("invalid ticket")]
    TicketInvalid,
    #[error("ticket already issued")]
    TicketExists,
    #[error("tally not found")]
    TallyMissing,
    #[error("tally already exists")]
    TallyExists,
    #[error("tally is {0}, which does not allow this")]
    TallyState(&'static str),
    #[error("not a party of this tally")]
    NotParty,
    #[error("signature refused: {0}")]
    Signature(#[from] CryptoError),
    #[error("chit refused: {0}")]
    Chit(String),
    #[error("chit would exceed the credit limit")]
    OverLimit,
    #[error("request replayed")]
    Replayed,
    #[error("the request's timestamp is {skew_s} s from the service's clock, outside the window of ±300 s; check the device's clock")]
    StaleRequest { skew_s: i64 },
    #[error("lift refused: {0}")]
    Lift(String),
}

pub type SiteResult<T> = Result<T, SiteError>;
