//! The contact cards this node hands out: the authority's, the provider's, and one per socket.

use std::collections::BTreeMap;

use domain::charging::contact_card::{ContactCard, ContactCardError};

use super::keys::ChargingKeys;

pub fn authority_card(keys: &ChargingKeys, transports: &[String]) -> Result<ContactCard, ContactCardError> {
    let meta = BTreeMap::from([("role".to_owned(), "registration-authority".to_owned())]);
    ContactCard::create(&keys.authority, "notch registration authority", transports.to_vec(), Some(meta))
}

pub fn provider_card(keys: &ChargingKeys, transports: &[String]) -> Result<ContactCard, ContactCardError> {
    let meta = BTreeMap::from([("role".to_owned(), "charging-provider".to_owned())]);
    ContactCard::create(&keys.provider, "notch charging provider", transports.to_vec(), Some(meta))
}

/// A socket's card: the provider's identity, with meta naming the charge point and connector (what a QR code
/// or NFC tag on the socket carries).
pub fn socket_card(
    keys: &ChargingKeys,
    transports: &[String],
    charge_point_id: &str,
    connector_id: u32,
) -> Result<ContactCard, ContactCardError> {
    let meta = BTreeMap::from([
        ("role".to_owned(), "socket".to_owned()),
        ("charge_point_id".to_owned(), charge_point_id.to_owned()),
        ("connector_id".to_owned(), connector_id.to_string()),
    ]);
    let alias = format!("socket {charge_point_id}/{connector_id}");
    ContactCard::create(&keys.provider, &alias, transports.to_vec(), Some(meta))
}
