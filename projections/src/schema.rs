//! The database notch runs on: the log's migrations and every context's view migrations
//! (`projections/migrations/<context>/`, embedded at compile time).

mod view_migrations {
    refinery::embed_migrations!("migrations");
}

/// The log and all the views.
pub fn schema() -> events::Schema {
    events::Schema::log().with(view_migrations::migrations::runner().get_migrations())
}
