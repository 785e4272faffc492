//! Two sites that dial each other at the same moment end with two connections, and every message of both
//! still arrives, in order, once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::peers::{PeerAddress, PeerHandler, PeerLimits, PeerLink, PeerServer, SiteIdentity, TicketClaim};
use ed25519_dalek::SigningKey;
use futures::future::BoxFuture;
use serde_json::{json, Value};

#[derive(Default)]
struct Inbox(Mutex<Vec<Value>>);

impl PeerHandler for Inbox {
    fn redeem<'a>(&'a self, _: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async { Err("no tickets here".to_owned()) })
    }

    fn receive<'a>(&'a self, _from: &'a str, message: Value) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.0.lock().unwrap().push(message) })
    }
}

struct Site {
    link: Arc<PeerLink>,
    inbox: Arc<Inbox>,
    address: PeerAddress,
    _server: PeerServer,
}

async fn site(seed: u8) -> Site {
    let key = SigningKey::from_bytes(&[seed; 32]);
    let inbox = Arc::new(Inbox::default());
    let link = PeerLink::new(SiteIdentity::new(&key, "127.0.0.1", 0), inbox.clone(), PeerLimits::default());
    let server = PeerServer::start(link.clone(), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let address = PeerAddress {
        agent: link.identity().agent.clone(),
        host: "127.0.0.1".into(),
        port: server.local_addr().port(),
    };
    Site { link, inbox, address, _server: server }
}

async fn numbers(site: &Site, count: usize) -> Vec<u64> {
    for _ in 0..250 {
        if site.inbox.0.lock().unwrap().len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    site.inbox.0.lock().unwrap().iter().map(|m| m["n"].as_u64().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sites_dialing_each_other_at_once_lose_nothing() {
    let (a, b) = (site(1).await, site(2).await);
    for n in 0..50u64 {
        a.link.send(&b.address, json!({"target": "chit", "action": "note", "n": n})).unwrap();
        b.link.send(&a.address, json!({"target": "chit", "action": "note", "n": n})).unwrap();
    }
    assert_eq!(numbers(&b, 50).await, (0..50).collect::<Vec<_>>(), "a's messages, in order, once");
    assert_eq!(numbers(&a, 50).await, (0..50).collect::<Vec<_>>(), "b's messages, in order, once");
    let connections = a.link.status(None).connections;
    assert_eq!(connections.len(), 2, "one dialed each way: {connections:?}");
    for n in 50..60u64 {
        a.link.send(&b.address, json!({"target": "chit", "action": "note", "n": n})).unwrap();
    }
    assert_eq!(numbers(&b, 60).await, (0..60).collect::<Vec<_>>(), "later messages use one of the two");
}

#[tokio::test]
async fn a_reply_goes_only_over_an_open_connection_and_never_dials() {
    let (a, b) = (site(3).await, site(4).await);
    let refused = a.link.reply(&b.address.agent, json!({"target": "chit", "n": 0})).await;
    assert!(matches!(refused, Err(adapters::peers::SendError::NotConnected(_))), "{refused:?}");
    assert!(a.link.status(None).connections.is_empty(), "nothing was dialed");
    a.link.send(&b.address, json!({"target": "chit", "action": "note", "n": 0})).unwrap();
    assert_eq!(numbers(&b, 1).await, vec![0]);
    b.link.reply(&a.link.identity().agent, json!({"target": "chit", "action": "note", "n": 7})).await.unwrap();
    assert_eq!(numbers(&a, 1).await, vec![7], "the reply took the connection a opened");
    assert_eq!(b.link.status(None).connections.len(), 1, "b dialed nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_only_sends_is_not_idle() {
    let limits = PeerLimits { idle_timeout: Duration::from_millis(200), ..PeerLimits::default() };
    let key = SigningKey::from_bytes(&[5; 32]);
    let inbox = Arc::new(Inbox::default());
    let sender = PeerLink::new(SiteIdentity::new(&key, "127.0.0.1", 0), inbox, limits);
    let receiver = site(6).await;
    for n in 0..12u64 {
        sender.send(&receiver.address, json!({"target": "chit", "action": "note", "n": n})).unwrap();
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(numbers(&receiver, 12).await, (0..12).collect::<Vec<_>>());
    let status = sender.status(None);
    assert_eq!(status.connections.len(), 1, "one connection for 700 ms of one-way sending: {status:?}");
    assert_eq!(status.peers.values().map(|p| p.connections_opened).sum::<u64>(), 1, "never reopened");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(sender.status(None).connections.is_empty(), "silent both ways: closed");
}
