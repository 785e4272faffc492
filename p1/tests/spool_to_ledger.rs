//! The ledger is down while 100 telegrams arrive (and the device restarts in between); when it
//! comes up, all 100 land once, in order, and a granted provider reads them back.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::corpus;
use common::ledger::{start_ledger, FakeLedger};
use mam::{Address, ProviderKeyPair, Reader, SealedMessage};
use notch_p1::device::{Accepted, Device};
use notch_p1::publish::{self, PublishStats, PublisherConfig};
use notch_p1::spool::SpoolConfig;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn start_publisher(
    device: &Device,
    url: &str,
    stats: Arc<PublishStats>,
) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    let mut config = PublisherConfig::new(url.to_string());
    config.retry_initial = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(200);
    config.request_timeout = Duration::from_secs(2);
    tokio::spawn(publish::run(device.spool.clone(), device.appended.clone(), config, stats))
}

#[tokio::test]
async fn a_hundred_telegrams_spooled_through_an_outage_land_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("channel.json");
    let spool_config = SpoolConfig::new(dir.path().join("spool"));
    let mut rng = ChaCha20Rng::seed_from_u64(1);

    // A port with nothing listening: the ledger is down.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{addr}/mam/messages");

    let mut device = Device::open(&state, spool_config.clone(), &mut rng).unwrap();
    let provider = ProviderKeyPair::generate(&mut rng);
    let grant = device.grant(&provider.public, &mut rng).unwrap();
    let channel = device.channel_public_key();
    let stats = Arc::new(PublishStats::default());
    let publisher = start_publisher(&device, &url, stats.clone());

    let telegrams: Vec<String> = (0..100).map(corpus::dsmr50).collect();
    for (i, t) in telegrams[..60].iter().enumerate() {
        let accepted = device.accept(t.as_bytes(), &mut rng).unwrap();
        assert!(matches!(accepted, Accepted::Spooled { index, .. } if index == i as u64));
    }
    // The device restarts in the middle of the outage.
    publisher.abort();
    let _ = publisher.await;
    drop(device);
    let mut device = Device::open(&state, spool_config, &mut rng).unwrap();
    assert_eq!(device.next_index(), 60, "the index resumes after the spooled messages");
    let publisher = start_publisher(&device, &url, stats.clone());
    for t in &telegrams[60..] {
        device.accept(t.as_bytes(), &mut rng).unwrap();
    }
    // The restarted publisher tries, and fails, to reach the ledger that is still down.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stats.failed_attempts.load(std::sync::atomic::Ordering::Relaxed) < 2 {
        assert!(std::time::Instant::now() < deadline, "the publisher made no attempt in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(device.spool.lock().unwrap().pending(), 100, "nothing left the spool while the ledger was down");

    let ledger = Arc::new(Mutex::new(FakeLedger { lose_first_answer: true, ..FakeLedger::default() }));
    let server = start_ledger(addr, ledger.clone()).await;
    for _ in 0..400 {
        if device.spool.lock().unwrap().pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(device.spool.lock().unwrap().pending(), 0, "the spool drained");

    let l = ledger.lock().unwrap();
    assert_eq!(l.arrivals, (0..100).collect::<Vec<u64>>(), "each index stored once, in order");
    assert!(l.repeats >= 1, "the lost answer caused a repeat, which was not stored twice");
    let by_address: BTreeMap<Address, SealedMessage> = l.by_index.values().map(|m| (m.address, m.clone())).collect();
    let mut reader = Reader::from_grant(&channel, &grant, provider).unwrap();
    let walk = reader.walk(|a| by_address.get(a).cloned(), 1000);
    assert!(walk.stopped.is_none(), "{:?}", walk.stopped);
    let payloads: Vec<String> = walk.opened.iter().map(|o| String::from_utf8(o.payload.clone()).unwrap()).collect();
    assert_eq!(payloads, telegrams, "the provider reads exactly the telegrams, in order");
    publisher.abort();
    server.abort();
}
