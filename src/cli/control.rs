//! The running service's control socket, for `notch admin peer start | stop | status`: a Unix socket at
//! `<data>/control/control.sock`, in a directory only the service's user may enter (so only the operator who
//! runs notch controls it), one JSON request line and one JSON answer line per connection.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

use super::peer_control::PeerControl;

/// Longest request line read (a passphrase and an address fit many times over).
const MAX_REQUEST_BYTES: u64 = 16 * 1024;
/// Time a client has to send its request line.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);
/// Longest answer read by the client (a status with many connections).
const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    StartPeerServer { passphrase: String, listen: Option<std::net::SocketAddr> },
    StopPeerServer,
    PeerStatus,
}

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("control").join("control.sock")
}

/// Serves the control socket until `stop`; refuses to start beside another service on the same data directory.
pub async fn listen(
    data_dir: &Path,
    peers: Arc<PeerControl>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let path = socket_path(data_dir);
    let dir = path.parent().expect("the socket has a directory");
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if UnixStream::connect(&path).await.is_ok() {
        bail!("another notch serve controls {} already", data_dir.display());
    }
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).with_context(|| format!("binding {}", path.display()))?;
    Ok(tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break,
                accepted = listener.accept() => if let Ok((stream, _)) = accepted {
                    tokio::spawn(answer(stream, peers.clone()));
                },
            }
        }
        let _ = std::fs::remove_file(&path);
    }))
}

async fn answer(stream: UnixStream, peers: Arc<PeerControl>) {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let read = reader.read_line(&mut line);
    let request = match tokio::time::timeout(REQUEST_TIMEOUT, read).await {
        Ok(Ok(_)) => serde_json::from_str::<ControlRequest>(&line).map_err(anyhow::Error::from),
        Ok(Err(err)) => Err(err.into()),
        Err(_) => Err(anyhow::anyhow!("no request line within {REQUEST_TIMEOUT:?}")),
    };
    let answer = match request {
        Ok(request) => peers.handle(request).await,
        Err(err) => Err(anyhow::anyhow!("bad control request: {err}")),
    };
    zeroize::Zeroize::zeroize(&mut line);
    let answer = match answer {
        Ok(value) => serde_json::json!({ "ok": value }),
        Err(err) => serde_json::json!({ "error": format!("{err:#}") }),
    };
    let _ = write.write_all(format!("{answer}\n").as_bytes()).await;
}

/// Sends one request to the service running on `data_dir` and returns its answer.
pub async fn ask(data_dir: &Path, request: &ControlRequest) -> anyhow::Result<Value> {
    let path = socket_path(data_dir);
    let stream = UnixStream::connect(&path).await.with_context(|| {
        format!("no notch serve answers on {} (is it running on this data directory?)", path.display())
    })?;
    let (read, mut write) = stream.into_split();
    let mut request = serde_json::to_string(request)?;
    request.push('\n');
    write.write_all(request.as_bytes()).await?;
    zeroize::Zeroize::zeroize(&mut request);
    let mut line = String::new();
    BufReader::new(read.take(MAX_ANSWER_BYTES)).read_line(&mut line).await?;
    let mut answer: Value = serde_json::from_str(&line).context("the service's answer is not JSON")?;
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        bail!("{error}");
    }
    Ok(answer["ok"].take())
}
