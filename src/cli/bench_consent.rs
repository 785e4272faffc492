//! `notch bench consent`: the consent dialogues end to end, in one process but through the real parts: a ledger
//! (this node's HTTP API on a scratch database), simulated devices that are `notch-p1`'s own pairing link, scope
//! channels and publishers (each device publishes its scopes once a second, its files on tmpfs: a Pi has a disk of
//! its own), providers that are `notch provider serve`'s reader (their log in a second scratch database), and
//! owners that sign every decision.
//!
//! Every device is paired and first given a background policy (unmeasured) so that all of them publish once a
//! second throughout. Then each device's owner grants one measured provider the same scope (the device rotates,
//! then grants: the measured path is the hard one), spread over `--seconds`; `grant` runs from the ledger's
//! answer to AUTHORIZED to the provider's first stored reading. Then each owner revokes that policy, spread the
//! same way; `revoke` runs from the ledger's answer to AUTHORIZATION_REVOKED to the revoked provider's reader
//! stopping at the KEY_ROTATION that leaves it out (so it includes the rotation's publication and its delivery).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use clap::Args;
use domain::crypto::{PublicKey, Signed};
use domain::home::consent::{ConsentRequest, Field, Granularity, ProviderCard, Scope, SignedProviderCard};
use domain::home::household::Act;
use ed25519_dalek::SigningKey;
use events::database::Database;
use events::Store;
use hdrhistogram::Histogram;
use mam::ProviderKeyPair;
use notch_p1::pairing::Identity;
use notch_p1::pairing_link::{self, LinkConfig};
use notch_p1::publish;
use notch_p1::reading::Reading;
use notch_p1::scope_channels::ScopeChannels;
use rand::rngs::OsRng;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use uuid::Uuid;

use super::home::pair::pair;
use super::home::post_decision;
use super::ledger_client::Ledger;
use super::node::DbArgs;
use super::provider::serve::{Provider, Seen};
use super::scratch::with_scratch;

/// How long a measured grant or revocation may take before it counts as missing.
const GIVE_UP: Duration = Duration::from_secs(30);
/// Pairings and background grants made at once while setting up.
const SETUP_CONCURRENCY: usize = 32;

#[derive(Args)]
pub struct BenchConsentArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Simulated devices, each publishing once a second, each in a home of its own.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// Providers (at least 2): device i's background reader is provider (i + 1) mod N, its measured one i mod N.
    #[arg(long, default_value_t = 3)]
    providers: usize,
    /// The grants, and then the revocations, are spread over this many seconds.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long)]
    json: bool,
}

/// One simulated device and its home.
struct SimulatedHome {
    owner: SigningKey,
    device_id: String,
    /// The device's pairing secret, as `notch-p1 pairing-code` shows it.
    secret: String,
    scopes: Arc<Mutex<ScopeChannels>>,
}

pub async fn run(args: BenchConsentArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!((1..=5_000).contains(&args.devices), "--devices must be in 1..=5000");
    anyhow::ensure!((2..=100).contains(&args.providers), "--providers must be in 2..=100");
    anyhow::ensure!((1..=600).contains(&args.seconds), "--seconds must be in 1..=600");
    let files = PathBuf::from(if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" })
        .join(format!("notch-bench-consent-{}", std::process::id()));
    let result = with_scratch(&args.db, "consent", async |ledger_db| {
        with_scratch(&args.db, "consent_providers", async |provider_db| {
            measure(&args, ledger_db, provider_db, &files).await
        })
        .await
    })
    .await;
    let _ = std::fs::remove_dir_all(&files);
    let outcome = result?;
    report(&args, &outcome)?;
    Ok(ExitCode::SUCCESS)
}

struct Outcome {
    grants: Histogram<u64>,
    revokes: Histogram<u64>,
    missing_grants: usize,
    missing_revokes: usize,
    setup_s: f64,
}

async fn measure(
    args: &BenchConsentArgs,
    ledger_db: &Database,
    provider_db: &Database,
    files: &std::path::Path,
) -> anyhow::Result<Outcome> {
    let ledger_store =
        Store::open(ledger_db.service.clone(), SigningKey::generate(&mut OsRng), Default::default()).await?;
    let (stop_tx, mut stop_rx) = watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (addr, server) = adapters::http::serve("127.0.0.1:0".parse()?, ledger_store.clone(), shutdown).await?;
    let server = tokio::spawn(server);
    let base = format!("http://{addr}");

    let provider_store =
        Store::open(provider_db.service.clone(), SigningKey::generate(&mut OsRng), Default::default()).await?;
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut cards = Vec::new();
    let mut readers = Vec::new();
    for n in 0..args.providers {
        let (signing, hpke) = (SigningKey::generate(&mut OsRng), ProviderKeyPair::generate(&mut OsRng));
        cards.push((signing.clone(), card(&signing, &hpke, n)?));
        let provider = Provider::new(provider_store.clone(), &base, &signing, &hpke, Some(seen_tx.clone()))?;
        readers.push((provider.clone(), tokio::spawn(provider.follow_inbox())));
    }

    let tasks = Tasks::default();
    let measured = phases(args, &base, files, &tasks, &cards, &mut seen).await;
    // The devices and providers first, so that none of them is left retrying a ledger that stopped.
    tasks.abort_all();
    for (provider, inbox) in readers {
        inbox.abort();
        provider.stop();
    }
    // Their connections close before the server stops, so it has no request in flight to cancel.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = stop_tx.send(true);
    let _ = server.await;
    measured
}

/// What the providers saw, as it happened.
type Sightings = mpsc::UnboundedReceiver<(Seen, Instant)>;

/// Set-up, then the measured grants, then the measured revocations: the histograms and what went missing.
async fn phases(
    args: &BenchConsentArgs,
    base: &str,
    files: &std::path::Path,
    tasks: &Tasks,
    cards: &[(SigningKey, SignedProviderCard)],
    seen: &mut Sightings,
) -> anyhow::Result<Outcome> {
    let setup_started = Instant::now();
    let homes = start_devices(args.devices, base, files, tasks).await?;
    let ledger = Arc::new(Ledger::new(base)?);
    set_up(&ledger, &homes, cards, seen).await?;
    let setup_s = setup_started.elapsed().as_secs_f64();

    let spread = Duration::from_secs(args.seconds).div_f64(args.devices as f64);
    let scope = power_scope();
    let mut committed = HashMap::new();
    let mut grants = Histogram::<u64>::new(3)?;
    let mut policies = Vec::new();
    let started = Instant::now();
    for (i, home) in homes.iter().enumerate() {
        tokio::time::sleep_until((started + spread * i as u32).into()).await;
        let (signing, card) = &cards[i % args.providers];
        let policy_id = grant(&ledger, home, signing, card, &scope).await?;
        committed.insert(policy_id, Instant::now());
        policies.push(policy_id);
        drain(seen, &mut committed, &mut grants, Seen::FirstReading)?;
    }
    let missing_grants = wait_for(seen, &mut committed, &mut grants, Seen::FirstReading).await?;

    let mut revokes = Histogram::<u64>::new(3)?;
    let started = Instant::now();
    for (i, (home, policy_id)) in homes.iter().zip(&policies).enumerate() {
        tokio::time::sleep_until((started + spread * i as u32).into()).await;
        post_decision(&ledger, &home.owner, Act::Revoke { policy_id: *policy_id, reason: String::new() }).await?;
        committed.insert(*policy_id, Instant::now());
        drain(seen, &mut committed, &mut revokes, Seen::Closed)?;
    }
    let missing_revokes = wait_for(seen, &mut committed, &mut revokes, Seen::Closed).await?;

    Ok(Outcome { grants, revokes, missing_grants, missing_revokes, setup_s })
}

/// The simulated devices' tasks (links, publishers, their clock), stopped at the end of the run.
#[derive(Clone, Default)]
struct Tasks(Arc<Mutex<Vec<tokio::task::AbortHandle>>>);

impl Tasks {
    fn spawn<F: std::future::Future<Output = T> + Send + 'static, T: Send + 'static>(&self, task: F) {
        self.0.lock().expect("tasks lock").push(tokio::spawn(task).abort_handle());
    }

    fn abort_all(&self) {
        for task in self.0.lock().expect("tasks lock").drain(..) {
            task.abort();
        }
    }
}

/// `n` devices, each with its identity, its pairing link following the ledger and its scope channels' publishers,
/// and a clock that gives each device a reading once a second (spread over the second).
async fn start_devices(
    n: usize,
    base: &str,
    files: &std::path::Path,
    tasks: &Tasks,
) -> anyhow::Result<Vec<SimulatedHome>> {
    let mut homes = Vec::with_capacity(n);
    for i in 0..n {
        let dir = files.join(i.to_string());
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let identity = Identity::generate(&mut OsRng);
        identity.save(&dir.join("identity.json"))?;
        let secret = identity.secret_text();
        let device_id = identity.device_id().to_owned();
        let mam = format!("{base}/mam/messages");
        let publishers = tasks.clone();
        let on_open = Box::new(move |device: &notch_p1::device::Device| {
            publishers.spawn(publish::scope_publisher(device, mam.clone()));
        });
        let scopes = Arc::new(Mutex::new(ScopeChannels::open(&dir.join("scopes"), 16 << 20, on_open)?));
        let mut config = LinkConfig::new(base.to_owned(), dir.join("pairing.json"));
        config.retry_max = Duration::from_secs(2);
        tasks.spawn(pairing_link::run(config, identity, Default::default(), scopes.clone()));
        homes.push(SimulatedHome { owner: SigningKey::generate(&mut OsRng), device_id, secret, scopes });
    }
    let clocked: Vec<_> = homes.iter().map(|home| home.scopes.clone()).collect();
    tasks.spawn(readings_every_second(clocked));
    Ok(homes)
}

async fn readings_every_second(devices: Vec<Arc<Mutex<ScopeChannels>>>) {
    let spread = Duration::from_secs(1).div_f64(devices.len() as f64);
    let started = Instant::now();
    for second in 0u32.. {
        for (i, device) in devices.iter().enumerate() {
            tokio::time::sleep_until((started + Duration::from_secs(second.into()) + spread * i as u32).into()).await;
            let reading = Reading { power_import_w: Some(i64::from(second)), ..Reading::default() };
            let published = device.lock().expect("scopes lock").publish(&reading, Utc::now(), &mut OsRng);
            if let Err(err) = published {
                tracing::error!("a simulated device could not publish: {err:#}");
            }
        }
    }
}

/// Pairs every device with its home and gives it a background policy, a few at a time; waits for each
/// background provider's first reading.
async fn set_up(
    ledger: &Arc<Ledger>,
    homes: &[SimulatedHome],
    cards: &[(SigningKey, SignedProviderCard)],
    seen: &mut Sightings,
) -> anyhow::Result<()> {
    let scope = &power_scope();
    let mut waiting = std::collections::HashSet::new();
    for chunk in homes.iter().enumerate().collect::<Vec<_>>().chunks(SETUP_CONCURRENCY) {
        let paired = chunk.iter().map(|(i, home)| async move {
            let secret = notch_p1::pairing::parse_secret(&home.secret).map_err(anyhow::Error::msg)?;
            pair(ledger, &home.owner, &home.device_id, &secret, GIVE_UP).await?;
            let (signing, card) = &cards[(i + 1) % cards.len()];
            grant(ledger, home, signing, card, scope).await
        });
        waiting.extend(futures::future::try_join_all(paired).await?);
    }
    let deadline = Instant::now() + GIVE_UP * 2;
    while !waiting.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, seen.recv()).await {
            Ok(Some((Seen::FirstReading(policy_id), _))) => waiting.remove(&policy_id),
            Ok(Some(_)) => false,
            _ => anyhow::bail!("{} background policies had no reading within {:?}", waiting.len(), GIVE_UP * 2),
        };
    }
    Ok(())
}

/// The owner authorizes `card`'s request for `scope` on the home's device; the policy id.
async fn grant(
    ledger: &Ledger,
    home: &SimulatedHome,
    signing: &SigningKey,
    card: &SignedProviderCard,
    scope: &Scope,
) -> anyhow::Result<Uuid> {
    let now = Utc::now();
    let request = ConsentRequest {
        request_id: Uuid::now_v7(),
        provider: card.clone(),
        purpose: "benchmark".into(),
        scope: scope.clone(),
        valid_from: now - chrono::Duration::seconds(1),
        valid_until: now + chrono::Duration::days(1),
        return_url: card.document.return_urls[0].clone(),
    };
    let policy_id = Uuid::now_v7();
    let request = Signed::sign(signing, request)?;
    post_decision(ledger, &home.owner, Act::Authorize { policy_id, device_id: home.device_id.clone(), request })
        .await?;
    Ok(policy_id)
}

fn card(signing: &SigningKey, hpke: &ProviderKeyPair, n: usize) -> anyhow::Result<SignedProviderCard> {
    let card = ProviderCard {
        name: format!("Provider {n}"),
        provider_key: PublicKey::of(signing),
        hpke_key: hpke.public.to_hex(),
        return_urls: vec!["https://provider.example/back".into()],
        purposes: vec!["benchmark".into()],
        issued_at: Utc::now(),
    };
    Ok(Signed::sign(signing, card)?)
}

fn power_scope() -> Scope {
    Scope { fields: vec![Field::PowerImportW], granularity: Granularity::Telegram }
}

/// Records what the providers saw so far of `kind` for the policies waiting in `committed`.
fn drain(
    seen: &mut Sightings,
    committed: &mut HashMap<Uuid, Instant>,
    histogram: &mut Histogram<u64>,
    kind: fn(Uuid) -> Seen,
) -> anyhow::Result<()> {
    while let Ok((event, at)) = seen.try_recv() {
        note(event, at, committed, histogram, kind)?;
    }
    Ok(())
}

fn note(
    event: Seen,
    at: Instant,
    committed: &mut HashMap<Uuid, Instant>,
    histogram: &mut Histogram<u64>,
    kind: fn(Uuid) -> Seen,
) -> anyhow::Result<()> {
    let policy_id = match event {
        Seen::FirstReading(id) | Seen::Closed(id) => id,
    };
    if event == kind(policy_id) {
        if let Some(from) = committed.remove(&policy_id) {
            histogram.record(at.saturating_duration_since(from).as_micros() as u64)?;
        }
    }
    Ok(())
}

/// Waits until every policy in `committed` was seen (or `GIVE_UP` passed); how many were not.
async fn wait_for(
    seen: &mut Sightings,
    committed: &mut HashMap<Uuid, Instant>,
    histogram: &mut Histogram<u64>,
    kind: fn(Uuid) -> Seen,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + GIVE_UP;
    while !committed.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, seen.recv()).await {
            Ok(Some((event, at))) => note(event, at, committed, histogram, kind)?,
            _ => break,
        }
    }
    let missing = committed.len();
    committed.clear();
    Ok(missing)
}

fn report(args: &BenchConsentArgs, outcome: &Outcome) -> anyhow::Result<()> {
    let ms = |h: &Histogram<u64>, q| (h.value_at_quantile(q) as f64 / 1000.0).round();
    let (grants, revokes) = (&outcome.grants, &outcome.revokes);
    if args.json {
        let report = json!({
            "devices": args.devices,
            "providers": args.providers,
            "seconds": args.seconds,
            "grants": grants.len(),
            "grant_p50_ms": ms(grants, 0.5),
            "grant_p99_ms": ms(grants, 0.99),
            "grant_max_ms": ms(grants, 1.0),
            "missing_grants": outcome.missing_grants,
            "revokes": revokes.len(),
            "revoke_p50_ms": ms(revokes, 0.5),
            "revoke_p99_ms": ms(revokes, 0.99),
            "revoke_max_ms": ms(revokes, 1.0),
            "missing_revokes": outcome.missing_revokes,
            "setup_s": outcome.setup_s.round(),
        });
        println!("{report}");
    } else {
        println!(
            "consent: {} devices publishing once a second, {} providers, set up in {:.0} s",
            args.devices, args.providers, outcome.setup_s
        );
        println!(
            "  grant   {:>5} measured  p50 {:>6} ms  p99 {:>6} ms  max {:>6} ms  missing {}",
            grants.len(),
            ms(grants, 0.5),
            ms(grants, 0.99),
            ms(grants, 1.0),
            outcome.missing_grants
        );
        println!(
            "  revoke  {:>5} measured  p50 {:>6} ms  p99 {:>6} ms  max {:>6} ms  missing {}",
            revokes.len(),
            ms(revokes, 0.5),
            ms(revokes, 0.99),
            ms(revokes, 1.0),
            outcome.missing_revokes
        );
    }
    Ok(())
}
