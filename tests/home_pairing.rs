//! The pairing dialogue over the ledger's HTTP API, against a real store: an owner key claims a device, the
//! device challenges, the owner answers with the HMAC of the pairing secret, the device accepts, and the owner
//! records the device in its home. Each refusal is answered with its code and leaves the streams as they were.
//! (The test plays the device with the same domain functions `notch-p1` uses.)

use chrono::{Duration, Utc};
use domain::crypto::{PublicKey, Signed};
use domain::home::device_inbox::{
    answer_mac, device_id_of, ClaimantMessage, ClaimantSay, DeviceMessage, DeviceSay, SignedDeviceMessage,
};
use domain::home::household::{Act, OwnerDecision};
use ed25519_dalek::SigningKey;
use rand_chacha::rand_core::SeedableRng;
use serde_json::Value;

const SECRET: &[u8] = b"twenty random bytes.";

struct Ledger {
    url: String,
    http: reqwest::Client,
    store: events::Store,
    stop: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Ledger {
    async fn start(label: &str) -> Ledger {
        let store = projections::testkit::test_store(label).await;
        let (stop, mut stop_rx) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            let _ = stop_rx.wait_for(|s| *s).await;
        };
        let (addr, server) =
            adapters::http::serve("127.0.0.1:0".parse().unwrap(), store.clone(), shutdown).await.unwrap();
        Ledger {
            url: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store,
            stop,
            server: tokio::spawn(server),
        }
    }

    async fn post(&self, path: &str, body: &impl serde::Serialize) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.url)).json(body).send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn version(&self, stream_id: &str) -> usize {
        self.store.read_stream(stream_id, 1, 1000).await.unwrap().len()
    }

    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.server.await;
    }
}

struct Device {
    key: SigningKey,
    id: String,
    at: chrono::DateTime<Utc>,
}

impl Device {
    fn new() -> Device {
        let key = SigningKey::from_bytes(&[21; 32]);
        let id = device_id_of(&PublicKey::of(&key));
        Device { key, id, at: Utc::now() - Duration::seconds(60) }
    }

    /// The device's next message (each strictly later than the last, as the ledger requires).
    fn says(&mut self, say: DeviceSay) -> SignedDeviceMessage {
        self.at += Duration::milliseconds(10);
        let message =
            DeviceMessage { device_id: self.id.clone(), device_key: PublicKey::of(&self.key), at: self.at, say };
        Signed::sign(&self.key, message).unwrap()
    }

    fn path(&self, sender: &str) -> String {
        format!("/home/devices/{}/{sender}-messages", self.id)
    }
}

fn claimant_says(owner: &SigningKey, device: &Device, say: ClaimantSay) -> Signed<ClaimantMessage> {
    let message = ClaimantMessage { device_id: device.id.clone(), owner: PublicKey::of(owner), at: Utc::now(), say };
    Signed::sign(owner, message).unwrap()
}

fn answer(owner: &SigningKey, device: &Device, challenge: &[u8; 32], secret: &[u8]) -> Signed<ClaimantMessage> {
    let mac = answer_mac(secret, challenge, &PublicKey::of(owner), &device.id);
    claimant_says(owner, device, ClaimantSay::Answer { challenge: hex::encode(challenge), mac: hex::encode(mac) })
}

fn challenge_for(owner: &SigningKey, challenge: &[u8; 32]) -> DeviceSay {
    DeviceSay::Challenge {
        owner: PublicKey::of(owner),
        challenge: hex::encode(challenge),
        valid_until: Utc::now() + Duration::seconds(120),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_pairs_a_device_and_records_it_in_its_home() {
    let ledger = Ledger::start("home_pairing_ok").await;
    let mut device = Device::new();
    let owner = SigningKey::from_bytes(&[22; 32]);
    let inbox = format!("device-{}", device.id);

    let (status, body) =
        ledger.post(&device.path("claimant"), &claimant_says(&owner, &device, ClaimantSay::Claim)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["events"], serde_json::json!(["PairingClaimed"]));
    assert_eq!(body["stream_id"], inbox);
    let challenge = [7u8; 32];
    let (status, body) = ledger.post(&device.path("device"), &device.says(challenge_for(&owner, &challenge))).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = ledger.post(&device.path("claimant"), &answer(&owner, &device, &challenge, SECRET)).await;
    assert_eq!(status, 201, "{body}");
    let accept = device.says(DeviceSay::Accept { owner: PublicKey::of(&owner), challenge: hex::encode(challenge) });
    let (status, body) = ledger.post(&device.path("device"), &accept).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(ledger.version(&inbox).await, 4);

    let decision =
        OwnerDecision { home: PublicKey::of(&owner), at: Utc::now(), act: Act::AddDevice { pairing: accept } };
    let home = PublicKey::of(&owner).to_hex();
    let (status, body) =
        ledger.post(&format!("/home/homes/{home}/decisions"), &Signed::sign(&owner, decision).unwrap()).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["events"], serde_json::json!(["DeviceAdded"]));

    // A paired device takes no other claimant.
    let stranger = SigningKey::from_bytes(&[23; 32]);
    let (status, body) =
        ledger.post(&device.path("claimant"), &claimant_says(&stranger, &device, ClaimantSay::Claim)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_paired")), "{body}");
    assert_eq!(ledger.version(&inbox).await, 4);
    ledger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_misdirected_messages_are_refused_and_leave_nothing() {
    let ledger = Ledger::start("home_pairing_refused").await;
    let mut device = Device::new();
    let owner = SigningKey::from_bytes(&[24; 32]);
    let inbox = format!("device-{}", device.id);

    // A claim signed by another key than the owner it names.
    let mut forged = claimant_says(&owner, &device, ClaimantSay::Claim);
    forged.signature = claimant_says(&SigningKey::from_bytes(&[25; 32]), &device, ClaimantSay::Claim).signature;
    let (status, body) = ledger.post(&device.path("claimant"), &forged).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("bad_signature")), "{body}");
    assert_eq!(ledger.version(&inbox).await, 0);

    // A claim posted to another device's inbox path.
    let other = device_id_of(&PublicKey::of(&SigningKey::from_bytes(&[26; 32])));
    let claim = claimant_says(&owner, &device, ClaimantSay::Claim);
    let (status, body) = ledger.post(&format!("/home/devices/{other}/claimant-messages"), &claim).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("refused")), "{body}");

    let (status, _) = ledger.post(&device.path("claimant"), &claim).await;
    assert_eq!(status, 201);
    // The same claim again: a replay.
    let (status, body) = ledger.post(&device.path("claimant"), &claim).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("stale_request")), "{body}");

    // A device message signed by a key that is not the device id's.
    let impostor = SigningKey::from_bytes(&[27; 32]);
    let fake = DeviceMessage {
        device_id: device.id.clone(),
        device_key: PublicKey::of(&impostor),
        at: Utc::now(),
        say: challenge_for(&owner, &[1; 32]),
    };
    let (status, body) = ledger.post(&device.path("device"), &Signed::sign(&impostor, fake).unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("refused")), "{body}");

    // An answer to a challenge never issued, then the real dialogue with a replayed answer.
    let (status, body) = ledger.post(&device.path("claimant"), &answer(&owner, &device, &[9; 32], SECRET)).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("no_such_challenge")), "{body}");
    let challenge = [8u8; 32];
    assert_eq!(ledger.post(&device.path("device"), &device.says(challenge_for(&owner, &challenge))).await.0, 201);
    let answered = answer(&owner, &device, &challenge, b"a wrong secret");
    assert_eq!(ledger.post(&device.path("claimant"), &answered).await.0, 201);
    let again = answer(&owner, &device, &challenge, SECRET);
    let (status, body) = ledger.post(&device.path("claimant"), &again).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_answered")), "{body}");

    // Not JSON of the shape: one clear error, no echo of the body.
    let response = ledger
        .http
        .post(format!("{}{}", ledger.url, device.path("claimant")))
        .body("{\"secret\": 1}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");
    assert!(!body["message"].as_str().unwrap().contains("secret"), "{body}");
    assert_eq!(ledger.version(&inbox).await, 3);
    ledger.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_stream_read_answers_when_the_inbox_gets_an_event() {
    let ledger = Ledger::start("home_pairing_wait").await;
    let device = Device::new();
    let inbox = format!("{}/streams/device-{}", ledger.url, device.id);
    // Nothing comes: after the wait, an empty page rather than 404.
    let empty: Value = ledger.http.get(format!("{inbox}?wait_ms=200")).send().await.unwrap().json().await.unwrap();
    assert_eq!(empty["events"], serde_json::json!([]), "{empty}");
    // A claim while a read waits (20 s): the read answers with it, long before its wait ends.
    let started = std::time::Instant::now();
    let read = tokio::spawn(ledger.http.get(format!("{inbox}?from=1&wait_ms=20000")).send());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let owner = SigningKey::from_bytes(&[28; 32]);
    assert_eq!(ledger.post(&device.path("claimant"), &claimant_says(&owner, &device, ClaimantSay::Claim)).await.0, 201);
    let page: Value = read.await.unwrap().unwrap().json().await.unwrap();
    assert_eq!(page["events"][0]["event_type"], "PairingClaimed", "{page}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "answered after {:?}", started.elapsed());
    ledger.stop().await;
}

/// A provider made by `notch provider init` in `dir`: its card, and a signed request from `notch provider request`.
fn provider_cli(dir: &std::path::Path, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_notch"))
        .arg("provider")
        .args(args)
        .arg("--provider-dir")
        .arg(dir)
        .env("NOTCH_PASSPHRASE", "a long enough passphrase")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_hands_a_granted_provider_its_channel_and_nothing_else() {
    use domain::home::provider_inbox::Handover;
    let ledger = Ledger::start("home_pairing_handover").await;
    let mut device = Device::new();
    let owner = SigningKey::from_bytes(&[29; 32]);
    let home = PublicKey::of(&owner).to_hex();
    let decide =
        |act: Act| Signed::sign(&owner, OwnerDecision { home: PublicKey::of(&owner), at: Utc::now(), act }).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let init = ["init", "--name", "Wattt", "--return-url", "https://wattt.example/back", "--purpose", "graphs"];
    let provider = PublicKey::from_hex(provider_cli(dir.path(), &init).trim()).unwrap();
    let card: Value = serde_json::from_str(&std::fs::read_to_string(dir.path().join("card.json")).unwrap()).unwrap();
    let hpke: [u8; 32] = hex::decode(card["document"]["hpke_key"].as_str().unwrap()).unwrap().try_into().unwrap();
    let ask = ["request", "--purpose", "graphs", "--fields", "power_import_w", "--granularity", "telegram"];
    let request = serde_json::from_str(&provider_cli(dir.path(), &ask)).unwrap();

    // Paired and added, then a policy for the provider.
    assert_eq!(ledger.post(&device.path("claimant"), &claimant_says(&owner, &device, ClaimantSay::Claim)).await.0, 201);
    let challenge = [5u8; 32];
    assert_eq!(ledger.post(&device.path("device"), &device.says(challenge_for(&owner, &challenge))).await.0, 201);
    assert_eq!(ledger.post(&device.path("claimant"), &answer(&owner, &device, &challenge, SECRET)).await.0, 201);
    let accept = device.says(DeviceSay::Accept { owner: PublicKey::of(&owner), challenge: hex::encode(challenge) });
    assert_eq!(ledger.post(&device.path("device"), &accept).await.0, 201);
    let decisions = format!("/home/homes/{home}/decisions");
    assert_eq!(ledger.post(&decisions, &decide(Act::AddDevice { pairing: accept })).await.0, 201);
    let policy_id = uuid::Uuid::now_v7();
    let grant = Act::Authorize { policy_id, device_id: device.id.clone(), request };
    assert_eq!(ledger.post(&decisions, &decide(grant)).await.0, 201);

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(3);
    let channel = mam::Channel::create(&mut rng);
    let wrapped_to =
        |key: [u8; 32]| hex::encode(channel.grant(&mam::ProviderPublicKey(key), &mut rng.clone()).unwrap().to_bytes());
    let handovers = format!("/home/providers/{}/handovers", provider.to_hex());
    let mut hand_over = |policy_id, channel_key: [u8; 32], grant: String| {
        device.at += Duration::milliseconds(10);
        let document = Handover {
            device_id: device.id.clone(),
            device_key: PublicKey::of(&device.key),
            home: PublicKey::of(&owner),
            provider,
            policy_id,
            channel: hex::encode(channel_key),
            grant,
            at: device.at,
        };
        Signed::sign(&device.key, document).unwrap()
    };
    let good = hand_over(policy_id, channel.public_key(), wrapped_to(hpke));
    let (status, body) = ledger.post(&handovers, &good).await;
    assert_eq!((status, body["events"].clone()), (201, serde_json::json!(["GrantHandedOver"])), "{body}");
    let (status, body) = ledger.post(&handovers, &good).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("already_handed_over")), "{body}");
    let (status, body) = ledger.post(&handovers, &hand_over(uuid::Uuid::now_v7(), [2; 32], wrapped_to(hpke))).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")), "{body}");
    // A grant the ledger cannot judge (wrapped to another key, named for another channel): the provider refuses it.
    let (status, _) = ledger.post(&handovers, &hand_over(policy_id, [3; 32], wrapped_to([7; 32]))).await;
    assert_eq!(status, 201);

    let listed = provider_cli(dir.path(), &["policies", "--ledger", &ledger.url]);
    let lines: Vec<Value> = listed.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(lines[0]["channel"], hex::encode(channel.public_key()), "{listed}");
    assert_eq!(lines[0]["from_index"], 0, "{listed}");
    assert!(lines[1]["refused"].is_string(), "{listed}");

    // Revoked, the policy gets no more hand-overs.
    let revoke = Act::Revoke { policy_id, reason: String::new() };
    assert_eq!(ledger.post(&decisions, &decide(revoke)).await.0, 201);
    let (status, body) = ledger.post(&handovers, &hand_over(policy_id, [4; 32], wrapped_to(hpke))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("policy_ended")), "{body}");
    assert_eq!(ledger.version(&format!("provider-{}", provider.to_hex())).await, 2);
    ledger.stop().await;
}
