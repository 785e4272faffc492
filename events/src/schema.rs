//! The migrations a database is brought to: the log's own (`events/migrations`), then those of the views a caller
//! builds on the log (the projections crate adds its contexts'). One refinery runner applies them all in version
//! order, so a database made before the split keeps its history: names, versions and checksums are unchanged.

use refinery::{Migration, Runner};

mod log_migrations {
    refinery::embed_migrations!("migrations");
}

/// An ordered set of migrations with distinct versions. A database is always opened with the same schema: refinery
/// refuses one whose history holds a migration the schema lacks, or lacks one below its newest (so the service,
/// its CLI and its tests above the log all open `projections::schema()`; only the log's own tests use
/// [`Schema::log`] alone, on databases of their own).
#[derive(Clone)]
pub struct Schema {
    migrations: Vec<Migration>,
}

impl Schema {
    /// Only the log: events, seals, checkpoints and their guards.
    pub fn log() -> Schema {
        Schema { migrations: log_migrations::migrations::runner().get_migrations().clone() }
    }

    /// This schema and `more` (another crate's embedded migrations).
    pub fn with(mut self, more: &[Migration]) -> Schema {
        self.migrations.extend_from_slice(more);
        self.migrations.sort();
        for pair in self.migrations.windows(2) {
            assert_ne!(
                pair[0].version(),
                pair[1].version(),
                "two migrations share a version: {} and {}",
                pair[0],
                pair[1]
            );
        }
        Schema { migrations: self.migrations }
    }

    /// In version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    pub(crate) fn runner(&self) -> Runner {
        Runner::new(&self.migrations)
    }
}
