//! Command line of the device service.

mod bench;
mod channel;
mod pairing;
mod parse;
mod run;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "notch-p1", version, about = "Reads a DSMR P1 smart meter and publishes its telegrams")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the readings of the telegrams in FILE (or standard input) as JSON lines.
    Parse(parse::ParseArgs),
    /// Read the meter and publish every telegram to the ledger (and optionally MQTT).
    Run(Box<run::RunArgs>),
    /// Measure telegrams parsed per second on one core.
    Bench(bench::BenchArgs),
    /// The owner's channel operations: show, grant, rotate.
    #[command(subcommand)]
    Channel(channel::ChannelCommand),
    /// Show what an owner needs to pair this device: its id, its pairing secret, a URL and a QR code.
    PairingCode(pairing::PairingCodeArgs),
    /// Unpair the device on the device itself: a new pairing secret, and every lock-out lifted.
    ResetPairing(pairing::ResetPairingArgs),
}

pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Run(args) => run::run(*args),
        Command::Channel(command) => channel::run(command),
        Command::Bench(args) => bench::run(args),
        Command::PairingCode(args) => pairing::pairing_code(args),
        Command::ResetPairing(args) => pairing::reset_pairing(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("notch-p1: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
