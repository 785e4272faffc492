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
    renumbered: Vec<Renumbered>,
}

/// A migration that shipped under a lower version than one already released (so databases at that release could
/// never apply it: refinery refuses a missing version below the newest applied) and now carries a new one. A
/// database that applied it under the old version has its history row moved to the new version before refinery
/// runs; one that never applied it applies it under the new version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renumbered {
    pub name: &'static str,
    pub old_version: u32,
}

impl Schema {
    /// Only the log: events, seals, checkpoints and their guards.
    pub fn log() -> Schema {
        Schema { migrations: log_migrations::migrations::runner().get_migrations().clone(), renumbered: vec![] }
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
        Schema { migrations: self.migrations, renumbered: self.renumbered }
    }

    /// Exactly these migrations (a test's picture of an earlier release).
    pub fn of(mut migrations: Vec<Migration>) -> Schema {
        migrations.sort();
        Schema { migrations, renumbered: vec![] }
    }

    /// Records that the migration `name` was released once as `old_version` (see [`Renumbered`]).
    pub fn renumbered(mut self, name: &'static str, old_version: u32) -> Schema {
        assert!(self.migrations.iter().any(|m| m.name() == name), "no migration {name} to renumber");
        self.renumbered.push(Renumbered { name, old_version });
        self
    }

    /// The history rows to move before refinery runs: `(old version, name, new version, new checksum)`.
    pub(crate) fn renumberings(&self) -> Vec<(i32, &'static str, i32, String)> {
        self.renumbered
            .iter()
            .filter_map(|r| {
                let now = self.migrations.iter().find(|m| m.name() == r.name)?;
                Some((r.old_version as i32, r.name, now.version() as i32, now.checksum().to_string()))
            })
            .collect()
    }

    /// In version order.
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    pub(crate) fn runner(&self) -> Runner {
        Runner::new(&self.migrations)
    }
}
