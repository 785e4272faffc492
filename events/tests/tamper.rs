//! Tampering done as a superuser with the triggers disabled: every kind is caught by the audit, which names the
//! position. And the service role itself cannot change the log at all.

use ed25519_dalek::SigningKey;
use events::audit::{audit, AuditError, AuditFailure};
use events::database::connect;
use events::testkit::{test_db, TestDb};
use events::{Expected, Hash, NewEvent, RecordedEvent, SignedEvent};
use serde_json::json;

const EVENTS: i64 = 60;

/// A log of `EVENTS` events after genesis, in several streams and several commits.
async fn populated(label: &str) -> TestDb {
    let db = test_db(label).await;
    for n in 0..EVENTS {
        let stream = format!("acct-{}", n % 4);
        db.store.append(&stream, Expected::Any, vec![NewEvent::new("Counted", &json!({ "n": n }))]).await.unwrap();
    }
    db
}

async fn audit_of(db: &TestDb) -> Result<(), AuditFailure> {
    match audit(&db.database.admin, db.key.verifying_key(), |_, _| {}).await {
        Ok(report) => {
            assert_eq!(report.events, EVENTS + 1);
            Ok(())
        }
        Err(AuditError::Failed(failure)) => Err(failure),
        Err(AuditError::Store(err)) => panic!("audit could not read the log: {err}"),
    }
}

/// A superuser session with the append-only triggers switched off, as an attacker with database access has.
async fn attacker(db: &TestDb) -> tokio_postgres::Client {
    let client = connect(&db.database.admin).await.unwrap();
    client.batch_execute("SET session_replication_role = replica").await.unwrap();
    client
}

async fn event_at(db: &TestDb, position: i64) -> RecordedEvent {
    db.store.read_all(position, 1).await.unwrap().remove(0)
}

#[tokio::test]
async fn an_untouched_log_passes() {
    let db = populated("untouched").await;
    audit_of(&db).await.unwrap();
}

#[tokio::test]
async fn a_changed_payload_is_named() {
    let db = populated("payload").await;
    attacker(&db)
        .await
        .execute("UPDATE events SET payload = '{\"n\": 1000000}' WHERE position = 17", &[])
        .await
        .unwrap();
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, 17, "{failure}");
}

#[tokio::test]
async fn a_changed_signature_is_named() {
    let db = populated("signature").await;
    let other = event_at(&db, 30).await.signature.to_bytes();
    attacker(&db)
        .await
        .execute("UPDATE events SET signature = $1 WHERE position = 23", &[&other.as_slice()])
        .await
        .unwrap();
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, 23, "{failure}");
}

#[tokio::test]
async fn a_deleted_row_is_named() {
    let db = populated("deleted").await;
    attacker(&db).await.execute("DELETE FROM events WHERE position = 31", &[]).await.unwrap();
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, 31, "{failure}");
    assert!(failure.problem.contains("missing"), "{failure}");
}

#[tokio::test]
async fn a_deleted_tail_is_named_by_its_seal() {
    let db = populated("tail").await;
    let last = EVENTS + 1;
    attacker(&db).await.execute("DELETE FROM events WHERE position = $1", &[&last]).await.unwrap();
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, last, "{failure}");
}

#[tokio::test]
async fn two_swapped_rows_are_named() {
    let db = populated("swapped").await;
    attacker(&db)
        .await
        .batch_execute(
            "UPDATE events SET position = 1000000 WHERE position = 40; \
             UPDATE events SET position = 40 WHERE position = 41; \
             UPDATE events SET position = 41 WHERE position = 1000000;",
        )
        .await
        .unwrap_or_else(|err| panic!("swap: {err}"));
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, 40, "{failure}");
}

/// Rewrites positions `from..` with `rewrite` applied to the first, recomputing every later hash (what an
/// attacker who understands the chain does).
async fn rewrite_chain(db: &TestDb, from: i64, rewrite: impl FnOnce(RecordedEvent) -> RecordedEvent) {
    let client = attacker(db).await;
    let mut prev: Hash = event_at(db, from - 1).await.hash;
    let tail = db.store.read_all(from, 1000).await.unwrap();
    let mut rewrite = Some(rewrite);
    for event in tail {
        let event = match rewrite.take() {
            Some(f) => f(event),
            None => event,
        };
        let event = SignedEvent {
            event_id: event.event_id,
            stream_id: event.stream_id,
            event_type: event.event_type,
            payload: event.payload,
            time: event.time,
            signer: event.signer,
            signature: event.signature,
        }
        .link(event.position, event.stream_version, prev);
        client
            .execute(
                "UPDATE events SET payload = $2, signer = $3, signature = $4, prev_hash = $5, hash = $6 WHERE position = $1",
                &[
                    &event.position,
                    &event.payload,
                    &event.signer.as_bytes().as_slice(),
                    &event.signature.to_bytes().as_slice(),
                    &event.prev_hash.0.as_slice(),
                    &event.hash.0.as_slice(),
                ],
            )
            .await
            .unwrap();
        prev = event.hash;
    }
}

#[tokio::test]
async fn an_event_re_signed_with_another_key_and_rechained_is_named() {
    let db = populated("resigned").await;
    let forger = SigningKey::generate(&mut rand::rngs::OsRng);
    rewrite_chain(&db, 25, |event| {
        let forged =
            NewEvent { event_id: event.event_id, event_type: event.event_type.clone(), payload: json!({ "n": -1 }) };
        let signed = SignedEvent::sign(&forger, &event.stream_id, forged, event.time);
        RecordedEvent { payload: signed.payload, signer: signed.signer, signature: signed.signature, ..event }
    })
    .await;
    let failure = audit_of(&db).await.unwrap_err();
    assert_eq!(failure.position, 25, "{failure}");
    assert!(failure.problem.contains("pinned"), "{failure}");
}

#[tokio::test]
async fn reordered_events_with_recomputed_hashes_are_caught_by_the_seals() {
    let db = populated("rechained").await;
    // Swap the contents of two signed events of different streams and rebuild the whole chain: every event is
    // still validly signed and every hash recomputes, but the node's seal no longer matches.
    let client = attacker(&db).await;
    client
        .batch_execute(
            "UPDATE events SET position = position + 1000000 WHERE position IN (20, 21); \
             UPDATE events SET position = 20 WHERE position = 1000021; \
             UPDATE events SET position = 21 WHERE position = 1000020;",
        )
        .await
        .unwrap();
    rewrite_chain(&db, 20, |event| event).await;
    let failure = audit_of(&db).await.unwrap_err();
    // Each append above was its own commit, so each position carries a seal: the first rewritten one is named.
    assert_eq!(failure.position, 20, "{failure}");
    assert!(failure.problem.contains("not the one the node sealed"), "{failure}");
}

#[tokio::test]
async fn the_service_role_cannot_change_the_log_and_triggers_stop_even_the_owner() {
    let db = populated("role").await;
    let service = connect(&db.database.service).await.unwrap();
    for statement in [
        "UPDATE events SET payload = '{}' WHERE position = 2",
        "DELETE FROM events WHERE position = 2",
        "TRUNCATE events",
        "DELETE FROM event_seals",
    ] {
        let err = service.batch_execute(statement).await.expect_err(statement);
        assert_eq!(err.code(), Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE), "{statement}: {err}");
    }
    let owner = connect(&db.database.admin).await.unwrap();
    let err = owner.batch_execute("UPDATE events SET payload = '{}' WHERE position = 2").await.unwrap_err();
    assert!(err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"), "{err:?}");
    let err = owner.batch_execute("TRUNCATE events CASCADE").await.unwrap_err();
    assert!(format!("{err:?}").contains("append-only"), "{err:?}");
    audit_of(&db).await.unwrap();
}
