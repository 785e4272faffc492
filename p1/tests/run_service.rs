//! The `notch-p1` binary end to end: the owner grants a provider, the service reads a pty meter
//! and posts to the ledger (stand-in), the provider decrypts what landed.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::corpus;
use common::ledger::{start_ledger, FakeLedger};
use common::meter::FakeMeter;
use common::service::Service;
use mam::{Address, Grant, ProviderKeyPair, Reader, SealedMessage};
use rand::rngs::StdRng;
use rand::SeedableRng;

const BIN: &str = env!("CARGO_BIN_EXE_notch-p1");

#[tokio::test]
async fn the_service_publishes_meter_telegrams_that_a_granted_provider_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("device");
    let link = dir.path().join("ttyP1");
    let mut meter = FakeMeter::plug_in(&link);
    let ledger = Arc::new(Mutex::new(FakeLedger::default()));
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let _server = start_ledger(addr, ledger.clone()).await;

    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(9);
    let provider = ProviderKeyPair::generate(&mut rng);
    let granted = Command::new(BIN)
        .args(["channel", "grant", "--provider", &provider.public.to_hex(), "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    let grant = Grant::from_bytes(&hex::decode(String::from_utf8(granted.stdout).unwrap().trim()).unwrap()).unwrap();

    let _service = Service(
        Command::new(BIN)
            .args(["run", "--dsmr", "5", "--ledger-url", &format!("http://{addr}/mam/messages"), "--port"])
            .arg(&link)
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The meter talks once a few hundred ms; telegrams sent before the service opened the port
    // are lost (as on a real line), so it keeps talking until three have landed.
    let mut pieces = StdRng::seed_from_u64(5);
    let mut sent = Vec::new();
    for seq in 0..40 {
        if ledger.lock().unwrap().by_index.len() >= 3 {
            break;
        }
        let t = corpus::fluvius(seq);
        meter.send_in_pieces(t.as_bytes(), &mut pieces).await;
        sent.push(t);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stored: BTreeMap<Address, SealedMessage> =
        ledger.lock().unwrap().by_index.values().map(|m| (m.address, m.clone())).collect();
    assert!(stored.len() >= 3, "telegrams reached the ledger");
    let mut reader = Reader::from_grant(&grant.channel, &grant, provider).unwrap();
    let walk = reader.walk(|a| stored.get(a).cloned(), 10);
    assert!(walk.stopped.is_none(), "{:?}", walk.stopped);
    let read: Vec<String> = walk.opened.iter().map(|o| String::from_utf8(o.payload.clone()).unwrap()).collect();
    assert_eq!(read.len(), stored.len());
    // What was read is what the meter sent from some point on, in order, nothing skipped.
    let first = sent.iter().position(|t| *t == read[0]).expect("a sent telegram");
    assert_eq!(read[..], sent[first..first + read.len()]);
}
