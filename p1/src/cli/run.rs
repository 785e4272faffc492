//! `notch-p1 run`: the device service. Meter → parse → seal → spool → ledger (and MQTT).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use notch_p1::device::{Accepted, Device};
use notch_p1::mqtt::{MqttConfig, MqttSink};
use notch_p1::pairing::Identity;
use notch_p1::pairing_link::{self, LinkConfig};
use notch_p1::publish::{self, PublishStats, PublisherConfig};
use notch_p1::reader::{self, ReaderConfig, Stats};
use notch_p1::scope_channels::ScopeChannels;
use notch_p1::serial::{LineSettings, Preset};
use notch_p1::spool::SpoolConfig;
use tokio::sync::mpsc;
use tokio_serial::{DataBits, Parity};

#[derive(clap::Args)]
pub struct RunArgs {
    /// The meter's serial port, e.g. /dev/ttyUSB0.
    #[arg(long, env = "NOTCH_P1_PORT")]
    port: PathBuf,
    /// Line settings of the DSMR generation: 2.2 (9600 7E1) or 5 (115200 8N1, also 4.x).
    #[arg(long, value_enum, default_value = "5")]
    dsmr: Preset,
    /// Override the preset's baud rate.
    #[arg(long)]
    baud: Option<u32>,
    /// Override the preset's data bits (7 or 8).
    #[arg(long, value_parser = ["7", "8"])]
    data_bits: Option<String>,
    /// Override the preset's parity.
    #[arg(long, value_parser = ["none", "even", "odd"])]
    parity: Option<String>,
    /// Where the channel state (channel.json) and the spool (spool/) live.
    #[arg(long, env = "NOTCH_P1_DATA_DIR")]
    data_dir: PathBuf,
    /// The ledger's MAM endpoint, e.g. http://ledger:8080/mam/messages.
    #[arg(long, env = "NOTCH_P1_LEDGER_URL")]
    ledger_url: String,
    /// Upper bound of the spool on disk.
    #[arg(long, default_value_t = 256)]
    spool_max_mib: u64,
    /// Warn when no telegram arrived for this many seconds.
    #[arg(long, default_value_t = 30)]
    silence_warning_s: u64,
    /// MQTT broker host; no MQTT output without it.
    #[arg(long)]
    mqtt_host: Option<String>,
    #[arg(long, default_value_t = 1883)]
    mqtt_port: u16,
    #[arg(long, default_value = "dsmr")]
    mqtt_prefix: String,
    /// Publish readings in plaintext on MQTT (dsmr-reader layout). Without it only sealed
    /// messages go to MQTT.
    #[arg(long)]
    mqtt_plaintext: bool,
    #[arg(long, env = "NOTCH_P1_MQTT_USER")]
    mqtt_user: Option<String>,
    #[arg(long, env = "NOTCH_P1_MQTT_PASSWORD", hide_env_values = true)]
    mqtt_password: Option<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("NOTCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
    tokio::runtime::Runtime::new()?.block_on(serve(args))
}

async fn serve(args: RunArgs) -> anyhow::Result<ExitCode> {
    let mut rng = rand_core::OsRng;
    let mut spool_config = SpoolConfig::new(args.data_dir.join("spool"));
    spool_config.max_bytes = args.spool_max_mib * 1024 * 1024;
    let mut device = Device::open(&args.data_dir.join("channel.json"), spool_config, &mut rng)
        .context("opening the device state")?;
    tracing::info!(
        channel = hex::encode(device.channel_public_key()),
        next_index = device.next_index(),
        "channel ready"
    );

    let mut reader_config = ReaderConfig::new(args.port.clone(), line_settings(&args));
    reader_config.silence_warning = Duration::from_secs(args.silence_warning_s);
    let stats = Arc::new(Stats::default());
    let (tx, mut rx) = mpsc::channel(64);
    tokio::spawn(reader::run(reader_config, tx, stats.clone()));

    let (publisher, publish_stats) = start_publisher(&args, &device);
    let mqtt = mqtt_sink(&args, &device);
    let scopes = Arc::new(Mutex::new(scope_channels(&args)?));
    let pairing = tokio::spawn(pairing_link(&args, scopes.clone())?);

    let mut report = tokio::time::interval(Duration::from_secs(600));
    loop {
        tokio::select! {
            received = rx.recv() => {
                let Some(received) = received else { break };
                if let Accepted::Spooled { envelope, .. } = device.accept(&received.raw.bytes, &mut rng)? {
                    if let Some(mqtt) = &mqtt {
                        mqtt.publish(&received.reading, &envelope);
                    }
                }
                scopes.lock().expect("scopes lock").publish(&received.reading, received.received_at, &mut rng)?;
            }
            _ = report.tick() => {
                tracing::info!(
                    reader = ?stats.snapshot(),
                    delivered = publish_stats.delivered.load(std::sync::atomic::Ordering::Relaxed),
                    waiting = device.spool.lock().expect("spool lock").pending(),
                    refused = device.refused(),
                    "status"
                );
            }
        }
        if publisher.is_finished() || pairing.is_finished() {
            break;
        }
    }
    ended(publisher, pairing).await
}

type Task = tokio::task::JoinHandle<anyhow::Result<()>>;

fn start_publisher(args: &RunArgs, device: &Device) -> (Task, Arc<PublishStats>) {
    let stats = Arc::new(PublishStats::default());
    let config = PublisherConfig::new(args.ledger_url.clone());
    let publisher = tokio::spawn(publish::run(device.spool.clone(), device.appended.clone(), config, stats.clone()));
    (publisher, stats)
}

/// The service ends only when a task it cannot do without has ended: say which, and why.
async fn ended(publisher: Task, pairing: Task) -> anyhow::Result<ExitCode> {
    let (task, what) =
        if pairing.is_finished() { (pairing, "pairing") } else { (publisher, "publishing to the ledger") };
    match task.await {
        Ok(Err(e)) => Err(e.context(what)),
        _ => Ok(ExitCode::FAILURE),
    }
}

/// The channels of the scopes in use (`<data dir>/scopes/`), each with its publisher (which retries the ledger
/// itself, as the main channel's does).
fn scope_channels(args: &RunArgs) -> anyhow::Result<ScopeChannels> {
    let url = args.ledger_url.clone();
    let on_open = Box::new(move |device: &Device| {
        tokio::spawn(publish::scope_publisher(device, url.clone()));
    });
    ScopeChannels::open(&args.data_dir.join("scopes"), args.spool_max_mib * 1024 * 1024, on_open)
        .context("opening the scope channels")
}

/// The device's side of the pairing dialogue, following its inbox on the ledger.
fn pairing_link(
    args: &RunArgs,
    scopes: Arc<Mutex<ScopeChannels>>,
) -> anyhow::Result<impl std::future::Future<Output = anyhow::Result<()>>> {
    let identity = Identity::open(&super::pairing::identity_path(&args.data_dir), &mut rand_core::OsRng)?;
    let state_path = super::pairing::state_path(&args.data_dir);
    let state = pairing_link::open_state(&state_path)?;
    tracing::info!(device_id = identity.device_id(), paired = state.paired_with.is_some(), "pairing ready");
    let config = LinkConfig::new(pairing_link::ledger_base(&args.ledger_url)?, state_path);
    Ok(pairing_link::run(config, identity, state, scopes))
}

/// The serial line: the DSMR version's settings, with any flag given taking precedence.
fn line_settings(args: &RunArgs) -> LineSettings {
    let mut line = args.dsmr.line_settings();
    if let Some(baud) = args.baud {
        line.baud_rate = baud;
    }
    match args.data_bits.as_deref() {
        Some("7") => line.data_bits = DataBits::Seven,
        Some(_) => line.data_bits = DataBits::Eight,
        None => {}
    }
    match args.parity.as_deref() {
        Some("none") => line.parity = Parity::None,
        Some("even") => line.parity = Parity::Even,
        Some(_) => line.parity = Parity::Odd,
        None => {}
    }
    line
}

/// The optional plaintext/ciphertext mirror to an MQTT broker.
fn mqtt_sink(args: &RunArgs, device: &Device) -> Option<MqttSink> {
    args.mqtt_host.as_ref().map(|host| {
        MqttSink::start(MqttConfig {
            host: host.clone(),
            port: args.mqtt_port,
            client_id: format!("notch-p1-{}", &hex::encode(device.channel_public_key())[..12]),
            prefix: args.mqtt_prefix.clone(),
            plaintext: args.mqtt_plaintext,
            credentials: args.mqtt_user.clone().zip(args.mqtt_password.clone()),
        })
    })
}
