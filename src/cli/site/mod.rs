//! The site ledger's command groups: `admin`, `lift`, and `bench lifts`.

pub mod admin;
pub mod bench_lifts;
pub mod lift;
