//! Committing a lift: a cycle of open tallies in which every user pays the next one the same amount, so
//! no user's net position changes. The amount is the smallest hop capacity (or less, if asked).

mod commands;
mod decide;
mod events;
mod state;

pub use commands::CommitLift;
pub use decide::decide_lift;
pub use events::{LiftEvent, LiftHop};
pub use state::LiftState;

use crate::Aggregate;
use uuid::Uuid;

/// The Lift aggregate (stream `lift-<uuid>`): the record that authorises a lift's chits. [`decide_lift`] decides
/// it together with its tallies' chits, and one atomic append stores them all, each tally's chit in that tally's
/// own stream; a lift is committed once.
pub struct Lift;

/// Every stream of this aggregate starts with this, followed by its id.
const STREAM_PREFIX: &str = "lift-";

impl Aggregate for Lift {
    type Id = Uuid;

    fn stream_id(lift_id: &Uuid) -> String {
        format!("{STREAM_PREFIX}{lift_id}")
    }

    fn owns_stream(stream_id: &str) -> bool {
        stream_id.starts_with(STREAM_PREFIX)
    }
}
