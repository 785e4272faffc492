//! The Site aggregate (stream `site`): identity, site key, configuration defaults and lockdown.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::SiteCommand;
pub use events::SiteEvent;
pub use state::{SiteIdentity, SiteState};

use crate::site::error::{SiteError, SiteResult};
use crate::Aggregate;

use decide::check_identity;

pub struct Site;

impl Site {
    /// Whether `InitSite` with `identity` would be accepted, before anything (such as a key file) is written.
    pub fn check_init(state: &SiteState, identity: &SiteIdentity) -> SiteResult<()> {
        if state.site.is_some() {
            return Err(SiteError::SiteExists);
        }
        check_identity(identity)
    }
}

/// The one stream of this aggregate.
const STREAM: &str = "site";

impl Aggregate for Site {
    /// A node runs one site.
    type Id = ();

    fn stream_id(_: &()) -> String {
        STREAM.to_owned()
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id == STREAM
    }
}
