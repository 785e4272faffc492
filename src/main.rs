//! `notch`: the composition root. Parses the command line, opens the log, and wires adapters to it.

mod cli;

use clap::Parser;

/// The append path allocates many short-lived buffers (canonical JSON, statement parameters, HTTP bodies) across
/// threads; glibc's malloc took about 15 % of the process's CPU under `bench mam`, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("NOTCH_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli::run(args).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("notch: {err:#}");
            std::process::ExitCode::from(2)
        }
    }
}
