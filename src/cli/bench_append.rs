//! `notch bench append`: N clients appending single events through the real append path (signed, verified,
//! chained, committed), then, in the same run and database server, the raw baseline: plain 100-row multi-row
//! INSERTs of the same columns from 8 connections into a scratch table with no signing, chain or checks.
//! Runs in a scratch database that is dropped afterwards.

use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use ed25519_dalek::SigningKey;
use events::database::{connect, Database};

use super::scratch::with_scratch;
use events::{Expected, NewEvent, Store};
use hdrhistogram::Histogram;
use serde_json::json;
use tokio_postgres::types::ToSql;

use super::node::{DbArgs, WriterArgs};

/// Rows per baseline INSERT statement.
const BASELINE_ROWS_PER_INSERT: usize = 100;
/// Connections the baseline inserts from.
const BASELINE_CONNECTIONS: usize = 8;

#[derive(Args)]
pub struct BenchAppendArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Concurrent appending clients.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Events appended in all (and rows inserted by the baseline).
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    #[command(flatten)]
    writer: WriterArgs,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

struct Figures {
    events_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    baseline_rows_per_s: f64,
}

pub async fn run(args: BenchAppendArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.clients >= 1 && args.events >= args.clients, "need at least one event per client");
    let figures = with_scratch(&args.db, "append", async |database| measure(&args, database).await).await?;
    let ratio = figures.events_per_s / figures.baseline_rows_per_s;
    if args.json {
        println!(
            "{}",
            json!({
                "events_per_s": figures.events_per_s.round(),
                "p50_ms": round3(figures.p50_ms),
                "p99_ms": round3(figures.p99_ms),
                "baseline_rows_per_s": figures.baseline_rows_per_s.round(),
                "ratio": round3(ratio),
                "clients": args.clients,
                "commits_in_flight": args.writer.commits_in_flight,
                "events": args.events,
            })
        );
    } else {
        println!("append: {} clients, {} single-event appends", args.clients, args.events);
        println!(
            "  notch     {:>10.0} events/s   p50 {:.2} ms   p99 {:.2} ms",
            figures.events_per_s, figures.p50_ms, figures.p99_ms
        );
        println!("  baseline  {:>10.0} rows/s     ({BASELINE_CONNECTIONS} connections, {BASELINE_ROWS_PER_INSERT}-row INSERTs)", figures.baseline_rows_per_s);
        println!("  ratio     {ratio:.3}");
    }
    Ok(ExitCode::SUCCESS)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

async fn measure(args: &BenchAppendArgs, database: &Database) -> anyhow::Result<Figures> {
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let options = args.writer.store_options(8, database);
    let store = Store::open(database.service.clone(), key, options).await?;
    let (events_per_s, latencies) = append_clients(&store, args.clients, args.events).await?;
    drop(store);
    let baseline_rows_per_s = baseline(&database.admin, args.events).await?;
    Ok(Figures {
        events_per_s,
        p50_ms: latencies.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: latencies.value_at_quantile(0.99) as f64 / 1000.0,
        baseline_rows_per_s,
    })
}

fn payload(client: usize, seq: usize) -> serde_json::Value {
    json!({ "client": client, "seq": seq, "amount_units_milli": 1500, "memo": "bench event of typical size" })
}

/// Each client appends single events to its own stream, expecting the exact version it last wrote.
async fn append_clients(store: &Store, clients: usize, events: usize) -> anyhow::Result<(f64, Histogram<u64>)> {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|client| {
            let store = store.clone();
            let count = events / clients + usize::from(client < events % clients);
            tokio::spawn(async move {
                let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
                let stream = format!("bench-{client}");
                for seq in 0..count {
                    let event = NewEvent::new("BenchEventAppended", &payload(client, seq));
                    let sent = Instant::now();
                    let expected = if seq == 0 { Expected::NoStream } else { Expected::Exact(seq as i64) };
                    store.append(&stream, expected, vec![event]).await?;
                    latencies.saturating_record(sent.elapsed().as_micros() as u64);
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("valid bounds");
    for task in tasks {
        all.add(task.await??)?;
    }
    Ok((events as f64 / started.elapsed().as_secs_f64(), all))
}

/// Plain multi-row INSERTs of the event table's columns into an unconstrained copy, no crypto, no chain.
async fn baseline(admin: &tokio_postgres::Config, rows: usize) -> anyhow::Result<f64> {
    let setup = connect(admin).await?;
    setup
        .batch_execute(
            "DROP TABLE IF EXISTS bench_baseline; \
             CREATE TABLE bench_baseline (LIKE events INCLUDING DEFAULTS, PRIMARY KEY (position))",
        )
        .await?;
    let next = Arc::new(AtomicI64::new(1));
    let statements = rows.div_ceil(BASELINE_ROWS_PER_INSERT);
    let remaining = Arc::new(AtomicI64::new(statements as i64));
    let started = Instant::now();
    let tasks: Vec<_> = (0..BASELINE_CONNECTIONS)
        .map(|connection| {
            let (admin, next, remaining) = (admin.clone(), next.clone(), remaining.clone());
            tokio::spawn(async move {
                let client = connect(&admin).await?;
                let statement = client.prepare(&insert_statement(BASELINE_ROWS_PER_INSERT)).await?;
                while remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                    let first = next.fetch_add(BASELINE_ROWS_PER_INSERT as i64, Ordering::Relaxed);
                    let rows: Vec<BaselineRow> =
                        (0..BASELINE_ROWS_PER_INSERT as i64).map(|i| BaselineRow::new(connection, first + i)).collect();
                    let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flat_map(BaselineRow::params).collect();
                    client.execute(&statement, &params).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    let elapsed = started.elapsed().max(Duration::from_micros(1));
    let inserted: i64 = setup.query_one("SELECT count(*) FROM bench_baseline", &[]).await?.get(0);
    setup.batch_execute("DROP TABLE bench_baseline").await?;
    Ok(inserted as f64 / elapsed.as_secs_f64())
}

fn insert_statement(rows: usize) -> String {
    let columns = 11;
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let params: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO bench_baseline (position, event_id, stream_id, stream_version, event_type, payload, time, \
         signer, signature, prev_hash, hash) VALUES {}",
        values.join(", ")
    )
}

/// One row with the same shapes and sizes as an appended event.
struct BaselineRow {
    position: i64,
    event_id: uuid::Uuid,
    stream_id: String,
    version: i64,
    event_type: &'static str,
    payload: serde_json::Value,
    time: chrono::DateTime<chrono::Utc>,
    signer: Vec<u8>,
    signature: Vec<u8>,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl BaselineRow {
    fn new(connection: usize, position: i64) -> BaselineRow {
        BaselineRow {
            position,
            event_id: uuid::Uuid::now_v7(),
            stream_id: format!("bench-{connection}"),
            version: position,
            event_type: "BenchEventAppended",
            payload: payload(connection, position as usize),
            time: chrono::Utc::now(),
            signer: vec![7; 32],
            signature: vec![9; 64],
            prev_hash: vec![1; 32],
            hash: vec![2; 32],
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.position,
            &self.event_id,
            &self.stream_id,
            &self.version,
            &self.event_type,
            &self.payload,
            &self.time,
            &self.signer,
            &self.signature,
            &self.prev_hash,
            &self.hash,
        ]
    }
}
