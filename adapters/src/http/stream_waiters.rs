//! Who waits on which stream. A long-polled stream read (`GET /streams/{id}?wait_ms=`) waits for its own stream's
//! next event, not for the log's: one task follows the log's head and, for each new stretch of the log, reads the
//! streams written to once (one query, however many readers wait) and wakes the readers of those streams only.
//! Woken on every append, thousands of waiting readers would each read their stream again for every event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use events::Store;
use tokio::sync::{watch, Notify, Semaphore, SemaphorePermit};

/// Stream ids read per query while catching up with the head.
const PAGE: usize = 10_000;

pub struct StreamWaiters {
    streams: Mutex<HashMap<String, Arc<Notify>>>,
    /// The bound on readers waiting at once.
    permits: Semaphore,
    /// Dropped with the waiters: the task that wakes them ends then (and lets go of the store).
    _alive: watch::Sender<()>,
}

/// One reader's wait on one stream, removed from the map with its last reader.
pub struct Waiting<'a> {
    waiters: &'a StreamWaiters,
    stream_id: String,
    pub notify: Arc<Notify>,
    _permit: SemaphorePermit<'a>,
}

impl StreamWaiters {
    /// The waiters of `store`'s streams, and the task that wakes them (it ends when they are dropped).
    pub fn start(store: Store, max_waiting: usize) -> Arc<StreamWaiters> {
        let (alive, alive_rx) = watch::channel(());
        let streams = Mutex::new(HashMap::new());
        let waiters = Arc::new(StreamWaiters { streams, permits: Semaphore::new(max_waiting), _alive: alive });
        tokio::spawn(follow(store, Arc::downgrade(&waiters), alive_rx));
        waiters
    }

    /// A wait on `stream_id`, unless as many readers as the bound allows wait already.
    pub fn wait_on(&self, stream_id: &str) -> Option<Waiting<'_>> {
        let permit = self.permits.try_acquire().ok()?;
        let mut streams = self.streams.lock().expect("waiters lock");
        let notify = streams.entry(stream_id.to_owned()).or_default().clone();
        Some(Waiting { waiters: self, stream_id: stream_id.to_owned(), notify, _permit: permit })
    }

    fn wake(&self, stream_id: &str) {
        if let Some(notify) = self.streams.lock().expect("waiters lock").get(stream_id) {
            notify.notify_waiters();
        }
    }

    fn wake_all(&self) {
        for notify in self.streams.lock().expect("waiters lock").values() {
            notify.notify_waiters();
        }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut streams = self.waiters.streams.lock().expect("waiters lock");
        // The map's handle and this one: no other reader waits on the stream.
        if Arc::strong_count(&self.notify) == 2 {
            streams.remove(&self.stream_id);
        }
    }
}

/// Wakes the waiters of each stream written to, as the head moves.
async fn follow(store: Store, waiters: Weak<StreamWaiters>, mut alive: watch::Receiver<()>) {
    let mut head = store.head_watch();
    let mut seen = *head.borrow_and_update();
    loop {
        tokio::select! {
            changed = head.changed() => if changed.is_err() { return },
            _ = alive.changed() => return,
        }
        let Some(waiters) = waiters.upgrade() else { return };
        let now = *head.borrow_and_update();
        while seen < now {
            match store.streams_after(seen, PAGE).await {
                Ok(written) if written.is_empty() => break,
                Ok(written) => {
                    for (position, stream_id) in written {
                        seen = position;
                        waiters.wake(&stream_id);
                    }
                }
                Err(err) => {
                    // Everyone reads again (and finds what is there); the next head change starts from here.
                    tracing::warn!("reading which streams changed: {err}");
                    waiters.wake_all();
                    seen = now;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}
