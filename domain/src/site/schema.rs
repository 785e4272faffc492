//! JSON Schemas of every site command and event, written to `schemas/site/` (a test keeps them current).

use schemars::schema::RootSchema;
use schemars::schema_for;

use super::connection_ticket::{ConnectionTicketCommand, ConnectionTicketEvent};
use super::lift::{CommitLift, LiftEvent};
use super::requests::SignedRequest;
use super::site_aggregate::{SiteCommand, SiteEvent};
use super::tally::TallyEvent;
use super::tally_ticket::{TallyTicketCommand, TallyTicketEvent};
use super::user::{UserCommand, UserEvent};

/// (file stem, schema) for each command and event type of the site context.
pub fn all() -> Vec<(&'static str, RootSchema)> {
    vec![
        ("SiteCommand", schema_for!(SiteCommand)),
        ("SiteEvent", schema_for!(SiteEvent)),
        ("UserCommand", schema_for!(UserCommand)),
        ("UserEvent", schema_for!(UserEvent)),
        ("ConnectionTicketCommand", schema_for!(ConnectionTicketCommand)),
        ("ConnectionTicketEvent", schema_for!(ConnectionTicketEvent)),
        ("TallyTicketCommand", schema_for!(TallyTicketCommand)),
        ("TallyTicketEvent", schema_for!(TallyTicketEvent)),
        ("TallyEvent", schema_for!(TallyEvent)),
        ("CommitLift", schema_for!(CommitLift)),
        ("LiftEvent", schema_for!(LiftEvent)),
        ("SignedRequest", schema_for!(SignedRequest)),
    ]
}
