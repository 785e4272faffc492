//! The one shape every aggregate of every bounded context (site, home, charging) takes, and what the command
//! side needs to store it: the stream it lives in and the names of its events.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// An aggregate's rules: `decide` turns a command into events (or refuses it), `evolve` folds an event into
/// the state. Both are pure, so the rules are unit-tested without a database and replayed by auditors.
pub trait Decider {
    type State: Default;
    type Command;
    type Event;
    type Error;

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The state after a history of events: how the command side rebuilds an aggregate from its stream.
    fn replay<'a>(events: impl IntoIterator<Item = &'a Self::Event>) -> Self::State
    where
        Self::Event: 'a,
    {
        events.into_iter().fold(Self::State::default(), Self::evolve)
    }
}

/// A decider that lives in exactly one stream of the log: every event of the aggregate is in it, and nothing
/// else is. The command runner loads that stream, decides, and appends with the stream's exact version.
pub trait Aggregate: Decider<Event: DomainEvent> {
    /// What names one aggregate of this kind (a CID, a tally id, a channel key).
    type Id: ?Sized;

    /// The aggregate's stream: the one place its name is built.
    fn stream_id(id: &Self::Id) -> String;

    /// Whether `stream_id` is the stream of an aggregate of this kind (how projections route what they read).
    fn owns_stream(stream_id: &str) -> bool;

    /// Whether the state depends on the stream's last event alone, so that the command side may read just that
    /// one (a MAM channel: its head). A decider says so only when `evolve` ignores the state it is given.
    const STATE_IS_LAST_EVENT: bool = false;
}

/// An event as the log stores it: its payload is the serde form, whose tag `type` is the event's type name,
/// and that name comes from one place, the variant's name (`strum::IntoStaticStr`).
pub trait DomainEvent: Serialize + DeserializeOwned {
    fn event_type(&self) -> &'static str;
}

impl<E> DomainEvent for E
where
    E: Serialize + DeserializeOwned,
    for<'a> &'a E: Into<&'static str>,
{
    fn event_type(&self) -> &'static str {
        self.into()
    }
}

/// Given-when-then for any decider: the events `command` yields after `history`, or the refusal. The one helper
/// every context's decider tests go through.
pub fn given_when<D: Decider>(history: &[D::Event], command: D::Command) -> Result<Vec<D::Event>, D::Error> {
    D::decide(&D::replay(history), command)
}
