//! The embedded PostgreSQL depends on nothing in the caller's environment: `PG*` variables that point at another
//! server (common on machines that run one) change neither the server notch starts nor where notch connects.

mod common;

use common::*;

/// What a machine with another PostgreSQL might have set, every value wrong for the embedded cluster.
const FOREIGN_PG_ENVIRONMENT: [(&str, &str); 6] = [
    ("PGPORT", "6543"),
    ("PGHOST", "/nonexistent-pg-socket-dir"),
    ("PGUSER", "someone_else"),
    ("PGDATABASE", "another_database"),
    ("PGOPTIONS", "-c statement_timeout=1"),
    ("PGDATA", "/nonexistent-pg-data"),
];

#[tokio::test]
async fn notch_serves_audits_and_benches_with_a_foreign_pg_environment() {
    let dir = data_dir();
    let serving = Serving::start_with(dir.path(), &FOREIGN_PG_ENVIRONMENT).await;
    let (status, health) = serving.get("/health").await;
    assert_eq!((status, health["database"].as_str()), (200, Some("up")), "{health}");
    drop(serving);

    let run = |args: &[&str]| {
        std::process::Command::new(NOTCH)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .env("NOTCH_LOG", "warn")
            .envs(FOREIGN_PG_ENVIRONMENT)
            .output()
            .unwrap()
    };
    let audit = run(&["audit"]);
    assert!(audit.status.success(), "audit: {}", String::from_utf8_lossy(&audit.stderr));
    let bench = run(&["bench", "append", "--clients", "2", "--events", "200", "--json"]);
    assert!(bench.status.success(), "bench append: {}", String::from_utf8_lossy(&bench.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert!(figures["events_per_s"].as_f64().unwrap() > 0.0, "{figures}");
}
