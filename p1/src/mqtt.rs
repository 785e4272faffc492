//! Optional MQTT output in the layout dsmr-reader and Home Assistant users know:
//! `{prefix}/json` carries the whole reading as JSON and `{prefix}/reading/{field}` one value
//! each (nested fields joined with `_`, e.g. `phases_l1_voltage_mv`, `mbus_1_volume_dm3`).
//! Those topics are plaintext, so they are used only when the owner opts in; otherwise only the
//! sealed message goes out, on `{prefix}/mam/{channel}`.
//!
//! Best effort: the ledger spool is the durable path. Publishing never blocks the meter loop; when
//! the broker is away the bounded request queue fills and further messages are counted and
//! dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mam::Envelope;
use rumqttc::{AsyncClient, MqttOptions, QoS};
use serde_json::Value;

use crate::drop_log::DropLog;
use crate::reading::Reading;

#[derive(Debug, Clone)]
pub struct MqttConfig {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub prefix: String,
    /// Publish readings in plaintext (`{prefix}/json`, `{prefix}/reading/...`).
    pub plaintext: bool,
    pub credentials: Option<(String, String)>,
}

pub struct MqttSink {
    client: AsyncClient,
    prefix: String,
    plaintext: bool,
    pub dropped: Arc<AtomicU64>,
    event_loop: tokio::task::JoinHandle<()>,
}

/// Requests waiting for the broker; beyond this they are dropped.
const QUEUE: usize = 256;

impl MqttSink {
    pub fn start(config: MqttConfig) -> MqttSink {
        let mut options = MqttOptions::new(&config.client_id, &config.host, config.port);
        options.set_keep_alive(Duration::from_secs(30));
        if let Some((user, password)) = &config.credentials {
            options.set_credentials(user, password);
        }
        let (client, mut event_loop) = AsyncClient::new(options, QUEUE);
        let event_loop = tokio::spawn(async move {
            let mut log = DropLog::new(Duration::from_secs(60));
            loop {
                if let Err(e) = event_loop.poll().await {
                    if let Some(line) = log.record(Instant::now(), "mqtt_connection", &e.to_string()) {
                        tracing::warn!("{line}");
                    }
                    // rumqttc reconnects on the next poll; wait so a dead broker is not hammered.
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
            }
        });
        MqttSink {
            client,
            prefix: config.prefix,
            plaintext: config.plaintext,
            dropped: Arc::new(AtomicU64::new(0)),
            event_loop,
        }
    }

    /// Publishes one telegram: the readings if plaintext is allowed, else the sealed message.
    pub fn publish(&self, reading: &Reading, sealed: &Envelope) {
        if self.plaintext {
            let json = serde_json::to_value(reading).expect("readings serialise");
            self.send(format!("{}/json", self.prefix), json.to_string().into_bytes());
            for (field, value) in flatten(&json) {
                self.send(format!("{}/reading/{field}", self.prefix), value.into_bytes());
            }
        } else {
            let payload = serde_json::to_vec(sealed).expect("envelopes serialise");
            self.send(format!("{}/mam/{}", self.prefix, sealed.channel), payload);
        }
    }

    fn send(&self, topic: String, payload: Vec<u8>) {
        if self.client.try_publish(topic, QoS::AtLeastOnce, false, payload).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for MqttSink {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}

/// Scalar leaves of a JSON value as (`a_b_c`, text). Array elements are numbered by their
/// `channel` field when they have one (M-Bus), else from 1. Raw and malformed lines are left out.
pub fn flatten(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(value, String::new(), &mut out);
    out
}

fn walk(value: &Value, key: String, out: &mut Vec<(String, String)>) {
    let join = |k: &str| {
        if key.is_empty() {
            k.to_string()
        } else {
            format!("{key}_{k}")
        }
    };
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "unknown" || k == "malformed" {
                    continue;
                }
                walk(v, join(k), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let n = item.get("channel").and_then(Value::as_u64).unwrap_or(i as u64 + 1);
                walk(item, join(&n.to_string()), out);
            }
        }
        Value::String(s) => out.push((key, s.clone())),
        Value::Null => {}
        other => out.push((key, other.to_string())),
    }
}
