//! The operator's use cases: the site, its users and their connection tickets.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use domain::site::config::SiteConfig;
use domain::site::connection_ticket::{token_hash, ConnectionTicket, ConnectionTicketCommand, ConnectionTicketEvent};
use domain::site::crypto::PublicKey;
use domain::site::site_aggregate::{Site, SiteCommand, SiteIdentity, SiteState};
use domain::site::user::{Contact, User, UserCommand, UserEvent, UserState, UserStatus};
use domain::site::SiteError;
use domain::Decider;
use events::Store;
use serde::{Deserialize, Serialize};

use super::log::{execute, load, to_new_event, AppError, AppResult};
use super::streams;

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
    Ok(load::<Site>(store, streams::SITE).await?.0)
}

/// The site, refusing if it is not initialised.
pub async fn site_identity(store: &Store) -> AppResult<(SiteIdentity, SiteState)> {
    let state = site(store).await?;
    let identity = state.site.clone().ok_or(SiteError::SiteMissing)?;
    Ok((identity, state))
}

pub async fn site_command(store: &Store, command: SiteCommand) -> AppResult<()> {
    execute::<Site>(store, streams::SITE, |state| Site::decide(state, command.clone())).await?;
    Ok(())
}

pub async fn user(store: &Store, cid: &str) -> AppResult<UserState> {
    let state = load::<User>(store, &streams::user(cid)).await?.0;
    if !state.registered {
        return Err(SiteError::UserMissing.into());
    }
    Ok(state)
}

pub async fn user_command(store: &Store, cid: &str, command: UserCommand) -> AppResult<()> {
    if matches!(command, UserCommand::RegisterUser { .. }) {
        site_identity(store).await?;
    }
    execute::<User>(store, &streams::user(cid), |state| User::decide(state, command.clone())).await?;
    Ok(())
}

/// CIDs of every registered user, from the log itself (no projection lag), sorted.
pub async fn user_cids(store: &Store) -> AppResult<Vec<String>> {
    let client = store.pool().get().await?;
    let rows = client
        .query(
            "SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'user-%' AND event_type = 'UserRegistered' \
             ORDER BY stream_id LIMIT $1",
            &[&MAX_USERS_LISTED],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, String>(0)["user-".len()..].to_owned()).collect())
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
    let events: Vec<_> = all.iter().map(to_new_event).collect::<Vec<_>>();
    store.append(&streams::user(&record.cid), events::Expected::NoStream, events).await.map_err(|err| match err {
        events::AppendError::WrongExpectedVersion { .. } => AppError::Refused(SiteError::UserExists),
        other => AppError::Append(other),
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
    execute::<ConnectionTicket>(store, &streams::connection_ticket(&hash), |s| {
        ConnectionTicket::decide(s, command.clone())
    })
    .await?;
    let published = PublishedTicket { host: identity.host, port: identity.port, token, site_key: identity.site_key.0 };
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
    let (_, site) = site_identity(store).await?;
    if site.locked {
        return Err(SiteError::SiteLocked.into());
    }
    let hash = token_hash(token);
    let user_active = matches!(user(store, cid).await, Ok(u) if u.status == UserStatus::Active);
    let command = ConnectionTicketCommand::RedeemConnectionTicket {
        cid: cid.to_owned(),
        device_key: device_key.clone(),
        user_active,
        at: now,
    };
    let events = execute::<ConnectionTicket>(store, &streams::connection_ticket(&hash), |s| {
        ConnectionTicket::decide(s, command.clone())
    })
    .await
    .map_err(|err| match err {
        AppError::Refused(_) => AppError::Refused(SiteError::TicketInvalid),
        other => other,
    })?;
    if !matches!(events[..], [ConnectionTicketEvent::ConnectionTicketRedeemed { .. }]) {
        return Err(SiteError::TicketInvalid.into());
    }
    let register = UserCommand::RegisterDeviceKey { key: device_key, ticket: Some(hash), at: now };
    let registered = execute::<User>(store, &streams::user(cid), |s| User::decide(s, register.clone())).await?;
    debug_assert!(matches!(registered[..], [UserEvent::DeviceKeyRegistered { .. }]));
    Ok(())
}

/// The configuration, as stored.
pub async fn config(store: &Store) -> AppResult<SiteConfig> {
    Ok(site_identity(store).await?.1.config)
}
