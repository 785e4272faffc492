//! What a tally's stream says about it: where in its life it is (draft → offered → open → closing → closed, or
//! void), the terms both signed, and its chit chain's balance and head.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::body::{Side, SignedTerms};
use super::events::TallyEvent;
use crate::crypto::Signature;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum TallyStatus {
    /// No stream yet: the state a command meets before `TallyDrafted`.
    #[default]
    Missing,
    Draft,
    Offered,
    Open,
    Closing,
    Closed,
    Void,
}

impl TallyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TallyStatus::Missing => "missing",
            TallyStatus::Draft => "draft",
            TallyStatus::Offered => "offered",
            TallyStatus::Open => "open",
            TallyStatus::Closing => "closing",
            TallyStatus::Closed => "closed",
            TallyStatus::Void => "void",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TallyState {
    pub id: Uuid,
    pub status: TallyStatus,
    /// The two CIDs a tally ticket brought together, before anyone proposed terms.
    pub parties: Vec<String>,
    pub body: Option<SignedTerms>,
    pub proposed_by: Option<Side>,
    pub stock_signature: Option<Signature>,
    pub foil_signature: Option<Signature>,
    pub balance_milli: i64,
    pub chit_count: u64,
    /// Hash of the last chit, or of the tally body before the first chit.
    pub head_hash: String,
    /// Whether a `TallyRebased` event adopted lift chits of the log's old layout (see `legacy.rs`).
    pub rebased: bool,
}

impl TallyState {
    pub fn side_of(&self, cid: &str) -> Option<Side> {
        self.body.as_ref()?.side_of(cid)
    }

    pub fn is_party(&self, cid: &str) -> bool {
        self.side_of(cid).is_some() || self.parties.iter().any(|p| p == cid)
    }

    /// How far a lift in which `payer` pays may move this tally's balance: 0 unless the tally is open.
    pub fn lift_capacity_milli(&self, payer: Side) -> i64 {
        match (&self.body, self.status) {
            (Some(body), TallyStatus::Open) => {
                let (lower, upper) = body.lift_bounds_milli();
                match payer {
                    Side::Stock => (self.balance_milli - lower).max(0),
                    Side::Foil => (upper - self.balance_milli).max(0),
                }
            }
            _ => 0,
        }
    }

    /// The next chit's index and previous hash, which a party signs into its chit.
    pub fn chain_head(&self) -> (u64, String) {
        (self.chit_count, self.head_hash.clone())
    }

    /// The state after `event`. Every event here was decided against the state before it, so one that does not
    /// fit (a chit on a tally with no terms) means a corrupt stream, and this panics.
    pub(super) fn evolve(mut self, event: &TallyEvent) -> TallyState {
        match event {
            TallyEvent::TallyDrafted { tally_id, parties, .. } => {
                assert_eq!(self.status, TallyStatus::Missing, "a tally is drafted once");
                self.id = *tally_id;
                self.parties = parties.to_vec();
                self.status = TallyStatus::Draft;
            }
            TallyEvent::TallyOffered { body, by, signature, .. } => self.offered(body, *by, signature),
            TallyEvent::TallyOpened { by, signature, .. } => {
                assert_eq!(self.status, TallyStatus::Offered, "only an offer opens");
                *self.signature_of(*by) = Some(*signature);
                self.status = TallyStatus::Open;
            }
            TallyEvent::TallyVoided { .. } => self.status = TallyStatus::Void,
            TallyEvent::TallyClosing { .. } => self.status = TallyStatus::Closing,
            TallyEvent::TallyClosed { .. } => self.status = TallyStatus::Closed,
            TallyEvent::ChitIssued { chit, hash, .. } => {
                assert!(self.body.is_some(), "chits come after the terms");
                self.balance_milli += chit.balance_delta_milli();
                self.chit_count += 1;
                self.head_hash = hash.clone();
            }
            TallyEvent::TallyRebased { balance_milli, chit_count, head_hash, .. } => {
                assert!(*chit_count >= self.chit_count, "a rebase adds the chits the stream lacked");
                self.balance_milli = *balance_milli;
                self.chit_count = *chit_count;
                self.head_hash = head_hash.clone();
                self.rebased = true;
            }
        }
        self
    }

    fn offered(&mut self, body: &SignedTerms, by: Side, signature: &Signature) {
        assert!(matches!(self.status, TallyStatus::Draft | TallyStatus::Offered), "offers precede opening");
        self.id = body.id;
        self.head_hash = body.hash();
        self.body = Some(body.clone());
        self.proposed_by = Some(by);
        *self.signature_of(by) = Some(*signature);
        *self.signature_of(by.other()) = None;
        self.status = TallyStatus::Offered;
    }

    fn signature_of(&mut self, side: Side) -> &mut Option<Signature> {
        match side {
            Side::Stock => &mut self.stock_signature,
            Side::Foil => &mut self.foil_signature,
        }
    }
}
