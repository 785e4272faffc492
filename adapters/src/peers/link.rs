//! The site's end of the link: the open connections by peer, sending to a peer (over an open connection, or
//! dialing one; messages wait in a bounded queue while the handshake runs), and the counters the status shows.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use peers::noise::TAG_BYTES;
use serde_json::Value;
use tokio::sync::mpsc;

use super::admission::Admission;
use super::connection::{self, ConnectionInfo, Direction, Open};
use super::dial::{dial_with, is_ticket_request, stamp_from};
use super::handler::PeerHandler;
use super::identity::{PeerAddress, SiteIdentity};
use super::limits::PeerLimits;
use super::refusal::Refusal;
use super::status::{ConnectionStatus, PeerCounters, PeerStatus};

/// Peers whose counters are kept; beyond this only the totals count.
const MAX_COUNTED_PEERS: usize = 4096;

pub struct PeerLink {
    pub(super) identity: SiteIdentity,
    pub(super) handler: Arc<dyn PeerHandler>,
    pub(super) limits: PeerLimits,
    pub(super) admission: Arc<Mutex<Admission>>,
    state: Mutex<LinkState>,
}

#[derive(Default)]
struct LinkState {
    next_id: u64,
    connections: HashMap<String, Vec<Handle>>,
    refusals: BTreeMap<&'static str, u64>,
    peers: BTreeMap<String, PeerCounters>,
    dropped_messages: u64,
    stopped: bool,
}

struct Handle {
    info: Arc<ConnectionInfo>,
    /// Messages as their JSON bytes, serialised once by `prepare`.
    queue: mpsc::Sender<Vec<u8>>,
}

/// A message ready for the wire.
struct Prepared {
    json: Vec<u8>,
    ticket: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the message is {bytes} bytes; a frame carries at most {most}")]
    TooLarge { bytes: usize, most: usize },
    #[error("{0} messages wait for this peer already")]
    QueueFull(usize),
    #[error("too many connections are open")]
    TooManyConnections,
    #[error("the peer link is stopped")]
    Stopped,
    #[error("bad peer address: {0}")]
    Address(String),
    #[error("no connection to {0} is open")]
    NotConnected(String),
}

/// Where a prepared message goes: onto an open (or opening) connection's queue, or it went into a new dial.
enum Route {
    Queue(mpsc::Sender<Vec<u8>>, Vec<u8>),
    Dialing,
}

impl PeerLink {
    pub fn new(identity: SiteIdentity, handler: Arc<dyn PeerHandler>, limits: PeerLimits) -> Arc<PeerLink> {
        limits.validate().expect("the caller validates the operator's limits");
        Arc::new(PeerLink { identity, handler, limits, admission: Default::default(), state: Default::default() })
    }

    pub fn identity(&self) -> &SiteIdentity {
        &self.identity
    }

    /// Queues `message` for `to`: over an open (or opening) connection to that agent, else over a new one that
    /// carries it in its handshake. A ticket request always opens its own connection (its `I`). `from` is
    /// stamped with this site. The message is lost if the connection fails before writing it: the business
    /// above records what it sends and retries until the peer acknowledges.
    pub fn send(self: &Arc<Self>, to: &PeerAddress, message: Value) -> Result<(), SendError> {
        match self.route(to, self.prepare(message)?)? {
            Route::Queue(queue, json) => queue.try_send(json).map_err(|_| self.queue_full()),
            Route::Dialing => Ok(()),
        }
    }

    /// [`Self::send`], waiting for room when the connection's queue is full (the business's backpressure).
    pub async fn send_when_ready(self: &Arc<Self>, to: &PeerAddress, message: Value) -> Result<(), SendError> {
        match self.route(to, self.prepare(message)?)? {
            Route::Queue(queue, json) => queue.send(json).await.map_err(|_| SendError::Stopped),
            Route::Dialing => Ok(()),
        }
    }

    /// An answer to `agent` over a connection that is open to it (the one a message came in on, or another);
    /// never dials. Waits for room as [`Self::send_when_ready`] does.
    pub async fn reply(self: &Arc<Self>, agent: &str, message: Value) -> Result<(), SendError> {
        let message = self.prepare(message)?;
        let queue = self.open_queue(&self.state.lock().expect("link lock"), agent, &message)?;
        let queue = queue.ok_or_else(|| SendError::NotConnected(agent.to_owned()))?;
        queue.send(message.json).await.map_err(|_| SendError::Stopped)
    }

    /// Checks the size and stamps `from` (the address is checked when a connection is dialed: computing a
    /// Noise key from an agent id is a field inversion, too dear for every message).
    fn prepare(&self, mut message: Value) -> Result<Prepared, SendError> {
        stamp_from(&mut message, &self.identity);
        let json = serde_json::to_vec(&message).expect("a JSON value serialises");
        if json.len() + TAG_BYTES > self.limits.max_body_bytes {
            return Err(SendError::TooLarge { bytes: json.len(), most: self.limits.max_body_bytes - TAG_BYTES });
        }
        Ok(Prepared { json, ticket: is_ticket_request(&message) })
    }

    /// The queue of a connection to `to`'s agent, else a new connection that carries the message in its
    /// handshake.
    fn route(self: &Arc<Self>, to: &PeerAddress, message: Prepared) -> Result<Route, SendError> {
        let mut state = self.state.lock().expect("link lock");
        if let Some(queue) = self.open_queue(&state, &to.agent, &message)? {
            return Ok(Route::Queue(queue, message.json));
        }
        if state.connection_count() >= self.limits.max_connections {
            return Err(SendError::TooManyConnections);
        }
        to.noise_key().map_err(SendError::Address)?;
        let remote = format!("{}:{}", to.host, to.port);
        let (info, queue) = self.register(&mut state, to.agent.clone(), remote, Direction::Outbound);
        drop(state);
        tokio::spawn(self.clone().dial_and_run(to.clone(), message, info, queue));
        Ok(Route::Dialing)
    }

    /// The queue of a connection open (or opening) to `agent`; none for a ticket request, which always dials.
    fn open_queue(
        &self,
        state: &LinkState,
        agent: &str,
        message: &Prepared,
    ) -> Result<Option<mpsc::Sender<Vec<u8>>>, SendError> {
        if state.stopped {
            return Err(SendError::Stopped);
        }
        if message.ticket {
            return Ok(None);
        }
        Ok(state.connections.get(agent).and_then(|handles| handles.first()).map(|handle| handle.queue.clone()))
    }

    fn queue_full(&self) -> SendError {
        SendError::QueueFull(self.limits.max_queued_messages)
    }

    async fn dial_and_run(
        self: Arc<Self>,
        to: PeerAddress,
        first: Prepared,
        info: Arc<ConnectionInfo>,
        queue: mpsc::Receiver<Vec<u8>>,
    ) {
        let dialed = tokio::time::timeout(
            self.limits.handshake_timeout,
            dial_with(&to, &self.identity, &first.json, first.ticket, self.limits.max_body_bytes),
        )
        .await
        .unwrap_or(Err(Refusal::HandshakeTimeout));
        let ended = match dialed {
            Ok(dialed) => {
                self.opened(&info.agent);
                info.sent.fetch_add(1, Ordering::Relaxed);
                let open =
                    Open { reader: dialed.reader, writer: dialed.writer, transport: dialed.transport, first: None };
                connection::run(open, queue, &info, self.handler.as_ref(), self.limits.idle_timeout).await
            }
            Err(refusal) => Err(refusal),
        };
        self.ended(&info, ended);
    }

    /// Runs an inbound connection whose handshake succeeded, until it ends.
    pub(super) async fn run_inbound(self: &Arc<Self>, agent: String, remote: String, open: Open) {
        let (info, queue) = {
            let mut state = self.state.lock().expect("link lock");
            if state.stopped {
                return; // accepted just before the link stopped: dropping it closes it
            }
            self.register(&mut state, agent.clone(), remote, Direction::Inbound)
        };
        self.opened(&agent);
        let ended = connection::run(open, queue, &info, self.handler.as_ref(), self.limits.idle_timeout).await;
        self.ended(&info, ended);
    }

    fn register(
        &self,
        state: &mut LinkState,
        agent: String,
        remote: String,
        direction: Direction,
    ) -> (Arc<ConnectionInfo>, mpsc::Receiver<Vec<u8>>) {
        state.next_id += 1;
        let info = Arc::new(ConnectionInfo::new(state.next_id, agent.clone(), remote, direction));
        let (queue, receiver) = mpsc::channel(self.limits.max_queued_messages);
        state.connections.entry(agent).or_default().push(Handle { info: info.clone(), queue });
        (info, receiver)
    }

    fn opened(&self, agent: &str) {
        let mut state = self.state.lock().expect("link lock");
        if let Some(counters) = state.peer(agent) {
            counters.connections_opened += 1;
        }
    }

    fn ended(&self, info: &ConnectionInfo, ended: Result<(), Refusal>) {
        let mut state = self.state.lock().expect("link lock");
        let mut queued = 0;
        if let Some(handles) = state.connections.get_mut(&info.agent) {
            if let Some(at) = handles.iter().position(|handle| handle.info.id == info.id) {
                let handle = handles.remove(at);
                queued = self.limits.max_queued_messages - handle.queue.capacity();
            }
            if handles.is_empty() {
                state.connections.remove(&info.agent);
            }
        }
        state.dropped_messages += queued as u64;
        let sent = info.sent.load(Ordering::Relaxed);
        let received = info.received.load(Ordering::Relaxed);
        if let Some(counters) = state.peer(&info.agent) {
            counters.messages_sent += sent;
            counters.messages_received += received;
        }
        if let Err(refusal) = ended {
            tracing::info!(peer = %info.agent, remote = %info.remote, %refusal, "peer connection ended");
            if !matches!(refusal, Refusal::Closed | Refusal::Idle) || !info.open.load(Ordering::Acquire) {
                *state.refusals.entry(refusal.kind()).or_default() += 1;
            }
        }
        if queued > 0 {
            tracing::warn!(peer = %info.agent, queued, "messages queued for a peer were not sent; they are retried");
        }
    }

    /// Counts a connection refused before it was registered (at accept or in its handshake).
    pub(super) fn refused(&self, refusal: &Refusal) {
        *self.state.lock().expect("link lock").refusals.entry(refusal.kind()).or_default() += 1;
    }

    /// Closes every connection and refuses new sends.
    pub fn stop(&self) {
        let mut state = self.state.lock().expect("link lock");
        state.stopped = true;
        // Dropping the queues ends each connection's writer, which ends the connection.
        state.connections.clear();
    }

    pub fn status(&self, listening: Option<String>) -> PeerStatus {
        let state = self.state.lock().expect("link lock");
        let connections =
            state.connections.values().flatten().map(|handle| ConnectionStatus::of(&handle.info)).collect();
        PeerStatus {
            agent: self.identity.agent.clone(),
            listening,
            connections,
            refusals: state.refusals.iter().map(|(kind, count)| (kind.to_string(), *count)).collect(),
            peers: state.peers.clone(),
            dropped_messages: state.dropped_messages,
        }
    }
}

impl LinkState {
    fn connection_count(&self) -> usize {
        self.connections.values().map(Vec::len).sum()
    }

    fn peer(&mut self, agent: &str) -> Option<&mut PeerCounters> {
        if !self.peers.contains_key(agent) && self.peers.len() >= MAX_COUNTED_PEERS {
            return None;
        }
        Some(self.peers.entry(agent.to_owned()).or_default())
    }
}
