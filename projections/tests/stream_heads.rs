//! The runner against real PostgreSQL: catch-up, exactly-once, and rebuild equal to live.

use events::{Expected, NewEvent, Store};
use projections::stream_heads::StreamHeads;
use projections::testkit::test_db;
use projections::{catch_up, rebuild};
use serde_json::json;

type Heads = Vec<(String, i64, i64, i64)>;

/// The rows of a query of (stream, version, count, last position).
async fn rows(store: &Store, sql: &str) -> Heads {
    let client = store.pool().get().await.unwrap();
    client.query(sql, &[]).await.unwrap().iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
}

/// What the projection holds.
async fn heads(store: &Store) -> Heads {
    rows(store, "SELECT stream_id, version, event_count, last_position FROM log_views.stream_heads ORDER BY stream_id")
        .await
}

/// The same view computed straight from the log.
async fn truth(store: &Store) -> Heads {
    rows(
        store,
        "SELECT stream_id, max(stream_version), count(*), max(position) FROM events GROUP BY stream_id ORDER BY stream_id",
    )
    .await
}

async fn append_many(store: &Store, from: usize, count: usize) {
    for n in from..from + count {
        let event = NewEvent::new("Counted", &json!({ "n": n }));
        store.append(&format!("s-{}", n % 7), Expected::Any, vec![event]).await.unwrap();
    }
}

#[tokio::test]
async fn catching_up_in_batches_matches_the_log_and_applies_nothing_twice() {
    let db = test_db("heads").await;
    append_many(&db.store, 0, 1200).await; // several runner batches
    let reached = catch_up(&db.store, &StreamHeads).await.unwrap();
    assert_eq!(reached, 1201);
    assert_eq!(heads(&db.store).await, truth(&db.store).await);
    // Running again applies nothing more.
    assert_eq!(catch_up(&db.store, &StreamHeads).await.unwrap(), 1201);
    assert_eq!(heads(&db.store).await, truth(&db.store).await);
    append_many(&db.store, 1200, 10).await;
    catch_up(&db.store, &StreamHeads).await.unwrap();
    assert_eq!(heads(&db.store).await, truth(&db.store).await);
}

#[tokio::test]
async fn a_rebuilt_projection_equals_the_live_one() {
    let db = test_db("rebuild").await;
    append_many(&db.store, 0, 300).await;
    catch_up(&db.store, &StreamHeads).await.unwrap();
    let live = heads(&db.store).await;
    assert_eq!(rebuild(&db.store, &StreamHeads).await.unwrap(), 301);
    assert_eq!(heads(&db.store).await, live);
}

#[tokio::test]
async fn the_live_runner_follows_new_events() {
    let db = test_db("live").await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(projections::run(db.store.clone(), std::sync::Arc::new(StreamHeads), stopped));
    append_many(&db.store, 0, 50).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while projections::runner::checkpoint(&db.store, "stream_heads").await.unwrap() < 51 {
        assert!(tokio::time::Instant::now() < deadline, "the runner keeps up");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(heads(&db.store).await, truth(&db.store).await);
    stop.send(true).unwrap();
    runner.await.unwrap();
}
