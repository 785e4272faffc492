//! `notch-p1 parse`: telegrams in (file or standard input), JSON lines out, drops on stderr.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::corpus;

const BIN: &str = env!("CARGO_BIN_EXE_notch-p1");

fn input() -> (Vec<u8>, Vec<String>) {
    let samples = corpus::all(3);
    let mut bytes = b"line noise before the first telegram".to_vec();
    let mut good = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let mut t = s.telegram.clone().into_bytes();
        if i == 2 {
            let at = t.len() / 2;
            t[at] ^= 0x02; // DSMR 5.0 telegram with a CRC: dropped
        } else {
            good.push(s.name.to_string());
        }
        bytes.extend_from_slice(&t);
    }
    (bytes, good)
}

#[test]
fn a_file_of_telegrams_becomes_json_lines() {
    let (bytes, good) = input();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p1.log");
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(BIN).arg("parse").arg(&path).output().unwrap();
    assert!(out.status.success());
    let readings: Vec<notch_p1::Reading> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(readings.len(), good.len());
    assert_eq!(readings[0].header, "ISk5\\2ME382-1003");
    assert_eq!(readings.last().unwrap().fluvius.as_ref().unwrap().version_info.as_deref(), Some("50217"));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("4 telegrams parsed, 2 dropped"), "{stderr}");
    assert!(stderr.contains("BadCrc"), "{stderr}");
}

#[test]
fn standard_input_works_and_nothing_parsed_is_a_failure() {
    let (bytes, good) = input();
    let mut child =
        Command::new(BIN).args(["parse", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), good.len());

    let out = Command::new(BIN).args(["parse", "-"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success(), "no telegram at all is reported as a failure");
    let missing = Command::new(BIN).args(["parse", "/nonexistent/p1.log"]).output().unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8(missing.stderr).unwrap().contains("opening /nonexistent/p1.log"));
}
