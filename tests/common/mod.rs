//! Drives the real `notch` binary on a data directory of its own, as an operator would.

#![allow(dead_code)] // each test binary uses a different part of this kit

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use ed25519_dalek::SigningKey;
use events::envelope::format_time;
use events::{NewEvent, SignedEvent};
use serde_json::{json, Value};

pub mod parties;

pub const NOTCH: &str = env!("CARGO_BIN_EXE_notch");

/// A data directory that the unprivileged PostgreSQL user can enter, removed at the end.
pub fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("notch-e2e-").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub struct Serving {
    pub child: Child,
    pub base: String,
    pub data_dir: PathBuf,
}

impl Serving {
    /// Starts `notch serve` and waits until /health answers.
    pub async fn start(data_dir: &Path) -> Serving {
        Self::start_with(data_dir, &[]).await
    }

    /// Starts `notch serve` with extra environment variables and waits until /health answers; panics, saying
    /// what it saw, if notch exits first or /health does not answer within 90 s.
    pub async fn start_with(data_dir: &Path, env: &[(&str, &str)]) -> Serving {
        Self::start_at(data_dir, free_port(), env).await
    }

    /// [`Serving::start_with`] on `port` (a restart where the other parties expect it).
    pub async fn start_at(data_dir: &Path, port: u16, env: &[(&str, &str)]) -> Serving {
        Self::start_with_args(data_dir, port, &[], env).await
    }

    /// [`Serving::start_at`] with more `notch serve` arguments.
    pub async fn start_with_args(data_dir: &Path, port: u16, args: &[&str], env: &[(&str, &str)]) -> Serving {
        let child = Command::new(NOTCH)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("NOTCH_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut serving = Serving { child, base: format!("http://127.0.0.1:{port}"), data_dir: data_dir.to_owned() };
        let deadline = Instant::now() + Duration::from_secs(90);
        let mut last: String;
        loop {
            match reqwest::get(format!("{}/health", serving.base)).await {
                Ok(response) if response.status().is_success() => return serving,
                Ok(response) => last = format!("/health answered {}", response.status()),
                Err(err) => last = format!("/health: {err}"),
            }
            if let Some(status) = serving.child.try_wait().unwrap() {
                panic!("notch serve exited ({status}) before /health answered (its stderr is above); last: {last}");
            }
            assert!(Instant::now() < deadline, "notch serve did not answer /health within 90 s; last: {last}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn kill(&mut self) {
        nix::sys::signal::kill(pid(&self.child), nix::sys::signal::Signal::SIGKILL).unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and the exit status it gave within a minute.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(pid(&self.child), nix::sys::signal::Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "notch did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: String) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

impl Drop for Serving {
    /// A graceful stop (so the embedded PostgreSQL stops too), then a kill if that takes over a minute.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = nix::sys::signal::kill(pid(&self.child), nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn pid(child: &Child) -> nix::unistd::Pid {
    nix::unistd::Pid::from_raw(child.id() as i32)
}

/// The node key notch created in the data directory.
pub fn node_key(data_dir: &Path) -> SigningKey {
    let text = std::fs::read_to_string(data_dir.join("node.key")).unwrap();
    let seed: [u8; 32] = hex::decode(text.trim()).unwrap().try_into().unwrap();
    SigningKey::from_bytes(&seed)
}

/// The body of `POST /streams/{stream}` for events signed with `key`.
pub fn append_body(
    key: &SigningKey,
    stream: &str,
    expected: Value,
    events: Vec<NewEvent>,
) -> (String, Vec<SignedEvent>) {
    let signed: Vec<SignedEvent> = events.into_iter().map(|e| SignedEvent::sign(key, stream, e, Utc::now())).collect();
    let body = json!({
        "expected": expected,
        "events": signed.iter().map(wire).collect::<Vec<_>>(),
    });
    (body.to_string(), signed)
}

pub fn wire(event: &SignedEvent) -> Value {
    json!({
        "event_id": event.event_id,
        "event_type": event.event_type,
        "payload": event.payload,
        "time": format_time(&event.time),
        "signer": hex::encode(event.signer.as_bytes()),
        "signature": hex::encode(event.signature.to_bytes()),
    })
}

/// The cluster's superuser, on the socket inside the data directory.
pub async fn superuser(data_dir: &Path) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config.host_path(data_dir.join("run")).user("notch").dbname("notch");
    events::database::connect(&config).await.unwrap()
}

pub fn notch(args: &[&str], data_dir: &Path) -> Output {
    Command::new(NOTCH).args(args).arg("--data-dir").arg(data_dir).env("NOTCH_LOG", "warn").output().unwrap()
}

/// The postmaster's pid, while the embedded cluster runs.
pub fn postmaster_pid(data_dir: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(data_dir.join("pg/postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}
