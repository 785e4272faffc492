//! The peer server inside `notch serve`, started (with the site key's passphrase) and stopped without stopping
//! the HTTP API: from `--peer-listen` at start, or by `notch admin peer start | stop` over the control socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use adapters::peers::{PeerLimits, PeerLink, PeerServer, SiteIdentity};
use adapters::site::peer_link::SiteLink;
use age::secrecy::SecretString;
use anyhow::{bail, Context};
use clap::Args;
use domain::crypto::PublicKey;
use events::Store;
use serde_json::Value;
use tokio::sync::Mutex;

use super::control::ControlRequest;
use super::key_file;

#[derive(Args, Clone, Debug)]
pub struct PeerArgs {
    /// Run the peer server (site-to-site Noise link) on this address; needs the site key's passphrase
    /// (NOTCH_PASSPHRASE or a prompt). Without it, `notch admin peer start` starts it later.
    #[arg(long)]
    pub peer_listen: Option<SocketAddr>,
    /// Largest frame body a peer may send, in bytes (1024 to 1 MiB).
    #[arg(long, default_value_t = peers::DEFAULT_MAX_BODY_BYTES)]
    pub peer_max_frame_bytes: usize,
    /// Time a peer has to finish its handshake.
    #[arg(long, default_value = "10s")]
    pub peer_handshake_timeout: humantime::Duration,
    /// A peer connection with no frame received for this long is closed.
    #[arg(long, default_value = "60s")]
    pub peer_idle_timeout: humantime::Duration,
}

impl PeerArgs {
    pub fn limits(&self) -> anyhow::Result<PeerLimits> {
        let limits = PeerLimits {
            max_body_bytes: self.peer_max_frame_bytes,
            handshake_timeout: Duration::from(self.peer_handshake_timeout),
            idle_timeout: Duration::from(self.peer_idle_timeout),
            ..PeerLimits::default()
        };
        limits.validate().map_err(anyhow::Error::msg)?;
        Ok(limits)
    }
}

pub struct PeerControl {
    store: Store,
    data_dir: PathBuf,
    limits: PeerLimits,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    link: Option<(Arc<PeerLink>, PeerServer)>,
    last_listen: Option<SocketAddr>,
}

impl PeerControl {
    pub fn new(store: Store, data_dir: PathBuf, limits: PeerLimits) -> Arc<PeerControl> {
        Arc::new(PeerControl { store, data_dir, limits, running: Mutex::default() })
    }

    pub async fn handle(&self, request: ControlRequest) -> anyhow::Result<Value> {
        match request {
            ControlRequest::StartPeerServer { passphrase, listen } => {
                self.start(SecretString::from(passphrase), listen).await?;
                self.status().await
            }
            ControlRequest::StopPeerServer => {
                self.stop().await;
                self.status().await
            }
            ControlRequest::PeerStatus => self.status().await,
        }
    }

    /// Opens the site key and serves peers on `listen` (default: the address it last listened on).
    pub async fn start(&self, passphrase: SecretString, listen: Option<SocketAddr>) -> anyhow::Result<SocketAddr> {
        let mut running = self.running.lock().await;
        if let Some((_, server)) = &running.link {
            bail!("the peer server runs already on {}", server.local_addr());
        }
        let listen = listen.or(running.last_listen).context("give the address to listen on (--listen ADDR)")?;
        let (identity, _) = adapters::site::admin::site_identity(&self.store).await?;
        let path = key_file::site_key_path(&self.data_dir);
        let key = tokio::task::spawn_blocking(move || key_file::read(&path, passphrase)).await??;
        if PublicKey::of(&key) != identity.site_key {
            bail!("the site key file does not hold the site's current key");
        }
        let site = SiteIdentity::new(&key, identity.host.clone(), identity.port);
        let link = PeerLink::new(site, Arc::new(SiteLink::new(self.store.clone())), self.limits.clone());
        let server = PeerServer::start(link.clone(), listen)
            .await
            .with_context(|| format!("listening for peers on {listen}"))?;
        let bound = server.local_addr();
        tracing::info!(listen = %bound, agent = %link.identity().agent, "peer server started");
        running.link = Some((link, server));
        running.last_listen = Some(listen);
        Ok(bound)
    }

    /// Stops listening and closes every peer connection; the HTTP API goes on.
    pub async fn stop(&self) {
        let mut running = self.running.lock().await;
        if let Some((link, server)) = running.link.take() {
            server.stop().await;
            link.stop();
            tracing::info!("peer server stopped");
        }
    }

    pub async fn status(&self) -> anyhow::Result<Value> {
        let running = self.running.lock().await;
        Ok(match &running.link {
            Some((link, server)) => serde_json::to_value(link.status(Some(server.local_addr().to_string())))?,
            None => serde_json::json!({ "listening": null, "stopped": true }),
        })
    }
}
