//! A pseudo-terminal plays the meter: one telegram a second, each written in random pieces; one
//! telegram is corrupted; the meter goes away and comes back on a new pty behind the same path.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::corpus;
use common::meter::FakeMeter;
use notch_p1::reader::{self, ReaderConfig, Stats};
use notch_p1::serial::{open_port, OpenError, Preset};
use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::sync::mpsc;

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn reading_survives_pieces_corruption_and_a_meter_that_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let link: PathBuf = dir.path().join("ttyP1");
    let mut rng = StdRng::seed_from_u64(7);
    let mut meter = FakeMeter::plug_in(&link);

    let mut config = ReaderConfig::new(link.clone(), Preset::Dsmr5.line_settings());
    config.reopen_initial = Duration::from_millis(100);
    config.reopen_max = Duration::from_millis(400);
    config.silence_warning = Duration::from_millis(1500);
    let stats = Arc::new(Stats::default());
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(reader::run(config, tx, stats.clone()));
    wait_for("the first open", || stats.snapshot().opens == 1).await;

    // A second reader on the same port is refused with a clear message.
    match open_port(&link, Preset::Dsmr5.line_settings()) {
        Err(e @ OpenError::Busy(_)) => assert!(e.to_string().contains("held by another reader")),
        other => panic!("expected Busy, got {other:?}"),
    }

    let mut interval = tokio::time::interval(Duration::from_secs(1));
    for seq in 0..5u32 {
        interval.tick().await;
        let mut telegram = corpus::dsmr50(seq).into_bytes();
        if seq == 2 {
            let at = telegram.len() / 2;
            telegram[at] ^= 0x01;
        }
        meter.send_in_pieces(&telegram, &mut rng).await;
    }
    wait_for("four good telegrams", || stats.snapshot().telegrams == 4).await;

    // The meter goes away; the reader notices, keeps trying, and falls silent meanwhile.
    drop(meter);
    wait_for("the port to be lost", || stats.snapshot().port_lost == 1).await;
    wait_for("failed reopens and a reported silence", || {
        let s = stats.snapshot();
        s.open_failures >= 1 && s.silences >= 1
    })
    .await;
    let mut meter = FakeMeter::plug_in(&link);
    wait_for("the reopen", || stats.snapshot().opens == 2).await;
    for seq in 5..9u32 {
        interval.tick().await;
        meter.send_in_pieces(corpus::dsmr50(seq).as_bytes(), &mut rng).await;
    }
    wait_for("eight good telegrams", || stats.snapshot().telegrams == 8).await;

    let mut powers = Vec::new();
    while let Ok(received) = rx.try_recv() {
        powers.push(received.reading.power_import_w.unwrap());
    }
    assert_eq!(powers, vec![0, 1, 3, 4, 5, 6, 7, 8]);
    let s = stats.snapshot();
    assert_eq!(s.dropped_bad_crc, 1, "{s:?}");
    assert!(s.open_failures >= 1, "reopen attempts while the meter was gone: {s:?}");
    assert!(s.silences >= 1, "the silence was reported: {s:?}");
    drop(rx);
    task.abort();
}
