//! The embedded cluster runs with the settings notch writes for it (`notch.conf`), also when a start adopts a
//! server that was running with older ones (it is reloaded).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use embedded_pg::{EmbeddedPostgres, SUPERUSER};
use events::database::connect;
use events::testkit::cluster_dir;
use tokio_postgres::Client;

/// What `notch.conf` sets that the append path's latency depends on (docs/benchmarks.md).
const EXPECTED: [(&str, &str); 4] = [
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "10min"),
    ("backend_flush_after", "256kB"),
    ("wal_init_zero", "off"),
];

/// Waits up to 5 s for the server to show `expected` (a reload is a signal: the server applies it within
/// moments, not before `pg_ctl reload` returns); the values it shows otherwise.
async fn settle(client: &Client, expected: &[(&str, &str)]) -> Result<(), Vec<(String, String)>> {
    let mut found = Vec::new();
    for _ in 0..50 {
        found.clear();
        for (name, _) in expected {
            let value: String = client.query_one(&format!("SHOW {name}"), &[]).await.unwrap().get(0);
            found.push((name.to_string(), value));
        }
        if found.iter().zip(expected).all(|((_, value), (_, wanted))| value == wanted) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(found)
}

#[tokio::test]
async fn the_embedded_cluster_runs_with_notchs_settings() {
    let cluster = tokio::task::spawn_blocking(|| EmbeddedPostgres::start(&cluster_dir(), true)).await.unwrap().unwrap();
    let client = connect(&cluster.config(SUPERUSER, "postgres")).await.unwrap();
    if let Err(found) = settle(&client, &EXPECTED).await {
        panic!("the embedded cluster's settings are {found:?}, expected {EXPECTED:?}");
    }
}

#[tokio::test]
async fn an_adopted_cluster_running_older_settings_is_reloaded() {
    let dir = tempfile::Builder::new().prefix("notch-settings-").tempdir().unwrap();
    // The embedded PostgreSQL runs as an unprivileged user, which must be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().to_path_buf();
    let first = tokio::task::spawn_blocking({
        let data_dir = data_dir.clone();
        move || EmbeddedPostgres::start(&data_dir, true)
    })
    .await
    .unwrap()
    .unwrap();
    let client = connect(&first.config(SUPERUSER, "postgres")).await.unwrap();

    // The server as an older notch left it: running, with wal_init_zero on.
    let conf = data_dir.join("pg").join("notch.conf");
    let current = std::fs::read_to_string(&conf).unwrap();
    let older = current.replace("wal_init_zero = off", "wal_init_zero = on");
    assert_ne!(older, current, "notch.conf sets wal_init_zero");
    std::fs::write(&conf, older).unwrap();
    client.execute("SELECT pg_reload_conf()", &[]).await.unwrap();
    settle(&client, &[("wal_init_zero", "on")]).await.expect("the older setting is in force");

    // A new notch process adopts the running server: it must run with today's settings.
    let second = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&data_dir, false)).await.unwrap().unwrap();
    let reloaded = settle(&client, &EXPECTED).await;

    drop(client);
    drop(first);
    // The last user stops the server.
    tokio::task::spawn_blocking(move || drop(second)).await.unwrap();
    if let Err(found) = reloaded {
        panic!("after adopting, the server shows {found:?}, expected {EXPECTED:?}");
    }
}
