//! End to end: an app registers with the authority over HTTP, a real OCPP 1.6J charge point (PyPI `ocpp`,
//! from the venv at $NOTCH_VENV or <repo>/.venv, see tests/py/requirements-charging.txt) charges with it, the
//! bill is recorded with the right energy; every refusal of the issue is exercised; and neither the card
//! number nor the CVC appears in a pg_dump of the database or in the captured logs.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::charging::{ChargingKeys, ChargingService, ChargingSettings};
use chrono::{DateTime, Utc};
use domain::charging::certificate::{Certificate, SignedCertificateRequest, SocketRequest, SocketRequestBody};
use domain::charging::contact_card::ContactCard;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

const CARD_NUMBER: &str = "4556737586899855";
const CARD_NUMBER_SPACED: &str = "4556 7375 8689 9855";
const CVC: &str = "7391";
const CHARGE_POINT: &str = "CP-E2E-1";

/// Everything the test process logs, at debug level, for the leak check.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn venv_python() -> PathBuf {
    let venv = std::env::var_os("NOTCH_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv"));
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "no Python venv at {}: python3 -m venv .venv && .venv/bin/pip install -r tests/py/requirements-charging.txt \
         (or set NOTCH_VENV)",
        venv.display()
    );
    python
}

fn settings(validity: chrono::Duration) -> ChargingSettings {
    ChargingSettings {
        transports: vec!["http://127.0.0.1".into()],
        certificate_validity: validity,
        partner_providers: vec![],
    }
}

struct App {
    key: SigningKey,
    http: reqwest::Client,
    base: String,
}

impl App {
    fn new(base: &str) -> App {
        App { key: SigningKey::generate(&mut rand::rngs::OsRng), http: reqwest::Client::new(), base: base.to_owned() }
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = self.http.post(format!("{}{path}", self.base)).json(body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    async fn connect(&self) {
        let card = ContactCard::create(&self.key, "alice's phone", vec![], None).unwrap().export().unwrap();
        let (status, body) = self.post("/charging/authority/connections", &json!({ "contact_card": card })).await;
        assert_eq!((status, body["trust"].as_str()), (201, Some("untrusted")), "{body}");
    }

    async fn request_certificate(&self, number: &str, expiry: &str, cvc: &str) -> (u16, Value) {
        let request = SignedCertificateRequest::sign(&self.key, Utc::now()).unwrap();
        let billing = json!({ "cc_number": number, "expiry": expiry, "cvc": cvc });
        self.post("/charging/authority/certificates", &json!({ "request": request, "billing": billing })).await
    }

    async fn present(&self, signer: &SigningKey, certificate: Certificate) -> (u16, Value) {
        let body = SocketRequestBody {
            certificate,
            charge_point_id: CHARGE_POINT.into(),
            connector_id: 1,
            requested_at: Utc::now(),
        };
        let request = SocketRequest::sign(signer, body).unwrap();
        self.post("/charging/provider/sockets", &serde_json::to_value(request).unwrap()).await
    }
}

fn certificate_of(body: &Value) -> Certificate {
    serde_json::from_value(body["certificate"].clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charging_end_to_end() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let db = projections::testkit::test_db("charging_e2e").await;
    let store = db.store.clone();
    let keys_dir = tempfile::tempdir().unwrap();
    let keys = ChargingKeys::load_or_create(keys_dir.path()).unwrap();
    let service = ChargingService::new(store.clone(), keys.clone(), settings(chrono::Duration::days(365)));
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|stop| *stop).await;
    };
    let (bound, server) =
        adapters::http::serve_with_charging("127.0.0.1:0".parse().unwrap(), store.clone(), service.clone(), shutdown)
            .await
            .unwrap();
    let server = tokio::spawn(server);
    let base = format!("http://{bound}");

    // The provider trusts this node's authority, from its exported contact card.
    let authority_card = reqwest::get(format!("{base}/charging/authority/contact-card")).await.unwrap();
    let authority_card: Value = authority_card.json().await.unwrap();
    let authority_card = ContactCard::import(authority_card["contact_card"].as_str().unwrap()).unwrap();
    service.trust_authority(authority_card, Utc::now()).await.unwrap();

    // Alice connects and gets a certificate; bad cards are refused first.
    let alice = App::new(&base);
    alice.connect().await;
    let (status, body) = alice.request_certificate("4556737586899856", "12/2035", CVC).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("card_luhn_failed")), "{body}");
    let (status, body) = alice.request_certificate(CARD_NUMBER, "01/2021", CVC).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("card_expired")), "{body}");
    let (status, body) = alice.request_certificate(CARD_NUMBER, "12/2035", "12").await;
    assert_eq!((status, body["code"].as_str()), (422, Some("cvc_invalid")), "{body}");
    let (status, body) = alice.request_certificate(CARD_NUMBER_SPACED, "12/2035", CVC).await;
    assert_eq!(status, 201, "{body}");
    let alice_certificate = certificate_of(&body);

    // Refusals at the socket.
    let mut tampered = serde_json::to_value(&alice_certificate).unwrap();
    tampered["certificate"]["expires_at"] = json!("2099-01-01T00:00:00Z");
    let tampered: Certificate = serde_json::from_value(tampered).unwrap();
    let (status, body) = alice.present(&alice.key, tampered).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("tampered_certificate")), "{body}");

    let mallory = SigningKey::generate(&mut rand::rngs::OsRng);
    let (status, body) = alice.present(&mallory, alice_certificate.clone()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("wrong_key")), "{body}");

    let bob = App::new(&base);
    bob.connect().await;
    let (status, body) = bob.request_certificate(CARD_NUMBER, "12/2035", CVC).await;
    assert_eq!(status, 201, "{body}");
    let bob_certificate = certificate_of(&body);
    let bob_uid = bob_certificate.certificate.subject_uid.clone();
    service.revoke_certificate(&bob_uid, &bob_certificate.certificate.serial, "phone lost", Utc::now()).await.unwrap();
    let (status, body) = bob.present(&bob.key, bob_certificate).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("certificate_revoked")), "{body}");

    // Same authority keys, certificates valid for one second: expired by the time they are presented.
    let short_lived = ChargingService::new(store.clone(), keys.clone(), settings(chrono::Duration::seconds(1)));
    let carol = App::new(&base);
    carol.connect().await;
    let request = SignedCertificateRequest::sign(&carol.key, Utc::now()).unwrap();
    let billing = serde_json::from_value(json!({ "cc_number": CARD_NUMBER, "expiry": "12/2035", "cvc": CVC })).unwrap();
    let carol_certificate = short_lived.request_certificate(request, billing, Utc::now()).await.unwrap();
    // Presented once the clock (the provider's, on this machine) is past its expiry.
    let expires_at = carol_certificate.certificate.expires_at;
    while Utc::now() <= expires_at + chrono::Duration::milliseconds(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = carol.present(&carol.key, carol_certificate).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("certificate_expired")), "{body}");

    // An authority the provider never trusted, writing to the same log.
    let rogue_dir = tempfile::tempdir().unwrap();
    let rogue_keys = ChargingKeys::load_or_create(rogue_dir.path()).unwrap();
    let rogue = ChargingService::new(store.clone(), rogue_keys, settings(chrono::Duration::days(365)));
    let dave = App::new(&base);
    let dave_card = ContactCard::create(&dave.key, "dave", vec![], None).unwrap();
    rogue.request_connection(dave_card, Utc::now()).await.unwrap();
    let request = SignedCertificateRequest::sign(&dave.key, Utc::now()).unwrap();
    let billing = serde_json::from_value(json!({ "cc_number": CARD_NUMBER, "expiry": "12/2035", "cvc": CVC })).unwrap();
    let dave_certificate = rogue.request_certificate(request, billing, Utc::now()).await.unwrap();
    let (status, body) = dave.present(&dave.key, dave_certificate).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("unknown_authority")), "{body}");

    // The real charge point: bad frames, then a whole session.
    let mut charge_point = Command::new(venv_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ocpp_charge_point.py"))
        .arg(format!("ws://{bound}/ocpp"))
        .arg(CHARGE_POINT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<String>(64);
    let stdout = charge_point.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(next_line(&mut lines).await.as_deref(), Some("BADFRAMES OK"));
    assert_eq!(next_line(&mut lines).await.as_deref(), Some("READY"));

    let (status, body) = alice.present(&alice.key, alice_certificate.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["remote_start"], "Accepted", "{body}");

    let done = next_line(&mut lines).await.expect("the charge point finished its session");
    let output = charge_point.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "charge point failed: {stderr}");
    let parts: Vec<&str> = done.split(' ').collect();
    assert_eq!(parts.len(), 4, "{done}");
    let transaction_id: i32 = parts[1].parse().unwrap();
    let started_at: DateTime<Utc> = parts[2].parse().unwrap();
    let stopped_at: DateTime<Utc> = parts[3].parse().unwrap();

    // The bill, as the provider's view and the report see it.
    projections::catch_up(&store, &projections::charging::ChargingViews).await.unwrap();
    let client = store.pool().get().await.unwrap();
    let bill = client
        .query_one(
            "SELECT uid, energy_wh, meter_start_wh, meter_stop_wh, started_at, stopped_at FROM charging.bills \
             WHERE charge_point_id = $1 AND transaction_id = $2",
            &[&CHARGE_POINT, &transaction_id],
        )
        .await
        .unwrap();
    assert_eq!(bill.get::<_, String>(0), alice_certificate.certificate.subject_uid.as_str());
    assert_eq!((bill.get::<_, i64>(1), bill.get::<_, i64>(2), bill.get::<_, i64>(3)), (7500, 1000, 8500));
    assert_eq!((bill.get::<_, DateTime<Utc>>(4), bill.get::<_, DateTime<Utc>>(5)), (started_at, stopped_at));
    let session = client
        .query_one(
            "SELECT last_energy_wh, stop_reason FROM charging.sessions WHERE charge_point_id = $1 AND transaction_id = $2",
            &[&CHARGE_POINT, &transaction_id],
        )
        .await
        .unwrap();
    assert_eq!((session.get::<_, i64>(0), session.get::<_, Option<String>>(1)), (8500, Some("Local".into())));
    let user = client
        .query_one("SELECT trust, card_last4 FROM charging.authority_users WHERE uid = $1", &[&bob_uid.as_str()])
        .await
        .unwrap();
    assert_eq!((user.get::<_, String>(0), user.get::<_, String>(1)), ("trusted".into(), "9855".into()));
    let admin = connect_admin(&db.database.admin).await;
    // The report views come with the migrations (V301).
    let daily = admin.query_one("SELECT sum(energy_wh)::bigint FROM report.charging_daily_energy", &[]).await.unwrap();
    assert_eq!(daily.get::<_, i64>(0), 7500);
    let states = admin.query("SELECT state FROM report.charging_certificates ORDER BY state", &[]).await.unwrap();
    let states: Vec<String> = states.iter().map(|r| r.get(0)).collect();
    assert_eq!(states, ["expired", "revoked", "valid", "valid"]);

    // No card number and no CVC anywhere: the database, our logs, the charge point's output.
    let dump = pg_dump(&db.database.admin);
    assert!(dump.contains("BillRecorded"), "the dump holds the log");
    assert!(dump.contains("\"card_last4\": \"9855\""), "the dump holds what may be kept");
    let _ = stop_tx.send(true);
    let _ = server.await;
    let logged = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logged.contains("charge point connected"), "logs were captured");
    let charge_point_output = format!("{done}\n{stderr}");
    for (name, text) in [("pg_dump", &dump), ("logs", &logged), ("charge point output", &charge_point_output)] {
        for secret in [CARD_NUMBER, CARD_NUMBER_SPACED, "cc_number", "\"cvc\"", &format!("\"{CVC}\"")] {
            assert!(!text.contains(secret), "{name} contains {secret:?}");
        }
    }
}

/// The charge point's next line of output, waiting a bounded time.
async fn next_line(lines: &mut tokio::sync::mpsc::Receiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(60), lines.recv()).await.ok().flatten()
}

async fn connect_admin(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The whole database as pg_dump writes it (schema and data), with the server's own pg_dump.
fn pg_dump(config: &tokio_postgres::Config) -> String {
    let host = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let output = Command::new(pg_dump_binary())
        .args(["-h", &host, "-p", &port.to_string(), "-U", config.get_user().unwrap(), config.get_dbname().unwrap()])
        .output()
        .unwrap();
    assert!(output.status.success(), "pg_dump failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn pg_dump_binary() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(Result::ok).map(|e| e.path().join("bin/pg_dump")).filter(|p| p.exists()).collect())
        .unwrap_or_default();
    candidates.sort_by_key(|p| {
        p.parent().and_then(|b| b.parent()).and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok()).unwrap_or(0)
    });
    candidates.pop().unwrap_or_else(|| PathBuf::from("pg_dump"))
}
