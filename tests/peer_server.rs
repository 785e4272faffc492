//! The peer server inside a real `notch serve`: started with `--peer-listen` (the site key's passphrase opens
//! it), stopped and started again by `notch admin peer stop | start` while the HTTP API goes on, its status
//! over the control socket; a user of another site (the JS peer on MyCHIPs' Noise packages) presents a tally
//! ticket in an IK `I`: a made-up one is refused before any `A` and writes nothing, a real one is spent and
//! recorded with the redeemer's site, and cannot be spent twice.

mod common;
mod site_support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use adapters::http::site::UserRequest;
use domain::site::connection_ticket::token_hash;
use serde_json::Value;
use site_support::*;

fn js_dial(port: u16, agent: &str, token: &str) -> Vec<Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers-js/peer.js");
    let seed = hex::encode([7u8; 32]);
    let out = Command::new("node")
        .arg(script)
        .args(["dial", "--seed", &seed, "--host", "127.0.0.1", "--port", &port.to_string(), "--to", agent])
        .args(["--mode", "ticket", "--count", "0", "--token", token, "--cuid", "bob"])
        .stderr(Stdio::inherit())
        .output()
        .expect("node runs (the JS peer: npm ci --prefix tests/peers-js)");
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn peer(data_dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["peer"];
    all.extend_from_slice(args);
    admin(data_dir, &all)
}

fn status(data_dir: &Path) -> Value {
    serde_json::from_str(&peer(data_dir, &["status", "--json"])).unwrap()
}

async fn connect(serving: &Serving, device: &Device) {
    let out = admin(&serving.data_dir, &["ticket", &device.cid]);
    let ticket: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let token = ticket["token"].as_str().unwrap().to_owned();
    device.ok(serving, UserRequest::RedeemConnectionTicket { token }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peer_server_runs_in_serve_judges_tickets_and_is_stopped_and_started_by_the_operator() {
    let dir = data_dir();
    let peer_port = common::free_port();
    admin(dir.path(), &["init", "--name", "site-a", "--host", "127.0.0.1", "--port", &peer_port.to_string()]);
    admin(dir.path(), &["user", "add", "alice", "--name", "Alice"]);
    let listen = format!("127.0.0.1:{peer_port}");
    let env = [("NOTCH_PASSPHRASE", PASSPHRASE)];
    let serving = Serving::start_with_args(dir.path(), common::free_port(), &["--peer-listen", &listen], &env).await;
    let alice = Device::new("alice", 1);
    connect(&serving, &alice).await;

    let running = status(dir.path());
    assert_eq!(running["listening"], listen.as_str());
    let agent = running["agent"].as_str().unwrap().to_owned();

    let forged = js_dial(peer_port, &agent, "made-up-token");
    assert_eq!(forged.last().unwrap()["event"], "closed_before_open", "no A for a made-up ticket: {forged:?}");
    let (code, _) = serving.get(&format!("/streams/tallyticket-{}", token_hash("made-up-token"))).await;
    assert_eq!(code, 404, "a made-up ticket writes nothing");

    let ticket = alice.ok(&serving, UserRequest::IssueTallyTicket { counterpart: None, lifetime_s: None }).await;
    let token = ticket["ticket"]["token"].as_str().unwrap().to_owned();
    let redeemed = js_dial(peer_port, &agent, &token);
    assert!(redeemed.iter().any(|l| l["event"] == "open"), "the real ticket opens the link: {redeemed:?}");
    let (_, stream) = serving.get(&format!("/streams/tallyticket-{}", token_hash(&token))).await;
    let event = &stream["events"][1];
    assert_eq!(event["event_type"], "TallyTicketRedeemed", "{stream}");
    let js_agent = peers::agent_id(&ed25519_dalek::SigningKey::from_bytes(&[7; 32]).verifying_key());
    assert_eq!((&event["payload"]["redeemer"], &event["payload"]["redeemer_site"]), (&"bob".into(), &js_agent.into()));
    let again = js_dial(peer_port, &agent, &token);
    assert_eq!(again.last().unwrap()["event"], "closed_before_open", "a spent ticket is refused");
    assert_eq!(status(dir.path())["refusals"]["ticket_refused"], 2, "{}", status(dir.path()));

    assert!(control(dir.path(), b"{\"command\":\"start_the_world\"}\n").contains("bad control request"));
    let silent = control(dir.path(), b"");
    assert!(silent.contains("no request line within"), "a silent client is answered and let go: {silent}");
    peer(dir.path(), &["stop"]);
    assert!(peer(dir.path(), &["status"]).contains("stopped"));
    assert!(std::net::TcpStream::connect(&listen).is_err(), "nothing listens once stopped");
    let (code, _) = serving.get("/health").await;
    assert_eq!(code, 200, "the HTTP API goes on");
    let wrong = notch_env(dir.path(), &["admin", "peer", "start"], &[("NOTCH_PASSPHRASE", "not the passphrase")]);
    assert!(!wrong.status.success(), "a wrong passphrase does not start it");
    assert_eq!(String::from_utf8_lossy(&wrong.stderr).trim().lines().count(), 1, "{wrong:?}");
    assert!(peer(dir.path(), &["start"]).contains(&listen), "it starts again where it listened");
    assert_eq!(status(dir.path())["listening"], listen.as_str());
}

/// One raw exchange on the service's control socket (the client side of `notch admin peer`).
fn control(data_dir: &Path, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut socket = std::os::unix::net::UnixStream::connect(data_dir.join("control/control.sock")).unwrap();
    socket.write_all(request).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    answer
}

#[tokio::test]
async fn admin_peer_says_clearly_when_no_service_runs() {
    let dir = data_dir();
    let out = notch(dir.path(), &["admin", "peer", "status"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no notch serve answers"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
}
