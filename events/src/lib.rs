//! The signed, hash-chained event log on PostgreSQL. Generic: it knows streams and events, never tallies or
//! devices. See ARCHITECTURE.md for the byte constructions and the invariants this crate keeps.

pub mod audit;
pub mod database;
pub mod envelope;
pub mod node;
pub mod node_key;
pub mod one_key_batch;
pub mod schema;
pub mod seal;
pub mod store;
pub mod testkit;

pub use envelope::{Hash, NewEvent, RecordedEvent, SignedEvent};
pub use schema::Schema;
pub use store::{
    AppendError, Appended, AppendedStreams, Expected, SignedAppend, Store, StoreError, StoreOptions, StreamAppend,
    Subscription, MAX_STREAMS_PER_APPEND,
};
