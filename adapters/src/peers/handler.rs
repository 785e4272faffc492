//! What the link asks of the business above it: a verdict on each ticket, and the messages of open connections.

use futures::future::BoxFuture;
use serde_json::Value;

/// A ticket request (`I`) as the responder read it.
pub struct TicketClaim<'a> {
    /// The agent the request's `from` names.
    pub agent: &'a str,
    /// Whether the handshake's static key is that agent's key. When it is not the connection is refused
    /// whatever the verdict, but the ticket is spent all the same.
    pub key_proved: bool,
    /// The whole `I` payload (`{target: "tally", action: "ticket", to, from, ticket: {token, cert}}`).
    pub message: &'a Value,
}

pub trait PeerHandler: Send + Sync + 'static {
    /// Judges a ticket request and spends its ticket, whatever the verdict. `Err(reason)` closes the connection
    /// before any `A`. The request itself is handled here: it is not delivered again to [`Self::receive`].
    fn redeem<'a>(&'a self, claim: TicketClaim<'a>) -> BoxFuture<'a, Result<(), String>>;

    /// A message from an authenticated peer: a `K` payload, then each `T`, in the order they arrived.
    fn receive<'a>(&'a self, from: &'a str, message: Value) -> BoxFuture<'a, ()>;
}
