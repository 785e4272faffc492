//! `notch bench mam`: simulated P1 devices, each publishing one sealed message a second, posting
//! over HTTP to this node's MAM endpoint (signature check, sequence rules, signed append) in a
//! scratch database. Latency runs from each message's scheduled send time to the ledger's answer,
//! so a ledger that falls behind shows it (no coordinated omission). The devices seal their messages
//! before the clock starts (see [`seal_all`]).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use ed25519_dalek::SigningKey;
use events::database::Database;
use events::{Store, StoreOptions};
use hdrhistogram::Histogram;
use rand::SeedableRng;
use serde_json::json;
use reqwest::header::CONTENT_TYPE;
use tokio::sync::{watch, Semaphore};

use super::node::DbArgs;

/// Requests in flight at once (the HTTP connection pool's bound as well).
const MAX_IN_FLIGHT: usize = 512;
/// Messages sealed before a run (about 1.7 KB each).
const MAX_MESSAGES: u64 = 1_000_000;

#[derive(Args)]
pub struct BenchMamArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Simulated devices, each sending one message a second.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// How long the devices send.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: BenchMamArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.devices >= 1 && args.devices <= 100_000, "--devices must be in 1..=100000");
    anyhow::ensure!(args.seconds >= 1 && args.seconds <= 60, "--seconds must be in 1..=60");
    anyhow::ensure!(
        args.devices as u64 * args.seconds <= MAX_MESSAGES,
        "--devices times --seconds must be at most {MAX_MESSAGES} (every message is sealed in memory first)"
    );
    let scratch = format!("notch_bench_mam_{}", std::process::id());
    let database = Database::open_scratch(&args.db.target(), &scratch).await?;
    let result = measure(&args, &database).await;
    if let Err(err) = database.drop_scratch().await {
        tracing::warn!("dropping the scratch database {scratch}: {err:#}");
    }
    database.close().await;
    let (msgs_per_s, offered, latencies, not_stored) = result?;
    let p50 = latencies.value_at_quantile(0.50) as f64 / 1000.0;
    let p99 = latencies.value_at_quantile(0.99) as f64 / 1000.0;
    if args.json {
        println!(
            "{}",
            json!({
                "msgs_per_s": msgs_per_s.round(),
                "offered_msgs_per_s": offered,
                "p50_ms": (p50 * 1000.0).round() / 1000.0,
                "p99_ms": (p99 * 1000.0).round() / 1000.0,
                "not_stored": not_stored,
                "devices": args.devices,
                "seconds": args.seconds,
            })
        );
    } else {
        println!("mam: {} devices x 1 message/s for {} s over HTTP", args.devices, args.seconds);
        println!("  stored   {msgs_per_s:>10.0} msgs/s of {offered} offered   p50 {p50:.2} ms   p99 {p99:.2} ms   not stored {not_stored}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Every message of the run as the request body its device posts, in sending order (message `n`
/// is device `n % devices`'s message `n / devices`). Sealing is the devices' own work (each is a
/// Raspberry Pi of its own), so it is done here, before the clock starts, on all cores; the HTTP
/// requests themselves are made at their scheduled times.
fn seal_all(devices: usize, seconds: usize) -> Vec<Vec<u8>> {
    use rayon::prelude::*;
    let payload = notch_p1::bench::sample_telegram().into_bytes();
    let mut per_device: Vec<Vec<Vec<u8>>> = (0..devices)
        .into_par_iter()
        .map(|d| {
            let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(d as u64);
            let mut channel = mam::Channel::create(&mut rng);
            let mut bodies: Vec<Vec<u8>> = (0..seconds)
                .map(|_| {
                    let envelope = channel.publish(&payload, &mut rng).to_envelope();
                    serde_json::to_vec(&envelope).expect("an envelope serialises")
                })
                .collect();
            // Reversed, so that popping takes the device's messages in order.
            bodies.reverse();
            bodies
        })
        .collect();
    (0..devices * seconds).map(|n| per_device[n % devices].pop().expect("one body per device and second")).collect()
}

async fn measure(args: &BenchMamArgs, database: &Database) -> anyhow::Result<(f64, usize, Histogram<u64>, u64)> {
    let total = args.devices * args.seconds as usize;
    let bodies = tokio::task::spawn_blocking({
        let (devices, seconds) = (args.devices, args.seconds as usize);
        move || seal_all(devices, seconds)
    })
    .await?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let options = StoreOptions { pool_size: 16, set_role: database.service_set_role.clone() };
    let store = Store::open(database.service.clone(), key, options).await?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (addr, server) = adapters::http::serve("127.0.0.1:0".parse()?, store, shutdown).await?;
    let server = tokio::spawn(server);
    let url = format!("http://{addr}/mam/messages");
    let http =
        reqwest::Client::builder().pool_max_idle_per_host(MAX_IN_FLIGHT).timeout(Duration::from_secs(10)).build()?;

    // Device d sends its k-th message at start + k s + d/devices s.
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let results = Arc::new(std::sync::Mutex::new((Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?, 0u64)));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    let end = start + Duration::from_secs(args.seconds);
    for (n, body) in bodies.into_iter().enumerate() {
        let (second, d) = (n / args.devices, n % args.devices);
        let due = start + Duration::from_secs(second as u64) + Duration::from_secs_f64(d as f64 / args.devices as f64);
        // A ledger that cannot keep up does not stretch the run: what is not sent by the end
        // counts as not stored.
        if Instant::now() >= end {
            break;
        }
        tokio::time::sleep_until(due.into()).await;
        let permit = in_flight.clone().acquire_owned().await?;
        let request = http.post(&url).header(CONTENT_TYPE, "application/json").body(body);
        let results = results.clone();
        tasks.push(tokio::spawn(async move {
            let ok = matches!(request.send().await.map(|r| r.status().as_u16()), Ok(201));
            let latency = due.elapsed().as_micros() as u64;
            drop(permit);
            if ok {
                let mut r = results.lock().expect("results lock");
                r.0.saturating_record(latency);
                r.1 += 1;
            }
        }));
    }
    // Requests in flight at the end get a bounded grace period.
    let grace = tokio::time::sleep(Duration::from_secs(10));
    tokio::pin!(grace);
    for task in tasks {
        tokio::select! {
            joined = task => joined?,
            _ = &mut grace => break,
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = server.await;
    let (latencies, stored) = std::mem::replace(&mut *results.lock().expect("results lock"), (Histogram::new(3)?, 0));
    Ok((
        stored as f64 / elapsed,
        args.devices,
        latencies,
        // Refused, failed, unanswered within the grace period, or never sent.
        total as u64 - stored,
    ))
}
