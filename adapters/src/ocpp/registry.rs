//! The charge points connected right now, so that a call (RemoteStartTransaction) can be sent to one and its
//! answer awaited. Every queue and every wait here is bounded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::frame;

/// Frames waiting to be written to one charge point.
pub const OUTGOING_QUEUE: usize = 16;
/// Calls awaiting an answer from one charge point.
const MAX_PENDING_CALLS: usize = 16;
/// How long a charge point has to answer a call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    #[error("charge point {0} is not connected")]
    NotConnected(String),
    #[error("charge point {0} has too many unanswered calls")]
    Busy(String),
    #[error("charge point {0} did not answer within {1:?}")]
    NoAnswer(String, Duration),
    #[error("charge point answered with CallError {code}: {description}")]
    CallError { code: String, description: String },
}

type Answer = Result<Value, CallFailure>;

struct Connection {
    /// Distinguishes a reconnected charge point from the connection it replaced.
    session: u64,
    outgoing: mpsc::Sender<String>,
    pending: HashMap<String, oneshot::Sender<Answer>>,
}

#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    next_session: u64,
    connections: HashMap<String, Connection>,
}

impl Registry {
    /// Registers a new connection (replacing an older one of the same charge point); returns its session and
    /// the receiver of frames to write.
    pub fn connect(&self, charge_point_id: &str) -> (u64, mpsc::Receiver<String>) {
        let (outgoing, receiver) = mpsc::channel(OUTGOING_QUEUE);
        let mut inner = self.inner.lock().expect("registry lock");
        inner.next_session += 1;
        let session = inner.next_session;
        let connection = Connection { session, outgoing, pending: HashMap::new() };
        inner.connections.insert(charge_point_id.to_owned(), connection);
        (session, receiver)
    }

    pub fn disconnect(&self, charge_point_id: &str, session: u64) {
        let mut inner = self.inner.lock().expect("registry lock");
        if inner.connections.get(charge_point_id).is_some_and(|c| c.session == session) {
            inner.connections.remove(charge_point_id);
        }
    }

    /// Delivers a CallResult or CallError to the call waiting for it; answers nobody waits for are dropped.
    pub fn answer(&self, charge_point_id: &str, message_id: &str, answer: Answer) -> bool {
        let mut inner = self.inner.lock().expect("registry lock");
        let waiting = inner.connections.get_mut(charge_point_id).and_then(|c| c.pending.remove(message_id));
        waiting.is_some_and(|reply| reply.send(answer).is_ok())
    }

    /// Sends `[2, id, action, payload]` to the charge point and waits (bounded) for its answer.
    pub async fn call(&self, charge_point_id: &str, action: &str, payload: &impl Serialize) -> Answer {
        let message_id = uuid::Uuid::new_v4().to_string();
        let (reply, answer) = oneshot::channel();
        let outgoing = {
            let mut inner = self.inner.lock().expect("registry lock");
            let connection = inner
                .connections
                .get_mut(charge_point_id)
                .ok_or_else(|| CallFailure::NotConnected(charge_point_id.to_owned()))?;
            if connection.pending.len() >= MAX_PENDING_CALLS {
                return Err(CallFailure::Busy(charge_point_id.to_owned()));
            }
            connection.pending.insert(message_id.clone(), reply);
            connection.outgoing.clone()
        };
        let text = frame::call(&message_id, action, payload);
        if outgoing.send_timeout(text, CALL_TIMEOUT).await.is_err() {
            self.forget(charge_point_id, &message_id);
            return Err(CallFailure::NotConnected(charge_point_id.to_owned()));
        }
        match tokio::time::timeout(CALL_TIMEOUT, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(CallFailure::NotConnected(charge_point_id.to_owned())),
            Err(_) => {
                self.forget(charge_point_id, &message_id);
                Err(CallFailure::NoAnswer(charge_point_id.to_owned(), CALL_TIMEOUT))
            }
        }
    }

    fn forget(&self, charge_point_id: &str, message_id: &str) {
        let mut inner = self.inner.lock().expect("registry lock");
        if let Some(connection) = inner.connections.get_mut(charge_point_id) {
            connection.pending.remove(message_id);
        }
    }
}
