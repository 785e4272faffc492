//! What is asked of the TrustList aggregate.

use crate::charging::contact_card::ContactCard;
use crate::charging::crypto::Uid;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub enum TrustListCommand {
    /// Trust the authority described by its exported contact card.
    TrustAuthority {
        card: ContactCard,
        at: DateTime<Utc>,
    },
    DistrustAuthority {
        authority_uid: Uid,
        at: DateTime<Utc>,
    },
}
