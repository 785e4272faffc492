//! The log's old layout for lifts: before each tally's lift chits went into the tally's own stream, a lift
//! appended its record and all its chits to one shared stream, `lifts`, so a tally's chain was spread over two
//! streams. An upgrade adopts those chits once: for each tally concerned, the chain state they and the tally's
//! own events give, folded in log order, becomes a `TallyRebased` event in the tally's stream. From then on a
//! tally's stream alone is its whole state. Nothing is moved or rewritten: the old events stay where the chain
//! put them, and the audit verifies them as before.

use chrono::{DateTime, Utc};

use super::tally::{Tally, TallyCommand, TallyEvent};
use crate::Decider;

/// The stream where the old layout kept every lift's record and chits.
pub const LEGACY_LIFTS_STREAM: &str = "lifts";

/// The rebase of a tally from its own events and its old-layout lift chits, each with its log position; `None`
/// when there is no old-layout chit to adopt.
pub fn rebase(own: &[(i64, TallyEvent)], lifted: &[(i64, TallyEvent)], at: DateTime<Utc>) -> Option<TallyCommand> {
    let through_position = lifted.iter().map(|(position, _)| *position).max()?;
    let mut merged: Vec<&(i64, TallyEvent)> = own.iter().chain(lifted).collect();
    merged.sort_by_key(|(position, _)| *position);
    let state = merged.into_iter().fold(Default::default(), |state, (_, event)| Tally::evolve(state, event));
    Some(TallyCommand::RebaseTally {
        balance_milli: state.balance_milli,
        chit_count: state.chit_count,
        head_hash: state.head_hash,
        legacy_chits: lifted.len() as u64,
        through_position,
        at,
    })
}
