//! The responder's side of a handshake: an `I` with a ticket, or an `N` then a `K`, answered by `A` only when
//! everything checks. Any failure is a [`Refusal`] and the caller closes the connection: no `A` is ever sent
//! to a peer that has not proved who it is (MyCHIPs sends one regardless, mychips-wire.md §8.3–8.5).

use peers::noise::{self, Transport};
use peers::{Frame, Header};
use serde_json::Value;
use tokio::net::tcp::OwnedWriteHalf;

use super::handler::{PeerHandler, TicketClaim};
use super::identity::{noise_key_of, SiteIdentity};
use super::refusal::Refusal;
use super::wire::{write_frame, FrameReader};

/// A connection the responder has accepted.
pub struct Opened {
    pub agent: String,
    /// The `K` payload, delivered once the connection is registered (an `I` payload went to the ticket verdict).
    pub first: Option<Value>,
    pub transport: Transport,
}

pub async fn respond(
    reader: &mut FrameReader,
    writer: &mut OwnedWriteHalf,
    identity: &SiteIdentity,
    handler: &dyn PeerHandler,
) -> Result<Opened, Refusal> {
    let first = encrypted(reader.next().await?)?;
    match first.header {
        Header::Ticket => redeem_ticket(first, writer, identity, handler).await,
        Header::Identity => {
            let (agent, initiator) = announced_agent(identity, &first.body)?;
            let key = encrypted(reader.next().await?)?;
            if key.header != Header::Key {
                return Err(Refusal::Unexpected(key.header));
            }
            let accepted = noise::accept_key(identity.noise_secret(), &initiator, &key.body)?;
            let message = object(&accepted.payload)?;
            write_frame(writer, &Frame::new(Header::Ack, accepted.ack)).await?;
            Ok(Opened { agent, first: Some(message), transport: accepted.transport })
        }
        other => Err(Refusal::Unexpected(other)),
    }
}

/// Refuses MyCHIPs' unencrypted mode with a reason that says so.
pub fn encrypted(frame: Frame) -> Result<Frame, Refusal> {
    if frame.is_raw() {
        return Err(Refusal::Raw);
    }
    Ok(frame)
}

async fn redeem_ticket(
    frame: Frame,
    writer: &mut OwnedWriteHalf,
    identity: &SiteIdentity,
    handler: &dyn PeerHandler,
) -> Result<Opened, Refusal> {
    let accepted = noise::accept_ticket(identity.noise_secret(), &frame.body)?;
    let message = object(&accepted.payload)?;
    let agent = message
        .pointer("/from/agent")
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Payload("a ticket request names its sender in from.agent".into()))?
        .to_owned();
    let key_proved = noise_key_of(&agent).map_err(Refusal::Agent)? == accepted.remote_static;
    // The verdict comes first so that the ticket is spent even when the key does not match.
    let verdict = handler.redeem(TicketClaim { agent: &agent, key_proved, message: &message }).await;
    if !key_proved {
        return Err(Refusal::KeyMismatch { claimed: agent });
    }
    verdict.map_err(Refusal::Ticket)?;
    write_frame(writer, &Frame::new(Header::Ack, accepted.ack)).await?;
    Ok(Opened { agent, first: None, transport: accepted.transport })
}

/// The agent id an `N` announces (a JSON string, which must be a valid site key) and its Noise key.
fn announced_agent(identity: &SiteIdentity, body: &[u8]) -> Result<(String, [u8; 32]), Refusal> {
    let payload = noise::read_identity(identity.noise_secret(), body)?;
    let agent: String = serde_json::from_slice(&payload)
        .map_err(|_| Refusal::Payload("an N announces its agent id as a JSON string".into()))?;
    let key = noise_key_of(&agent).map_err(Refusal::Agent)?;
    Ok((agent, key))
}

/// A handshake or transport payload: UTF-8 JSON, an object.
pub fn object(payload: &[u8]) -> Result<Value, Refusal> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(Refusal::Payload("a message is a JSON object".into())),
        Err(err) => Err(Refusal::Payload(err.to_string())),
    }
}
