//! `notch bench p1`: DSMR telegrams framed, CRC-checked and parsed per second on one core, next to
//! the Python dsmr-parser on the same telegram when its venv is found.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

#[derive(Args)]
pub struct BenchP1Args {
    /// Seconds each parser runs.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The venv with dsmr-parser (NOTCH_VENV, else .venv in the current directory).
    #[arg(long, env = "NOTCH_VENV", default_value = ".venv")]
    venv: PathBuf,
    /// The dsmr-parser benchmark script.
    #[arg(long, default_value = "p1/tests/py/bench_dsmr_parser.py")]
    script: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub fn run(args: BenchP1Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds > 0.0 && args.seconds <= 30.0, "--seconds must be in (0, 30]");
    let rate = notch_p1::bench::parse_rate(args.seconds);
    let python_bin = args.venv.join("bin/python");
    let python = if python_bin.exists() && args.script.exists() {
        Some(notch_p1::bench::python_parse_rate(&python_bin, &args.script, args.seconds)?)
    } else {
        None
    };
    if args.json {
        let mut out = json!({ "telegrams_per_s": rate.round() });
        if let Some(p) = python {
            out["python_dsmr_parser_telegrams_per_s"] = p.round().into();
            out["ratio"] = ((rate / p * 10.0).round() / 10.0).into();
        }
        println!("{out}");
    } else {
        println!("p1: DSMR 5.0 telegram ({} bytes), one core", notch_p1::bench::sample_telegram().len());
        println!("  notch-p1     {rate:>10.0} telegrams/s");
        match python {
            Some(p) => {
                println!("  dsmr-parser  {p:>10.0} telegrams/s");
                println!("  ratio        {:>10.1}", rate / p);
            }
            None => println!("  dsmr-parser  not measured: no {} or {}", python_bin.display(), args.script.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}
