//! `notch bench peer` runs its three measurements on both implementations on a small scale and reports every
//! key (the figures themselves are the benchmark's, never a test's).

mod common;

use common::*;

#[test]
fn a_short_run_reports_notch_and_noise_protocol_figures() {
    let bench = std::process::Command::new(NOTCH)
        .args(["bench", "peer", "--seconds", "0.3", "--concurrency", "4", "--json"])
        .output()
        .unwrap();
    assert!(bench.status.success(), "{}", String::from_utf8_lossy(&bench.stderr));
    assert!(bench.stderr.is_empty(), "quiet: {}", String::from_utf8_lossy(&bench.stderr));
    let figures: serde_json::Value = serde_json::from_slice(&bench.stdout).unwrap();
    for key in ["handshakes_per_s", "messages_per_s", "echoed_per_s"] {
        for key in [key.to_owned(), format!("js_{key}")] {
            assert!(figures[&key].as_f64().is_some_and(|rate| rate > 0.0), "{key} in {figures}");
        }
    }
    assert_eq!(figures["message_bytes"], 1024);
}
