//! Parse throughput: `telegrams_per_s` on one core for notch-p1, and the same figure for the
//! Python dsmr-parser on the same telegram (for `notch bench p1`).

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::frame::{seal_with_crc, Frame, Framer};
use crate::parse::parse_telegram;

/// A full DSMR 5.0 telegram (three phases, power failure log, gas meter): 35 data lines, 884 bytes.
pub fn sample_telegram() -> String {
    let body = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(200512135409S)\r\n\
0-0:96.1.1(4530303434303037313331363130323137)\r\n1-0:1.8.1(004070.123*kWh)\r\n\
1-0:1.8.2(002713.025*kWh)\r\n1-0:2.8.1(000000.012*kWh)\r\n1-0:2.8.2(000123.456*kWh)\r\n\
0-0:96.14.0(0001)\r\n1-0:1.7.0(00.321*kW)\r\n1-0:2.7.0(01.462*kW)\r\n0-0:96.7.21(00010)\r\n\
0-0:96.7.9(00003)\r\n1-0:99.97.0(1)(0-0:96.7.19)(190709144035S)(0000000291*s)\r\n\
1-0:32.32.0(00004)\r\n1-0:52.32.0(00004)\r\n1-0:72.32.0(00003)\r\n1-0:32.36.0(00000)\r\n\
1-0:52.36.0(00000)\r\n1-0:72.36.0(00000)\r\n0-0:96.13.0()\r\n1-0:32.7.0(230.1*V)\r\n\
1-0:52.7.0(231.7*V)\r\n1-0:72.7.0(229.9*V)\r\n1-0:31.7.0(001*A)\r\n1-0:51.7.0(007*A)\r\n\
1-0:71.7.0(000*A)\r\n1-0:21.7.0(00.050*kW)\r\n1-0:41.7.0(00.000*kW)\r\n1-0:61.7.0(00.071*kW)\r\n\
1-0:22.7.0(00.000*kW)\r\n1-0:42.7.0(01.583*kW)\r\n1-0:62.7.0(00.000*kW)\r\n0-1:24.1.0(003)\r\n\
0-1:96.1.0(4730303339303031393336393930363139)\r\n0-1:24.2.1(200512130500S)(02569.123*m3)\r\n";
    seal_with_crc(body)
}

/// Frames (with CRC check) and parses the sample telegram on the calling thread for about
/// `seconds`; returns telegrams per second.
pub fn parse_rate(seconds: f64) -> f64 {
    let telegram = sample_telegram().into_bytes();
    let mut framer = Framer::default();
    let mut frames = Vec::with_capacity(1);
    let deadline = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut count: u64 = 0;
    loop {
        for _ in 0..100 {
            framer.push(black_box(&telegram), &mut frames);
            for frame in frames.drain(..) {
                let Frame::Telegram(raw) = frame else {
                    panic!("the sample telegram frames cleanly");
                };
                black_box(parse_telegram(&raw.bytes).expect("the sample telegram parses"));
                count += 1;
            }
        }
        if start.elapsed() >= deadline {
            break;
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Runs `script` (p1/tests/py/bench_dsmr_parser.py) under `python` (the venv's) on the same
/// telegram for about `seconds`; returns dsmr-parser's telegrams per second.
pub fn python_parse_rate(python: &Path, script: &Path, seconds: f64) -> anyhow::Result<f64> {
    let mut child = Command::new(python)
        .arg(script)
        .arg(seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", python.display()))?;
    child.stdin.take().expect("stdin is piped").write_all(sample_telegram().as_bytes())?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(output.status.success(), "{} failed", script.display());
    let text = String::from_utf8(output.stdout)?;
    text.trim().parse().with_context(|| format!("{} printed {text:?}, not a rate", script.display()))
}
