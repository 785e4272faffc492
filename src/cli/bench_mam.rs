//! `notch bench mam`: simulated P1 devices, each publishing one sealed message a second, posting
//! over HTTP to this node's MAM endpoint (signature check, sequence rules, signed append) in a
//! scratch database. Latency runs from each message's scheduled send time to the ledger's answer,
//! so a ledger that falls behind shows it (no coordinated omission). The devices seal their messages
//! and open their connections before the clock starts (see [`seal_all`]), then send for
//! `--warmup-seconds` (reported apart) before the measured `--seconds`.

use crate::cli::scratch::with_scratch;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use ed25519_dalek::SigningKey;
use events::database::Database;
use events::Store;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::SeedableRng;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch, Mutex, Notify};

use super::node::{DbArgs, WriterArgs};

/// Keep-alive HTTP/1.1 connections the simulated devices share: the bound on requests in flight.
const CONNECTIONS: usize = 512;
/// A request unanswered this long counts as not stored; so do those in flight this long after the
/// end of the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Messages sealed before a run (about 1.7 KB each).
const MAX_MESSAGES: u64 = 1_000_000;

#[derive(Args)]
pub struct BenchMamArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Simulated devices, each sending one message a second.
    #[arg(long, default_value_t = 10_000)]
    devices: usize,
    /// How long the devices send while the run is measured.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// How long the devices send before that, unmeasured (reported apart): as wrk2's calibration period, it
    /// keeps start-up costs out of the steady state (on this project's VM, first touches of fresh memory made
    /// the first seconds' p99 several hundred ms; docs/benchmarks.md).
    #[arg(long, default_value_t = 5)]
    warmup_seconds: u64,
    #[command(flatten)]
    writer: WriterArgs,
    /// Also report each measured second apart (messages by their due second: stored, p50, p99): shows whether a
    /// tail is spread over the run or made by a few stalls.
    #[arg(long)]
    timeline: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: BenchMamArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.devices >= 1 && args.devices <= 100_000, "--devices must be in 1..=100000");
    anyhow::ensure!(args.seconds >= 1 && args.seconds <= 60, "--seconds must be in 1..=60");
    anyhow::ensure!(args.warmup_seconds <= 60, "--warmup-seconds must be in 0..=60");
    anyhow::ensure!(
        args.devices as u64 * (args.warmup_seconds + args.seconds) <= MAX_MESSAGES,
        "--devices times (--warmup-seconds + --seconds) must be at most {MAX_MESSAGES} (every message is sealed \
         in memory first)"
    );
    let outcome = with_scratch(&args.db, "mam", async |database| measure(&args, database).await).await?;
    let Outcome { msgs_per_s, not_stored, refused, latencies, warmup, seconds } = outcome;
    let offered = args.devices;
    let ms = |histogram: &Histogram<u64>, quantile| (histogram.value_at_quantile(quantile) as f64).round() / 1000.0;
    let (p50, p99, warmup_p99) = (ms(&latencies, 0.50), ms(&latencies, 0.99), ms(&warmup.latencies, 0.99));
    let timeline: Vec<Second> = seconds
        .iter()
        .enumerate()
        .map(|(second, h)| Second {
            second,
            stored: h.len(),
            p50_ms: ms(h, 0.50),
            p99_ms: ms(h, 0.99),
            max_ms: ms(h, 1.0),
        })
        .collect();
    if args.json {
        let mut report = json!({
            "msgs_per_s": msgs_per_s.round(),
            "offered_msgs_per_s": offered,
            "p50_ms": p50,
            "p99_ms": p99,
            "not_stored": not_stored,
            "refused": refused,
            "devices": args.devices,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup_seconds,
            "warmup_stored": warmup.stored,
            "warmup_p99_ms": warmup_p99,
        });
        if args.timeline {
            report["timeline"] = serde_json::to_value(&timeline)?;
        }
        println!("{report}");
    } else {
        println!(
            "mam: {} devices x 1 message/s for {} s over HTTP, after {} s of warm-up",
            args.devices, args.seconds, args.warmup_seconds
        );
        println!("  stored   {msgs_per_s:>10.0} msgs/s of {offered} offered   p50 {p50:.2} ms   p99 {p99:.2} ms   not stored {not_stored} (refused {refused})");
        println!("  warm-up  {:>10} stored   p99 {warmup_p99:.2} ms (not counted above)", warmup.stored);
        if args.timeline {
            for Second { second, stored, p50_ms, p99_ms, max_ms } in &timeline {
                println!(
                    "  second {second:>3}  stored {stored:>6}  p50 {p50_ms:>9.2} ms  p99 {p99_ms:>9.2} ms  max {max_ms:>9.2} ms"
                );
            }
        }
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

async fn measure(args: &BenchMamArgs, database: &Database) -> anyhow::Result<Outcome> {
    let measured = args.devices * args.seconds as usize;
    let total = args.devices * (args.warmup_seconds + args.seconds) as usize;
    let bodies = tokio::task::spawn_blocking({
        let (devices, seconds) = (args.devices, (args.warmup_seconds + args.seconds) as usize);
        move || seal_all(devices, seconds)
    })
    .await?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let options = args.writer.store_options(16, database);
    let store = Store::open(database.service.clone(), key, options).await?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (addr, server) = adapters::http::serve("127.0.0.1:0".parse()?, store, shutdown).await?;
    let server = tokio::spawn(server);

    // The devices are long-lived and keep their connections: open them all before the clock starts, so the run
    // measures the ledger's steady state, not 512 TCP and HTTP handshakes in its first milliseconds.
    let senders = futures::future::try_join_all((0..CONNECTIONS).map(|_| open(addr))).await?;
    let start = Instant::now();
    let measured_from = start + Duration::from_secs(args.warmup_seconds);
    let end = measured_from + Duration::from_secs(args.seconds);
    let (queue, jobs) = mpsc::unbounded_channel::<Job>();
    let run = Arc::new(Run {
        addr,
        measured_from,
        end,
        queue,
        jobs: Mutex::new(jobs),
        devices: (0..args.devices).map(|_| std::sync::Mutex::new(Device::default())).collect(),
        unsettled: AtomicUsize::new(total),
        all_settled: Notify::new(),
        tally: std::sync::Mutex::new([Tally::new(0)?, Tally::new(args.seconds)?]),
    });
    let connections: Vec<_> = senders.into_iter().map(|sender| tokio::spawn(connection(run.clone(), sender))).collect();
    // Device d's k-th message is due at start + k s + d/devices s, whether or not the ledger has
    // answered the earlier ones.
    for (n, body) in bodies.into_iter().enumerate() {
        let (second, device) = (n / args.devices, n % args.devices);
        let due =
            start + Duration::from_secs(second as u64) + Duration::from_secs_f64(device as f64 / args.devices as f64);
        tokio::time::sleep_until(due.into()).await;
        run.due(Job { device, due, body: Bytes::from(body) });
    }
    // Requests in flight at the end get a bounded grace period.
    let _ = tokio::time::timeout_at((end + REQUEST_TIMEOUT).into(), run.all_settled.notified()).await;
    connections.iter().for_each(|task| task.abort());
    let elapsed = measured_from.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = server.await;
    let [warmup, tally] =
        std::mem::replace(&mut *run.tally.lock().expect("tally lock"), [Tally::new(0)?, Tally::new(0)?]);
    Ok(Outcome {
        msgs_per_s: tally.stored as f64 / elapsed,
        // Refused, failed, unanswered within the grace period, or never sent.
        not_stored: measured as u64 - tally.stored,
        refused: tally.refused,
        latencies: tally.latencies,
        warmup,
        seconds: tally.per_second,
    })
}

/// One measured second of `--timeline`: the messages due in it.
#[derive(serde::Serialize)]
struct Second {
    second: usize,
    stored: u64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

struct Outcome {
    msgs_per_s: f64,
    not_stored: u64,
    refused: u64,
    latencies: Histogram<u64>,
    warmup: Tally,
    /// The measured messages' latencies by the second they were due in.
    seconds: Vec<Histogram<u64>>,
}

/// One message, due at its device's scheduled time.
struct Job {
    device: usize,
    due: Instant,
    body: Bytes,
}

/// A device posts one message at a time, oldest first, as `notch-p1`'s publisher does: a message
/// that falls due while the previous one is unanswered waits here (at most the run's messages).
#[derive(Default)]
struct Device {
    busy: bool,
    backlog: VecDeque<Job>,
}

struct Tally {
    latencies: Histogram<u64>,
    /// The same, by the measured second each message was due in (none for the warm-up's tally).
    per_second: Vec<Histogram<u64>>,
    stored: u64,
    /// Answered with anything but 201 (none are expected: every message is the next of its channel).
    refused: u64,
}

impl Tally {
    fn new(seconds: u64) -> anyhow::Result<Tally> {
        let histogram = || Histogram::new_with_bounds(1, 60_000_000, 3);
        Ok(Tally {
            latencies: histogram()?,
            per_second: (0..seconds).map(|_| histogram()).collect::<Result<_, _>>()?,
            stored: 0,
            refused: 0,
        })
    }
}

/// What the connections share.
struct Run {
    addr: SocketAddr,
    /// Messages due before this are the warm-up's.
    measured_from: Instant,
    end: Instant,
    /// Messages ready to post; holds at most the run's messages, which are all in memory already.
    queue: mpsc::UnboundedSender<Job>,
    jobs: Mutex<mpsc::UnboundedReceiver<Job>>,
    devices: Vec<std::sync::Mutex<Device>>,
    /// Messages neither answered nor given up yet.
    unsettled: AtomicUsize,
    all_settled: Notify,
    /// The warm-up's and the measured run's.
    tally: std::sync::Mutex<[Tally; 2]>,
}

impl Run {
    /// A message falls due: posted next, or queued behind its device's unanswered one.
    fn due(&self, job: Job) {
        let mut device = self.devices[job.device].lock().expect("device lock");
        if device.busy {
            device.backlog.push_back(job);
        } else {
            device.busy = true;
            drop(device);
            let _ = self.queue.send(job);
        }
    }

    /// A device's message is answered or given up: its next waiting message goes out.
    fn settled(&self, device: usize) {
        let next = {
            let mut device = self.devices[device].lock().expect("device lock");
            let next = device.backlog.pop_front();
            device.busy = next.is_some();
            next
        };
        if let Some(job) = next {
            let _ = self.queue.send(job);
        }
        if self.unsettled.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_settled.notify_one();
        }
    }
}

/// One keep-alive HTTP/1.1 connection posting the next ready message whenever it is free. A
/// message taken after the end of the run is not sent (it counts as not stored): a ledger that
/// cannot keep up does not stretch the run.
async fn connection(run: Arc<Run>, sender: SendRequest<Full<Bytes>>) {
    let mut sender = Some(sender);
    loop {
        let Some(job) = run.jobs.lock().await.recv().await else { break };
        if Instant::now() < run.end {
            let answer = tokio::time::timeout(REQUEST_TIMEOUT, post(run.addr, &mut sender, job.body)).await;
            let latency = job.due.elapsed().as_micros() as u64;
            let mut tallies = run.tally.lock().expect("tally lock");
            let tally = &mut tallies[usize::from(job.due >= run.measured_from)];
            let second = job.due.saturating_duration_since(run.measured_from).as_secs() as usize;
            match answer {
                Ok(Ok(StatusCode::CREATED)) => {
                    tally.latencies.saturating_record(latency);
                    if let Some(histogram) = tally.per_second.get_mut(second) {
                        histogram.saturating_record(latency);
                    }
                    tally.stored += 1;
                }
                Ok(Ok(_)) => tally.refused += 1,
                // A failed or timed-out request leaves the connection in an unknown state.
                Ok(Err(_)) | Err(_) => sender = None,
            }
        }
        run.settled(job.device);
    }
}

/// A new keep-alive HTTP/1.1 connection to the node.
async fn open(addr: SocketAddr) -> anyhow::Result<SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn post(
    addr: SocketAddr,
    sender: &mut Option<SendRequest<Full<Bytes>>>,
    body: Bytes,
) -> anyhow::Result<StatusCode> {
    let ready = match sender.take() {
        Some(ready) if !ready.is_closed() => ready,
        _ => open(addr).await?,
    };
    let ready = sender.insert(ready);
    ready.ready().await?;
    let request = Request::post("/mam/messages")
        .header(HOST, addr.to_string())
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(body))?;
    let response = ready.send_request(request).await?;
    let status = response.status();
    // Read the (small) answer to the end so the connection can carry the next request.
    response.into_body().collect().await?;
    Ok(status)
}
