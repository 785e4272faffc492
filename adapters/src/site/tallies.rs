//! The users' use cases: tally tickets, tally negotiation, chits. The caller's CID comes from the HTTP
//! adapter, which checked the command's signature against the caller's registered device keys.

use chrono::{DateTime, Duration, Utc};
use domain::site::chit::ChitBody;
use domain::site::connection_ticket::token_hash;
use domain::site::crypto::{PublicKey, SignatureB64};
use domain::site::tally::{Side, Tally, TallyBody, TallyCommand, TallyEvent, TallyState, TallyStatus};
use domain::site::tally_ticket::{TallyTicket, TallyTicketCommand, TallyTicketEvent};
use domain::site::user::UserState;
use domain::site::SiteError;
use domain::Decider;
use events::{AppendError, Store};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::admin::{new_token, site_identity, user};
use super::locks::lock_tallies;
use super::log::{execute, expected, load_tally, to_new_event, AppError, AppResult, MAX_ATTEMPTS};
use super::streams;

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

/// Refuses unless the site is open and `cid` an active user; returns the user.
pub async fn require_active(store: &Store, cid: &str) -> AppResult<UserState> {
    let (_, site) = site_identity(store).await?;
    if site.locked {
        return Err(SiteError::SiteLocked.into());
    }
    let user = user(store, cid).await?;
    user.require_active()?;
    Ok(user)
}

pub async fn issue_tally_ticket(
    store: &Store,
    issuer: &str,
    counterpart: Option<String>,
    lifetime: Option<Duration>,
    now: DateTime<Utc>,
) -> AppResult<PublishedTallyTicket> {
    require_active(store, issuer).await?;
    let (identity, site) = site_identity(store).await?;
    let lifetime = lifetime.unwrap_or_else(|| Duration::seconds(site.config.ticket_lifetime_s));
    let token = new_token();
    let hash = token_hash(&token);
    let expires_at = now + lifetime;
    let command = TallyTicketCommand::IssueTallyTicket {
        token_hash: hash.clone(),
        issuer: issuer.to_owned(),
        counterpart: counterpart.clone(),
        expires_at,
        at: now,
    };
    execute::<TallyTicket>(store, &streams::tally_ticket(&hash), |s| TallyTicket::decide(s, command.clone())).await?;
    Ok(PublishedTallyTicket {
        chip_address: identity.chip_address(issuer),
        token,
        expires_at,
        site_key: identity.site_key.0,
        counterpart,
        suggested_credit_limit_milli: site.config.default_credit_limit_milli,
    })
}

/// Redeems a tally ticket: spends the token and opens negotiation with a draft tally. Returns its id.
pub async fn redeem_tally_ticket(store: &Store, redeemer: &str, token: &str, now: DateTime<Utc>) -> AppResult<Uuid> {
    require_active(store, redeemer).await?;
    let hash = token_hash(token);
    let tally_id = Uuid::now_v7();
    let command = TallyTicketCommand::RedeemTallyTicket { redeemer: redeemer.to_owned(), tally_id, at: now };
    let events =
        execute::<TallyTicket>(store, &streams::tally_ticket(&hash), |s| TallyTicket::decide(s, command.clone()))
            .await
            .map_err(|err| match err {
                AppError::Refused(_) => AppError::Refused(SiteError::TicketInvalid),
                other => other,
            })?;
    let [TallyTicketEvent::TallyTicketRedeemed { issuer, .. }] = &events[..] else {
        return Err(SiteError::TicketInvalid.into());
    };
    let draft = TallyCommand::DraftTally { tally_id, parties: [issuer.clone(), redeemer.to_owned()], at: now };
    tally_command(store, tally_id, |_| Ok(draft.clone())).await?;
    Ok(tally_id)
}

/// Runs one tally command under the tally's lock: load (with lift chits) -> decide -> append.
pub async fn tally_command(
    store: &Store,
    tally_id: Uuid,
    mut command: impl FnMut(&TallyState) -> Result<TallyCommand, SiteError>,
) -> AppResult<Vec<TallyEvent>> {
    let guard = lock_tallies(store, &[tally_id]).await?;
    let mut outcome = Err(AppError::Contended(streams::tally(tally_id)));
    for _ in 0..MAX_ATTEMPTS {
        let (state, version) = load_tally(store, tally_id).await?;
        let events = command(&state).and_then(|c| Tally::decide(&state, c))?;
        let new_events = events.iter().map(to_new_event).collect();
        match store.append(&streams::tally(tally_id), expected(version), new_events).await {
            Ok(_) => {
                outcome = Ok(events);
                break;
            }
            Err(AppendError::WrongExpectedVersion { .. }) => continue,
            Err(err) => {
                outcome = Err(AppError::Append(err));
                break;
            }
        }
    }
    guard.release().await?;
    outcome
}

/// The caller's side on the tally, refusing non-parties.
fn side_of(state: &TallyState, cid: &str) -> Result<Side, SiteError> {
    if state.body.is_none() && state.parties.is_empty() {
        return Err(SiteError::TallyMissing);
    }
    state.side_of(cid).ok_or(SiteError::NotParty)
}

/// A party's certificate must name one of its registered device keys.
fn require_key(user: &UserState, key: &PublicKey) -> Result<(), SiteError> {
    if user.device_keys.contains(key) {
        Ok(())
    } else {
        Err(SiteError::Invalid("the certificate's key is not a registered device key of its user".into()))
    }
}

pub async fn propose_tally(
    store: &Store,
    cid: &str,
    body: TallyBody,
    signature: SignatureB64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let user = require_active(store, cid).await?;
    let by = if body.stock.cert.cid == cid {
        Side::Stock
    } else if body.foil.cert.cid == cid {
        Side::Foil
    } else {
        return Err(SiteError::NotParty.into());
    };
    require_key(&user, &body.side(by).cert.public_key)?;
    let counterpart = super::admin::user(store, &body.side(by.other()).cert.cid).await?;
    require_key(&counterpart, &body.side(by.other()).cert.public_key)?;
    tally_command(store, body.id, |state| {
        if !state.is_party(cid) {
            return Err(SiteError::NotParty);
        }
        Ok(TallyCommand::ProposeTally { body: body.clone(), by, signature: signature.clone(), at: now })
    })
    .await?;
    Ok(())
}

pub async fn sign_tally(
    store: &Store,
    cid: &str,
    tally_id: Uuid,
    signature: SignatureB64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    require_active(store, cid).await?;
    tally_command(store, tally_id, |state| {
        let by = side_of(state, cid)?;
        Ok(TallyCommand::SignTally { by, signature: signature.clone(), at: now })
    })
    .await?;
    Ok(())
}

pub async fn refuse_tally(
    store: &Store,
    cid: &str,
    tally_id: Uuid,
    reason: String,
    now: DateTime<Utc>,
) -> AppResult<()> {
    require_active(store, cid).await?;
    tally_command(store, tally_id, |state| {
        let by = match state.side_of(cid) {
            Some(side) => side,
            // A draft has no sides yet: the first named party is the stock-to-be.
            None if state.parties.iter().any(|p| p == cid) => {
                if state.parties[0] == cid {
                    Side::Stock
                } else {
                    Side::Foil
                }
            }
            None => return Err(SiteError::NotParty),
        };
        Ok(TallyCommand::RefuseTally { by, reason: reason.clone(), at: now })
    })
    .await?;
    Ok(())
}

pub async fn close_tally(store: &Store, cid: &str, tally_id: Uuid, now: DateTime<Utc>) -> AppResult<()> {
    require_active(store, cid).await?;
    tally_command(store, tally_id, |state| Ok(TallyCommand::CloseTally { by: side_of(state, cid)?, at: now })).await?;
    Ok(())
}

pub async fn issue_chit(
    store: &Store,
    cid: &str,
    chit: ChitBody,
    signature: SignatureB64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    require_active(store, cid).await?;
    let tally_id = chit.tally_id;
    tally_command(store, tally_id, |state| {
        if side_of(state, cid)? != chit.by {
            return Err(SiteError::Chit("a party issues chits only for its own side".into()));
        }
        Ok(TallyCommand::IssueChit { chit: chit.clone(), signature: signature.clone(), at: now })
    })
    .await?;
    Ok(())
}

/// The tally as the log has it now (for a party building its next chit: the chain head); parties only.
pub async fn tally_for(store: &Store, cid: &str, tally_id: Uuid) -> AppResult<TallyState> {
    let (state, _) = load_tally(store, tally_id).await?;
    if state.status == TallyStatus::Missing {
        return Err(SiteError::TallyMissing.into());
    }
    if !state.is_party(cid) {
        return Err(SiteError::NotParty.into());
    }
    Ok(state)
}
