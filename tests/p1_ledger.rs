//! The P1 device against the real ledger: the ledger is down while 100 telegrams arrive, then
//! starts; all 100 land once, in order, as MamMessageStored events of the channel's stream, and a
//! granted provider walks them by address over HTTP.

use std::sync::Arc;
use std::time::Duration;

use mam::{Envelope, ProviderKeyPair, Reader};
use notch_p1::device::Device;
use notch_p1::frame::seal_with_crc;
use notch_p1::publish::{self, PublishStats, PublisherConfig};
use notch_p1::spool::SpoolConfig;
use projections::Projection;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn telegram(seq: u32) -> String {
    seal_with_crc(&format!(
        "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(200512{:02}{:02}{:02}S)\r\n\
         1-0:1.8.1({:06}.{:03}*kWh)\r\n1-0:1.7.0(00.{:03}*kW)\r\n",
        13,
        seq / 60 % 60,
        seq % 60,
        4070 + seq / 1000,
        seq % 1000,
        seq % 1000
    ))
}

#[tokio::test]
async fn telegrams_spooled_through_a_ledger_outage_land_once_in_order() {
    let store = projections::testkit::test_store("p1_ledger").await;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(11);
    let mut device =
        Device::open(&dir.path().join("channel.json"), SpoolConfig::new(dir.path().join("spool")), &mut rng).unwrap();
    let provider = ProviderKeyPair::generate(&mut rng);
    let grant = device.grant(&provider.public, &mut rng).unwrap();
    let channel = device.channel_public_key();

    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let base = format!("http://{addr}/mam/messages");
    let mut config = PublisherConfig::new(base.clone());
    config.retry_initial = Duration::from_millis(50);
    config.retry_max = Duration::from_millis(200);
    let stats = Arc::new(PublishStats::default());
    let publisher = tokio::spawn(publish::run(device.spool.clone(), device.appended.clone(), config, stats.clone()));
    let telegrams: Vec<String> = (0..100).map(telegram).collect();
    for t in &telegrams {
        device.accept(t.as_bytes(), &mut rng).unwrap();
    }
    // The publisher tries, and fails, to reach the ledger that is not up yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while stats.failed_attempts.load(std::sync::atomic::Ordering::Relaxed) < 2 {
        assert!(std::time::Instant::now() < deadline, "the publisher made no attempt in 30 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(device.spool.lock().unwrap().pending(), 100, "nothing lands while the ledger is down");

    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        let _ = stop_rx.wait_for(|s| *s).await;
    };
    let (_, server) = adapters::http::serve(addr, store.clone(), shutdown).await.unwrap();
    let server = tokio::spawn(server);
    for _ in 0..600 {
        if device.spool.lock().unwrap().pending() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(device.spool.lock().unwrap().pending(), 0, "the spool drained");
    publisher.abort();

    let stream = <domain::home::ChannelLog as domain::Aggregate>::stream_id(&hex::encode(channel));
    let stored = store.read_stream(&stream, 1, 1000).await.unwrap();
    let indices: Vec<u64> = stored.iter().map(|e| e.payload["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, (0..100).collect::<Vec<u64>>(), "each telegram once, in order");
    assert!(stored.iter().all(|e| e.event_type == "MamMessageStored"));

    // A repeat is recognised; a forged or different message is refused.
    let http = reqwest::Client::new();
    let first: Envelope = serde_json::from_value(serde_json::json!({
        "channel": stored[0].payload["channel"],
        "index": 0,
        "address": stored[0].payload["address"],
        "message": stored[0].payload["message"],
    }))
    .unwrap();
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(http.post(&base).json(&first).send().await.unwrap()), 200);
    let mut other_rng = ChaCha20Rng::seed_from_u64(99);
    let mut impostor = mam::Channel::create(&mut other_rng);
    let forged = impostor.publish(b"not the meter", &mut other_rng).to_envelope();
    let mut wrong_channel = forged.clone();
    wrong_channel.channel = first.channel.clone();
    assert_eq!(status(http.post(&base).json(&wrong_channel).send().await.unwrap()), 400);
    assert_eq!(status(http.post(&base).json(&forged).send().await.unwrap()), 201, "a new channel starts at 0");
    // The device's own key signing a different message 5 (a reset device): refused, not stored.
    let state: mam::ChannelState =
        serde_json::from_slice(&std::fs::read(dir.path().join("channel.json")).unwrap()).unwrap();
    let mut rewound = mam::Channel::from_state(&mam::ChannelState { next_index: 5, ..state }).unwrap();
    let different = rewound.publish(b"another telegram", &mut other_rng).to_envelope();
    assert_eq!(status(http.post(&base).json(&different).send().await.unwrap()), 409);
    let mut ahead = mam::Channel::from_state(&mam::ChannelState { next_index: 500, ..rewound.state() }).unwrap();
    let gap = ahead.publish(b"gap", &mut other_rng).to_envelope();
    assert_eq!(status(http.post(&base).json(&gap).send().await.unwrap()), 409);

    // The provider finds the messages by address and reads exactly the telegrams.
    projections::catch_up(&store, &projections::home::mam_messages::MamMessages).await.unwrap();
    let mut reader = Reader::from_grant(&channel, &grant, provider).unwrap();
    let mut read = Vec::new();
    while let Some(address) = reader.next_address() {
        let response = http.get(format!("{base}/{}", address.to_hex())).send().await.unwrap();
        if response.status() == 404 {
            break;
        }
        let envelope: Envelope = response.json().await.unwrap();
        let opened = reader.open(&envelope.open().unwrap()).unwrap();
        read.push(String::from_utf8(opened.payload).unwrap());
        assert!(read.len() <= 100);
    }
    assert_eq!(read, telegrams);
    let _ = stop_tx.send(true);
    let _ = server.await;
    assert_eq!(projections::home::mam_messages::MamMessages.name(), "home_mam_messages");
}
