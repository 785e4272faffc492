//! The provider's list of registration authorities whose certificates it accepts.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::TrustListCommand;
pub use events::TrustListEvent;
pub use state::TrustListState;

use crate::Aggregate;

pub struct TrustList;

/// The one stream of this aggregate.
const STREAM: &str = "charging-provider-trust";

impl Aggregate for TrustList {
    /// A provider keeps one list.
    type Id = ();

    fn stream_id(_: &()) -> String {
        STREAM.to_owned()
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id == STREAM
    }
}
