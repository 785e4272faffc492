//! `notch bench peer`: the site-to-site link between two notch sites over loopback (two links in this process,
//! a real peer server, real TCP): KK handshakes (`N`, `K`, `A`) per second, and 1 KiB `T` messages per second one
//! way and echoed; then the same three on npm noise-protocol (tests/peers-js/bench.js) when Node and the
//! packages are found.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

use adapters::peers::{PeerAddress, PeerHandler, PeerLimits, PeerLink, PeerServer, SiteIdentity, TicketClaim};
use anyhow::Context;
use clap::Args;
use ed25519_dalek::SigningKey;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::Notify;

/// Bytes of each measured message's JSON.
const MESSAGE_BYTES: usize = 1024;

#[derive(Args)]
pub struct BenchPeerArgs {
    /// Seconds each of the three measurements runs (for each implementation).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Handshakes in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// The JS benchmark (npm noise-protocol); its packages from `npm ci --prefix tests/peers-js`.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/peers-js/bench.js"))]
    js_script: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

/// Counts what a site receives; answers `echo` messages on the same link (as `echoed`, which is not answered).
struct BenchSite {
    link: OnceLock<Weak<PeerLink>>,
    received: AtomicU64,
    last_n: AtomicI64,
    arrived: Notify,
}

impl PeerHandler for BenchSite {
    fn redeem<'a>(&'a self, _: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("the benchmark takes no tickets".to_owned()) })
    }

    fn receive<'a>(&'a self, from: &'a str, message: Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if message["action"] == "echo" {
                if let Some(link) = self.link.get().and_then(Weak::upgrade) {
                    let mut echoed = message.clone();
                    echoed["action"] = "echoed".into();
                    let _ = link.reply(from, echoed).await;
                }
            }
            self.received.fetch_add(1, Ordering::Relaxed);
            self.last_n.store(message["n"].as_i64().unwrap_or(0), Ordering::Relaxed);
            self.arrived.notify_waiters();
        })
    }
}

struct Site {
    link: Arc<PeerLink>,
    counts: Arc<BenchSite>,
}

fn site(seed: u8) -> Site {
    let counts = Arc::new(BenchSite {
        link: OnceLock::new(),
        received: AtomicU64::new(0),
        last_n: AtomicI64::new(0),
        arrived: Notify::new(),
    });
    let limits = PeerLimits { max_connections_per_address: 4096, max_handshakes: 4096, ..PeerLimits::default() };
    let key = SigningKey::from_bytes(&[seed; 32]);
    let link = PeerLink::new(SiteIdentity::new(&key, "127.0.0.1", 0), counts.clone(), limits);
    counts.link.set(Arc::downgrade(&link)).expect("set once");
    Site { link, counts }
}

pub async fn run(args: BenchPeerArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds > 0.0 && args.seconds <= 120.0, "--seconds must be in (0, 120]");
    anyhow::ensure!((1..=1024).contains(&args.concurrency), "--concurrency must be 1 to 1024");
    let seconds = Duration::from_secs_f64(args.seconds);
    let (responder, initiator) = (site(1), site(2));
    let server = PeerServer::start(responder.link.clone(), "127.0.0.1:0".parse()?).await?;
    let address = PeerAddress {
        agent: responder.link.identity().agent.clone(),
        host: "127.0.0.1".into(),
        port: server.local_addr().port(),
    };
    let handshakes = handshakes(&initiator, &address, seconds, args.concurrency).await?;
    let one_way = messages(&initiator, &responder, &address, seconds, "one_way").await?;
    let echoed = messages(&initiator, &responder, &address, seconds, "echo").await?;
    server.stop().await;
    let js = js_rates(&args)?;
    report(&args, [handshakes, one_way, echoed], js.as_ref());
    Ok(ExitCode::SUCCESS)
}

async fn handshakes(initiator: &Site, to: &PeerAddress, seconds: Duration, concurrency: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    let deadline = started + seconds;
    let hello = json!({"target": "bench", "action": "hello"});
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (link, to, hello) = (initiator.link.clone(), to.clone(), hello.clone());
        tasks.spawn(async move {
            let mut done = 0u64;
            while Instant::now() < deadline {
                adapters::peers::dial(&to, link.identity(), &hello, peers::DEFAULT_MAX_BODY_BYTES).await?;
                done += 1;
            }
            anyhow::Ok(done)
        });
    }
    let mut done = 0;
    while let Some(task) = tasks.join_next().await {
        done += task?.context("a benchmark handshake failed")?;
    }
    Ok(done as f64 / started.elapsed().as_secs_f64())
}

/// A 1 KiB message as it goes on the wire (its `from` stamped as the link stamps it).
fn message(from: &SiteIdentity, action: &str, n: i64) -> Value {
    let mut message = json!({"target": "bench", "action": action, "n": n, "pad": "",
        "from": {"agent": from.agent, "host": from.host, "port": from.port}});
    let bytes = serde_json::to_vec(&message).expect("JSON").len();
    message["pad"] = "x".repeat(MESSAGE_BYTES.saturating_sub(bytes)).into();
    message
}

/// Sends for `seconds`, then waits until the last one is through: one way, the responder has read them all
/// when it answers the closing echo; echoed, the initiator has every echo back.
async fn messages(
    initiator: &Site,
    responder: &Site,
    to: &PeerAddress,
    seconds: Duration,
    action: &str,
) -> anyhow::Result<f64> {
    let identity = initiator.link.identity();
    // The connection is open (its K read) before the clock starts.
    let before_hello = responder.counts.received.load(Ordering::Relaxed);
    initiator.link.send_when_ready(to, json!({"target": "bench", "action": "hello"})).await?;
    until(&responder.counts, before_hello + 1).await?;
    let (received_before, echoes_before) =
        (responder.counts.received.load(Ordering::Relaxed), initiator.counts.received.load(Ordering::Relaxed));
    let template = message(identity, action, 0);
    let started = Instant::now();
    let mut sent = 0i64;
    while started.elapsed() < seconds {
        let mut next = template.clone();
        next["n"] = sent.into();
        initiator.link.send_when_ready(to, next).await?;
        sent += 1;
    }
    if action != "echo" {
        initiator.link.send_when_ready(to, message(identity, "echo", -1)).await?;
    }
    let expected_echoes = if action == "echo" { sent as u64 } else { 1 };
    until(&initiator.counts, echoes_before + expected_echoes).await?;
    let elapsed = started.elapsed().as_secs_f64();
    let read = responder.counts.received.load(Ordering::Relaxed) - received_before;
    anyhow::ensure!(read >= sent as u64, "the responder read {read} of {sent}");
    Ok(sent as f64 / elapsed)
}

/// Waits (at most a minute) until `site` has received `count` messages in all.
async fn until(site: &BenchSite, count: u64) -> anyhow::Result<()> {
    let wait = async {
        loop {
            let arrived = site.arrived.notified();
            if site.received.load(Ordering::Relaxed) >= count {
                break;
            }
            arrived.await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), wait).await.context("the messages did not all arrive")
}

/// The JS figures, when Node and the packages are there.
fn js_rates(args: &BenchPeerArgs) -> anyhow::Result<Option<Value>> {
    let packages = args.js_script.with_file_name("node_modules").join("noise-protocol");
    if !packages.is_dir() {
        return Ok(None);
    }
    let out = std::process::Command::new("node")
        .arg(&args.js_script)
        .args(["--seconds", &args.seconds.to_string(), "--concurrency", &args.concurrency.to_string()])
        .output();
    let Ok(out) = out else { return Ok(None) };
    anyhow::ensure!(out.status.success(), "the JS benchmark failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    Ok(Some(serde_json::from_slice(&out.stdout).context("the JS benchmark's output")?))
}

fn report(args: &BenchPeerArgs, [handshakes, one_way, echoed]: [f64; 3], js: Option<&Value>) {
    let js_rate = |key: &str| js.and_then(|js| js[key].as_f64());
    if args.json {
        let mut out = json!({
            "handshakes_per_s": handshakes.round(),
            "messages_per_s": one_way.round(),
            "echoed_per_s": echoed.round(),
            "message_bytes": MESSAGE_BYTES,
            "concurrency": args.concurrency,
            "seconds": args.seconds,
        });
        for key in ["handshakes_per_s", "messages_per_s", "echoed_per_s"] {
            if let Some(rate) = js_rate(key) {
                out[format!("js_{key}")] = rate.round().into();
            }
        }
        println!("{out}");
        return;
    }
    println!("peer link over loopback: KK handshakes ({} at once), {MESSAGE_BYTES}-byte T messages", args.concurrency);
    println!("  {:<22} {:>12} {:>16}", "", "notch", "noise-protocol");
    for (name, rate, key) in [
        ("handshakes/s", handshakes, "handshakes_per_s"),
        ("messages/s one way", one_way, "messages_per_s"),
        ("messages/s echoed", echoed, "echoed_per_s"),
    ] {
        let js = js_rate(key).map(|r| format!("{r:.0}")).unwrap_or_else(|| "not measured".into());
        println!("  {name:<22} {rate:>12.0} {js:>16}");
    }
}
