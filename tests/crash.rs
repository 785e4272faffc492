//! Crashes: notch killed with SIGKILL while appending (its PostgreSQL left orphaned, or killed too), and a
//! projection killed in the middle of a batch. Nothing acknowledged is lost, nothing is applied twice.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use events::NewEvent;
use serde_json::json;
use uuid::Uuid;

const APPENDERS: usize = 8;

/// Events acknowledged before the kill, at the least: a load that is real, yet leaves time to kill mid-run.
const ACKED_BEFORE_KILL: usize = 200;

/// Appends over HTTP from several tasks until `stop` is set; every acknowledged event id goes into `acked`.
async fn append_under_load(
    base: String,
    key: ed25519_dalek::SigningKey,
    acked: Arc<Mutex<HashSet<Uuid>>>,
    stop: Arc<AtomicBool>,
) {
    let tasks: Vec<_> = (0..APPENDERS)
        .map(|a| {
            let (base, key, acked, stop) = (base.clone(), key.clone(), acked.clone(), stop.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (body, signed) = append_body(
                        &key,
                        &format!("load-{a}"),
                        json!("any"),
                        vec![NewEvent::new("Loaded", &json!({ "n": n }))],
                    );
                    n += 1;
                    let sent = client.post(format!("{base}/streams/load-{a}")).body(body).send().await;
                    if matches!(sent, Ok(ref r) if r.status().as_u16() == 201) {
                        acked.lock().unwrap().insert(signed[0].event_id);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

async fn kill_under_load_and_restart(also_kill_postgres: bool) {
    let dir = data_dir();
    let mut serving = Serving::start(dir.path()).await;
    let key = node_key(dir.path());
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(append_under_load(serving.base.clone(), key, acked.clone(), stop.clone()));
    // Kill notch while the appenders are sending, once the load is real.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < ACKED_BEFORE_KILL {
        let seen = acked.lock().unwrap().len();
        assert!(Instant::now() < deadline, "only {seen} appends acknowledged in 60 s before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let postmaster = postmaster_pid(dir.path()).expect("the embedded PostgreSQL runs");
    serving.kill();
    if also_kill_postgres {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(postmaster), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    loader.await.unwrap();
    let acked = Arc::try_unwrap(acked).unwrap().into_inner().unwrap();

    let mut restarted = Serving::start(dir.path()).await;
    let mut stored = HashSet::new();
    for a in 0..APPENDERS {
        let (status, stream) = restarted.get(&format!("/streams/load-{a}?from=1")).await;
        assert_eq!(status, 200);
        stored.extend(
            stream["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["event_id"].as_str().unwrap().parse::<Uuid>().unwrap()),
        );
    }
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged appends lost, e.g. {:?}", lost.len(), lost.first());
    assert!(restarted.terminate().success());
    let audit = notch(&["audit"], dir.path());
    assert!(audit.status.success(), "{}", String::from_utf8_lossy(&audit.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_postgres_left_orphaned_loses_nothing_acknowledged() {
    kill_under_load_and_restart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_notch_and_postgres_loses_nothing_acknowledged() {
    kill_under_load_and_restart(true).await;
}

async fn checkpoint(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one("SELECT coalesce((SELECT position FROM projection_checkpoints WHERE name = 'stream_heads'), 0)", &[])
        .await
        .unwrap()
        .get(0)
}

async fn head(client: &tokio_postgres::Client) -> i64 {
    client.query_one("SELECT max(position) FROM events", &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_killed_in_the_middle_of_a_batch_applies_no_event_twice_and_misses_none() {
    let dir = data_dir();
    let mut serving = Serving::start(dir.path()).await;
    let key = node_key(dir.path());
    let db = superuser(dir.path()).await;
    let post_many = |serving: &Serving, from: usize| {
        let bodies: Vec<String> = (from..from + 300)
            .map(|n| {
                append_body(&key, &format!("p-{}", n % 5), json!("any"), vec![NewEvent::new("N", &json!({ "n": n }))]).0
            })
            .collect();
        let base = serving.base.clone();
        async move {
            let client = reqwest::Client::new();
            for (n, body) in bodies.into_iter().enumerate() {
                let stream = format!("p-{}", (from + n) % 5);
                let status = client.post(format!("{base}/streams/{stream}")).body(body).send().await.unwrap().status();
                assert_eq!(status.as_u16(), 201);
            }
        }
    };
    post_many(&serving, 0).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(&db).await < head(&db).await {
        assert!(Instant::now() < deadline, "the projection catches up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Hold the projection's table so its next batch blocks inside its transaction, after it has read the batch.
    let blocker = superuser(dir.path()).await;
    blocker.batch_execute("BEGIN; LOCK TABLE log_views.stream_heads IN EXCLUSIVE MODE").await.unwrap();
    let before = checkpoint(&db).await;
    post_many(&serving, 300).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let waiting: i64 = db
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'notch_app' AND wait_event_type = 'Lock' \
                 AND query LIKE '%stream_heads%'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the projection reaches the locked table");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    serving.kill(); // in the middle of the batch: events read, some applied-or-pending, checkpoint not yet moved
    blocker.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(checkpoint(&db).await, before, "the killed batch left no trace");

    let restarted = Serving::start(dir.path()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while checkpoint(&db).await < head(&db).await {
        assert!(Instant::now() < deadline, "the restarted projection catches up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mismatches: i64 = db
        .query_one(
            "SELECT count(*) FROM (SELECT stream_id, count(*) AS n, max(stream_version) AS v FROM events GROUP BY stream_id) t \
             FULL JOIN log_views.stream_heads h USING (stream_id) \
             WHERE h.event_count IS DISTINCT FROM t.n OR h.version IS DISTINCT FROM t.v",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(mismatches, 0, "every stream counted exactly once per event");
    drop(restarted);
}
