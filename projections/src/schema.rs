//! The database notch runs on: the log's migrations and every context's view migrations
//! (`projections/migrations/<context>/`, embedded at compile time).

mod view_migrations {
    refinery::embed_migrations!("migrations");
}

/// The log and all the views. `site_tally_streams` shipped as V103, below the released V302 and V400, so no
/// database of an earlier release could apply it; it is V501 now.
pub fn schema() -> events::Schema {
    events::Schema::log()
        .with(view_migrations::migrations::runner().get_migrations())
        .renumbered("site_tally_streams", 103)
}
