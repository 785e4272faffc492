//! `notch-p1`: the device service binary.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
