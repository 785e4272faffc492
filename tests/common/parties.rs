//! The consent system's parties as separate processes and commands: the device (`notch-p1`), the owner
//! (`notch home`), providers (`notch provider`), each with its own directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use super::NOTCH;

pub const PASSPHRASE: &str = "a long enough passphrase";

/// `notch-p1`, built beside `notch` by the workspace's test build.
pub fn notch_p1() -> PathBuf {
    let path = Path::new(NOTCH).with_file_name("notch-p1");
    assert!(path.exists(), "{} is missing: build the workspace (cargo nextest run --workspace)", path.display());
    path
}

/// A party's long-running process, killed when the test ends, however it ends.
pub struct Process(pub Child);

impl Process {
    pub fn spawn(command: &mut Command) -> Process {
        Process(command.stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap())
    }

    /// SIGKILL: a crash, not a stop.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, and wait for the exit (so an embedded PostgreSQL stops with it).
    pub fn stop(&mut self) {
        let _ = nix::sys::signal::kill(super::pid(&self.0), nix::sys::signal::Signal::SIGTERM);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while self.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        self.kill();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `notch home ARGS` for the home in `home_dir`.
pub fn home(home_dir: &Path, ledger: &str, args: &[&str]) -> Output {
    Command::new(NOTCH)
        .arg("home")
        .args(args)
        .args(["--ledger", ledger, "--home-dir"])
        .arg(home_dir)
        .env("NOTCH_PASSPHRASE", PASSPHRASE)
        .env("NOTCH_LOG", "warn")
        .output()
        .unwrap()
}

/// `notch provider ARGS` for the provider in `provider_dir`.
pub fn provider(provider_dir: &Path, args: &[&str]) -> Output {
    provider_command(provider_dir, args).output().unwrap()
}

pub fn provider_command(provider_dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(NOTCH);
    command
        .arg("provider")
        .args(args)
        .arg("--provider-dir")
        .arg(provider_dir)
        .env("NOTCH_PASSPHRASE", PASSPHRASE)
        .env("NOTCH_LOG", "warn");
    command
}

/// The command's output, which must be a success.
pub fn ok(output: Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// The command's error, which must be one clear line and a failure.
pub fn one_line_error(output: &Output) -> String {
    assert!(!output.status.success(), "expected a failure: {}", String::from_utf8_lossy(&output.stdout));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one clear line: {stderr}");
    stderr
}

/// JSON lines.
pub fn lines(text: &str) -> Vec<Value> {
    text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// The device's id and pairing secret, as `notch-p1 pairing-code --json` shows them.
pub fn pairing_code(device_dir: &Path, mam_url: &str) -> (String, String) {
    let shown = Command::new(notch_p1())
        .args(["pairing-code", "--json", "--ledger-url", mam_url, "--data-dir"])
        .arg(device_dir)
        .output()
        .unwrap();
    let code: Value = serde_json::from_str(&ok(shown)).unwrap();
    (code["device_id"].as_str().unwrap().to_owned(), code["secret"].as_str().unwrap().to_owned())
}

/// `notch-p1 run` on `port` for the device in `device_dir`.
pub fn device_run(device_dir: &Path, mam_url: &str, port: &Path) -> Process {
    Process::spawn(
        Command::new(notch_p1())
            .args(["run", "--ledger-url", mam_url, "--port"])
            .arg(port)
            .arg("--data-dir")
            .arg(device_dir)
            .env("NOTCH_LOG", "warn"),
    )
}
