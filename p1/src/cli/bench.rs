//! `notch-p1 bench [--seconds S] [--json] [--python VENV_PYTHON --script BENCH_SCRIPT]`: parse
//! throughput on this machine (e.g. on the Pi), optionally next to Python dsmr-parser's.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    #[arg(long)]
    json: bool,
    /// A Python with dsmr-parser installed (e.g. .venv/bin/python), to measure it too.
    #[arg(long, requires = "script")]
    python: Option<PathBuf>,
    /// p1/tests/py/bench_dsmr_parser.py.
    #[arg(long, requires = "python")]
    script: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds > 0.0 && args.seconds <= 60.0, "--seconds must be in (0, 60]");
    let rate = notch_p1::bench::parse_rate(args.seconds);
    let python = match (&args.python, &args.script) {
        (Some(python), Some(script)) => Some(notch_p1::bench::python_parse_rate(python, script, args.seconds)?),
        _ => None,
    };
    if args.json {
        let mut out = serde_json::json!({ "telegrams_per_s": rate });
        if let Some(p) = python {
            out["python_dsmr_parser_telegrams_per_s"] = p.into();
            out["ratio"] = (rate / p).into();
        }
        println!("{out}");
    } else {
        println!("telegrams_per_s: {rate:.0}");
        if let Some(p) = python {
            println!("python_dsmr_parser_telegrams_per_s: {p:.0}");
            println!("ratio: {:.1}", rate / p);
        }
    }
    Ok(ExitCode::SUCCESS)
}
