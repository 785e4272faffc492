//! Subscriptions: catch up from a position, then follow the log live.
//!
//! One LISTEN connection per store turns the writer's NOTIFYs (from any process) into a `watch` of the head
//! position; subscribers read in batches through the pool and sleep on the watch when caught up, so an idle
//! subscriber costs nothing. A dropped connection is re-established with bounded backoff, after which every
//! subscriber re-reads (a notification may have been missed while the listener was down).

use std::collections::VecDeque;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio_postgres::AsyncMessage;

use super::error::StoreError;
use super::read::{head_position_with, read_from};
use super::writer::NOTIFY_CHANNEL;
use super::Store;
use crate::envelope::RecordedEvent;

/// Events a subscription fetches per read.
const SUBSCRIPTION_BATCH: usize = 1000;
/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long a subscriber keeps retrying a failing read before it reports the error.
const READ_RETRY_BUDGET: Duration = Duration::from_secs(60);

/// Keeps `head` up to date from NOTIFYs until every receiver is gone.
pub(crate) async fn listen(config: tokio_postgres::Config, role: Option<String>, head: watch::Sender<i64>) {
    let mut backoff = Duration::from_millis(50);
    while !head.is_closed() {
        match listen_once(&config, role.as_deref(), &head).await {
            Ok(()) => return,
            Err(err) => {
                tracing::warn!("log listener lost its connection ({err}); reconnecting in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    role: Option<&str>,
    head: &watch::Sender<i64>,
) -> Result<(), StoreError> {
    let (client, mut connection) = config.connect(tokio_postgres::NoTls).await?;
    let (notes_tx, mut notes) = tokio::sync::mpsc::channel::<Result<i64, tokio_postgres::Error>>(64);
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            let item = match message {
                Ok(AsyncMessage::Notification(n)) => Ok(n.payload().parse().unwrap_or(0)),
                Ok(_) => continue,
                Err(err) => Err(err),
            };
            let stop = item.is_err();
            if notes_tx.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    if let Some(role) = role {
        client.batch_execute(&format!("SET ROLE \"{role}\"")).await?;
    }
    client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await?;
    // Anything committed while we were not listening: wake every subscriber to re-read.
    let now = head_position_with(&client).await?;
    // send_modify wakes every subscriber even when the head did not move: they re-read either way.
    head.send_modify(|known| *known = (*known).max(now));
    let result = loop {
        tokio::select! {
            note = notes.recv() => match note {
                Some(Ok(position)) => {
                    head.send_if_modified(|known| std::mem::replace(known, (*known).max(position)) < position);
                }
                Some(Err(err)) => break Err(err.into()),
                None => break Err(StoreError::Closed),
            },
            () = head.closed() => break Ok(()),
        }
    };
    driver.abort();
    result
}

/// An ordered, gap-free feed of the log from a position on.
pub struct Subscription {
    store: Store,
    next_position: i64,
    buffer: VecDeque<RecordedEvent>,
    head: watch::Receiver<i64>,
}

impl Store {
    /// Every event with position >= `from_position`, in order, then live as they commit.
    pub fn subscribe(&self, from_position: i64) -> Subscription {
        Subscription {
            store: self.clone(),
            next_position: from_position.max(1),
            buffer: VecDeque::new(),
            head: self.inner.head.clone(),
        }
    }
}

impl Subscription {
    /// The next event; waits while the subscriber is caught up. Transient database failures are retried with
    /// backoff for up to a minute before they are returned.
    pub async fn next(&mut self) -> Result<RecordedEvent, StoreError> {
        loop {
            if let Some(event) = self.buffer.pop_front() {
                if event.position != self.next_position {
                    return Err(StoreError::Gap { expected: self.next_position, found: event.position });
                }
                self.next_position += 1;
                return Ok(event);
            }
            self.head.borrow_and_update();
            let batch = self.read_with_retry().await?;
            if batch.is_empty() {
                self.head.changed().await.map_err(|_| StoreError::Closed)?;
            } else {
                self.buffer.extend(batch);
            }
        }
    }

    /// The position the next event will have.
    pub fn position(&self) -> i64 {
        self.next_position
    }

    async fn read_with_retry(&self) -> Result<Vec<RecordedEvent>, StoreError> {
        let started = tokio::time::Instant::now();
        let mut backoff = Duration::from_millis(20);
        loop {
            let read =
                async { read_from(&**self.store.pool().get().await?, self.next_position, SUBSCRIPTION_BATCH).await };
            match read.await {
                Ok(batch) => return Ok(batch),
                Err(err) if started.elapsed() < READ_RETRY_BUDGET => {
                    tracing::debug!("subscription read failed ({err}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(err) => return Err(err),
            }
        }
    }
}
