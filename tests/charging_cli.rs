//! The operator's path with the real `notch` binary: print the authority's contact card, trust it as the
//! provider, and revoke a certificate an app obtained over HTTP from `notch serve`; the revoked certificate is
//! then refused at the socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use domain::charging::certificate::{Certificate, SignedCertificateRequest, SocketRequest, SocketRequestBody};
use domain::charging::contact_card::ContactCard;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

/// The binary under test: `NOTCH_BIN` if set (a copy, when several worktrees share one target directory and
/// overwrite each other's `notch`), else the one cargo built for this test.
fn notch_bin() -> String {
    std::env::var("NOTCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_notch").to_owned())
}

fn notch(args: &[&str], data_dir: &Path) -> String {
    let output = Command::new(notch_bin()).args(args).arg("--data-dir").arg(data_dir).output().unwrap();
    assert!(output.status.success(), "notch {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

struct Serving(Child);

impl Serving {
    /// Starts `notch serve` and waits until /health answers.
    async fn start(data_dir: &Path, port: u16, base: &str) -> Serving {
        let serving = Serving(
            Command::new(notch_bin())
                .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--public-url", base, "--data-dir"])
                .arg(data_dir)
                .env("NOTCH_LOG", "warn")
                .stdout(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(90);
        while !reqwest::get(format!("{base}/health")).await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "notch serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        serving
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new().post(format!("{base}{path}")).json(body).send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn operator_prints_the_card_trusts_the_authority_and_revokes() {
    let dir = tempfile::Builder::new().prefix("notch-charging-").tempdir().unwrap();
    // The embedded PostgreSQL runs as an unprivileged user, which must be able to enter the directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");

    let printed = notch(&["charging", "contact-card", "--public-url", &base], dir.path());
    let card = ContactCard::import(printed.trim()).unwrap();
    assert_eq!(card.card.transports, vec![base.clone()]);
    assert_eq!(card.card.meta.as_ref().unwrap()["role"], "registration-authority");

    let socket = notch(
        &["charging", "contact-card", "--role", "socket", "--charge-point", "CP-7", "--connector", "2"],
        dir.path(),
    );
    let socket = ContactCard::import(socket.trim()).unwrap();
    assert_eq!(socket.card.meta.as_ref().unwrap()["charge_point_id"], "CP-7");
    assert_eq!(socket.card.meta.as_ref().unwrap()["connector_id"], "2");

    // The admin commands run beside the serving node, on the same embedded cluster.
    let _serving = Serving::start(dir.path(), port, &base).await;
    let trusted = notch(&["charging", "trust-authority", printed.trim()], dir.path());
    assert!(trusted.contains(card.card.uid.as_str()), "{trusted}");

    let app = SigningKey::generate(&mut rand::rngs::OsRng);
    let app_card = ContactCard::create(&app, "erin", vec![], None).unwrap().export().unwrap();
    let (status, body) = post(&base, "/charging/authority/connections", &json!({ "contact_card": app_card })).await;
    assert_eq!(status, 201, "{body}");
    let request = SignedCertificateRequest::sign(&app, Utc::now()).unwrap();
    let billing = json!({ "cc_number": "4111-1111-1111-1111", "expiry": "12/2035", "cvc": "123" });
    let (status, body) =
        post(&base, "/charging/authority/certificates", &json!({ "request": request, "billing": billing })).await;
    assert_eq!(status, 201, "{body}");
    let certificate: Certificate = serde_json::from_value(body["certificate"].clone()).unwrap();

    let revoked = notch(
        &["charging", "revoke", "--serial", &certificate.certificate.serial, "--reason", "stolen phone"],
        dir.path(),
    );
    assert!(revoked.contains("revoked"), "{revoked}");

    let present = SocketRequest::sign(
        &app,
        SocketRequestBody { certificate, charge_point_id: "CP-7".into(), connector_id: 2, requested_at: Utc::now() },
    )
    .unwrap();
    let (status, body) = post(&base, "/charging/provider/sockets", &serde_json::to_value(present).unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("certificate_revoked")), "{body}");
}
