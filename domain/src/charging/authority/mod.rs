//! The registration authority: one aggregate per user relationship, stream `charging-user-<uid>`.

mod commands;
mod decide;
mod events;
mod state;

pub use commands::{CertificateRequestCommand, CustomerCommand, ProviderIdTag, RevokeCertificateCommand};
pub use decide::{Customer, CustomerError, MAX_ID_TAG_CHARS};
pub use events::CustomerEvent;
pub use state::{CertificateStatus, CustomerState, Relationship, Trust};
