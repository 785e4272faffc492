//! The JSON Schemas of the charging context's wire types and events in schemas/charging/ are current.
//! Regenerate with `NOTCH_UPDATE_SCHEMAS=1 cargo test --test charging_schemas`.

use std::path::PathBuf;

use adapters::http::charging::{CertificateRequestBody, ConnectionRequestBody};
use domain::charging::authority::AuthorityEvent;
use domain::charging::certificate::{Certificate, SocketRequest};
use domain::charging::contact_card::ContactCard;
use domain::charging::provider::{ChargePointEvent, TrustEvent};
use schemars::schema::RootSchema;
use schemars::schema_for;

fn schemas() -> Vec<(&'static str, RootSchema)> {
    vec![
        ("contact-card", schema_for!(ContactCard)),
        ("certificate", schema_for!(Certificate)),
        ("connection-request", schema_for!(ConnectionRequestBody)),
        ("certificate-request", schema_for!(CertificateRequestBody)),
        ("socket-request", schema_for!(SocketRequest)),
        ("authority-event", schema_for!(AuthorityEvent)),
        ("provider-trust-event", schema_for!(TrustEvent)),
        ("charge-point-event", schema_for!(ChargePointEvent)),
    ]
}

#[test]
fn charging_schemas_are_current() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas/charging");
    let update = std::env::var_os("NOTCH_UPDATE_SCHEMAS").is_some();
    if update {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, schema) in schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::write(&path, &text).unwrap();
        }
        let stored = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing: run with NOTCH_UPDATE_SCHEMAS=1", path.display()));
        assert_eq!(stored, text, "{} is stale: run with NOTCH_UPDATE_SCHEMAS=1", path.display());
    }
}
