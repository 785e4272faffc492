//! The operator's use cases: the site, its users and their connection tickets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use domain::crypto::PublicKey;
use domain::site::caller::Caller;
use domain::site::config::SiteConfig;
use domain::site::connection_ticket::{token_hash, ConnectionTicket, ConnectionTicketCommand, ConnectionTicketEvent};
use domain::site::site_aggregate::{Site, SiteCommand, SiteIdentity, SiteState};
use domain::site::user::{Contact, User, UserCommand, UserEvent, UserState, UserStatus};
use domain::site::SiteError;
use domain::{Aggregate, Decider};
use events::Store;
use serde::{Deserialize, Serialize};

use super::{AppError, AppResult};
use crate::command::{encode, execute, load, CommandError, LogError};

/// Longest `user list` / `user dump --all`, so a listing is bounded.
pub const MAX_USERS_LISTED: i64 = 1_000_000;

/// What a connection ticket publishes: where to connect, the one-time token and the key to expect there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedTicket {
    pub host: String,
    pub port: u16,
    pub token: String,
    pub site_key: String,
}

impl PublishedTicket {
    /// The one-line form: `chip://HOST:PORT/connect?token=...&key=...` (all parts are URL-safe already).
    pub fn link(&self) -> String {
        format!("chip://{}:{}/connect?token={}&key={}", self.host, self.port, self.token, self.site_key)
    }
}

/// A user as `user dump` writes it and `user load` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    pub cid: String,
    pub name: String,
    pub contact: Contact,
    pub status: UserStatus,
    pub device_keys: Vec<PublicKey>,
}

/// 32 random bytes, base64url: the one-time token of a ticket.
pub fn new_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

pub async fn site(store: &Store) -> AppResult<SiteState> {
    Ok(load::<Site>(store, &()).await?.state)
}

/// The site, refusing if it is not initialised.
pub async fn site_identity(store: &Store) -> AppResult<(SiteIdentity, SiteState)> {
    let state = site(store).await?;
    let identity = state.site.clone().ok_or(SiteError::SiteMissing)?;
    Ok((identity, state))
}

pub async fn site_command(store: &Store, command: SiteCommand) -> AppResult<()> {
    execute::<Site>(store, &(), command).await?;
    Ok(())
}

pub async fn user(store: &Store, cid: &str) -> AppResult<UserState> {
    let state = load::<User>(store, cid).await?.state;
    if !state.registered {
        return Err(SiteError::UserMissing.into());
    }
    Ok(state)
}

/// Who `cid` is when a user command arrives: the site's lockdown and the user's status.
pub async fn caller(store: &Store, cid: &str) -> AppResult<Caller> {
    let (_, site) = site_identity(store).await?;
    let user = load::<User>(store, cid).await?.state;
    Ok(Caller::of(cid, site.locked, &user))
}

pub async fn user_command(store: &Store, cid: &str, command: UserCommand) -> AppResult<()> {
    if matches!(command, UserCommand::RegisterUser { .. }) {
        site_identity(store).await?;
    }
    execute::<User>(store, cid, command).await?;
    Ok(())
}

/// CIDs of every registered user, from the log itself (no projection lag), sorted.
pub async fn user_cids(store: &Store) -> AppResult<Vec<String>> {
    let prefix = User::stream_id("");
    let streams = store.stream_ids(&prefix, MAX_USERS_LISTED).await.map_err(LogError::from)?;
    Ok(streams.into_iter().map(|stream| stream[prefix.len()..].to_owned()).collect())
}

pub async fn dump_user(store: &Store, cid: &str) -> AppResult<UserRecord> {
    let state = user(store, cid).await?;
    Ok(UserRecord {
        cid: state.cid,
        name: state.name,
        contact: state.contact,
        status: state.status,
        device_keys: state.device_keys.into_iter().collect(),
    })
}

/// Creates a user from a dump record in one append (registration, keys, status), so a load is all or nothing
/// per user; refuses a CID that already exists.
pub async fn load_user(store: &Store, record: UserRecord, at: DateTime<Utc>) -> AppResult<()> {
    site_identity(store).await?;
    let mut state = UserState::default();
    let mut all = Vec::new();
    let mut commands =
        vec![UserCommand::RegisterUser { cid: record.cid.clone(), name: record.name, contact: record.contact, at }];
    commands.extend(record.device_keys.into_iter().map(|key| UserCommand::RegisterDeviceKey { key, ticket: None, at }));
    match record.status {
        UserStatus::Active => {}
        UserStatus::Locked => commands.push(UserCommand::LockUser { at }),
        UserStatus::Closed => commands.push(UserCommand::CloseUser { at }),
    }
    for command in commands {
        for event in User::decide(&state, command)? {
            state = User::evolve(state, &event);
            all.push(event);
        }
    }
    let events = all.iter().map(encode).collect();
    store.append(&User::stream_id(&record.cid), events::Expected::NoStream, events).await.map_err(|err| match err {
        events::AppendError::WrongExpectedVersion { .. } => AppError::Refused(SiteError::UserExists),
        other => LogError::Append(other).into(),
    })?;
    Ok(())
}

/// Issues a connection ticket for `cid`; returns the published part and the expiry (kept inside).
pub async fn issue_connection_ticket(
    store: &Store,
    cid: &str,
    lifetime: Option<Duration>,
    now: DateTime<Utc>,
) -> AppResult<(PublishedTicket, DateTime<Utc>)> {
    let (identity, site) = site_identity(store).await?;
    user(store, cid).await?;
    let lifetime = lifetime.unwrap_or_else(|| Duration::seconds(site.config.ticket_lifetime_s));
    let token = new_token();
    let hash = token_hash(&token);
    let expires_at = now + lifetime;
    let command = ConnectionTicketCommand::IssueConnectionTicket {
        token_hash: hash.clone(),
        cid: cid.to_owned(),
        expires_at,
        at: now,
    };
    execute::<ConnectionTicket>(store, &hash, command).await?;
    let published =
        PublishedTicket { host: identity.host, port: identity.port, token, site_key: identity.site_key.to_base64url() };
    Ok((published, expires_at))
}

/// A device redeems a ticket. Any failure answers only `TicketInvalid`; the token is spent either way.
pub async fn redeem_connection_ticket(
    store: &Store,
    token: &str,
    cid: &str,
    device_key: PublicKey,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let caller = caller(store, cid).await?;
    let hash = token_hash(token);
    let command = ConnectionTicketCommand::RedeemConnectionTicket { caller, device_key, at: now };
    let executed = execute::<ConnectionTicket>(store, &hash, command).await.map_err(|err| match err {
        CommandError::Refused(SiteError::SiteLocked) => AppError::Refused(SiteError::SiteLocked),
        CommandError::Refused(_) => AppError::Refused(SiteError::TicketInvalid),
        other => other,
    })?;
    if !matches!(executed.events[..], [ConnectionTicketEvent::ConnectionTicketRedeemed { .. }]) {
        return Err(SiteError::TicketInvalid.into());
    }
    let register = UserCommand::RegisterDeviceKey { key: device_key, ticket: Some(hash), at: now };
    let registered = execute::<User>(store, cid, register).await?;
    debug_assert!(matches!(registered.events[..], [UserEvent::DeviceKeyRegistered { .. }]));
    Ok(())
}

/// The configuration, as stored.
pub async fn config(store: &Store) -> AppResult<SiteConfig> {
    Ok(site_identity(store).await?.1.config)
}
