//! The command line: one module per command group.

mod audit;
mod bench_append;
mod bench_audit;
mod bench_consent;
mod bench_mam;
mod bench_p1;
mod bench_peer;
mod charging;
mod control;
mod home;
mod key_file;
mod ledger_client;
mod node;
mod peer_control;
mod projections;
mod provider;
mod scratch;
mod serve;
mod site;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "notch", version, about = "An event-sourced ledger: a signed, hash-chained event log on PostgreSQL")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service and the projections until SIGINT or SIGTERM.
    Serve(serve::ServeArgs),
    /// Replay the whole log and verify every signature, hash, link, position and seal.
    Audit(audit::AuditArgs),
    /// Measure notch on this machine.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// EV charging: contact cards, trusted authorities, revocations.
    Charging {
        #[command(subcommand)]
        action: charging::ChargingCommand,
    },
    /// Operate the site ledger: site, key, users, tickets, lockdown, configuration.
    Admin(site::admin::AdminArgs),
    /// Clearing lifts on the site ledger.
    Lift {
        #[command(subcommand)]
        action: site::lift::LiftCommand,
    },
    /// A household's consent: the owner key, pairing devices, the home's record.
    Home(home::HomeArgs),
    /// A service provider's consent: its keys, its card, its consent requests.
    Provider(provider::ProviderArgs),
    /// Inspect and rebuild projections.
    Projections {
        #[command(subcommand)]
        action: projections::ProjectionsCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Concurrent single-event appends through the real append path, against a raw INSERT baseline.
    Append(bench_append::BenchAppendArgs),
    /// Build a log of N events through the append path, then time a full audit of it.
    Audit(bench_audit::BenchAuditArgs),
    /// DSMR P1 telegrams parsed per second on one core, next to Python dsmr-parser.
    P1(bench_p1::BenchP1Args),
    /// Simulated P1 devices publishing sealed MAM messages to this node over HTTP.
    Mam(bench_mam::BenchMamArgs),
    /// The consent dialogues end to end: grant and revocation latency while devices publish once a second.
    Consent(bench_consent::BenchConsentArgs),
    /// The site-to-site link: KK handshakes and 1 KiB messages per second, next to npm noise-protocol.
    Peer(bench_peer::BenchPeerArgs),
    /// The lift finder against a recursive CTE on a random network, then clearing it.
    Lifts(site::bench_lifts::BenchLiftsArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Bench { which: BenchCommand::Append(args) } => bench_append::run(args).await,
        Command::Bench { which: BenchCommand::Audit(args) } => bench_audit::run(args).await,
        Command::Bench { which: BenchCommand::P1(args) } => bench_p1::run(args),
        Command::Bench { which: BenchCommand::Mam(args) } => bench_mam::run(args).await,
        Command::Bench { which: BenchCommand::Consent(args) } => bench_consent::run(args).await,
        Command::Bench { which: BenchCommand::Peer(args) } => bench_peer::run(args).await,
        Command::Bench { which: BenchCommand::Lifts(args) } => site::bench_lifts::run(args).await,
        Command::Admin(args) => site::admin::run(args).await,
        Command::Home(args) => home::run(args).await,
        Command::Provider(args) => provider::run(args).await,
        Command::Lift { action } => site::lift::run(action).await,
        Command::Projections { action } => projections::run(action).await,
        Command::Charging { action } => charging::run(action).await,
    }
}
