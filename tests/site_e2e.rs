//! The site ledger end to end: `notch admin` and `notch serve` on the embedded PostgreSQL, users' signed
//! commands over HTTP, `notch lift run`, the site views and their rebuild, the report role.

mod common;
mod site_support;

use std::path::Path;

use adapters::http::site::UserRequest;
use chrono::Utc;
use domain::crypto::PublicKey;
use domain::site::chit::{ChitBody, ChitKind};
use domain::site::tally::{PartyCertificate, Side, TallyBody, TallySide, Terms};
use serde_json::Value;
use site_support::*;
use uuid::Uuid;

const LIMIT_MILLI: i64 = 1_000_000;

fn ticket_token(admin_output: &str) -> String {
    let mut lines = admin_output.lines();
    let ticket: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let link = lines.next().unwrap();
    let token = ticket["token"].as_str().unwrap().to_owned();
    assert!(link.starts_with("chip://chips.example:65430/connect?token="), "{link}");
    assert!(link.contains(&token) && link.contains(ticket["site_key"].as_str().unwrap()), "{link}");
    token
}

async fn connect(serving: &Serving, device: &Device) {
    let token = ticket_token(&admin(&serving.data_dir, &["ticket", &device.cid]));
    device.ok(serving, UserRequest::RedeemConnectionTicket { token }).await;
}

fn side(device: &Device) -> TallySide {
    TallySide {
        cert: PartyCertificate {
            cid: device.cid.clone(),
            name: device.cid.to_uppercase(),
            chip_address: format!("{}:agent@chips.example:65430", device.cid),
            public_key: device.public(),
        },
        terms: Terms { credit_limit_milli: LIMIT_MILLI, lift_margin_milli: 0 },
    }
}

/// Tally ticket from `stock`, redeemed by `foil`, proposed by `stock`, signed by `foil`.
async fn open_tally(serving: &Serving, stock: &Device, foil: &Device) -> Uuid {
    let ticket = stock
        .ok(serving, UserRequest::IssueTallyTicket { counterpart: Some(foil.cid.clone()), lifetime_s: None })
        .await;
    let token = ticket["ticket"]["token"].as_str().unwrap().to_owned();
    let redeemed = foil.ok(serving, UserRequest::RedeemTallyTicket { token }).await;
    let tally_id: Uuid = serde_json::from_value(redeemed["tally_id"].clone()).unwrap();
    let body = TallyBody {
        id: tally_id,
        version: 1,
        date: Utc::now(),
        memo: format!("{} and {}", stock.cid, foil.cid),
        agreement: "https://example.org/agreement".into(),
        stock: side(stock),
        foil: side(foil),
    };
    let signature = body.sign(&stock.key).unwrap();
    stock.ok(serving, UserRequest::ProposeTally { body: body.clone().sent().unwrap(), signature }).await;
    let signature = body.sign(&foil.key).unwrap();
    foil.ok(serving, UserRequest::SignTally { tally_id, signature }).await;
    tally_id
}

async fn tally(serving: &Serving, device: &Device, tally_id: Uuid) -> Value {
    device.ok(serving, UserRequest::GetTally { tally_id }).await
}

/// A chit of `units_milli` from `payer` (its side on the tally is `by`) at the chain's head.
async fn pay(serving: &Serving, payer: &Device, tally_id: Uuid, by: Side, units_milli: i64) -> (u16, Value) {
    let head = tally(serving, payer, tally_id).await;
    let chit = ChitBody {
        id: Uuid::now_v7(),
        tally_id,
        index: head["chit_count"].as_u64().unwrap(),
        prev_hash: head["head_hash"].as_str().unwrap().to_owned(),
        by,
        kind: ChitKind::Transaction,
        units_milli,
        date: Utc::now(),
        memo: "goods".into(),
        reference: String::new(),
    };
    let signature = chit.sign(&payer.key).unwrap();
    payer.send(serving, UserRequest::IssueChit { chit: chit.sent().unwrap(), signature }).await
}

async fn superuser(data_dir: &Path) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::new();
    config.host_path(data_dir.join("run")).user("notch").dbname("notch");
    events::database::connect(&config).await.unwrap()
}

/// Every site view as JSON, in a fixed order.
async fn snapshot(db: &tokio_postgres::Client) -> Vec<Value> {
    let mut out = Vec::new();
    for (table, order) in [
        ("site.site", "name"),
        ("site.users", "cid"),
        ("site.device_keys", "public_key"),
        ("site.tallies", "tally_id"),
        ("site.chits", "chit_id"),
        ("site.lifts", "lift_id"),
        ("site.open_tallies", "tally_ix"),
    ] {
        let row = db
            .query_one(&format!("SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY {order}), '[]') FROM {table} t"), &[])
            .await
            .unwrap();
        out.push(row.get(0));
    }
    out
}

/// Waits until the site views have applied everything in the log.
async fn views_current(db: &tokio_postgres::Client) {
    eventually("the site views to catch up", async || {
        let row = db
            .query_one(
                "SELECT (SELECT coalesce(max(position), 0) FROM events), \
                        (SELECT coalesce(max(position), 0) FROM projection_checkpoints WHERE name = 'site')",
                &[],
            )
            .await
            .unwrap();
        (row.get::<_, i64>(0) == row.get::<_, i64>(1)).then_some(())
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn site_ledger_over_http_and_the_admin_cli() {
    let dir = data_dir();
    let d = dir.path();
    admin(d, &["init", "--name", "Test site", "--host", "chips.example", "--port", "65430"]);
    admin(d, &["config", "set", "default_credit_limit_milli", &LIMIT_MILLI.to_string()]);
    assert!(admin_fails(d, &["init", "--name", "Again", "--host", "x.example"]).contains("exists"));
    for cid in ["alice", "bob", "carol", "dave"] {
        admin(
            d,
            &["user", "add", cid, "--name", &cid.to_uppercase(), "--contact", &format!("email={cid}@example.org")],
        );
    }
    assert!(admin_fails(d, &["user", "add", "alice", "--name", "Twice"]).contains("exists"));
    let serving = Serving::start(d).await;
    let (alice, bob, carol) = (Device::new("alice", 1), Device::new("bob", 2), Device::new("carol", 3));

    // Connection tickets: good, reused, wrong CID, expired. Every failure reads the same.
    let token = ticket_token(&admin(d, &["ticket", "alice", "--expires", "45m"]));
    alice.ok(&serving, UserRequest::RedeemConnectionTicket { token: token.clone() }).await;
    let second_alice_device = Device::new("alice", 11);
    let (status, answer) = second_alice_device.send(&serving, UserRequest::RedeemConnectionTicket { token }).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("invalid_ticket")), "reused: {answer}");
    let token = ticket_token(&admin(d, &["ticket", "bob"]));
    let (status, answer) = carol.send(&serving, UserRequest::RedeemConnectionTicket { token: token.clone() }).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("invalid_ticket")), "wrong CID: {answer}");
    let (status, _) = bob.send(&serving, UserRequest::RedeemConnectionTicket { token }).await;
    assert_eq!(status, 403, "the token was spent by the wrong-CID attempt");
    let token = ticket_token(&admin(d, &["ticket", "bob", "--expires", "1s"]));
    // Redeemed once the clock is past the latest the ticket can expire: one second after it was issued.
    let expired_by = chrono::Utc::now() + chrono::Duration::milliseconds(1010);
    while chrono::Utc::now() <= expired_by {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let (status, answer) = bob.send(&serving, UserRequest::RedeemConnectionTicket { token }).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("invalid_ticket")), "expired: {answer}");
    connect(&serving, &bob).await;
    connect(&serving, &carol).await;
    let shown: Value = serde_json::from_str(&admin(d, &["user", "show", "bob"])).unwrap();
    assert_eq!(shown["device_keys"], serde_json::json!([bob.public().to_base64url()]));
    assert!(shown["chip_address"].as_str().unwrap().starts_with("bob:"), "{shown}");

    // Authentication: an unregistered key, a forged signature and a replay are refused.
    let (status, _) = Device::new("dave", 4).send(&serving, UserRequest::GetBalances).await;
    assert_eq!(status, 401);
    let forged = alice.envelope(UserRequest::GetBalances).replace("\"cid\":\"alice\"", "\"cid\":\"bob\"");
    assert_eq!(serving.post_raw(forged).await.0, 401);
    let envelope = alice.envelope(UserRequest::GetBalances);
    assert_eq!(serving.post_raw(envelope.clone()).await.0, 200);
    let (status, answer) = serving.post_raw(envelope).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("replayed")));

    // Tally negotiation: a tampered signature is refused and the tally stays offered.
    let ticket =
        alice.ok(&serving, UserRequest::IssueTallyTicket { counterpart: Some("bob".into()), lifetime_s: None }).await;
    assert_eq!(ticket["ticket"]["suggested_credit_limit_milli"], LIMIT_MILLI);
    assert!(ticket["ticket"]["chip_address"].as_str().unwrap().starts_with("alice:"), "{ticket}");
    let token = ticket["ticket"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        carol.send(&serving, UserRequest::RedeemTallyTicket { token: token.clone() }).await.0,
        403,
        "for bob only"
    );
    assert_eq!(bob.send(&serving, UserRequest::RedeemTallyTicket { token }).await.0, 403, "spent by carol's attempt");
    let ab = open_tally(&serving, &alice, &bob).await;
    let bc = open_tally(&serving, &bob, &carol).await;
    let ticket = carol.ok(&serving, UserRequest::IssueTallyTicket { counterpart: None, lifetime_s: Some(600) }).await;
    let token = ticket["ticket"]["token"].as_str().unwrap().to_owned();
    let redeemed = alice.ok(&serving, UserRequest::RedeemTallyTicket { token }).await;
    let ca: Uuid = serde_json::from_value(redeemed["tally_id"].clone()).unwrap();
    let body = TallyBody {
        id: ca,
        version: 1,
        date: Utc::now(),
        memo: "carol and alice".into(),
        agreement: String::new(),
        stock: side(&carol),
        foil: side(&alice),
    };
    carol
        .ok(
            &serving,
            UserRequest::ProposeTally { body: body.clone().sent().unwrap(), signature: body.sign(&carol.key).unwrap() },
        )
        .await;
    let mut tampered = body.clone();
    tampered.stock.terms.credit_limit_milli = 5;
    let bad = tampered.sign(&alice.key).unwrap();
    let (status, answer) = alice.send(&serving, UserRequest::SignTally { tally_id: ca, signature: bad }).await;
    assert_eq!((status, answer["code"].as_str()), (401, Some("bad_signature")), "{answer}");
    assert_eq!(tally(&serving, &alice, ca).await["state"], "offered");
    alice.ok(&serving, UserRequest::SignTally { tally_id: ca, signature: body.sign(&alice.key).unwrap() }).await;
    let opened = tally(&serving, &carol, ca).await;
    assert_eq!(opened["state"], "open");
    // Anyone can check both signatures over the terms as the tally shows them.
    let terms: domain::site::tally::SignedTerms = serde_json::from_value(opened["body"].clone()).unwrap();
    for (key, sig) in [(carol.public(), &opened["stock_signature"]), (alice.public(), &opened["foil_signature"])] {
        terms.verify(&key, domain::site::tally::TALLY_PURPOSE, &serde_json::from_value(sig.clone()).unwrap()).unwrap();
    }

    // Chits: bob owes alice 500, carol owes bob 300, alice owes carol 400; one over the limit is refused.
    assert_eq!(pay(&serving, &bob, ab, Side::Foil, 500).await.0, 200);
    assert_eq!(pay(&serving, &carol, bc, Side::Foil, 300).await.0, 200);
    assert_eq!(pay(&serving, &alice, ca, Side::Foil, 400).await.0, 200);
    let (status, answer) = pay(&serving, &bob, ab, Side::Foil, LIMIT_MILLI - 499).await;
    assert_eq!((status, answer["code"].as_str()), (409, Some("over_limit")), "{answer}");
    let (status, _) = pay(&serving, &alice, ab, Side::Foil, 1).await;
    assert_eq!(status, 422, "alice is the stock of this tally and cannot issue the foil's chit");
    assert_eq!(tally(&serving, &bob, ab).await["balance_milli"], 500);

    // A lift across the 3-user cycle: every balance drops by 300, no net position moves.
    let net = async |device: &Device| -> i64 {
        eventually("balances", async || {
            let answer = device.ok(&serving, UserRequest::GetBalances).await;
            let rows = answer["balances"].as_array().unwrap().clone();
            (rows.len() == 2).then(|| rows.iter().map(|r| r["balance_milli"].as_i64().unwrap()).sum())
        })
        .await
    };
    let db = superuser(d).await;
    views_current(&db).await;
    let before = [net(&alice).await, net(&bob).await, net(&carol).await];
    assert_eq!(before, [100, -200, 100]);
    let out = notch(d, &["lift", "run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let run: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (run["lifts"].as_u64(), run["chits"].as_u64(), run["cleared_milli"].as_i64()),
        (Some(1), Some(3), Some(900))
    );
    let mut balances = Vec::new();
    for (party, t) in [(&alice, ab), (&bob, bc), (&carol, ca)] {
        let state = tally(&serving, party, t).await;
        assert_eq!(state["chit_count"], 2, "one transaction chit and one lift chit: {state}");
        balances.push(state["balance_milli"].as_i64().unwrap());
    }
    assert_eq!(balances, [200, 0, 100]);
    views_current(&db).await;
    assert_eq!([net(&alice).await, net(&bob).await, net(&carol).await], before);
    let lifts = alice.ok(&serving, UserRequest::ListLifts).await;
    assert_eq!(lifts["lifts"].as_array().unwrap().len(), 1, "{lifts}");
    let chits = bob.ok(&serving, UserRequest::ListChits { tally_id: bc }).await;
    let kinds: Vec<&str> = chits["chits"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["transaction", "lift"]);
    let second = notch(d, &["lift", "run"]);
    assert_eq!(serde_json::from_slice::<Value>(&second.stdout).unwrap()["lifts"], 0, "nothing left to lift");

    // Closing: bob and carol's tally was cleared to zero, so it closes at once; a refused draft is void.
    bob.ok(&serving, UserRequest::CloseTally { tally_id: bc }).await;
    assert_eq!(tally(&serving, &carol, bc).await["state"], "closed");
    let (status, answer) = pay(&serving, &carol, bc, Side::Foil, 1).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("tally_state")),
        "a closed tally takes no chits: {answer}"
    );
    let ticket = carol.ok(&serving, UserRequest::IssueTallyTicket { counterpart: None, lifetime_s: None }).await;
    let token = ticket["ticket"]["token"].as_str().unwrap().to_owned();
    let draft: Uuid =
        serde_json::from_value(bob.ok(&serving, UserRequest::RedeemTallyTicket { token }).await["tally_id"].clone())
            .unwrap();
    let (status, _) =
        alice.send(&serving, UserRequest::RefuseTally { tally_id: draft, reason: "not mine".into() }).await;
    assert_eq!(status, 403, "only a party may refuse");
    carol.ok(&serving, UserRequest::RefuseTally { tally_id: draft, reason: "changed my mind".into() }).await;
    assert_eq!(tally(&serving, &bob, draft).await["state"], "void");

    // Lockdown: a locked user, then a locked site, can do nothing; admin work goes on.
    admin(d, &["user", "lock", "bob"]);
    let (status, answer) = bob.send(&serving, UserRequest::GetBalances).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("user_not_active")));
    let chit = ChitBody {
        id: Uuid::now_v7(),
        tally_id: ab,
        index: 2,
        prev_hash: String::new(),
        by: Side::Foil,
        kind: ChitKind::Transaction,
        units_milli: 1,
        date: Utc::now(),
        memo: String::new(),
        reference: String::new(),
    };
    let signature = chit.sign(&bob.key).unwrap();
    let (status, answer) = bob.send(&serving, UserRequest::IssueChit { chit: chit.sent().unwrap(), signature }).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("user_not_active")));
    admin(d, &["user", "unlock", "bob"]);
    bob.ok(&serving, UserRequest::GetBalances).await;
    admin(d, &["site", "lock"]);
    let (status, answer) = alice.send(&serving, UserRequest::ListTallies).await;
    assert_eq!((status, answer["code"].as_str()), (403, Some("site_locked")));
    let token = ticket_token(&admin(d, &["ticket", "dave"]));
    let (status, _) = Device::new("dave", 4).send(&serving, UserRequest::RedeemConnectionTicket { token }).await;
    assert_eq!(status, 403);
    admin(d, &["user", "add", "erin", "--name", "Erin"]);
    admin(d, &["config", "set", "lift_max_len", "6"]);
    assert_eq!(admin(d, &["config", "get", "lift_max_len"]).trim(), "6");
    admin(d, &["site", "unlock"]);
    let tallies = alice.ok(&serving, UserRequest::ListTallies).await;
    assert_eq!(tallies["tallies"].as_array().unwrap().len(), 2);
    views_current(&db).await;
    let tallies = bob.ok(&serving, UserRequest::ListTallies).await;
    let states: Vec<&str> =
        tallies["tallies"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(states, ["open", "closed", "void"], "{tallies}");

    // The views rebuilt from the log equal the live ones; the report role reads but cannot write.
    views_current(&db).await;
    let live = snapshot(&db).await;
    let out = notch(d, &["projections", "rebuild", "site"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshot(&db).await, live);
    db.batch_execute("SET ROLE notch_report").await.unwrap();
    let row = db.query_one("SELECT count(*), sum(net_milli)::int8 FROM report.balances", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (5, 0), "five users; positions sum to zero");
    assert_eq!(db.query_one("SELECT count(*) FROM report.lifts", &[]).await.unwrap().get::<_, i64>(0), 1);
    assert!(db.execute("DELETE FROM site.users", &[]).await.is_err(), "the report role is read-only");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_dump_loaded_into_an_empty_site_dumps_back_identical() {
    let (first, second) = (data_dir(), data_dir());
    for d in [first.path(), second.path()] {
        admin(d, &["init", "--name", "Site", "--host", "chips.example"]);
    }
    let key = |seed: u8| PublicKey::of(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).to_base64url();
    let dump = serde_json::json!([
        { "cid": "ann", "name": "Ann", "contact": { "email": "ann@example.org", "phone": "+1 555" },
          "status": "active", "device_keys": [key(1), key(2)] },
        { "cid": "ben", "name": "Ben", "contact": {}, "status": "locked", "device_keys": [key(3)] },
        { "cid": "cy", "name": "Cy", "contact": {}, "status": "closed", "device_keys": [] },
    ]);
    let file = first.path().join("seed.json");
    std::fs::write(&file, dump.to_string()).unwrap();
    admin(first.path(), &["user", "load", file.to_str().unwrap()]);
    admin(first.path(), &["user", "edit", "ann", "--name", "Ann Renamed"]);
    assert!(admin_fails(first.path(), &["user", "edit", "cy", "--name", "Cy Renamed"]).contains("closed"));
    admin(first.path(), &["user", "add", "dee", "--name", "Dee"]);
    let exported = admin(first.path(), &["user", "dump", "--all"]);
    let file = second.path().join("users.json");
    std::fs::write(&file, &exported).unwrap();
    admin(second.path(), &["user", "load", file.to_str().unwrap()]);
    assert_eq!(admin(second.path(), &["user", "dump", "--all"]), exported);
    let parsed: Vec<Value> = serde_json::from_str(&exported).unwrap();
    assert_eq!(parsed.len(), 4);
    assert_eq!(parsed[1]["status"], "locked");
    // Loading again is refused as a whole, and changes nothing.
    assert!(admin_fails(second.path(), &["user", "load", file.to_str().unwrap()]).contains("exists"));
    assert_eq!(admin(second.path(), &["user", "dump", "--all"]), exported);
    let list = admin(second.path(), &["user", "list"]);
    assert_eq!(list.lines().count(), 4, "{list}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_site_key_is_encrypted_rotated_and_re_encrypted() {
    let dir = data_dir();
    let d = dir.path();
    admin(d, &["init", "--name", "Keys", "--host", "chips.example"]);
    let armored = std::fs::read_to_string(d.join("site-key.age")).unwrap();
    assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"), "{armored}");
    admin(d, &["user", "add", "ann", "--name", "Ann"]);
    let address = |d: &Path| -> String {
        let shown: Value = serde_json::from_str(&admin(d, &["user", "show", "ann"])).unwrap();
        shown["chip_address"].as_str().unwrap().to_owned()
    };
    let first = address(d);

    let wrong = notch_env(d, &["admin", "key", "new"], &[("NOTCH_PASSPHRASE", "not the passphrase")]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"));
    assert_eq!(address(d), first, "a refused rotation changes nothing");

    let new_phrase = "another passphrase 2";
    let out = notch_env(d, &["admin", "key", "passphrase"], &[("NOTCH_NEW_PASSPHRASE", new_phrase)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let old = notch_env(d, &["admin", "key", "new"], &[]);
    assert!(!old.status.success(), "the old passphrase no longer opens the key");
    let out = notch_env(d, &["admin", "key", "new"], &[("NOTCH_PASSPHRASE", new_phrase)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let second = address(d);
    assert_ne!(second, first, "the CHIP address names the new site key");
    let new_key = String::from_utf8(out.stdout).unwrap().trim().trim_start_matches("new site key ").to_owned();
    assert!(second.contains(&new_key), "{second} / {new_key}");
    let short = notch_env(
        d,
        &["admin", "key", "passphrase"],
        &[("NOTCH_PASSPHRASE", new_phrase), ("NOTCH_NEW_PASSPHRASE", "short")],
    );
    assert!(!short.status.success(), "a passphrase under 8 characters is refused");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_lifts_periodically_when_configured() {
    let dir = data_dir();
    let d = dir.path();
    admin(d, &["init", "--name", "Periodic", "--host", "chips.example", "--port", "65430"]);
    admin(d, &["config", "set", "lift_period_s", "1"]);
    let devices = [Device::new("ann", 21), Device::new("ben", 22), Device::new("cat", 23)];
    for device in &devices {
        admin(d, &["user", "add", &device.cid, "--name", &device.cid]);
    }
    let serving = Serving::start(d).await;
    for device in &devices {
        connect(&serving, device).await;
    }
    // ben owes ann, cat owes ben, ann owes cat: a cycle the periodic run clears by 200.
    for (i, units) in [(0, 200), (1, 250), (2, 300)] {
        let (stock, foil) = (&devices[i], &devices[(i + 1) % 3]);
        let tally_id = open_tally(&serving, stock, foil).await;
        assert_eq!(pay(&serving, foil, tally_id, Side::Foil, units).await.0, 200);
    }
    let lifts = eventually("a periodic lift", async || {
        let answer = devices[0].ok(&serving, UserRequest::ListLifts).await;
        let lifts = answer["lifts"].as_array().unwrap().clone();
        (!lifts.is_empty()).then_some(lifts)
    })
    .await;
    assert_eq!(lifts.len(), 1);
    assert_eq!(lifts[0]["units_milli"], 200);
}
