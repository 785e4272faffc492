//! The site ledger's command side: load an aggregate's stream, replay, decide with the pure domain, append
//! with `Expected::Exact`. Used by the HTTP adapter (users) and by `notch admin` / `notch lift` (operator).

pub mod admin;
pub mod lift_commit;
pub mod lift_graph;
pub mod lifts;
pub mod locks;
pub mod log;
pub mod seed;
pub mod streams;
pub mod tallies;

pub use log::{AppError, AppResult};
