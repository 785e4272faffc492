//! The Lift aggregate's state, folded from its events.

/// Whether the lift's stream holds its record yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiftState {
    pub committed: bool,
}
