//! The peer server: accepts connections, admits them (per-address bound, cool-off, concurrent handshakes),
//! runs the responder's handshake under its time bound, then hands the connection to the link.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, Semaphore};
use tokio::task::JoinHandle;

use super::admission::{Admission, Place};
use super::connection::Open;
use super::link::PeerLink;
use super::refusal::Refusal;
use super::respond::respond;
use super::wire::FrameReader;

pub struct PeerServer {
    local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    accepting: JoinHandle<()>,
}

impl PeerServer {
    /// Listens on `address` (port 0 picks one) and serves peers until [`PeerServer::stop`].
    pub async fn start(link: Arc<PeerLink>, address: SocketAddr) -> std::io::Result<PeerServer> {
        let listener = TcpListener::bind(address).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let accepting = tokio::spawn(accept(listener, link, stopped));
        Ok(PeerServer { local_addr, stop: Some(stop), accepting })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting; the link's `stop` closes the connections.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.accepting).await;
    }
}

async fn accept(listener: TcpListener, link: Arc<PeerLink>, mut stopped: oneshot::Receiver<()>) {
    let handshakes = Arc::new(Semaphore::new(link.limits.max_handshakes));
    loop {
        let (socket, remote) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(%err, "accepting a peer connection failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let place = match Admission::admit(&link.admission, remote.ip(), &link.limits, Instant::now()) {
            Ok(place) => place,
            Err(refusal) => {
                link.refused(&refusal);
                continue; // dropping the socket closes it, nothing read
            }
        };
        let Ok(permit) = handshakes.clone().try_acquire_owned() else {
            link.refused(&Refusal::Busy("handshakes"));
            continue;
        };
        let link = link.clone();
        tokio::spawn(async move {
            let handshake = handshake(&link, socket, remote).await;
            drop(permit);
            serve(link, handshake, remote, place).await;
        });
    }
}

async fn handshake(link: &PeerLink, socket: TcpStream, remote: SocketAddr) -> Result<(String, Open), Refusal> {
    socket.set_nodelay(true)?;
    let (read, mut writer) = socket.into_split();
    let mut reader = FrameReader::new(read, link.limits.max_body_bytes);
    let responded = tokio::time::timeout(
        link.limits.handshake_timeout,
        respond(&mut reader, &mut writer, &link.identity, link.handler.as_ref()),
    )
    .await
    .unwrap_or(Err(Refusal::HandshakeTimeout))?;
    tracing::debug!(peer = %responded.agent, %remote, "peer connection accepted");
    Ok((responded.agent, Open { reader, writer, transport: responded.transport, first: responded.first }))
}

async fn serve(link: Arc<PeerLink>, handshake: Result<(String, Open), Refusal>, remote: SocketAddr, place: Place) {
    match handshake {
        Ok((agent, open)) => {
            link.admission.lock().expect("admission lock").succeeded(place.address());
            link.run_inbound(agent, remote.to_string(), open).await;
        }
        Err(refusal) => {
            tracing::info!(%remote, %refusal, "peer connection refused");
            if refusal.is_failure() {
                link.admission.lock().expect("admission lock").failed(place.address(), &link.limits, Instant::now());
            }
            link.refused(&refusal);
        }
    }
    drop(place);
}
