//! Sending spooled messages to the ledger over HTTP, oldest first, acknowledging each in the
//! spool once the ledger has it. Retries without end (nothing may be lost) but with a bounded
//! wait between attempts and a timeout on every request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::Notify;

use crate::backoff::Backoff;
use crate::drop_log::DropLog;
use crate::spool::{Record, Spool};

#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// The ledger's MAM message endpoint, e.g. `http://ledger:8080/mam/messages`.
    pub url: String,
    pub request_timeout: Duration,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// How many spooled records to load per round.
    pub batch: usize,
}

impl PublisherConfig {
    pub fn new(url: String) -> PublisherConfig {
        PublisherConfig {
            url,
            request_timeout: Duration::from_secs(10),
            retry_initial: Duration::from_millis(500),
            retry_max: Duration::from_secs(60),
            batch: 64,
        }
    }
}

#[derive(Debug, Default)]
pub struct PublishStats {
    /// Messages the ledger stored.
    pub delivered: AtomicU64,
    /// Messages the ledger already had (a retry after a lost answer).
    pub duplicates: AtomicU64,
    /// Messages the ledger refused for good (4xx): logged and skipped, or the chain would stall.
    pub rejected: AtomicU64,
    /// Failed attempts (ledger down, 5xx, timeouts), each followed by a retry.
    pub failed_attempts: AtomicU64,
}

enum Outcome {
    Stored,
    Duplicate,
    Rejected(String),
    Retry(String),
}

/// Runs until the task is dropped.
pub async fn run(
    spool: Arc<Mutex<Spool>>,
    appended: Arc<Notify>,
    config: PublisherConfig,
    stats: Arc<PublishStats>,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(config.request_timeout).build()?;
    let mut backoff = Backoff::new(config.retry_initial, config.retry_max);
    let mut failure_log = DropLog::new(Duration::from_secs(60));
    loop {
        let batch = spool.lock().expect("spool lock").peek(config.batch)?;
        if batch.is_empty() {
            // The timeout covers a notification that raced with the peek above.
            let _ = tokio::time::timeout(Duration::from_secs(1), appended.notified()).await;
            continue;
        }
        for record in batch {
            loop {
                match post(&http, &config.url, &record).await {
                    Outcome::Stored => stats.delivered.fetch_add(1, Ordering::Relaxed),
                    Outcome::Duplicate => stats.duplicates.fetch_add(1, Ordering::Relaxed),
                    Outcome::Rejected(why) => {
                        tracing::error!(id = record.id, "ledger refused message for good: {why}");
                        stats.rejected.fetch_add(1, Ordering::Relaxed)
                    }
                    Outcome::Retry(why) => {
                        stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                        if let Some(line) = failure_log.record(Instant::now(), "ledger_unreachable", &why) {
                            tracing::warn!("{line}");
                        }
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                };
                backoff.reset();
                spool.lock().expect("spool lock").ack(record.id)?;
                break;
            }
        }
    }
}

/// The publisher of a scope channel's spool (`ScopeChannels`' `OnOpen`): `run` with the default settings, its
/// failure (a spool it cannot read) logged, since nothing else waits on it.
pub fn scope_publisher(device: &crate::device::Device, url: String) -> impl std::future::Future<Output = ()> {
    let stats = Arc::new(PublishStats::default());
    let publisher = run(device.spool.clone(), device.appended.clone(), PublisherConfig::new(url), stats);
    async move {
        if let Err(err) = publisher.await {
            tracing::error!("a scope channel's publisher stopped: {err:#}");
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, record: &Record) -> Outcome {
    let response = http
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(record.payload.clone())
        .send()
        .await;
    match response {
        Err(e) => Outcome::Retry(format!("posting message {}: {e}", record.id)),
        Ok(r) => match r.status() {
            StatusCode::CREATED => Outcome::Stored,
            StatusCode::OK => Outcome::Duplicate,
            s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
                Outcome::Retry(format!("ledger answered {s} for message {}", record.id))
            }
            s => Outcome::Rejected(format!("{s}: {}", r.text().await.unwrap_or_default())),
        },
    }
}
