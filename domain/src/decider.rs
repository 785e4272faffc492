//! The one shape every aggregate of every bounded context (site, home, charging) takes.

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
