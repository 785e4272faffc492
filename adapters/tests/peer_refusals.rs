//! The peer server refuses, before sending any `A`, everything the issue lists under "Enforced" and "Bounded",
//! and goes on serving a good peer at the same time. Real sockets on loopback; the bad peers are written with
//! the pure `peers` crate so that each one breaks exactly one rule.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::peers::{PeerHandler, PeerLimits, PeerLink, PeerServer, SiteIdentity, TicketClaim};
use ed25519_dalek::SigningKey;
use futures::future::BoxFuture;
use peers::noise;
use peers::{Frame, FrameDecoder, Header};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const GOOD_TICKET: &str = "good";

#[derive(Default)]
struct Recorder {
    redeemed: Mutex<Vec<(String, bool)>>,
    received: Mutex<Vec<Value>>,
}

impl PeerHandler for Recorder {
    fn redeem<'a>(&'a self, claim: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let token = claim.message.pointer("/ticket/token").and_then(Value::as_str).unwrap_or_default().to_owned();
            self.redeemed.lock().unwrap().push((token.clone(), claim.key_proved));
            if token == GOOD_TICKET {
                Ok(())
            } else {
                Err("no such ticket".into())
            }
        })
    }

    fn receive<'a>(&'a self, _from: &'a str, message: Value) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.received.lock().unwrap().push(message) })
    }
}

struct Site {
    link: Arc<PeerLink>,
    server: PeerServer,
    recorder: Arc<Recorder>,
    noise_key: [u8; 32],
}

async fn site(limits: PeerLimits) -> Site {
    site_of(1, limits).await
}

async fn site_of(byte: u8, limits: PeerLimits) -> Site {
    let key = SigningKey::from_bytes(&[byte; 32]);
    let recorder = Arc::new(Recorder::default());
    let link = PeerLink::new(SiteIdentity::new(&key, "127.0.0.1", 0), recorder.clone(), limits);
    let server = PeerServer::start(link.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    Site { link, server, recorder, noise_key: peers::noise_public_key(&key.verifying_key()) }
}

impl Site {
    async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.server.local_addr()).await.unwrap()
    }

    fn refusals(&self, kind: &str) -> u64 {
        self.link.status(None).refusals.get(kind).copied().unwrap_or(0)
    }
}

/// A peer site of the test: its key and its agent id.
struct Peer {
    key: SigningKey,
}

impl Peer {
    fn new(byte: u8) -> Peer {
        Peer { key: SigningKey::from_bytes(&[byte; 32]) }
    }

    fn agent(&self) -> String {
        peers::agent_id(&self.key.verifying_key())
    }

    fn secret(&self) -> [u8; 32] {
        peers::noise_secret_key(&self.key)
    }

    fn ticket_request(&self, site: &Site, claimed: &str, token: &str) -> (noise::Pending, Frame) {
        let message =
            json!({"target": "tally", "action": "ticket", "from": {"agent": claimed}, "ticket": {"token": token}});
        let payload = serde_json::to_vec(&message).unwrap();
        let (pending, body) = noise::ticket_request(&self.secret(), &site.noise_key, &payload).unwrap();
        (pending, Frame::new(Header::Ticket, body))
    }

    fn announcement(&self, site: &Site, agent: &str) -> Frame {
        let body = noise::identity_announcement(&site.noise_key, &serde_json::to_vec(agent).unwrap()).unwrap();
        Frame::new(Header::Identity, body)
    }

    fn key_request(&self, site: &Site) -> (noise::Pending, Frame) {
        let payload = serde_json::to_vec(&json!({"target": "tally", "action": "hello"})).unwrap();
        let (pending, body) = noise::key_request(&self.secret(), &site.noise_key, &payload).unwrap();
        (pending, Frame::new(Header::Key, body))
    }
}

async fn send(socket: &mut TcpStream, frames: &[&Frame]) {
    for frame in frames {
        socket.write_all(&frame.encode()).await.unwrap();
    }
}

/// Reads until the server closes; the bytes it sent (none, for a refusal).
async fn until_closed(socket: &mut TcpStream) -> Vec<u8> {
    let mut sent = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), socket.read_to_end(&mut sent)).await;
    read.expect("the server closes the connection").map(|_| ()).unwrap_or(()); // a reset counts as closed
    sent
}

async fn next_frame(socket: &mut TcpStream) -> Frame {
    let mut decoder = FrameDecoder::new(peers::DEFAULT_MAX_BODY_BYTES);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.next_frame().unwrap() {
            return frame;
        }
        let read = socket.read(&mut chunk).await.unwrap();
        assert!(read > 0, "closed before a frame");
        decoder.push(&chunk[..read]);
    }
}

/// A good KK peer: its `K` is delivered, and a `T` after the `A` too. Run beside each bad one.
async fn good_peer_is_served(site: &Site, byte: u8) {
    let peer = Peer::new(byte);
    let mut socket = site.connect().await;
    let (pending, k) = peer.key_request(site);
    send(&mut socket, &[&peer.announcement(site, &peer.agent()), &k]).await;
    let ack = next_frame(&mut socket).await;
    assert_eq!(ack.header, Header::Ack);
    let (_, transport) = pending.read_ack(&ack.body).unwrap();
    let (mut sealer, _) = transport.split();
    let body = sealer.seal(br#"{"target":"tally","action":"after"}"#).unwrap();
    send(&mut socket, &[&Frame::new(Header::Transport, body)]).await;
    for _ in 0..100 {
        if site.recorder.received.lock().unwrap().iter().any(|m| m["action"] == "after") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the good peer's T was not delivered");
}

/// Runs `bad` beside a good peer and checks the bad connection got no byte back (no `A`) and was counted.
async fn refused_beside_a_good_peer(site: &Site, kind: &str, frames: Vec<Frame>, raw: &[u8]) {
    let before = site.refusals(kind);
    let mut socket = site.connect().await;
    send(&mut socket, &frames.iter().collect::<Vec<_>>()).await;
    socket.write_all(raw).await.unwrap();
    good_peer_is_served(site, 200).await;
    assert!(until_closed(&mut socket).await.is_empty(), "no A (nor anything) for a refused peer");
    assert_eq!(site.refusals(kind), before + 1, "counted as {kind}: {:?}", site.link.status(None).refusals);
}

#[tokio::test]
async fn a_bad_ticket_is_refused_and_spent() {
    let site = site(PeerLimits::default()).await;
    let peer = Peer::new(2);
    let (_, i) = peer.ticket_request(&site, &peer.agent(), "expired-or-unknown");
    refused_beside_a_good_peer(&site, "ticket_refused", vec![i], &[]).await;
    assert_eq!(*site.recorder.redeemed.lock().unwrap(), vec![("expired-or-unknown".to_owned(), true)]);
}

#[tokio::test]
async fn a_good_ticket_opens_the_connection() {
    let site = site(PeerLimits::default()).await;
    let peer = Peer::new(2);
    let mut socket = site.connect().await;
    let (pending, i) = peer.ticket_request(&site, &peer.agent(), GOOD_TICKET);
    send(&mut socket, &[&i]).await;
    let ack = next_frame(&mut socket).await;
    assert_eq!((ack.header, ack.body.len()), (Header::Ack, 48), "MyCHIPs' A: e and an empty payload's tag");
    pending.read_ack(&ack.body).unwrap();
    assert_eq!(site.link.status(None).connections.len(), 1);
}

#[tokio::test]
async fn an_ik_key_that_is_not_the_claimed_agents_is_refused_and_the_ticket_spent() {
    let site = site(PeerLimits::default()).await;
    let (impostor, victim) = (Peer::new(2), Peer::new(3));
    let (_, i) = impostor.ticket_request(&site, &victim.agent(), GOOD_TICKET);
    refused_beside_a_good_peer(&site, "key_mismatch", vec![i], &[]).await;
    assert_eq!(*site.recorder.redeemed.lock().unwrap(), vec![(GOOD_TICKET.to_owned(), false)]);
}

#[tokio::test]
async fn a_kk_message_that_does_not_decrypt_under_the_announced_key_is_refused() {
    let site = site(PeerLimits::default()).await;
    let (impostor, victim) = (Peer::new(2), Peer::new(3));
    let (_, k) = impostor.key_request(&site);
    refused_beside_a_good_peer(&site, "handshake_failed", vec![impostor.announcement(&site, &victim.agent()), k], &[])
        .await;
    let hellos = site.recorder.received.lock().unwrap().iter().filter(|m| m["action"] == "hello").count();
    assert_eq!(hellos, 1, "only the good peer's K was delivered");
}

#[tokio::test]
async fn frames_out_of_their_place_are_refused() {
    let site = site(PeerLimits::default()).await;
    let peer = Peer::new(2);
    let t = Frame::new(Header::Transport, vec![1; 40]);
    refused_beside_a_good_peer(&site, "unexpected_frame", vec![t], &[]).await;
    let (_, k) = peer.key_request(&site);
    refused_beside_a_good_peer(&site, "unexpected_frame", vec![k], &[]).await;
    let (_, i) = peer.ticket_request(&site, &peer.agent(), GOOD_TICKET);
    refused_beside_a_good_peer(&site, "unexpected_frame", vec![peer.announcement(&site, &peer.agent()), i], &[]).await;
}

#[tokio::test]
async fn an_unknown_header_random_bytes_and_a_4_gib_length_are_refused() {
    let site = site(PeerLimits::default()).await;
    refused_beside_a_good_peer(&site, "bad_frame", vec![], &[0, 0, 0, 3, b'X', 1, 2]).await;
    let random: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    refused_beside_a_good_peer(&site, "frame_too_long", vec![], &random).await;
    refused_beside_a_good_peer(&site, "frame_too_long", vec![], &[0xff, 0xff, 0xff, 0xff, b'I']).await;
}

#[tokio::test]
async fn mychips_raw_mode_is_refused_with_a_reason() {
    let site = site(PeerLimits::default()).await;
    let raw = Frame::new(Header::Ticket, br#"{"target":"tally","action":"ticket","ticket":{"token":"good"}}"#.to_vec());
    refused_beside_a_good_peer(&site, "raw_mode", vec![raw], &[]).await;
    assert!(site.recorder.redeemed.lock().unwrap().is_empty(), "a raw ticket is never judged");
}

#[tokio::test]
async fn a_peer_that_stalls_its_handshake_is_closed_at_the_bound() {
    let limits = PeerLimits { handshake_timeout: Duration::from_millis(300), ..PeerLimits::default() };
    let site = site(limits).await;
    refused_beside_a_good_peer(&site, "handshake_timeout", vec![], &[0, 0]).await;
}

#[tokio::test]
async fn an_idle_connection_is_closed() {
    let site = site(PeerLimits { idle_timeout: Duration::from_millis(300), ..PeerLimits::default() }).await;
    let peer = Peer::new(2);
    let mut socket = site.connect().await;
    let (pending, k) = peer.key_request(&site);
    send(&mut socket, &[&peer.announcement(&site, &peer.agent()), &k]).await;
    pending.read_ack(&next_frame(&mut socket).await.body).unwrap();
    until_closed(&mut socket).await;
    assert!(site.link.status(None).connections.is_empty());
}

#[tokio::test]
async fn too_many_connections_from_one_address_are_closed_at_accept() {
    let site = site(PeerLimits { max_connections_per_address: 3, ..PeerLimits::default() }).await;
    let mut stalled = Vec::new();
    for _ in 0..3 {
        stalled.push(site.connect().await);
    }
    let mut fourth = site.connect().await;
    assert!(until_closed(&mut fourth).await.is_empty());
    assert_eq!(site.refusals("busy"), 1);
    let mut other = from_address(&site, "127.0.0.2").await;
    let (_, k) = Peer::new(2).key_request(&site);
    send(&mut other, &[&Peer::new(2).announcement(&site, &Peer::new(2).agent()), &k]).await;
    assert_eq!(next_frame(&mut other).await.header, Header::Ack, "another address is served meanwhile");
}

#[tokio::test]
async fn too_many_handshakes_at_once_are_closed_at_accept() {
    let site = site(PeerLimits { max_handshakes: 2, ..PeerLimits::default() }).await;
    let stalled = [site.connect().await, site.connect().await];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = site.connect().await;
    assert!(until_closed(&mut third).await.is_empty());
    assert_eq!(site.refusals("busy"), 1);
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(100)).await;
    good_peer_is_served(&site, 200).await;
}

async fn from_address(site: &Site, address: &str) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(format!("{address}:0").parse().unwrap()).unwrap();
    socket.connect(site.server.local_addr()).await.unwrap()
}

#[tokio::test]
async fn an_address_that_keeps_failing_cools_off() {
    let limits = PeerLimits { failures_before_cool_off: 2, cool_off: Duration::from_secs(60), ..PeerLimits::default() };
    let site = site(limits).await;
    for _ in 0..2 {
        let mut socket = site.connect().await;
        socket.write_all(&[0, 0, 0, 3, b'X', 1, 2]).await.unwrap();
        until_closed(&mut socket).await;
    }
    let mut socket = site.connect().await;
    assert!(until_closed(&mut socket).await.is_empty());
    assert_eq!(site.refusals("cooling_off"), 1);
}

#[tokio::test]
async fn messages_sent_while_the_handshake_runs_are_queued_and_delivered_in_order() {
    let responder = site(PeerLimits::default()).await;
    let initiator = site_of(9, PeerLimits::default()).await;
    let address = adapters::peers::PeerAddress {
        agent: responder.link.identity().agent.clone(),
        host: "127.0.0.1".into(),
        port: responder.server.local_addr().port(),
    };
    for n in 0..20 {
        initiator.link.send(&address, json!({"target": "chit", "action": "note", "n": n})).unwrap();
    }
    for _ in 0..200 {
        if responder.recorder.received.lock().unwrap().len() == 20 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let numbers: Vec<u64> =
        responder.recorder.received.lock().unwrap().iter().map(|m| m["n"].as_u64().unwrap()).collect();
    assert_eq!(numbers, (0..20).collect::<Vec<_>>());
    assert_eq!(initiator.link.status(None).connections.len(), 1, "one connection carried them all");
}
