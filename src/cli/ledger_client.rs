//! The ledger as the owner's and the provider's commands reach it: JSON over HTTP, a refusal as one clear error with the ledger's
//! code, and streams read whole or followed (a long-polled read waits on the ledger for the next event).

use std::time::Duration;

use anyhow::{bail, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Longest one request may take (a followed read waits up to 25 s of it on the ledger).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a followed read waits on the ledger.
const WAIT_MS: u64 = 25_000;
/// Events read per page.
const PAGE: usize = 1000;
/// Longest stream the commands read (a home has at most thousands of events).
const MAX_EVENTS: usize = 100_000;

pub struct Ledger {
    base: String,
    http: reqwest::Client,
}

impl Ledger {
    pub fn new(base: &str) -> anyhow::Result<Ledger> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build()?;
        Ok(Ledger { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// POSTs `body`; the ledger's answer, or its refusal as an error `code: message`.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .with_context(|| format!("cannot reach the ledger at {url}"))?;
        answer(response).await
    }

    /// Every event of `stream_id` (none if it does not exist), parsed.
    pub async fn stream<E: DeserializeOwned>(&self, stream_id: &str) -> anyhow::Result<Vec<E>> {
        let mut events = Vec::new();
        loop {
            let page = self.page(stream_id, events.len() as i64 + 1, None).await?;
            let full = page.len() == PAGE;
            events.extend(page.into_iter().map(|(_, event)| event));
            if !full {
                return Ok(events);
            }
            if events.len() >= MAX_EVENTS {
                bail!("stream {stream_id} has more than {MAX_EVENTS} events");
            }
        }
    }

    /// The events of `stream_id` from version `from`, waiting on the ledger for the first of them; with versions.
    pub async fn follow<E: DeserializeOwned>(&self, stream_id: &str, from: i64) -> anyhow::Result<Vec<(i64, E)>> {
        self.page(stream_id, from, Some(WAIT_MS)).await
    }

    async fn page<E: DeserializeOwned>(
        &self,
        stream_id: &str,
        from: i64,
        wait_ms: Option<u64>,
    ) -> anyhow::Result<Vec<(i64, E)>> {
        let wait = wait_ms.map(|ms| format!("&wait_ms={ms}")).unwrap_or_default();
        let url = format!("{}/streams/{stream_id}?from={from}&limit={PAGE}{wait}", self.base);
        let response = self.http.get(&url).send().await.with_context(|| format!("cannot reach the ledger at {url}"))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let page = answer(response).await?;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        events
            .into_iter()
            .map(|event| {
                let version = event["stream_version"].as_i64().context("an event without a stream version")?;
                let parsed = serde_json::from_value(event["payload"].clone())
                    .with_context(|| format!("event {version} of {stream_id} is not what this command reads"))?;
                Ok((version, parsed))
            })
            .collect()
    }
}

async fn answer(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    match (body["code"].as_str(), body["message"].as_str()) {
        (Some(code), Some(message)) => bail!("the ledger refused ({code}): {message}"),
        _ => bail!("the ledger answered {status}"),
    }
}
