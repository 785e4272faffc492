use super::events::ChargePointEvent;
use crate::charging::crypto::Uid;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// One charge point, rebuilt from `charging-cp-<id>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChargePointState {
    pub booted: bool,
    /// connector -> the user it was enabled for and who has not started charging yet
    pub enabled: BTreeMap<u32, EnabledSocket>,
    /// transaction id -> running session
    pub sessions: BTreeMap<i32, Session>,
    pub transactions_started: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnabledSocket {
    pub uid: Uid,
    pub id_tag: String,
    pub certificate_serial: String,
    pub issuer_uid: Uid,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub connector_id: u32,
    pub uid: Uid,
    pub id_tag: String,
    pub certificate_serial: String,
    pub meter_start_wh: i64,
    pub last_energy_wh: i64,
    pub started_at: DateTime<Utc>,
}

impl ChargePointState {
    /// The state after `event`; an event that cannot follow this state (decide would never have made it) panics.
    pub fn evolve(mut self, event: &ChargePointEvent) -> ChargePointState {
        match event {
            ChargePointEvent::ChargePointBooted { .. } => self.booted = true,
            ChargePointEvent::SocketEnabled { connector_id, uid, id_tag, certificate_serial, issuer_uid, .. } => {
                let socket = EnabledSocket {
                    uid: uid.clone(),
                    id_tag: id_tag.clone(),
                    certificate_serial: certificate_serial.clone(),
                    issuer_uid: issuer_uid.clone(),
                };
                self.enabled.insert(*connector_id, socket);
            }
            ChargePointEvent::ChargingStarted {
                transaction_id,
                connector_id,
                uid,
                id_tag,
                certificate_serial,
                meter_start_wh,
                started_at,
                ..
            } => {
                let socket = self.enabled.remove(connector_id);
                assert!(socket.is_some(), "charging starts on an enabled socket");
                self.transactions_started = self.transactions_started.max(*transaction_id);
                self.sessions.insert(
                    *transaction_id,
                    Session {
                        connector_id: *connector_id,
                        uid: uid.clone(),
                        id_tag: id_tag.clone(),
                        certificate_serial: certificate_serial.clone(),
                        meter_start_wh: *meter_start_wh,
                        last_energy_wh: *meter_start_wh,
                        started_at: *started_at,
                    },
                );
            }
            ChargePointEvent::MeterValueRecorded { transaction_id, energy_wh, .. } => {
                let session = self.sessions.get_mut(transaction_id);
                session.expect("meter values belong to a started transaction").last_energy_wh = *energy_wh;
            }
            ChargePointEvent::ChargingStopped { transaction_id, .. } => {
                let ended = self.sessions.remove(transaction_id);
                assert!(ended.is_some(), "only a started transaction stops");
            }
            ChargePointEvent::BillRecorded { .. } => {}
        }
        self
    }

    /// The socket enabled for this id tag, if any: only such id tags are authorized here.
    pub fn enabled_for(&self, id_tag: &str) -> Option<(u32, &EnabledSocket)> {
        self.enabled.iter().find(|(_, s)| s.id_tag == id_tag).map(|(c, s)| (*c, s))
    }
}
