//! Databases of every earlier release open with today's schema. refinery refuses a database whose history holds a
//! migration the schema lacks or holds with another checksum, and one that lacks a migration below its newest: so a
//! migration edited in place, renamed or dropped fails here, and so does a new one numbered below a released one.

use events::testkit::test_db_with;
use events::Schema;
use refinery::Migration;

/// Versions, names and checksums of the schema today. V501 is the migration first shipped as V103.
const RECORDED: &[(u32, &str, u64)] = &[
    (1, "event_log", 11797863037809741586),
    (2, "log_views", 7986522651822567916),
    (100, "site_views", 2226646291902207684),
    (101, "site_reports", 8821303950586395074),
    (102, "site_lift_graph", 14674507045908210615),
    (250, "mam_messages", 9868524245145244181),
    (300, "charging", 4482781962399476985),
    (301, "charging_reports", 1566902025381575924),
    (302, "events_rows_inline", 8013960794451632496),
    (400, "chain_guard", 11231123879128915266),
    (500, "stream_guard", 12473397163938023251),
    (501, "site_tally_streams", 6864155427740598321),
    (502, "provider_readings", 6651151743424066416),
];

fn today(versions: &[u32]) -> Vec<Migration> {
    let schema = projections::schema();
    schema.migrations().iter().filter(|m| versions.contains(&m.version())).cloned().collect()
}

/// What a release's history looked like, as its migrations.
fn release_ba84c1c() -> Vec<Migration> {
    today(&[1, 2, 100, 101, 102, 250, 300, 301, 302, 400])
}

fn release_c834c35() -> Vec<Migration> {
    let sql = include_str!("../migrations/site/V501__site_tally_streams.sql");
    let mut migrations = today(&[1, 2, 100, 101, 102, 250, 300, 301, 302, 400, 500]);
    migrations.push(Migration::unapplied("V103__site_tally_streams", sql).unwrap());
    migrations
}

async fn history(admin: &tokio_postgres::Config) -> Vec<(i32, String)> {
    let client = events::database::connect(admin).await.unwrap();
    let rows = client.query("SELECT version, name FROM refinery_schema_history ORDER BY version", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

#[test]
fn the_schema_keeps_every_recorded_migration() {
    let schema = projections::schema();
    let found: Vec<(u32, String)> = schema.migrations().iter().map(|m| (m.version(), m.name().to_owned())).collect();
    let recorded: Vec<(u32, String)> = RECORDED.iter().map(|(v, n, _)| (*v, (*n).to_owned())).collect();
    assert_eq!(found, recorded);
    for (migration, (_, _, checksum)) in schema.migrations().iter().zip(RECORDED) {
        let now = migration.checksum();
        assert_eq!(now, *checksum, "{migration} changed since it was released (its checksum is {now} now)");
    }
}

#[tokio::test]
async fn a_database_of_each_earlier_release_opens_with_todays_schema() {
    for (label, release) in [("release_ba84c1c", release_ba84c1c()), ("release_c834c35", release_c834c35())] {
        let db = test_db_with(label, &Schema::of(release)).await;
        events::database::migrate(&db.database.admin, &projections::schema())
            .await
            .unwrap_or_else(|err| panic!("{label}: {err:#}"));
        let versions: Vec<i32> = history(&db.database.admin).await.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, [1, 2, 100, 101, 102, 250, 300, 301, 302, 400, 500, 501, 502], "{label}");
        // And again: a restart finds nothing to do.
        events::database::migrate(&db.database.admin, &projections::schema()).await.unwrap();
    }
}
