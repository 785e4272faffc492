//! `notch bench consent` runs its whole dialogue on a small scale: every grant reaches its provider and every
//! revocation stops it (the figures themselves are the benchmark's, never a test's).

mod common;

use common::*;

#[test]
fn every_grant_and_every_revocation_of_a_small_run_is_measured() {
    let dir = data_dir();
    let bench =
        notch(&["bench", "consent", "--devices", "6", "--providers", "2", "--seconds", "2", "--json"], dir.path());
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    assert!(bench.stderr.is_empty(), "quiet: {}", String::from_utf8_lossy(&bench.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&bench.stdout).unwrap();
    assert_eq!((figures["grants"].as_u64(), figures["missing_grants"].as_u64()), (Some(6), Some(0)), "{figures}");
    assert_eq!((figures["revokes"].as_u64(), figures["missing_revokes"].as_u64()), (Some(6), Some(0)), "{figures}");
    assert!(figures["grant_p50_ms"].as_f64().is_some() && figures["revoke_p99_ms"].as_f64().is_some(), "{figures}");
}
