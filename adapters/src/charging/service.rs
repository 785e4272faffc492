//! The charging roles of this node, over the log: the registration authority and the charging provider.
//! HTTP and OCPP call these methods; the rules themselves are the deciders of `domain::charging`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::charging::billing::BillingDetails;
use domain::charging::certificate::{Certificate, SignedCertificateRequest, SocketRequest};
use domain::charging::charge_point::{authorize, ChargePoint, ChargePointCommand, ChargePointEvent, TrustContext};
use domain::charging::contact_card::{ContactCard, ContactCardError};
use domain::charging::customer::{
    CertificateRequestCommand, Customer, CustomerCommand, CustomerEvent, ProviderIdTag, RevokeCertificateCommand,
};
use domain::charging::trust_list::{TrustList, TrustListCommand};
use domain::charging::{ChargePointError, CustomerError, PublicKey, TrustListError, Uid};
use events::Store;
use rand::RngCore;

use super::cards;
use super::keys::ChargingKeys;
use crate::command::{execute, load, CommandError, LogError};
use crate::ocpp::messages::{RemoteStartStopStatus, RemoteStartTransactionConf, RemoteStartTransactionReq};
use crate::ocpp::registry::{CallFailure, Registry};

#[derive(Debug, Clone)]
pub struct ChargingSettings {
    /// Where this node is reached, written into its contact cards.
    pub transports: Vec<String>,
    pub certificate_validity: chrono::Duration,
    /// Providers (besides this node's own) the authority registers credentials with.
    pub partner_providers: Vec<Uid>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChargingError {
    #[error(transparent)]
    Customer(#[from] CustomerError),
    #[error(transparent)]
    TrustList(#[from] TrustListError),
    #[error(transparent)]
    ChargePoint(#[from] ChargePointError),
    #[error(transparent)]
    ContactCard(#[from] ContactCardError),
    #[error(transparent)]
    Log(#[from] LogError),
}

impl<E: Into<ChargingError>> From<CommandError<E>> for ChargingError {
    fn from(err: CommandError<E>) -> Self {
        match err {
            CommandError::Refused(e) => e.into(),
            CommandError::Log(e) => ChargingError::Log(e),
        }
    }
}

/// What the app learns after presenting its certificate at a socket.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SocketEnabledReply {
    pub charge_point_id: String,
    pub connector_id: u32,
    /// "Accepted" or "Rejected" from the charge point, or why it could not be asked.
    pub remote_start: String,
}

#[derive(Clone)]
pub struct ChargingService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    keys: ChargingKeys,
    settings: ChargingSettings,
    registry: Registry,
}

impl ChargingService {
    pub fn new(store: Store, keys: ChargingKeys, settings: ChargingSettings) -> ChargingService {
        ChargingService { inner: Arc::new(Inner { store, keys, settings, registry: Registry::default() }) }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn authority_uid(&self) -> Uid {
        Uid::of(&PublicKey::of(&self.inner.keys.authority))
    }

    pub fn provider_uid(&self) -> Uid {
        Uid::of(&PublicKey::of(&self.inner.keys.provider))
    }

    pub fn authority_card(&self) -> Result<ContactCard, ChargingError> {
        Ok(cards::authority_card(&self.inner.keys, &self.inner.settings.transports)?)
    }

    pub fn provider_card(&self) -> Result<ContactCard, ChargingError> {
        Ok(cards::provider_card(&self.inner.keys, &self.inner.settings.transports)?)
    }

    // ---- registration authority ----

    pub async fn request_connection(&self, card: ContactCard, at: DateTime<Utc>) -> Result<Uid, ChargingError> {
        card.verify()?;
        let uid = card.card.uid.clone();
        let command = CustomerCommand::RequestConnection { card, at };
        execute::<Customer>(&self.inner.store, &uid, command).await?;
        Ok(uid)
    }

    pub async fn request_certificate(
        &self,
        request: SignedCertificateRequest,
        billing: BillingDetails,
        at: DateTime<Utc>,
    ) -> Result<Certificate, ChargingError> {
        let serial = uuid::Uuid::new_v4().to_string();
        let providers: Vec<Uid> =
            std::iter::once(self.provider_uid()).chain(self.inner.settings.partner_providers.iter().cloned()).collect();
        let id_tags: Vec<ProviderIdTag> =
            providers.into_iter().map(|provider_uid| ProviderIdTag { provider_uid, id_tag: fresh_id_tag() }).collect();
        let uid = request.proof.uid.clone();
        let command = CustomerCommand::RequestCertificate(Box::new(CertificateRequestCommand {
            request,
            billing,
            card_token_key: self.inner.keys.card_token.clone(),
            authority_key: self.inner.keys.authority.clone(),
            serial,
            validity: self.inner.settings.certificate_validity,
            id_tags,
            at,
        }));
        let executed = execute::<Customer>(&self.inner.store, &uid, command).await?;
        let certificate = executed.events.into_iter().find_map(|e| match e {
            CustomerEvent::CertificateIssued { certificate, .. } => Some(certificate),
            _ => None,
        });
        Ok(certificate.expect("an accepted certificate request issues a certificate"))
    }

    pub async fn revoke_certificate(
        &self,
        uid: &Uid,
        serial: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ChargingError> {
        let command = CustomerCommand::RevokeCertificate(RevokeCertificateCommand {
            serial: serial.to_owned(),
            reason: reason.to_owned(),
            at,
        });
        execute::<Customer>(&self.inner.store, uid, command).await?;
        Ok(())
    }

    // ---- charging provider ----

    pub async fn trust_authority(&self, card: ContactCard, at: DateTime<Utc>) -> Result<Uid, ChargingError> {
        let uid = card.card.uid.clone();
        execute::<TrustList>(&self.inner.store, &(), TrustListCommand::TrustAuthority { card, at }).await?;
        Ok(uid)
    }

    pub async fn distrust_authority(&self, authority_uid: &Uid, at: DateTime<Utc>) -> Result<(), ChargingError> {
        let command = TrustListCommand::DistrustAuthority { authority_uid: authority_uid.clone(), at };
        execute::<TrustList>(&self.inner.store, &(), command).await?;
        Ok(())
    }

    /// What the provider knows about `uid`: trusted authorities, and the user's stream as the authority wrote it.
    async fn trust_context(&self, uid: &Uid) -> Result<TrustContext, ChargingError> {
        let authorities = load::<TrustList>(&self.inner.store, &()).await?.state;
        let user = load::<Customer>(&self.inner.store, uid).await?.state;
        Ok(TrustContext { provider_uid: self.provider_uid(), authorities, user })
    }

    /// Checks the presented certificate, enables the socket, and asks the charge point to start.
    pub async fn enable_socket(
        &self,
        request: SocketRequest,
        at: DateTime<Utc>,
    ) -> Result<SocketEnabledReply, ChargingError> {
        let charge_point_id = request.request.charge_point_id.clone();
        let connector_id = request.request.connector_id;
        let context = self.trust_context(&request.request.certificate.certificate.subject_uid).await?;
        let command = ChargePointCommand::EnableSocket {
            charge_point_id: charge_point_id.clone(),
            request: Box::new(request),
            context,
            at,
        };
        let executed = execute::<ChargePoint>(&self.inner.store, &charge_point_id, command).await?;
        let id_tag = executed.events.iter().find_map(|e| match e {
            ChargePointEvent::SocketEnabled { id_tag, .. } => Some(id_tag.clone()),
            _ => None,
        });
        let id_tag = id_tag.expect("an accepted socket request enables the socket");
        let remote = RemoteStartTransactionReq { connector_id, id_tag };
        let remote_start = match self.inner.registry.call(&charge_point_id, "RemoteStartTransaction", &remote).await {
            Ok(answer) => match serde_json::from_value::<RemoteStartTransactionConf>(answer) {
                Ok(RemoteStartTransactionConf { status: RemoteStartStopStatus::Accepted }) => "Accepted".to_owned(),
                Ok(RemoteStartTransactionConf { status: RemoteStartStopStatus::Rejected }) => "Rejected".to_owned(),
                Err(e) => format!("unreadable answer: {e}"),
            },
            Err(CallFailure::NotConnected(_)) => "NotConnected".to_owned(),
            Err(failure) => failure.to_string(),
        };
        Ok(SocketEnabledReply { charge_point_id, connector_id, remote_start })
    }

    pub async fn record_boot(
        &self,
        charge_point_id: &str,
        vendor: &str,
        model: &str,
        at: DateTime<Utc>,
    ) -> Result<(), ChargingError> {
        let command = ChargePointCommand::RecordBoot {
            charge_point_id: charge_point_id.to_owned(),
            vendor: vendor.to_owned(),
            model: model.to_owned(),
            at,
        };
        execute::<ChargePoint>(&self.inner.store, charge_point_id, command).await?;
        Ok(())
    }

    /// The context for the user an id tag was enabled for on this charge point, if any.
    async fn context_for_id_tag(&self, charge_point_id: &str, id_tag: &str) -> Result<TrustContext, ChargingError> {
        let state = load::<ChargePoint>(&self.inner.store, charge_point_id).await?.state;
        let (_, socket) =
            state.enabled_for(id_tag).ok_or_else(|| ChargePointError::IdTagNotEnabled(id_tag.to_owned()))?;
        self.trust_context(&socket.uid.clone()).await
    }

    /// OCPP Authorize: Ok when the id tag may charge here now.
    pub async fn authorize(&self, charge_point_id: &str, id_tag: &str, at: DateTime<Utc>) -> Result<(), ChargingError> {
        let context = self.context_for_id_tag(charge_point_id, id_tag).await?;
        let state = load::<ChargePoint>(&self.inner.store, charge_point_id).await?.state;
        authorize(&state, id_tag, &context, at)?;
        Ok(())
    }

    /// OCPP StartTransaction: the transaction id of the recorded start.
    pub async fn start_charging(
        &self,
        charge_point_id: &str,
        connector_id: u32,
        id_tag: &str,
        meter_start_wh: i64,
        started_at: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<i32, ChargingError> {
        let context = self.context_for_id_tag(charge_point_id, id_tag).await?;
        let command = ChargePointCommand::StartCharging {
            charge_point_id: charge_point_id.to_owned(),
            connector_id,
            id_tag: id_tag.to_owned(),
            meter_start_wh,
            started_at,
            context,
            at,
        };
        let executed = execute::<ChargePoint>(&self.inner.store, charge_point_id, command).await?;
        let transaction_id = executed.events.iter().find_map(|e| match e {
            ChargePointEvent::ChargingStarted { transaction_id, .. } => Some(*transaction_id),
            _ => None,
        });
        Ok(transaction_id.expect("an accepted start records a transaction"))
    }

    pub async fn record_meter_value(
        &self,
        charge_point_id: &str,
        transaction_id: i32,
        connector_id: u32,
        energy_wh: i64,
        sampled_at: DateTime<Utc>,
    ) -> Result<(), ChargingError> {
        let command = ChargePointCommand::RecordMeterValue { transaction_id, connector_id, energy_wh, sampled_at };
        execute::<ChargePoint>(&self.inner.store, charge_point_id, command).await?;
        Ok(())
    }

    /// OCPP StopTransaction: records the stop and the bill.
    pub async fn stop_charging(
        &self,
        charge_point_id: &str,
        transaction_id: i32,
        meter_stop_wh: i64,
        stopped_at: DateTime<Utc>,
        reason: Option<String>,
    ) -> Result<(), ChargingError> {
        let command = ChargePointCommand::StopCharging {
            charge_point_id: charge_point_id.to_owned(),
            transaction_id,
            meter_stop_wh,
            stopped_at,
            reason,
        };
        execute::<ChargePoint>(&self.inner.store, charge_point_id, command).await?;
        Ok(())
    }
}

/// 20 uppercase hex characters (80 random bits): OCPP's IdToken is at most 20 characters, and an id tag must not
/// be guessable, since a charge point's keypad or RFID reader could present it.
fn fresh_id_tag() -> String {
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode_upper(bytes)
}
