//! The correspondence's rules, command by command.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::peers::PeerError;
use crate::Decider;

fn t(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
}

fn run(state: PeerState, command: PeerCommand) -> (PeerState, Vec<PeerEvent>) {
    let events = Peer::decide(&state, command).unwrap();
    (events.iter().fold(state, Peer::evolve), events)
}

fn queued(count: u64) -> PeerState {
    (1..=count).fold(PeerState::default(), |state, n| {
        run(state, PeerCommand::Queue { message: json!({"target": "chit", "n": n}), at: t(0) }).0
    })
}

#[test]
fn messages_are_numbered_in_order_and_wait_until_acknowledged() {
    let state = queued(3);
    assert_eq!((state.sent, state.pending.keys().copied().collect::<Vec<_>>()), (3, vec![1, 2, 3]));
    let (state, events) = run(state, PeerCommand::Acknowledge { through: 2, at: t(1) });
    assert_eq!(events, vec![PeerEvent::PeerMessagesAcknowledged { through: 2, at: t(1) }]);
    assert_eq!(state.pending.keys().copied().collect::<Vec<_>>(), vec![3], "only the unacknowledged are resent");
    let (state, _) = run(state, PeerCommand::Queue { message: json!({"n": 4}), at: t(2) });
    assert_eq!(state.pending.keys().copied().collect::<Vec<_>>(), vec![3, 4]);
}

#[test]
fn an_acknowledgement_repeats_harmlessly_and_never_names_what_was_not_sent() {
    let (state, _) = run(queued(3), PeerCommand::Acknowledge { through: 3, at: t(1) });
    assert_eq!(run(state.clone(), PeerCommand::Acknowledge { through: 2, at: t(2) }).1, vec![]);
    assert_eq!(run(state.clone(), PeerCommand::Acknowledge { through: 3, at: t(2) }).1, vec![]);
    let beyond = Peer::decide(&state, PeerCommand::Acknowledge { through: 4, at: t(2) });
    assert_eq!(beyond, Err(PeerError::AckBeyondSent { through: 4, sent: 3 }));
    assert!(state.pending.is_empty());
}

#[test]
fn the_queue_is_bounded_while_the_other_site_is_away() {
    let state = queued(MAX_PENDING as u64);
    let refused = Peer::decide(&state, PeerCommand::Queue { message: json!({}), at: t(1) });
    assert_eq!(refused, Err(PeerError::TooManyPending { pending: MAX_PENDING, most: MAX_PENDING }));
    let (state, _) = run(state, PeerCommand::Acknowledge { through: 1, at: t(2) });
    assert!(Peer::decide(&state, PeerCommand::Queue { message: json!({}), at: t(3) }).is_ok(), "room again");
    let not_object = Peer::decide(&PeerState::default(), PeerCommand::Queue { message: json!([1]), at: t(0) });
    assert_eq!(not_object, Err(PeerError::NotAnObject));
}

#[test]
fn incoming_messages_are_taken_in_order_each_once() {
    let (state, events) = run(PeerState::default(), PeerCommand::Accept { seq: 1, at: t(0) });
    assert_eq!(events, vec![PeerEvent::PeerMessageAccepted { seq: 1, at: t(0) }]);
    assert_eq!(run(state.clone(), PeerCommand::Accept { seq: 1, at: t(1) }).1, vec![], "a repeat changes nothing");
    let ahead = Peer::decide(&state, PeerCommand::Accept { seq: 3, at: t(1) });
    assert_eq!(ahead, Err(PeerError::OutOfOrder { seq: 3, expected: 2 }));
    let (state, _) = run(state, PeerCommand::Accept { seq: 2, at: t(2) });
    assert_eq!(state.accepted_through, 2);
}

#[test]
fn the_stream_is_named_by_the_other_sites_agent_id() {
    use crate::Aggregate;
    assert_eq!(Peer::stream_id("c2l0ZQ"), "peer-c2l0ZQ");
    assert!(Peer::owns_stream("peer-c2l0ZQ") && !Peer::owns_stream("tally-1"));
}
