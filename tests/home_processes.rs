//! The pairing as people run it, each party its own process: `notch serve` (embedded PostgreSQL), `notch-p1 run`
//! on the device, and the owner's `notch home init | pair | devices`. A wrong secret is refused by the device, the
//! right one pairs, the home lists the device, a second home cannot claim it until the owner deletes it (the
//! device, following its home, releases itself). A provider asks for consent; the owner grants, revokes, denies and
//! lets a short consent expire; a tampered request is refused; the device hands the provider its grant.

mod common;

use std::path::Path;
use std::process::Output;

use common::parties::{device_run, home, ok, one_line_error, pairing_code, provider};
use common::{data_dir, Serving};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_household_pairs_grants_revokes_and_deletes_each_party_its_own_process() {
    let node_dir = data_dir();
    let serving = Serving::start(node_dir.path()).await;
    let dir = tempfile::tempdir().unwrap();
    let device_dir = dir.path().join("device");
    let mam_url = format!("{}/mam/messages", serving.base);

    let (device_id, secret) = pairing_code(&device_dir, &mam_url);
    let (device_id, secret) = (device_id.as_str(), secret.as_str());
    // The meter is not plugged in: the reader keeps retrying the port while the pairing goes on.
    let _device = device_run(&device_dir, &mam_url, &dir.path().join("no-meter-yet"));

    let home_dir = dir.path().join("home");
    let init = home(&home_dir, &serving.base, &["init"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let home_id = String::from_utf8(init.stdout).unwrap().trim().to_owned();
    assert_eq!(home_id.len(), 64, "{home_id}");

    let wrong =
        home(&home_dir, &serving.base, &["pair", device_id, "--secret", "AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA"]);
    let error = one_line_error(&wrong);
    assert!(error.contains("wrong_answer (1 wrong answers so far)"), "{error}");

    let paired = home(&home_dir, &serving.base, &["pair", device_id, "--secret", &secret.to_lowercase()]);
    assert!(paired.status.success(), "{}", String::from_utf8_lossy(&paired.stderr));
    assert!(String::from_utf8_lossy(&paired.stdout).contains(&format!("paired device {device_id}")));

    let devices = home(&home_dir, &serving.base, &["devices"]);
    assert!(devices.status.success(), "{}", String::from_utf8_lossy(&devices.stderr));
    let listed: Vec<Value> =
        String::from_utf8(devices.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["device_id"], device_id);

    let other_home = dir.path().join("other-home");
    assert!(home(&other_home, &serving.base, &["init"]).status.success());
    let second = home(&other_home, &serving.base, &["pair", device_id, "--secret", secret]);
    let error = one_line_error(&second);
    assert!(error.contains("already_paired"), "{error}");

    consent_for(&home_dir, &dir.path().join("provider"), &serving.base, device_id);

    // The owner deletes the device; the device, following its home, releases itself; the other home pairs it.
    let deleted = home(&home_dir, &serving.base, &["delete", device_id]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    assert!(String::from_utf8_lossy(&deleted.stdout).contains("DeviceDeleted"));
    let devices = home(&home_dir, &serving.base, &["devices"]);
    assert_eq!(String::from_utf8_lossy(&devices.stdout).trim(), "", "the home lists no device");
    let inbox = format!("{}/streams/device-{device_id}?wait_ms=10000&from=", serving.base);
    let mut from = 1;
    let released = loop {
        let page: Value = reqwest::get(format!("{inbox}{from}")).await.unwrap().json().await.unwrap();
        let events = page["events"].as_array().unwrap().clone();
        assert!(!events.is_empty(), "the device did not release itself within 10 s of a read");
        from = events.last().unwrap()["stream_version"].as_i64().unwrap() + 1;
        if let Some(release) = events.iter().find(|e| e["event_type"] == "DeviceReleased") {
            break release.clone();
        }
    };
    assert_eq!(released["payload"]["message"]["document"]["say"]["reason"], "deleted", "{released}");
    let again = home(&other_home, &serving.base, &["pair", device_id, "--secret", secret]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
}

/// The status of each policy `notch home policies` lists, by policy id.
fn statuses(home_dir: &Path, ledger: &str) -> std::collections::BTreeMap<String, String> {
    ok(home(home_dir, ledger, &["policies"]))
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .map(|p| (p["policy_id"].as_str().unwrap().to_owned(), p["status"].as_str().unwrap().to_owned()))
        .collect()
}

/// The provider's checked hand-over of `policy`, once the device has sent it (within 20 s).
fn handed_over(provider_dir: &Path, ledger: &str, policy: &str) -> Value {
    for _ in 0..100 {
        let listed = ok(provider(provider_dir, &["policies", "--ledger", ledger]));
        let lines = listed.lines().map(|line| serde_json::from_str::<Value>(line).unwrap());
        if let Some(found) = lines.into_iter().find(|h| h["policy_id"] == policy) {
            assert!(found.get("refused").is_none(), "the hand-over does not check: {found}");
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("the device handed over no grant for {policy}");
}

/// A provider asks, the owner grants, revokes, denies, and lets a short consent expire; a repeated grant and a
/// tampered request are refused by the ledger.
fn consent_for(home_dir: &Path, provider_dir: &Path, ledger: &str, device_id: &str) {
    let init = ["init", "--name", "Wattt Insights", "--return-url", "https://wattt.example/back"];
    ok(provider(provider_dir, &[&init[..], &["--purpose", "graph your energy use"]].concat()));
    let ask = |fields: &str, valid_for: &str| {
        let args = ["request", "--purpose", "graph your energy use", "--fields", fields, "--valid-for", valid_for];
        let file = provider_dir.join(format!("request-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&file, ok(provider(provider_dir, &args))).unwrap();
        file
    };
    let grant = |request: &Path| -> Output {
        home(home_dir, ledger, &["consent", request.to_str().unwrap(), "--device", device_id])
    };

    let request = ask("energy_import_wh,power_import_w", "30days");
    let granted: Value = serde_json::from_str(&ok(grant(&request))).unwrap();
    assert_eq!(granted["events"], serde_json::json!(["ConsentAuthorized"]));
    let request_id = serde_json::from_str::<Value>(&std::fs::read_to_string(&request).unwrap()).unwrap()["document"]
        ["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let back = format!("https://wattt.example/back?request_id={request_id}&answer=authorized");
    assert_eq!(granted["redirect"], back.as_str(), "back to the provider once committed, with the request id");
    let policy = granted["policy_id"].as_str().unwrap().to_owned();
    assert_eq!(statuses(home_dir, ledger)[&policy], "active");
    let again = one_line_error(&grant(&request));
    assert!(again.contains("already_answered"), "{again}");
    // The device, following its home, hands the provider the grant of that scope's channel.
    let handed = handed_over(provider_dir, ledger, &policy);
    assert_eq!(handed["device_id"], device_id, "{handed}");
    assert_eq!(handed["from_index"], 0, "a new scope's channel starts at its first message: {handed}");

    // A request changed after the provider signed it.
    let tampered = provider_dir.join("tampered.json");
    let text = std::fs::read_to_string(&request).unwrap().replace("power_import_w", "power_export_w");
    std::fs::write(&tampered, text).unwrap();
    let error = one_line_error(&grant(&tampered));
    assert!(error.contains("bad_signature"), "{error}");

    ok(home(home_dir, ledger, &["revoke", &policy, "--reason", "moving out"]));
    assert_eq!(statuses(home_dir, ledger)[&policy], "revoked");
    let error = one_line_error(&home(home_dir, ledger, &["revoke", &policy]));
    assert!(error.contains("policy_ended"), "{error}");

    let denied = ok(home(home_dir, ledger, &["deny", ask("gas_dm3", "30days").to_str().unwrap()]));
    assert!(denied.contains("ConsentDenied") && denied.contains("answer=denied"), "{denied}");

    // Long enough to be granted on a busy machine (each command opens its key file with scrypt, seconds under
    // load), short enough to wait out.
    let short: Value = serde_json::from_str(&ok(grant(&ask("phases", "15s")))).unwrap();
    let short_policy = short["policy_id"].as_str().unwrap().to_owned();
    let listed = ok(home(home_dir, ledger, &["policies"]));
    let until = listed
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .find(|p| p["policy_id"] == short_policy.as_str())
        .map(|p| p["valid_until"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap())
        .unwrap();
    if let Ok(left) = (until - chrono::Utc::now()).to_std() {
        std::thread::sleep(left + std::time::Duration::from_millis(200));
    }
    assert_eq!(statuses(home_dir, ledger)[&short_policy], "expired");
}
