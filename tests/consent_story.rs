//! The whole consent story, each party its own process: the ledger (`notch serve`), the device (`notch-p1 run`
//! reading a meter on a pty), the owner (`notch home`), and two providers (`notch provider serve`, each with its
//! own data directory and embedded PostgreSQL).
//!
//! Pair → two providers ask → the owner grants → both store readings, each only its scope's fields → the owner
//! revokes the first → it gets nothing new and keeps what it had, while the second, reading the same scope, keeps
//! reading across the rotation → the device, the second provider and the ledger each go down mid-story and come
//! back: no reading is lost or stored twice → a 30 s policy expires and its provider reads nothing more → the
//! second provider terminates one of its policies and reads
//! nothing more of that scope → the owner deletes the device and every provider is cut off. A
//! provider posting another provider's hand-over to its own inbox is refused.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::parties::{device_run, home, lines, ok, pairing_code, provider, provider_command, Process};
use common::{data_dir, free_port, Serving};
use nix::pty::openpty;
use serde_json::Value;

/// A meter on a pty (at `link`) that sends a telegram every 200 ms, its power rising by 1 W each time.
struct Meter {
    task: tokio::task::JoinHandle<()>,
}

impl Meter {
    fn plug_in(link: &Path) -> Meter {
        let pty = openpty(None, None).unwrap();
        std::os::unix::fs::symlink(nix::unistd::ttyname(&pty.slave).unwrap(), link).unwrap();
        let mut master = std::fs::File::from(pty.master);
        let slave = pty.slave;
        let task = tokio::spawn(async move {
            let _slave = slave; // held open, so writes never fail while the device reopens the port
            for seq in 0u32.. {
                use std::io::Write;
                let _ = master.write_all(telegram(seq).as_bytes());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Meter { task }
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn telegram(seq: u32) -> String {
    notch_p1::frame::seal_with_crc(&format!(
        "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(261201120000W)\r\n\
         1-0:1.8.1({:06}.{:03}*kWh)\r\n1-0:1.8.2(000100.000*kWh)\r\n1-0:1.7.0({:02}.{:03}*kW)\r\n",
        4070 + seq / 1000,
        seq % 1000,
        seq / 1000 % 100,
        seq % 1000
    ))
}

/// A provider: its directory, its own data, its `serve` process while it runs.
struct Provider {
    dir: std::path::PathBuf,
    ledger: String,
    serving: Option<Process>,
}

impl Provider {
    fn init(dir: &Path, name: &str, ledger: &str) -> Provider {
        let args = ["init", "--name", name, "--return-url", "https://p.example/back", "--purpose", "graphs"];
        ok(provider(dir, &args));
        Provider { dir: dir.to_owned(), ledger: ledger.to_owned(), serving: None }
    }

    fn serve(&mut self) {
        let command = &mut provider_command(&self.dir, &["serve", "--ledger", &self.ledger]);
        self.serving = Some(Process::spawn(command));
    }

    /// A signed consent request for `fields` at every telegram, in a file.
    fn ask(&self, fields: &str) -> std::path::PathBuf {
        self.ask_for(fields, "30days")
    }

    fn ask_for(&self, fields: &str, valid_for: &str) -> std::path::PathBuf {
        let args = ["request", "--purpose", "graphs", "--fields", fields, "--granularity", "telegram", "--valid-for"];
        let args = [&args[..], &[valid_for]].concat();
        let file = self.dir.join(format!("request-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&file, ok(provider(&self.dir, &args))).unwrap();
        file
    }

    /// The readings stored for `policy`, as `notch provider readings` prints them.
    fn readings(&self, policy: &str) -> Vec<Value> {
        lines(&ok(provider(&self.dir, &["readings", "--policy", policy, "--limit", "100000"])))
    }

    /// Waits until `policy` has at least `n` readings (at most 60 s) and returns them.
    fn wait_for(&self, policy: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let readings = self.readings(policy);
            if readings.len() >= n {
                return readings;
            }
            assert!(Instant::now() < deadline, "{} readings of {policy} after 60 s, not {n}", readings.len());
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// Each reading once, its indexes rising.
fn assert_once_in_order(readings: &[Value]) {
    let indexes: Vec<u64> = readings.iter().map(|r| r["message_index"].as_u64().unwrap()).collect();
    assert!(indexes.windows(2).all(|w| w[0] < w[1]), "each message once, in order: {indexes:?}");
}

/// The first provider takes a hand-over from the second's inbox (the ledger's streams are readable) and posts it
/// to its own: refused, and its reader could not open it anyway (it is wrapped to the second's key).
async fn another_providers_hand_over_is_refused(base: &str, first: &Provider, second: &Provider) {
    let key = |p: &Provider| -> String {
        let card: Value = serde_json::from_str(&ok(provider(&p.dir, &["card"]))).unwrap();
        card["document"]["provider_key"].as_str().unwrap().to_owned()
    };
    let inbox: Value =
        reqwest::get(format!("{base}/streams/provider-{}", key(second))).await.unwrap().json().await.unwrap();
    let handover = inbox["events"][0]["payload"]["handover"].clone();
    assert!(handover.is_object(), "{inbox}");
    let posted = reqwest::Client::new()
        .post(format!("{base}/home/providers/{}/handovers", key(first)))
        .json(&handover)
        .send()
        .await
        .unwrap();
    let status = posted.status();
    assert!(status.is_client_error(), "{status}: {}", posted.text().await.unwrap());
}

fn consent(home_dir: &Path, ledger: &str, request: &Path, device_id: &str) -> String {
    let granted: Value = serde_json::from_str(&ok(home(
        home_dir,
        ledger,
        &["consent", request.to_str().unwrap(), "--device", device_id],
    )))
    .unwrap();
    granted["policy_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pair_grant_read_revoke_restart_and_delete_each_party_its_own_process() {
    let ledger_dir = data_dir();
    let port = free_port();
    let mut ledger = Serving::start_at(ledger_dir.path(), port, &[]).await;
    let base = ledger.base.clone();
    let mam_url = format!("{base}/mam/messages");
    let dir = data_dir();
    let (device_dir, meter_link) = (dir.path().join("device"), dir.path().join("meter"));
    let _meter = Meter::plug_in(&meter_link);
    let (device_id, secret) = pairing_code(&device_dir, &mam_url);
    let mut device = device_run(&device_dir, &mam_url, &meter_link);

    let home_dir = dir.path().join("home");
    ok(home(&home_dir, &base, &["init"]));
    ok(home(&home_dir, &base, &["pair", &device_id, "--secret", &secret]));
    let mut first = Provider::init(&dir.path().join("first"), "First Watt", &base);
    let mut second = Provider::init(&dir.path().join("second"), "Second Watt", &base);
    first.serve();
    second.serve();

    let power_first = consent(&home_dir, &base, &first.ask("power_import_w"), &device_id);
    let power_second = consent(&home_dir, &base, &second.ask("power_import_w"), &device_id);
    let energy_second = consent(&home_dir, &base, &second.ask("energy_import_wh"), &device_id);
    // The first provider also reads energy, for 30 s: the device rotates it away at the end, without any event.
    let energy_first = consent(&home_dir, &base, &first.ask_for("energy_import_wh", "30s"), &device_id);
    let expires = Instant::now() + Duration::from_secs(30); // the request was made before: it ends before this
    let early = first.wait_for(&power_first, 3);
    assert!(early.iter().all(|r| r["power_import_w"].is_i64() && r["energy_import_wh"].is_null()), "{early:?}");
    let energy = second.wait_for(&energy_second, 3);
    assert!(energy.iter().all(|r| r["energy_import_wh"].is_i64() && r["power_import_w"].is_null()), "{energy:?}");
    second.wait_for(&power_second, 3);
    another_providers_hand_over_is_refused(&base, &first, &second).await;

    // Revoked: the first provider's channel rotates away from it; the second reads the same scope on.
    ok(home(&home_dir, &base, &["revoke", &power_first]));
    let second_before = second.readings(&power_second).len();
    second.wait_for(&power_second, second_before + 10);
    let kept = first.readings(&power_first);
    assert_eq!(kept[..early.len()], early[..], "the first provider keeps what it read before the revocation");
    second.wait_for(&power_second, second_before + 20);
    assert_eq!(first.readings(&power_first).len(), kept.len(), "nothing new reaches the revoked provider");
    assert_once_in_order(&kept);

    // The device crashes, the second provider crashes, the ledger stops: each comes back.
    device.kill();
    second.serving.as_mut().unwrap().kill();
    device = device_run(&device_dir, &mam_url, &meter_link);
    second.serve();
    let before = second.wait_for(&power_second, second.readings(&power_second).len() + 5).len();
    ledger.terminate();
    tokio::time::sleep(Duration::from_secs(2)).await;
    ledger = Serving::start_at(ledger_dir.path(), port, &[]).await;
    let after = second.wait_for(&power_second, before + 10);
    assert_once_in_order(&after);
    assert_once_in_order(&second.readings(&energy_second));

    // The first provider's energy policy has expired: it reads nothing more of it.
    tokio::time::sleep_until((expires + Duration::from_secs(2)).into()).await;
    let expired = first.readings(&energy_first).len();
    assert!(expired > 0, "it read while the policy lasted");
    second.wait_for(&power_second, second.readings(&power_second).len() + 10);
    assert_eq!(first.readings(&energy_first).len(), expired, "nothing after the policy's end");

    // The second provider ends its energy policy itself: that channel rotates away from it; power reads on.
    ok(provider(&second.dir, &["terminate", &energy_second, "--ledger", &base, "--reason", "closing the account"]));
    let policies = lines(&ok(home(&home_dir, &base, &["policies"])));
    let ended = policies.iter().find(|p| p["policy_id"] == energy_second.as_str()).unwrap();
    assert_eq!(ended["status"], "terminated", "{ended}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let energy_kept = second.readings(&energy_second).len();
    second.wait_for(&power_second, second.readings(&power_second).len() + 10);
    assert_eq!(second.readings(&energy_second).len(), energy_kept, "nothing after the termination");

    // Deleted: every provider is cut off.
    ok(home(&home_dir, &base, &["delete", &device_id]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    let power_cut = second.readings(&power_second).len();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(second.readings(&power_second).len(), power_cut, "no reading after the deletion");
    drop((device, ledger));
}
