//! The Tally aggregate (stream `tally-<uuid>`) with its chit chain, lift chits included. States: draft ->
//! offered -> open -> closing -> closed, or void. A tally opens only when both parties signed the same canonical
//! bytes: RFC 8785 JSON of [`TallyBody`], which holds no signatures.

mod body;
mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use body::{
    verify_side, PartyCertificate, Side, SignedTerms, TallyBody, TallySide, Terms, MAX_TEXT_BYTES, TALLY_PURPOSE,
};
pub use commands::{RegisteredKeys, TallyCommand};
pub use decide::lift_chit;
pub use events::TallyEvent;
pub use state::{TallyState, TallyStatus};

use uuid::Uuid;

use crate::Aggregate;

pub struct Tally;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "tally-";

impl Aggregate for Tally {
    type Id = Uuid;

    fn stream_id(tally_id: &Uuid) -> String {
        format!("{STREAM_PREFIX}{tally_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}

impl Tally {
    /// The tally whose stream `stream_id` is.
    pub fn tally_id(stream_id: &str) -> Option<Uuid> {
        stream_id.strip_prefix(STREAM_PREFIX)?.parse().ok()
    }
}
