//! `notch serve` end to end: zero-config start, the HTTP API, its errors, and a graceful stop.

mod common;

use common::*;
use events::NewEvent;
use serde_json::json;

#[tokio::test]
async fn the_http_api_serves_the_log_and_refuses_bad_appends_without_writing() {
    let dir = data_dir();
    let mut serving = Serving::start(dir.path()).await;
    let key = node_key(dir.path());

    let (status, health) = serving.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["database"], "up");
    assert_eq!(health["node_public_key"], hex::encode(key.verifying_key().as_bytes()));
    assert_eq!(health["head_position"], 1, "just the genesis event");

    let (body, signed) =
        append_body(&key, "acct 1/ü", json!("no_stream"), vec![NewEvent::new("Opened", &json!({ "units_milli": 5 }))]);
    let (status, appended) = serving.post("/streams/acct%201%2F%C3%BC", body).await;
    assert_eq!(
        (status, appended["first_position"].as_i64(), appended["stream_version"].as_i64()),
        (201, Some(2), Some(1))
    );

    // Refusals: each a clear 4xx with a stable code, and nothing written.
    let (status, error) = serving.post("/streams/acct-2", "{\"expected\": \"any\", \"events\": [".into()).await;
    assert_eq!((status, error["code"].as_str()), (400, Some("malformed_json")), "{error}");

    let (mut body, _) = append_body(&key, "acct-2", json!("any"), vec![NewEvent::new("Opened", &json!({ "n": 1 }))]);
    body = body.replace("\"n\":1", "\"n\":2");
    let (status, error) = serving.post("/streams/acct-2", body).await;
    assert_eq!((status, error["code"].as_str()), (401, Some("bad_signature")), "{error}");

    let (body, _) = append_body(&key, "acct 1/ü", json!(7), vec![NewEvent::new("Moved", &json!({}))]);
    let (status, error) = serving.post("/streams/acct%201%2F%C3%BC", body).await;
    assert_eq!((status, error["code"].as_str()), (409, Some("wrong_expected_version")), "{error}");
    assert!(error["message"].as_str().unwrap().contains("is at version 1"), "{error}");

    let stranger = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let (body, _) = append_body(&stranger, "acct-3", json!("any"), vec![NewEvent::new("Opened", &json!({}))]);
    let (status, error) = serving.post("/streams/acct-3", body).await;
    assert_eq!((status, error["code"].as_str()), (403, Some("untrusted_signer")), "{error}");

    let (status, feed) = serving.get("/events?from=1&limit=50").await;
    assert_eq!(status, 200);
    let events = feed["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "genesis and the one good append: {feed}");
    assert_eq!(events[1]["event_id"], json!(signed[0].event_id));
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);

    let (status, stream) = serving.get("/streams/acct%201%2F%C3%BC?from=1").await;
    assert_eq!((status, stream["last_version"].as_i64()), (200, Some(1)));
    let (status, error) = serving.get("/streams/nothing-here").await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));
    let (status, error) = serving.get("/events?from=abc").await;
    assert_eq!((status, error["code"].as_str()), (400, Some("bad_query")));
    let (status, error) = serving.get("/no/such/route").await;
    assert_eq!((status, error["code"].as_str()), (404, Some("not_found")));

    // A graceful stop also stops the embedded PostgreSQL it started.
    assert!(postmaster_pid(dir.path()).is_some());
    let status = serving.terminate();
    assert!(status.success(), "{status:?}");
    assert!(postmaster_pid(dir.path()).is_none(), "the embedded PostgreSQL was stopped");

    // The log it left behind verifies.
    let audit = notch(&["audit"], dir.path());
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
    assert!(String::from_utf8_lossy(&audit.stdout).contains("audit passed: 2 events"));
}

#[tokio::test]
async fn a_tampered_log_fails_the_audit_command_naming_the_position() {
    let dir = data_dir();
    let serving = Serving::start(dir.path()).await;
    let key = node_key(dir.path());
    for n in 0..5 {
        let (body, _) = append_body(&key, "s", json!("any"), vec![NewEvent::new("Counted", &json!({ "n": n }))]);
        assert_eq!(serving.post("/streams/s", body).await.0, 201);
    }
    let attacker = superuser(dir.path()).await;
    attacker
        .batch_execute(
            "SET session_replication_role = replica; UPDATE events SET payload = '{\"n\": 99}' WHERE position = 4",
        )
        .await
        .unwrap();
    let audit = notch(&["audit"], dir.path());
    assert_eq!(audit.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&audit.stderr);
    assert!(stderr.contains("audit FAILED at position 4"), "{stderr}");
}
