//! The users' use cases: tally tickets, tally negotiation, chits. The caller's CID comes from the HTTP adapter,
//! which checked the request's signature against the caller's registered device keys; what the caller may do is
//! the deciders' question (each command carries the [`Caller`] facts).

use chrono::{DateTime, Duration, Utc};
use domain::crypto::Signature;
use domain::site::caller::Caller;
use domain::site::chit::Chit;
use domain::site::connection_ticket::token_hash;
use domain::site::tally::{RegisteredKeys, SignedTerms, Tally, TallyBody, TallyCommand, TallyState, TallyStatus};
use domain::site::tally_ticket::{TallyTicket, TallyTicketCommand, TallyTicketEvent};
use domain::site::user::User;
use domain::site::SiteError;
use events::Store;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::admin::{caller, new_token, site_identity};
use super::{AppError, AppResult};
use crate::command::{execute, load, CommandError};

/// What a tally ticket publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTallyTicket {
    pub chip_address: String,
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub site_key: String,
    pub counterpart: Option<String>,
    /// The site's default credit limit, as the terms a client pre-fills in its proposal (the signed tally
    /// body carries the terms actually agreed).
    pub suggested_credit_limit_milli: i64,
}

pub async fn issue_tally_ticket(
    store: &Store,
    issuer: &str,
    counterpart: Option<String>,
    lifetime: Option<Duration>,
    now: DateTime<Utc>,
) -> AppResult<PublishedTallyTicket> {
    let (identity, site) = site_identity(store).await?;
    let lifetime = lifetime.unwrap_or_else(|| Duration::seconds(site.config.ticket_lifetime_s));
    let token = new_token();
    let hash = token_hash(&token);
    let expires_at = now + lifetime;
    let command = TallyTicketCommand::IssueTallyTicket {
        caller: caller(store, issuer).await?,
        token_hash: hash.clone(),
        counterpart: counterpart.clone(),
        expires_at,
        at: now,
    };
    execute::<TallyTicket>(store, &hash, command).await?;
    Ok(PublishedTallyTicket {
        chip_address: identity.chip_address(issuer),
        token,
        expires_at,
        site_key: identity.site_key.to_base64url(),
        counterpart,
        suggested_credit_limit_milli: site.config.default_credit_limit_milli,
    })
}

/// Redeems a tally ticket: spends the token and opens negotiation with a draft tally. Returns its id.
pub async fn redeem_tally_ticket(store: &Store, redeemer: &str, token: &str, now: DateTime<Utc>) -> AppResult<Uuid> {
    let tally_id = Uuid::now_v7();
    let command = TallyTicketCommand::RedeemTallyTicket { caller: caller(store, redeemer).await?, tally_id, at: now };
    let executed = execute::<TallyTicket>(store, &token_hash(token), command).await.map_err(|err| match err {
        CommandError::Refused(SiteError::SiteLocked | SiteError::UserNotActive(_) | SiteError::UserMissing) => err,
        CommandError::Refused(_) => AppError::Refused(SiteError::TicketInvalid),
        other => other,
    })?;
    let [TallyTicketEvent::TallyTicketRedeemed { issuer, .. }] = &executed.events[..] else {
        return Err(SiteError::TicketInvalid.into());
    };
    let draft = TallyCommand::DraftTally { tally_id, parties: [issuer.clone(), redeemer.to_owned()], at: now };
    execute::<Tally>(store, &tally_id, draft).await?;
    Ok(tally_id)
}

/// The device keys the two parties named in `body` have registered.
async fn registered_keys(store: &Store, body: &TallyBody) -> AppResult<RegisteredKeys> {
    let mut keys = RegisteredKeys::new();
    for cid in [&body.stock.cert.cid, &body.foil.cert.cid] {
        keys.insert(cid.clone(), load::<User>(store, cid).await?.state.device_keys);
    }
    Ok(keys)
}

pub async fn propose_tally(
    store: &Store,
    cid: &str,
    body: SignedTerms,
    signature: Signature,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    let keys = registered_keys(store, &body).await?;
    let tally_id = body.id;
    execute::<Tally>(store, &tally_id, TallyCommand::ProposeTally { caller, body, signature, keys, at: now }).await?;
    Ok(())
}

pub async fn sign_tally(
    store: &Store,
    cid: &str,
    tally_id: Uuid,
    signature: Signature,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    execute::<Tally>(store, &tally_id, TallyCommand::SignTally { caller, signature, at: now }).await?;
    Ok(())
}

pub async fn refuse_tally(
    store: &Store,
    cid: &str,
    tally_id: Uuid,
    reason: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    execute::<Tally>(store, &tally_id, TallyCommand::RefuseTally { caller, reason, at: now }).await?;
    Ok(())
}

pub async fn close_tally(store: &Store, cid: &str, tally_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    execute::<Tally>(store, &tally_id, TallyCommand::CloseTally { caller, at: now }).await?;
    Ok(())
}

pub async fn issue_chit(
    store: &Store,
    cid: &str,
    chit: Chit,
    signature: Signature,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    let tally_id = chit.tally_id;
    execute::<Tally>(store, &tally_id, TallyCommand::IssueChit { caller, chit, signature, at: now }).await?;
    Ok(())
}

/// The tally as the log has it now (for a party building its next chit: the chain head); active parties only.
pub async fn tally_for(store: &Store, caller: &Caller, tally_id: Uuid) -> AppResult<TallyState> {
    caller.require_active()?;
    let state = load::<Tally>(store, &tally_id).await?.state;
    if state.status == TallyStatus::Missing {
        return Err(SiteError::TallyMissing.into());
    }
    if !state.is_party(&caller.cid) {
        return Err(SiteError::NotParty.into());
    }
    Ok(state)
}
