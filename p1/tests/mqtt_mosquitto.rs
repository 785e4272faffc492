//! Publishing to the real Mosquitto at 127.0.0.1:1883: plaintext readings in the dsmr-reader
//! layout when the owner opts in, only the sealed message otherwise.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::corpus;
use mam::{Channel, Envelope};
use notch_p1::mqtt::{MqttConfig, MqttSink};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

async fn subscribe(prefix: &str) -> (AsyncClient, rumqttc::EventLoop) {
    let (client, mut events) = AsyncClient::new(MqttOptions::new(format!("{prefix}-sub"), "127.0.0.1", 1883), 64);
    client.subscribe(format!("{prefix}/#"), QoS::AtLeastOnce).await.unwrap();
    loop {
        if let Event::Incoming(Packet::SubAck(_)) = events.poll().await.expect("Mosquitto at 127.0.0.1:1883") {
            return (client, events);
        }
    }
}

async fn collect(
    events: &mut rumqttc::EventLoop,
    until: impl Fn(&HashMap<String, Vec<u8>>) -> bool,
) -> HashMap<String, Vec<u8>> {
    let mut seen = HashMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !until(&seen) {
        let event =
            tokio::time::timeout_at(deadline, events.poll()).await.expect("timed out waiting for MQTT").unwrap();
        if let Event::Incoming(Packet::Publish(p)) = event {
            seen.insert(p.topic.clone(), p.payload.to_vec());
        }
    }
    seen
}

fn sink(prefix: &str, plaintext: bool) -> MqttSink {
    MqttSink::start(MqttConfig {
        host: "127.0.0.1".into(),
        port: 1883,
        client_id: format!("{prefix}-pub"),
        prefix: prefix.to_string(),
        plaintext,
        credentials: None,
    })
}

#[tokio::test]
async fn plaintext_readings_use_the_dsmr_reader_layout() {
    let prefix = format!("notch-test-{}", std::process::id());
    let (_sub, mut events) = subscribe(&prefix).await;
    let telegram = corpus::dsmr50_two_mbus(5);
    let reading = notch_p1::parse_telegram(telegram.as_bytes()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let sealed = Channel::create(&mut rng).publish(telegram.as_bytes(), &mut rng).to_envelope();
    let sink = sink(&prefix, true);
    sink.publish(&reading, &sealed);
    let wanted = ["json", "reading/mbus_2_volume_dm3", "reading/energy_import_t1_wh", "reading/phases_l2_voltage_mv"]
        .map(|t| format!("{prefix}/{t}"));
    let seen = collect(&mut events, |s| wanted.iter().all(|t| s.contains_key(t))).await;
    let json: notch_p1::Reading = serde_json::from_slice(&seen[&wanted[0]]).unwrap();
    assert_eq!(json, reading);
    assert_eq!(seen[&wanted[1]], b"312015");
    assert_eq!(seen[&wanted[2]], b"4070005");
    assert_eq!(seen[&wanted[3]], b"231700");
    assert!(!seen.keys().any(|k| k.contains("/mam/")), "no sealed topic in plaintext mode");
}

#[tokio::test]
async fn without_opt_in_only_the_sealed_message_is_published() {
    let prefix = format!("notch-test-sealed-{}", std::process::id());
    let (_sub, mut events) = subscribe(&prefix).await;
    let telegram = corpus::dsmr50(9);
    let reading = notch_p1::parse_telegram(telegram.as_bytes()).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let sealed = Channel::create(&mut rng).publish(telegram.as_bytes(), &mut rng).to_envelope();
    let sink = sink(&prefix, false);
    sink.publish(&reading, &sealed);
    let topic = format!("{prefix}/mam/{}", sealed.channel);
    let seen = collect(&mut events, |s| s.contains_key(&topic)).await;
    let envelope: Envelope = serde_json::from_slice(&seen[&topic]).unwrap();
    assert_eq!(envelope, sealed);
    envelope.open().unwrap().verify_signature().unwrap();
    assert_eq!(seen.len(), 1, "nothing else went out: {:?}", seen.keys());
}
