//! The site ledger's command side: the operator's use cases (`admin.rs`), the users' (`tallies.rs`), and the
//! lift run (`lifts.rs`, `lift_commit.rs`, `lift_graph.rs`), all on the one command runner (`crate::command`).
//! `legacy.rs` upgrades a log written in the old lift layout.

pub mod admin;
pub mod legacy;
pub mod lift_commit;
pub mod lift_graph;
pub mod lifts;
pub mod peer_link;
pub mod seed;
pub mod tallies;

use domain::site::SiteError;

use crate::command::CommandError;

/// A site command that did not append: refused by the site's rules, or the log could not take it.
pub type AppError = CommandError<SiteError>;
pub type AppResult<T> = Result<T, AppError>;

impl From<SiteError> for CommandError<SiteError> {
    fn from(err: SiteError) -> Self {
        CommandError::Refused(err)
    }
}
