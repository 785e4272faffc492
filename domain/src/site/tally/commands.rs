//! What a tally's parties (and the site, for drafts and lifts) ask of it. User commands carry the [`Caller`],
//! so the rules about who may act live in `decide`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::body::SignedTerms;
use crate::crypto::{PublicKey, Signature};
use crate::site::caller::Caller;
use crate::site::chit::Chit;

/// The device keys each party of a proposed tally has registered, by CID: facts from the parties' user streams.
pub type RegisteredKeys = BTreeMap<String, BTreeSet<PublicKey>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TallyCommand {
    /// A redeemed tally ticket brings its issuer and redeemer together.
    DraftTally {
        tally_id: Uuid,
        parties: [String; 2],
        at: DateTime<Utc>,
    },
    /// Terms proposed (or revised) and signed by the caller, for the caller's side of the body.
    ProposeTally {
        caller: Caller,
        body: SignedTerms,
        signature: Signature,
        keys: RegisteredKeys,
        at: DateTime<Utc>,
    },
    /// The other side signs the offer: the tally opens.
    SignTally {
        caller: Caller,
        signature: Signature,
        at: DateTime<Utc>,
    },
    RefuseTally {
        caller: Caller,
        reason: String,
        at: DateTime<Utc>,
    },
    CloseTally {
        caller: Caller,
        at: DateTime<Utc>,
    },
    IssueChit {
        caller: Caller,
        chit: Chit,
        signature: Signature,
        at: DateTime<Utc>,
    },
    /// The upgrade's adoption of old-layout lift chits (`legacy.rs`).
    RebaseTally {
        balance_milli: i64,
        chit_count: u64,
        head_hash: String,
        legacy_chits: u64,
        through_position: i64,
        at: DateTime<Utc>,
    },
}
