//! The embedded cluster runs with the settings notch writes for it (`notch.conf`), also when it was already
//! running with older ones (adopted: reloaded).

use std::time::Duration;

use events::database::connect;
use events::embedded::{EmbeddedPostgres, SUPERUSER};
use events::testkit::cluster_dir;

/// What `notch.conf` sets that the append path's latency depends on (docs/benchmarks.md).
const EXPECTED: [(&str, &str); 4] = [
    ("max_wal_size", "4GB"),
    ("checkpoint_timeout", "10min"),
    ("backend_flush_after", "256kB"),
    ("wal_init_zero", "off"),
];

#[tokio::test]
async fn the_embedded_cluster_runs_with_notchs_settings() {
    let cluster = tokio::task::spawn_blocking(|| EmbeddedPostgres::start(&cluster_dir(), true)).await.unwrap().unwrap();
    let client = connect(&cluster.config(SUPERUSER, "postgres")).await.unwrap();
    // A reload is a signal: the server applies it within moments, not before `pg_ctl reload` returns.
    let mut found = Vec::new();
    for _ in 0..50 {
        found.clear();
        for (name, _) in EXPECTED {
            let value: String = client.query_one(&format!("SHOW {name}"), &[]).await.unwrap().get(0);
            found.push((name, value));
        }
        if found.iter().zip(EXPECTED).all(|((_, value), (_, expected))| value == expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the embedded cluster's settings are {found:?}, expected {EXPECTED:?}");
}
