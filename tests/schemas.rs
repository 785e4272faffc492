//! The JSON Schemas in `schemas/<context>/<document>.schema.json` are current: every context's events (the log's
//! payloads, for auditors and readers of the log) and wire documents (what apps, devices and partner sites send).
//! Regenerate them all with `NOTCH_UPDATE_SCHEMAS=1 cargo test --test schemas`.

use std::path::PathBuf;

use adapters::http::charging::{CertificateRequestBody, ConnectionRequestBody};
use adapters::http::site::SignedRequest;
use domain::charging::certificate::{Certificate, SocketRequest};
use domain::charging::charge_point::ChargePointEvent;
use domain::charging::contact_card::ContactCard;
use domain::charging::customer::CustomerEvent;
use domain::charging::trust_list::TrustListEvent;
use domain::home::consent::SignedConsentRequest;
use domain::home::device_inbox::{SignedClaimantMessage, SignedDeviceMessage};
use domain::home::household::SignedDecision;
use domain::home::policy_readings::ReadingValues;
use domain::home::provider_inbox::SignedHandover;
use domain::home::PolicyReadingsEvent;
use domain::home::{ChannelLogEvent, DeviceInboxEvent, HouseholdEvent, ProviderInboxEvent};
use domain::site::connection_ticket::ConnectionTicketEvent;
use domain::site::lift::LiftEvent;
use domain::site::site_aggregate::SiteEvent;
use domain::site::tally::TallyEvent;
use domain::site::tally_ticket::TallyTicketEvent;
use domain::site::user::UserEvent;
use schemars::schema::RootSchema;
use schemars::schema_for;

/// (context, document, schema) of every published document.
fn schemas() -> Vec<(&'static str, &'static str, RootSchema)> {
    vec![
        ("site", "site-event", schema_for!(SiteEvent)),
        ("site", "user-event", schema_for!(UserEvent)),
        ("site", "connection-ticket-event", schema_for!(ConnectionTicketEvent)),
        ("site", "tally-ticket-event", schema_for!(TallyTicketEvent)),
        ("site", "tally-event", schema_for!(TallyEvent)),
        ("site", "lift-event", schema_for!(LiftEvent)),
        ("site", "signed-request", schema_for!(SignedRequest)),
        ("home", "channel-log-event", schema_for!(ChannelLogEvent)),
        ("home", "household-event", schema_for!(HouseholdEvent)),
        ("home", "device-inbox-event", schema_for!(DeviceInboxEvent)),
        ("home", "claimant-message", schema_for!(SignedClaimantMessage)),
        ("home", "device-message", schema_for!(SignedDeviceMessage)),
        ("home", "provider-inbox-event", schema_for!(ProviderInboxEvent)),
        ("home", "handover", schema_for!(SignedHandover)),
        ("home", "policy-readings-event", schema_for!(PolicyReadingsEvent)),
        ("home", "reading-values", schema_for!(ReadingValues)),
        ("home", "consent-request", schema_for!(SignedConsentRequest)),
        ("home", "owner-decision", schema_for!(SignedDecision)),
        ("charging", "contact-card", schema_for!(ContactCard)),
        ("charging", "certificate", schema_for!(Certificate)),
        ("charging", "connection-request", schema_for!(ConnectionRequestBody)),
        ("charging", "certificate-request", schema_for!(CertificateRequestBody)),
        ("charging", "socket-request", schema_for!(SocketRequest)),
        ("charging", "customer-event", schema_for!(CustomerEvent)),
        ("charging", "trust-list-event", schema_for!(TrustListEvent)),
        ("charging", "charge-point-event", schema_for!(ChargePointEvent)),
    ]
}

#[test]
fn every_published_schema_is_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let update = std::env::var_os("NOTCH_UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (context, name, schema) in schemas() {
        let path = root.join(context).join(format!("{name}.schema.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "stale or missing schemas (run NOTCH_UPDATE_SCHEMAS=1 cargo test --test schemas): {stale:?}"
    );
}
