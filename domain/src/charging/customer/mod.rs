//! The registration authority: one aggregate per user relationship, stream `charging-user-<uid>`.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::{CertificateRequestCommand, CustomerCommand, ProviderIdTag, RevokeCertificateCommand};
pub use decide::{MAX_ID_TAG_CHARS, MAX_REASON_CHARS};
pub use events::CustomerEvent;
pub use state::{CertificateStatus, CustomerState, Relationship, Trust};

use crate::charging::crypto::Uid;
use crate::Aggregate;

pub struct Customer;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "charging-user-";

impl Aggregate for Customer {
    /// One aggregate per user relationship, named by the user's uid.
    type Id = Uid;

    fn stream_id(uid: &Uid) -> String {
        format!("{STREAM_PREFIX}{uid}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
