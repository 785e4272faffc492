//! The peer link against a Noise implementation nobody here wrote: npm `noise-protocol@3.0.2` with
//! `frame-stream@2.1.0` (the packages MyCHIPs pins), driven by tests/peers-js/peer.js, as initiator and as
//! responder, in the ticket mode (IK) and in the N + KK mode, exchanging JSON over `T` packets.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use adapters::peers::{PeerAddress, PeerHandler, PeerLimits, PeerLink, PeerServer, SiteIdentity, TicketClaim};
use ed25519_dalek::SigningKey;
use futures::future::BoxFuture;
use serde_json::{json, Value};
use tokio::sync::mpsc;

const TOKEN: &str = "the-one-ticket";

/// Answers pings with an echo on the same link, accepts one ticket, and reports everything it receives.
struct Echo {
    link: OnceLock<Weak<PeerLink>>,
    received: mpsc::UnboundedSender<(String, Value)>,
    redeemed: Mutex<Vec<String>>,
}

impl PeerHandler for Echo {
    fn redeem<'a>(&'a self, claim: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let token = claim.message.pointer("/ticket/token").and_then(Value::as_str).unwrap_or_default();
            self.redeemed.lock().unwrap().push(token.to_owned());
            if token == TOKEN && claim.key_proved {
                Ok(())
            } else {
                Err("unknown ticket".into())
            }
        })
    }

    fn receive<'a>(&'a self, from: &'a str, message: Value) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if message["action"] == "ping" {
                let link = self.link.get().and_then(Weak::upgrade).expect("the link runs");
                link.reply(from, json!({"target": "echo", "action": "pong", "n": message["n"]})).await.unwrap();
            }
            let _ = self.received.send((from.to_owned(), message));
        })
    }
}

struct Site {
    link: Arc<PeerLink>,
    server: PeerServer,
    received: mpsc::UnboundedReceiver<(String, Value)>,
    echo: Arc<Echo>,
}

async fn notch_site(key: &SigningKey) -> Site {
    let (sender, received) = mpsc::unbounded_channel();
    let echo = Arc::new(Echo { link: OnceLock::new(), received: sender, redeemed: Mutex::default() });
    let link = PeerLink::new(SiteIdentity::new(key, "127.0.0.1", 0), echo.clone(), PeerLimits::default());
    echo.link.set(Arc::downgrade(&link)).unwrap();
    let server = PeerServer::start(link.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Site { link, server, received, echo }
}

fn script() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers-js");
    assert!(
        dir.join("node_modules/noise-protocol").is_dir(),
        "the JS peer's packages are missing: run `npm ci --prefix tests/peers-js` (.ci/run does)"
    );
    dir.join("peer.js")
}

/// The JS peer, with its stdout read line by line as JSON.
struct JsPeer {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl JsPeer {
    fn start(args: &[&str]) -> JsPeer {
        let mut child = Command::new("node")
            .arg(script())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs");
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        JsPeer { child, lines }
    }

    fn next(&mut self) -> Value {
        let line = self.lines.next().expect("the JS peer printed a line").unwrap();
        serde_json::from_str(&line).unwrap()
    }

    /// Every line until it exits.
    fn rest(mut self) -> Vec<Value> {
        let lines = self.lines.by_ref().map(|line| serde_json::from_str(&line.unwrap()).unwrap()).collect();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "the JS peer failed: {status}");
        lines
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32])
}

async fn js_dials(mode: &str) -> (Vec<Value>, Site) {
    let site = notch_site(&key(1)).await;
    let port = site.server.local_addr().port().to_string();
    let agent = site.link.identity().agent.clone();
    let seed = hex::encode([2u8; 32]);
    let args = ["dial", "--seed", &seed, "--host", "127.0.0.1", "--port", &port, "--to", &agent, "--mode", mode];
    let args: Vec<String> = args.into_iter().chain(["--count", "3", "--token", TOKEN]).map(str::to_owned).collect();
    let lines = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        JsPeer::start(&args).rest()
    })
    .await
    .unwrap();
    (lines, site)
}

fn pongs(lines: &[Value]) -> Vec<u64> {
    lines.iter().filter(|l| l["event"] == "message").map(|l| l["message"]["n"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn a_js_initiator_opens_with_a_ticket_and_its_messages_are_answered() {
    let (lines, mut site) = js_dials("ticket").await;
    assert_eq!(pongs(&lines), vec![0, 1, 2], "each ping answered over T in order: {lines:?}");
    assert_eq!(*site.echo.redeemed.lock().unwrap(), vec![TOKEN.to_owned()]);
    let js_agent = peers::agent_id(&key(2).verifying_key());
    for n in 0..3 {
        let (from, message) = site.received.recv().await.unwrap();
        assert_eq!((from.as_str(), &message["n"]), (js_agent.as_str(), &json!(n)), "the I payload is the verdict's");
        assert_eq!(message["text"].as_str().unwrap().len(), 1000);
    }
}

#[tokio::test]
async fn a_js_initiator_announces_itself_and_opens_with_kk() {
    let (lines, mut site) = js_dials("kk").await;
    assert_eq!(pongs(&lines), vec![0, 1, 2], "{lines:?}");
    let (_, hello) = site.received.recv().await.unwrap();
    assert_eq!(hello["action"], "hello", "the K payload is delivered first");
    assert!(site.echo.redeemed.lock().unwrap().is_empty());
}

async fn js_listens() -> (JsPeer, PeerAddress) {
    let seed = hex::encode([3u8; 32]);
    let mut js = JsPeer::start(&["listen", "--seed", &seed, "--token", TOKEN]);
    let ready = tokio::task::block_in_place(|| js.next());
    let address = PeerAddress {
        agent: ready["agent"].as_str().unwrap().to_owned(),
        host: "127.0.0.1".into(),
        port: ready["port"].as_u64().unwrap() as u16,
    };
    assert_eq!(address.agent, peers::agent_id(&key(3).verifying_key()), "the same agent id from the same seed");
    (js, address)
}

async fn echoes(site: &mut Site, count: usize) -> Vec<Value> {
    let mut echoes = Vec::new();
    while echoes.len() < count {
        let (_, message) = tokio::time::timeout(Duration::from_secs(10), site.received.recv()).await.unwrap().unwrap();
        echoes.push(message["echo"].clone());
    }
    echoes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notch_dials_a_js_responder_with_kk_and_messages_go_both_ways() {
    let (_js, address) = js_listens().await;
    let mut site = notch_site(&key(4)).await;
    for n in 0..3 {
        site.link.send(&address, json!({"target": "echo", "action": "note", "n": n})).unwrap();
    }
    let echoes = echoes(&mut site, 3).await;
    let numbers: Vec<&Value> = echoes.iter().map(|e| &e["n"]).collect();
    assert_eq!(numbers, [&json!(0), &json!(1), &json!(2)], "the K payload then two queued Ts, in order");
    let own = site.link.identity().agent.clone();
    assert!(echoes.iter().all(|e| e["from"]["agent"] == own.as_str()), "from is stamped with this site");
    let status = site.link.status(None);
    assert_eq!(status.connections.len(), 1, "one connection carried all three: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notch_dials_a_js_responder_with_a_ticket() {
    let (_js, address) = js_listens().await;
    let mut site = notch_site(&key(5)).await;
    let ticket =
        json!({"target": "tally", "action": "ticket", "to": {"agent": address.agent}, "ticket": {"token": TOKEN}});
    site.link.send(&address, ticket).unwrap();
    let echoes = echoes(&mut site, 1).await;
    assert_eq!(echoes[0]["ticket"]["token"], TOKEN, "the JS responder read the I and answered over T");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_responder_that_refuses_the_ticket_sends_no_ack_and_nothing_is_delivered() {
    let (_js, address) = js_listens().await;
    let mut site = notch_site(&key(6)).await;
    let ticket = json!({"target": "tally", "action": "ticket", "ticket": {"token": "forged"}});
    site.link.send(&address, ticket).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(site.received.try_recv().is_err());
    let status = site.link.status(None);
    assert!(status.connections.is_empty(), "the failed connection is gone: {status:?}");
    assert_eq!(status.refusals.get("closed"), Some(&1), "{status:?}");
}
