//! `notch serve`: the HTTP API and the projection runners, stopped gracefully by SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Args;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use super::charging::{self, ChargingArgs};
use super::node::{DbArgs, Node};
use super::peer_control::{PeerArgs, PeerControl};
use super::{control, key_file};

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address of the HTTP API.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Connections in the database pool.
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
    #[command(flatten)]
    charging: ChargingArgs,
    #[command(flatten)]
    peer: PeerArgs,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let charging_keys = charging::keys(&args.db)?;
    let charging_settings = args.charging.settings()?;
    let peer_limits = args.peer.limits()?;
    let passphrase = match args.peer.peer_listen {
        Some(_) => Some(key_file::passphrase("NOTCH_PASSPHRASE", "Passphrase for the site key: ", false)?),
        None => None,
    };
    let node = Node::open(&args.db, args.pool_size).await?;
    adapters::site::legacy::adopt_legacy_lifts(&node.store, chrono::Utc::now()).await?;
    let charging = adapters::charging::ChargingService::new(node.store.clone(), charging_keys, charging_settings);
    let (stop_tx, stop_rx) = watch::channel(false);
    let runners: Vec<_> = projections::all()
        .into_iter()
        .map(|projection| tokio::spawn(projections::run(node.store.clone(), projection, stop_rx.clone())))
        .collect();
    let lifts = tokio::spawn(adapters::site::lifts::run_periodically(node.store.clone(), stop_rx.clone()));
    let mut http_stop = stop_rx.clone();
    let shutdown = async move {
        let _ = http_stop.wait_for(|stop| *stop).await;
    };
    let (bound, server) =
        adapters::http::serve_with_charging(args.listen, node.store.clone(), charging, shutdown).await?;
    let server = tokio::spawn(server);
    let peers = PeerControl::new(node.store.clone(), args.db.data_dir.clone(), peer_limits);
    let control = control::listen(&args.db.data_dir, peers.clone(), stop_rx.clone()).await?;
    if let Some(passphrase) = passphrase {
        peers.start(passphrase, args.peer.peer_listen).await?;
    }
    tracing::info!(
        listen = %bound,
        node_public_key = %hex_key(&node),
        "notch is serving; stop with Ctrl-C or SIGTERM"
    );
    wait_for_stop_signal().await?;
    tracing::info!("stopping: finishing open requests and projection batches");
    let _ = stop_tx.send(true);
    peers.stop().await;
    let _ = control.await;
    let _ = server.await;
    for runner in runners {
        let _ = runner.await;
    }
    let _ = lifts.await;
    node.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

fn hex_key(node: &Node) -> String {
    node.store.node_key().as_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn wait_for_stop_signal() -> anyhow::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    Ok(())
}
