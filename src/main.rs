//! `notch`: the composition root. Parses the command line, opens the log, and wires adapters to it.

mod cli;

use clap::Parser;

/// The append path allocates many short-lived buffers (canonical JSON, statement parameters, HTTP bodies) across
/// threads; glibc's malloc took about 15 % of the process's CPU under `bench mam`, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before the runtime's threads allocate: no transparent huge pages for this process, nor for the embedded
    // PostgreSQL it starts (inherited). mimalloc asks for them on its arenas, and on this project's VM each first
    // touch of a huge page (2 MB to zero) held the first seconds of `bench mam` at a p99 of 150–490 ms; without
    // them the warm-up's p99 was 41 ms (docs/benchmarks.md). This is what MIMALLOC_ALLOW_THP=0 does. A kernel that
    // refuses the call keeps its own setting.
    let _ = nix::sys::prctl::set_thp_disable(true);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(err) => {
            eprintln!("notch: starting the async runtime: {err}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // Quiet unless something is wrong (NOTCH_LOG=info or debug for more); colour only on a terminal. A client that
    // hangs up mid-request (a long-polled read it stopped waiting for) is not wrong: warp's per-connection errors
    // show only when NOTCH_LOG names warp.
    let mut filter = std::env::var("NOTCH_LOG").unwrap_or_else(|_| "warn".into());
    if !filter.contains("warp") {
        filter.push_str(",warp::server=off");
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|_| "warn".into()))
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
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
