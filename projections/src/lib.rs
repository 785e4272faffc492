//! Views built from the event log. The runner is generic; each bounded context adds its projections as modules.
//!
//! A projection applies a batch of events to its tables and advances its checkpoint in the same transaction,
//! holding the checkpoint row locked: every event takes effect exactly once, across crashes, and two runners of
//! the same projection (a service and a `rebuild` beside it) never interleave.

pub mod charging;
pub mod home;
pub mod runner;
mod schema;
pub mod site;
pub mod stream_heads;
pub mod testkit;
pub mod views;

use std::sync::Arc;

pub use runner::{catch_up, rebuild, run, status, ProjectionStatus};
pub use schema::schema;
pub use views::{ViewError, Views};

/// A view of the log.
#[async_trait::async_trait]
pub trait Projection: Send + Sync {
    /// Unique name; the key of its checkpoint.
    fn name(&self) -> &'static str;
    /// Empties the projection's tables (before a rebuild from position zero).
    async fn reset(&self, tx: &tokio_postgres::Transaction<'_>) -> anyhow::Result<()>;
    /// Applies `events` (consecutive positions, in order) inside `tx`.
    async fn apply(&self, tx: &tokio_postgres::Transaction<'_>, events: &[events::RecordedEvent])
        -> anyhow::Result<()>;
}

/// Every projection notch runs.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(stream_heads::StreamHeads),
        Arc::new(site::SiteViews),
        Arc::new(home::mam_messages::MamMessages),
        Arc::new(home::provider_readings::ProviderReadings),
        Arc::new(charging::ChargingViews),
    ]
}

/// The projection called `name`, if there is one.
pub fn by_name(name: &str) -> Option<Arc<dyn Projection>> {
    all().into_iter().find(|p| p.name() == name)
}
