//! The User aggregate (stream `user-<cid>`): a CID unique on the site, name, contact data, status and the
//! device keys the user signs commands with.

mod commands;
mod decide;
mod events;
mod state;
#[cfg(test)]
mod tests;

pub use commands::UserCommand;
pub use decide::{check_cid, MAX_DEVICE_KEYS};
pub use events::UserEvent;
pub use state::{Contact, UserState, UserStatus};

use crate::Aggregate;

pub struct User;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "user-";

impl Aggregate for User {
    /// A user is named by its CID.
    type Id = str;

    fn stream_id(cid: &str) -> String {
        format!("{STREAM_PREFIX}{cid}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
