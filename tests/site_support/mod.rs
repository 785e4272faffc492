//! Drives `notch serve` and `notch admin` on a data directory of their own, and signs user commands the way
//! a device does.

#![allow(dead_code)] // each test binary uses a different part of this kit

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use adapters::http::site::{RequestBody, UserRequest};
use chrono::Utc;
use domain::crypto::PublicKey;
use ed25519_dalek::SigningKey;
use serde_json::Value;

pub use crate::common::{data_dir, Serving, NOTCH};

pub const PASSPHRASE: &str = "test passphrase 1";

/// `notch ARGS` with the data directory and passphrase in the environment.
pub fn notch(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(NOTCH)
        .args(args)
        .env("NOTCH_DATA_DIR", data_dir)
        .env("NOTCH_PASSPHRASE", PASSPHRASE)
        .env("NOTCH_LOG", "warn")
        .output()
        .unwrap()
}

/// `notch ARGS` with extra environment variables (they override the defaults above).
pub fn notch_env(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(NOTCH);
    command.args(args).env("NOTCH_DATA_DIR", data_dir).env("NOTCH_PASSPHRASE", PASSPHRASE).env("NOTCH_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().unwrap()
}

/// `notch admin ARGS`, which must succeed; returns stdout.
pub fn admin(data_dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let out = notch(data_dir, &all);
    assert!(out.status.success(), "notch admin {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// `notch admin ARGS`, which must fail; returns stderr.
pub fn admin_fails(data_dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    let out = notch(data_dir, &all);
    assert!(!out.status.success(), "notch admin {args:?} should have failed");
    String::from_utf8(out.stderr).unwrap()
}

impl Serving {
    /// Posts a raw body to /site/commands: (HTTP status, JSON answer).
    pub async fn post_raw(&self, body: String) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/site/commands", self.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

/// A user's device: a key and a CID, signing each request with a fresh nonce.
#[derive(Clone)]
pub struct Device {
    pub cid: String,
    pub key: SigningKey,
}

impl Device {
    pub fn new(cid: &str, seed: u8) -> Device {
        Device { cid: cid.into(), key: SigningKey::from_bytes(&[seed; 32]) }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey::of(&self.key)
    }

    pub fn envelope(&self, request: UserRequest) -> String {
        let body = RequestBody {
            cid: self.cid.clone(),
            key: self.public(),
            timestamp: Utc::now(),
            nonce: format!("{:032x}", rand::random::<u128>()),
            request,
        };
        serde_json::to_string(&body.sign(&self.key).unwrap()).unwrap()
    }

    pub async fn send(&self, serving: &Serving, request: UserRequest) -> (u16, Value) {
        serving.post_raw(self.envelope(request)).await
    }

    /// Sends and insists on success.
    pub async fn ok(&self, serving: &Serving, request: UserRequest) -> Value {
        let (status, answer) = self.send(serving, request.clone()).await;
        assert_eq!(status, 200, "{} {request:?}: {answer}", self.cid);
        answer
    }
}

/// Polls `check` until it returns Some, for views that trail the log by a moment.
pub async fn eventually<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
