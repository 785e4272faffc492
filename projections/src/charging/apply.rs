//! One event into the charging tables. Events are read back with the domain's own types, so the views and
//! the deciders never disagree about a field.

use domain::charging::charge_point::{ChargePoint, ChargePointEvent};
use domain::charging::customer::{Customer, CustomerEvent};
use domain::charging::trust_list::{TrustList, TrustListEvent};
use domain::Aggregate;
use events::RecordedEvent;
use tokio_postgres::Transaction;

pub async fn one(tx: &Transaction<'_>, event: &RecordedEvent) -> anyhow::Result<()> {
    if Customer::owns_stream(&event.stream_id) {
        authority(tx, serde_json::from_value(event.payload.clone())?).await
    } else if let Some(charge_point_id) = ChargePoint::charge_point_id(&event.stream_id) {
        charge_point(tx, charge_point_id, serde_json::from_value(event.payload.clone())?).await
    } else if TrustList::owns_stream(&event.stream_id) {
        trust(tx, serde_json::from_value(event.payload.clone())?).await
    } else {
        Ok(())
    }
}

async fn authority(tx: &Transaction<'_>, event: CustomerEvent) -> anyhow::Result<()> {
    match event {
        CustomerEvent::ConnectionRequested { uid, alias, public_key, at, .. } => {
            tx.execute(
                "INSERT INTO charging.authority_users (uid, alias, public_key, trust, connected_at) \
                 VALUES ($1, $2, $3, 'untrusted', $4)",
                &[&uid.as_str(), &alias, &public_key.to_hex(), &at],
            )
            .await?;
        }
        CustomerEvent::BillingAccepted { uid, card_token, card_last4, card_expiry, .. } => {
            tx.execute(
                "UPDATE charging.authority_users SET card_token = $2, card_last4 = $3, card_expiry = $4 WHERE uid = $1",
                &[&uid.as_str(), &card_token, &card_last4, &card_expiry],
            )
            .await?;
        }
        CustomerEvent::RelationshipTrusted { uid, at } => {
            tx.execute(
                "UPDATE charging.authority_users SET trust = 'trusted', trusted_at = $2 WHERE uid = $1",
                &[&uid.as_str(), &at],
            )
            .await?;
        }
        CustomerEvent::CredentialRegistered { uid, provider_uid, id_tag, at } => {
            tx.execute(
                "INSERT INTO charging.credentials (provider_uid, id_tag, uid, registered_at) VALUES ($1, $2, $3, $4)",
                &[&provider_uid.as_str(), &id_tag, &uid.as_str(), &at],
            )
            .await?;
        }
        CustomerEvent::CertificateIssued { certificate, .. } => {
            let c = certificate.certificate;
            tx.execute(
                "INSERT INTO charging.authority_certificates (serial, subject_uid, issuer_uid, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                &[&c.serial, &c.subject_uid.as_str(), &c.issuer_uid.as_str(), &c.issued_at, &c.expires_at],
            )
            .await?;
        }
        CustomerEvent::CertificateRevoked { serial, reason, at, .. } => {
            tx.execute(
                "UPDATE charging.authority_certificates SET revoked_at = $2, revocation_reason = $3 WHERE serial = $1",
                &[&serial, &at, &reason],
            )
            .await?;
        }
    }
    Ok(())
}

async fn trust(tx: &Transaction<'_>, event: TrustListEvent) -> anyhow::Result<()> {
    match event {
        TrustListEvent::AuthorityTrusted { authority_uid, public_key, alias, at } => {
            tx.execute(
                "INSERT INTO charging.trusted_authorities (authority_uid, public_key, alias, trusted_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (authority_uid) DO UPDATE SET \
                 public_key = EXCLUDED.public_key, alias = EXCLUDED.alias, trusted_at = EXCLUDED.trusted_at",
                &[&authority_uid.as_str(), &public_key.to_hex(), &alias, &at],
            )
            .await?;
        }
        TrustListEvent::AuthorityDistrusted { authority_uid, .. } => {
            tx.execute("DELETE FROM charging.trusted_authorities WHERE authority_uid = $1", &[&authority_uid.as_str()])
                .await?;
        }
    }
    Ok(())
}

async fn charge_point(tx: &Transaction<'_>, stream_charge_point: &str, event: ChargePointEvent) -> anyhow::Result<()> {
    match event {
        ChargePointEvent::ChargePointBooted { charge_point_id, vendor, model, at } => {
            tx.execute(
                "INSERT INTO charging.charge_points (charge_point_id, vendor, model, booted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (charge_point_id) DO UPDATE SET vendor = EXCLUDED.vendor, model = EXCLUDED.model, \
                 booted_at = EXCLUDED.booted_at",
                &[&charge_point_id, &vendor, &model, &at],
            )
            .await?;
        }
        // An enabled socket is a step of the command side; the views start at the session.
        ChargePointEvent::SocketEnabled { .. } => {}
        ChargePointEvent::ChargingStarted {
            charge_point_id,
            transaction_id,
            connector_id,
            uid,
            id_tag,
            certificate_serial,
            meter_start_wh,
            started_at,
            ..
        } => {
            tx.execute(
                "INSERT INTO charging.sessions (charge_point_id, transaction_id, connector_id, uid, id_tag, \
                 certificate_serial, meter_start_wh, last_energy_wh, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
                &[
                    &charge_point_id,
                    &transaction_id,
                    &(connector_id as i32),
                    &uid.as_str(),
                    &id_tag,
                    &certificate_serial,
                    &meter_start_wh,
                    &started_at,
                ],
            )
            .await?;
        }
        // These two name only the transaction: the charge point is the stream's.
        ChargePointEvent::MeterValueRecorded { transaction_id, energy_wh, .. } => {
            tx.execute(
                "UPDATE charging.sessions SET last_energy_wh = $3 WHERE charge_point_id = $1 AND transaction_id = $2",
                &[&stream_charge_point, &transaction_id, &energy_wh],
            )
            .await?;
        }
        ChargePointEvent::ChargingStopped { transaction_id, meter_stop_wh, stopped_at, reason } => {
            tx.execute(
                "UPDATE charging.sessions SET stopped_at = $3, meter_stop_wh = $4, last_energy_wh = $4, \
                 stop_reason = $5 WHERE charge_point_id = $1 AND transaction_id = $2",
                &[&stream_charge_point, &transaction_id, &stopped_at, &meter_stop_wh, &reason],
            )
            .await?;
        }
        ChargePointEvent::BillRecorded {
            charge_point_id,
            transaction_id,
            connector_id,
            uid,
            id_tag,
            certificate_serial,
            meter_start_wh,
            meter_stop_wh,
            energy_wh,
            started_at,
            stopped_at,
        } => {
            tx.execute(
                "INSERT INTO charging.bills (charge_point_id, transaction_id, connector_id, uid, id_tag, \
                 certificate_serial, meter_start_wh, meter_stop_wh, energy_wh, started_at, stopped_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                &[
                    &charge_point_id,
                    &transaction_id,
                    &(connector_id as i32),
                    &uid.as_str(),
                    &id_tag,
                    &certificate_serial,
                    &meter_start_wh,
                    &meter_stop_wh,
                    &energy_wh,
                    &started_at,
                    &stopped_at,
                ],
            )
            .await?;
        }
    }
    Ok(())
}
