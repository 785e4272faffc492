//! The ledger's view of a MAM channel: one stream per channel (`mam-<channel public key hex>`)
//! holding each sealed message once, in index order. The ledger cannot read the messages (it has
//! no side key); it checks the channel's signature (in the adapter, with the `mam` crate) and the
//! sequence rules here.

mod decide;
mod events;

pub use decide::{ChannelStream, MamError, StoreMessage};
pub use events::{MamEvent, MessageKind, StoredMessage};
