//! The initiator's side: connect, send `I` (a ticket request) or `N` then `K`, wait for the `A`.

use peers::noise::{self, Transport};
use peers::{Frame, Header};
use serde_json::Value;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::identity::{PeerAddress, SiteIdentity};
use super::refusal::Refusal;
use super::respond::encrypted;
use super::wire::{write_frame, FrameReader};

/// An open outgoing connection.
pub struct Dialed {
    pub reader: FrameReader,
    pub writer: OwnedWriteHalf,
    pub transport: Transport,
}

/// MyCHIPs' rule for the first contact (mychips-wire.md §4.1): a tally ticket goes in an IK `I`.
pub fn is_ticket_request(message: &Value) -> bool {
    message.get("target").and_then(Value::as_str) == Some("tally")
        && message.get("action").and_then(Value::as_str) == Some("ticket")
        && message.get("ticket").is_some_and(|ticket| !ticket.is_null())
}

/// Stamps this site as the sender: `from.agent`, `from.host`, `from.port` (other `from` keys kept, as MyCHIPs).
pub fn stamp_from(message: &mut Value, identity: &SiteIdentity) {
    if !message.get("from").is_some_and(Value::is_object) {
        message["from"] = Value::Object(Default::default());
    }
    let from = &mut message["from"];
    from["agent"] = identity.agent.clone().into();
    from["host"] = identity.host.clone().into();
    from["port"] = identity.port.into();
}

/// Opens a connection to `to` carrying `first` in its handshake (`I` for a ticket request, else `N` + `K`).
pub async fn dial(
    to: &PeerAddress,
    identity: &SiteIdentity,
    first: &Value,
    max_body_bytes: usize,
) -> Result<Dialed, Refusal> {
    let payload = serde_json::to_vec(first).expect("a JSON value serialises");
    dial_with(to, identity, &payload, is_ticket_request(first), max_body_bytes).await
}

/// [`dial`] with the first message's JSON bytes and whether it is a ticket request.
pub async fn dial_with(
    to: &PeerAddress,
    identity: &SiteIdentity,
    payload: &[u8],
    ticket: bool,
    max_body_bytes: usize,
) -> Result<Dialed, Refusal> {
    let responder = to.noise_key().map_err(Refusal::Agent)?;
    let socket = TcpStream::connect((to.host.as_str(), to.port)).await?;
    socket.set_nodelay(true)?;
    let (read, mut writer) = socket.into_split();
    let mut reader = FrameReader::new(read, max_body_bytes);
    let pending = if ticket {
        let (pending, message) = noise::ticket_request(identity.noise_secret(), &responder, payload)?;
        write_frame(&mut writer, &Frame::new(Header::Ticket, message)).await?;
        pending
    } else {
        let announcement = serde_json::to_vec(&identity.agent).expect("a string serialises");
        let n = noise::identity_announcement(&responder, &announcement)?;
        let (pending, k) = noise::key_request(identity.noise_secret(), &responder, payload)?;
        write_frame(&mut writer, &Frame::new(Header::Identity, n)).await?;
        write_frame(&mut writer, &Frame::new(Header::Key, k)).await?;
        pending
    };
    let ack = encrypted(reader.next().await?)?;
    if ack.header != Header::Ack {
        return Err(Refusal::Unexpected(ack.header));
    }
    let (_empty, transport) = pending.read_ack(&ack.body)?;
    Ok(Dialed { reader, writer, transport })
}
