//! Signature checks of concurrent posts, batched. Each post hands its message to one checker task
//! and waits for the verdict; the checker takes whatever posts are waiting and verifies them as one
//! Ed25519 batch on a blocking thread ([`SealedMessage::verify_signatures_under`], with the decoded
//! channel keys kept), one round per core at a time. A round that would start with fewer than
//! [`MIN_PER_ROUND`] posts first waits up to [`GATHER`] for more: a lone strict check costs about
//! twice a batched signature, and at a few thousand posts a second most rounds were lone ones
//! (docs/benchmarks.md). At low load that wait is the whole cost: a post's answer comes up to
//! [`GATHER`] (plus the timer's millisecond) later. (Not on rayon: its idle threads spin with
//! `sched_yield` between the many short rounds, measured at 4 % of the process.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use mam::{ChannelKey, MamError, SealedMessage};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

/// Posts waiting for a check; a post waits (back-pressure) while it is full.
const QUEUE: usize = 4096;
/// Most signatures one round checks: bounds a round's time (about 25 µs per signature).
const MAX_PER_ROUND: usize = 256;
/// A round this small waits for more posts before it starts...
const MIN_PER_ROUND: usize = 16;
/// ...for at most this long after its first post arrived.
const GATHER: Duration = Duration::from_millis(1);
/// Channel keys kept decoded; beyond this the memory starts over (about 200 bytes each).
const MAX_CACHED_KEYS: usize = 100_000;

struct Job {
    message: Arc<SealedMessage>,
    verdict: oneshot::Sender<Result<(), MamError>>,
}

/// The checker's queue, started by the first post (on the server's runtime); cheap to clone.
#[derive(Clone, Default)]
pub(super) struct Signatures(Arc<OnceLock<mpsc::Sender<Job>>>);

impl Signatures {
    /// The verdict of [`SealedMessage::verify_signature`] for `message`, checked in a batch with
    /// the posts that arrived at the same time.
    pub async fn verify(&self, message: Arc<SealedMessage>) -> Result<(), MamError> {
        let jobs = self.0.get_or_init(start);
        let (verdict, answer) = oneshot::channel();
        if jobs.send(Job { message: message.clone(), verdict }).await.is_ok() {
            if let Ok(verdict) = answer.await {
                return verdict;
            }
        }
        // The checker is gone (it never stops while a post holds its queue, unless a check
        // panicked): check this message alone.
        message.verify_signature()
    }
}

fn start() -> mpsc::Sender<Job> {
    let (jobs, queue) = mpsc::channel(QUEUE);
    tokio::spawn(check(queue));
    jobs
}

/// Decoded channel keys (decoding is a square root in the field, a fifth of a batched check).
#[derive(Default)]
struct Keys(Mutex<HashMap<[u8; 32], ChannelKey>>);

impl Keys {
    /// Each message's channel key, or `None` if one is not a usable key (the strict check then
    /// gives that message its verdict).
    fn of(&self, messages: &[&SealedMessage]) -> Option<Vec<ChannelKey>> {
        let mut keys = self.0.lock().expect("keys lock");
        messages
            .iter()
            .map(|m| match keys.get(&m.channel) {
                Some(key) => Some(*key),
                None => {
                    let key = m.channel_key()?;
                    if keys.len() >= MAX_CACHED_KEYS {
                        keys.clear();
                    }
                    keys.insert(m.channel, key);
                    Some(key)
                }
            })
            .collect()
    }
}

async fn check(mut queue: mpsc::Receiver<Job>) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rounds = Arc::new(Semaphore::new(cores));
    let keys = Arc::new(Keys::default());
    while let Some(first) = queue.recv().await {
        let gathered_by = Instant::now() + GATHER;
        // Waiting for a free core first lets the round gather every post that arrives meanwhile.
        let Ok(core) = rounds.clone().acquire_owned().await else { break };
        let mut round = vec![first];
        loop {
            while round.len() < MAX_PER_ROUND {
                let Ok(job) = queue.try_recv() else { break };
                round.push(job);
            }
            if round.len() >= MIN_PER_ROUND {
                break;
            }
            match tokio::time::timeout_at(gathered_by, queue.recv()).await {
                Ok(Some(job)) => round.push(job),
                Ok(None) | Err(_) => break,
            }
        }
        let keys = keys.clone();
        tokio::task::spawn_blocking(move || {
            let messages: Vec<&SealedMessage> = round.iter().map(|job| job.message.as_ref()).collect();
            let verdicts = match keys.of(&messages) {
                Some(keys) => SealedMessage::verify_signatures_under(&messages, &keys),
                None => SealedMessage::verify_signatures(&messages),
            };
            for (job, verdict) in round.into_iter().zip(verdicts) {
                let _ = job.verdict.send(verdict);
            }
            drop(core);
        });
    }
}
