//! The migrations keep the history databases already recorded: refinery refuses to open a database whose
//! `refinery_schema_history` names a migration the schema lacks or holds with another checksum. These are the
//! versions, names and checksums every database migrated before the migrations moved out of `sql/migrations`
//! recorded (they moved unchanged); a migration edited in place, renamed or dropped fails here first.

const RECORDED: &[(u32, &str, u64)] = &[
    (1, "event_log", 11797863037809741586),
    (2, "log_views", 7986522651822567916),
    (100, "site_views", 2226646291902207684),
    (101, "site_reports", 8821303950586395074),
    (102, "site_lift_graph", 14674507045908210615),
    (103, "site_tally_streams", 15045888366058764481),
    (250, "mam_messages", 9868524245145244181),
    (300, "charging", 4482781962399476985),
    (301, "charging_reports", 1566902025381575924),
    (302, "events_rows_inline", 8013960794451632496),
    (400, "chain_guard", 11231123879128915266),
    (500, "stream_guard", 12473397163938023251),
];

#[test]
fn the_schema_keeps_every_recorded_migration() {
    let schema = projections::schema();
    let mut found: Vec<(u32, String, u64)> =
        schema.migrations().iter().map(|m| (m.version(), m.name().to_owned(), m.checksum())).collect();
    found.truncate(RECORDED.len());
    let recorded: Vec<(u32, String, u64)> = RECORDED.iter().map(|(v, n, c)| (*v, (*n).to_owned(), *c)).collect();
    assert_eq!(found, recorded);
}
