//! The TrustList aggregate's state, folded from its events.

use crate::charging::crypto::{PublicKey, Uid};
use std::collections::BTreeMap;

/// authority uid -> its public key
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustListState(pub BTreeMap<Uid, PublicKey>);
