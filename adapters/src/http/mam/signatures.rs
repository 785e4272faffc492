//! Signature checks of concurrent posts, batched. Each post hands its message to one checker task
//! and waits for the verdict; the checker takes whatever posts are waiting and verifies them as one
//! Ed25519 batch on a blocking thread ([`SealedMessage::verify_signatures`]), one round per core
//! at a time. At low load a round holds a single message (a strict check, at once); under load the
//! rounds grow and each signature costs about half of a single check. (Not on rayon: its idle
//! threads spin with `sched_yield` between the many short rounds, measured at 4 % of the process.)

use std::sync::{Arc, OnceLock};

use mam::{MamError, SealedMessage};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Posts waiting for a check; a post waits (back-pressure) while it is full.
const QUEUE: usize = 4096;
/// Most signatures one round checks: bounds a round's time (about 25 µs per signature).
const MAX_PER_ROUND: usize = 256;

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

async fn check(mut queue: mpsc::Receiver<Job>) {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let rounds = Arc::new(Semaphore::new(cores));
    while let Some(first) = queue.recv().await {
        // Waiting for a free core first lets the round gather every post that arrives meanwhile.
        let Ok(core) = rounds.clone().acquire_owned().await else { break };
        let mut round = vec![first];
        while round.len() < MAX_PER_ROUND {
            let Ok(job) = queue.try_recv() else { break };
            round.push(job);
        }
        tokio::task::spawn_blocking(move || {
            let messages: Vec<&SealedMessage> = round.iter().map(|job| job.message.as_ref()).collect();
            let verdicts = SealedMessage::verify_signatures(&messages);
            for (job, verdict) in round.into_iter().zip(verdicts) {
                let _ = job.verdict.send(verdict);
            }
            drop(core);
        });
    }
}
