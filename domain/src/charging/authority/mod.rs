//! The registration authority: one aggregate per user relationship, stream `charging-user-<uid>`.

mod commands;
mod decide;
mod events;
mod state;

pub use commands::{AuthorityCommand, CertificateRequestCommand, ProviderIdTag, RevokeCertificateCommand};
pub use decide::{AuthorityDecider, AuthorityError, MAX_ID_TAG_CHARS};
pub use events::AuthorityEvent;
pub use state::{CertificateStatus, Relationship, Trust, UserState};
