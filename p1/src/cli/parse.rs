//! `notch-p1 parse [FILE|-]`: telegrams in, JSON lines out; drops reported on standard error.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use notch_p1::{parse_telegram, Frame, Framer};

#[derive(clap::Args)]
pub struct ParseArgs {
    /// A file of raw P1 output; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

pub fn run(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let mut input: Box<dyn Read> = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            Box::new(std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?)
        }
        _ => Box::new(std::io::stdin().lock()),
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut framer = Framer::default();
    let mut frames = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut parsed, mut dropped) = (0u64, 0u64);
    loop {
        let n = input.read(&mut buf).context("reading input")?;
        if n == 0 {
            break;
        }
        framer.push(&buf[..n], &mut frames);
        for frame in frames.drain(..) {
            match frame {
                Frame::Telegram(raw) => match parse_telegram(&raw.bytes) {
                    Ok(reading) => {
                        serde_json::to_writer(&mut out, &reading)?;
                        out.write_all(b"\n")?;
                        parsed += 1;
                    }
                    Err(e) => {
                        dropped += 1;
                        eprintln!("dropped telegram: {e}");
                    }
                },
                Frame::Dropped(why) => {
                    dropped += 1;
                    eprintln!("dropped: {why:?}");
                }
            }
        }
    }
    out.flush()?;
    if framer.buffered() > 0 {
        eprintln!("dropped: {} bytes of an unfinished telegram at the end", framer.buffered());
    }
    eprintln!("{parsed} telegrams parsed, {dropped} dropped");
    Ok(if parsed == 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}
