//! The `notch-p1` binary pairs with an owner through the real ledger (its store and HTTP API in this process):
//! `pairing-code` shows the device id and secret, `run` follows the device's inbox and answers claims; a
//! guesser is locked out after three wrong answers; the device, stopped after its challenge, judges the answer
//! given meanwhile once it is back, once; `reset-pairing` refuses to run beside the service and, after it,
//! makes the device claimable again; a ledger that stops ends the device's waiting read instead of waiting it out.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use common::meter::FakeMeter;
use common::service::Service;
use domain::crypto::{PublicKey, Signed};
use domain::home::device_inbox::{answer_mac, ClaimantMessage, ClaimantSay, DeviceSay, SignedDeviceMessage};
use domain::home::household::{Act, OwnerDecision};
use domain::home::DeviceInboxEvent;
use ed25519_dalek::SigningKey;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_notch-p1");

fn start_device(data_dir: &Path, port: &Path, ledger: &str) -> Service {
    Service(
        Command::new(BIN)
            .args(["run", "--dsmr", "5", "--ledger-url", &format!("{ledger}/mam/messages"), "--port"])
            .arg(port)
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

struct Owner {
    key: SigningKey,
    device_id: String,
    ledger: String,
    http: reqwest::Client,
}

impl Owner {
    async fn says(&self, say: ClaimantSay) -> (u16, Value) {
        let message =
            ClaimantMessage { device_id: self.device_id.clone(), owner: PublicKey::of(&self.key), at: Utc::now(), say };
        let url = format!("{}/home/devices/{}/claimant-messages", self.ledger, self.device_id);
        let response = self.http.post(url).json(&Signed::sign(&self.key, message).unwrap()).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn answer(&self, challenge: &str, secret: &[u8]) -> (u16, Value) {
        let bytes: [u8; 32] = hex::decode(challenge).unwrap().try_into().unwrap();
        let mac = answer_mac(secret, &bytes, &PublicKey::of(&self.key), &self.device_id);
        self.says(ClaimantSay::Answer { challenge: challenge.into(), mac: hex::encode(mac) }).await
    }
}

/// The inbox's events, read through the store.
async fn inbox(store: &events::Store, device_id: &str) -> Vec<DeviceInboxEvent> {
    let events = store.read_stream(&format!("device-{device_id}"), 1, 1000).await.unwrap();
    events.iter().map(|e| serde_json::from_value(e.payload.clone()).unwrap()).collect()
}

/// Waits (≤ 30 s) until the inbox holds `count` events; the last one.
async fn wait_for(store: &events::Store, device_id: &str, count: usize) -> DeviceInboxEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let events = inbox(store, device_id).await;
        if events.len() >= count {
            assert_eq!(events.len(), count, "one answer per message: {events:?}");
            return events.last().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "the device did not answer in 30 s: {events:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn device_said(event: &DeviceInboxEvent) -> (&SignedDeviceMessage, &DeviceSay) {
    match event {
        DeviceInboxEvent::ChallengeIssued { message }
        | DeviceInboxEvent::PairingAccepted { message }
        | DeviceInboxEvent::PairingRefused { message }
        | DeviceInboxEvent::DeviceReleased { message } => (message, &message.document.say),
        other => panic!("not the device's: {other:?}"),
    }
}

fn challenge_in(event: &DeviceInboxEvent) -> String {
    match device_said(event).1 {
        DeviceSay::Challenge { challenge, .. } => challenge.clone(),
        other => panic!("not a challenge: {other:?}"),
    }
}

fn secret_of(code: &Value) -> Vec<u8> {
    notch_p1::pairing::parse_secret(code["secret"].as_str().unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_device_pairs_through_the_ledger_and_locks_out_a_guesser() {
    let store = projections::testkit::test_store("p1_pairing_ledger").await;
    let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (addr, server) = adapters::http::serve("127.0.0.1:0".parse().unwrap(), store.clone(), shutdown).await.unwrap();
    let server = tokio::spawn(server);
    let ledger = format!("http://{addr}");
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, port) = (dir.path().join("device"), dir.path().join("ttyP1"));
    let _meter = FakeMeter::plug_in(&port);

    let shown = Command::new(BIN)
        .args(["pairing-code", "--json", "--ledger-url", &format!("{ledger}/mam/messages"), "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let code: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let device_id = code["device_id"].as_str().unwrap().to_owned();
    let url = code["url"].as_str().unwrap();
    assert!(url.starts_with(&format!("{ledger}/home/pair#device={device_id}&secret=")), "{url}");
    let owner = |seed| Owner {
        key: SigningKey::from_bytes(&[seed; 32]),
        device_id: device_id.clone(),
        ledger: ledger.clone(),
        http: reqwest::Client::new(),
    };

    let mut device = start_device(&data_dir, &port, &ledger);
    // A guesser: three wrong answers, each refused by the device, then locked out by the ledger.
    let guesser = owner(31);
    for round in 1..=3u32 {
        let before = inbox(&store, &device_id).await.len();
        assert_eq!(guesser.says(ClaimantSay::Claim).await.0, 201);
        let challenge = challenge_in(&wait_for(&store, &device_id, before + 2).await);
        assert_eq!(guesser.answer(&challenge, b"not the secret").await.0, 201);
        let refused = wait_for(&store, &device_id, before + 4).await;
        assert!(
            matches!(device_said(&refused).1, DeviceSay::Refuse { failures, .. } if *failures == round),
            "{refused:?}"
        );
    }
    let (status, body) = guesser.says(ClaimantSay::Claim).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("locked_out")), "{body}");

    // The owner claims; the device challenges; the device stops; the owner answers; the device comes back and
    // accepts, once.
    let home = owner(32);
    assert_eq!(home.says(ClaimantSay::Claim).await.0, 201);
    let challenge = challenge_in(&wait_for(&store, &device_id, 14).await);
    drop(device);
    assert_eq!(home.answer(&challenge, &secret_of(&code)).await.0, 201);
    device = start_device(&data_dir, &port, &ledger);
    let accepted = wait_for(&store, &device_id, 16).await;
    let (proof, said) = device_said(&accepted);
    assert!(matches!(said, DeviceSay::Accept { owner, .. } if *owner == PublicKey::of(&home.key)), "{said:?}");
    let decision = OwnerDecision {
        home: PublicKey::of(&home.key),
        at: Utc::now(),
        act: Act::AddDevice { pairing: proof.clone() },
    };
    let url = format!("{ledger}/home/homes/{}/decisions", PublicKey::of(&home.key).to_hex());
    let response = home.http.post(url).json(&Signed::sign(&home.key, decision).unwrap()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);

    // A reset is refused beside the running service; after it, the device is released and claimable again.
    let reset = Command::new(BIN).arg("reset-pairing").arg("--data-dir").arg(&data_dir).output().unwrap();
    assert!(!reset.status.success());
    assert!(
        String::from_utf8_lossy(&reset.stderr).contains("stop it first"),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    drop(device);
    let reset = Command::new(BIN).arg("reset-pairing").arg("--data-dir").arg(&data_dir).output().unwrap();
    assert!(reset.status.success(), "{}", String::from_utf8_lossy(&reset.stderr));
    let _device = start_device(&data_dir, &port, &ledger);
    let released = wait_for(&store, &device_id, 17).await;
    assert!(matches!(device_said(&released).1, DeviceSay::Release { .. }), "{released:?}");
    // The guesser's lock-out is lifted by the reset, and its old secret is gone.
    assert_eq!(guesser.says(ClaimantSay::Claim).await.0, 201);
    let challenge = challenge_in(&wait_for(&store, &device_id, 19).await);
    assert_eq!(guesser.answer(&challenge, &secret_of(&code)).await.0, 201);
    let refused = wait_for(&store, &device_id, 21).await;
    assert!(matches!(device_said(&refused).1, DeviceSay::Refuse { failures: 1, .. }), "{refused:?}");

    // The device's read waits on the ledger; stopping the ledger ends it rather than waiting it out.
    let stopping = Instant::now();
    let _ = stop.send(true);
    let _ = server.await;
    assert!(stopping.elapsed() < Duration::from_secs(5), "the drain waited {:?}", stopping.elapsed());
}
