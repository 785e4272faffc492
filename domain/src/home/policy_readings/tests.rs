use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::*;
use crate::home::error::HomeError;
use crate::{given_when, Decider};

fn t(seconds: i64) -> DateTime<Utc> {
    "2026-12-01T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn policy() -> Uuid {
    Uuid::from_u128(7)
}

fn open(channel: u8, from_index: u64) -> PolicyReadingsCommand {
    PolicyReadingsCommand::Open(Opening {
        policy_id: policy(),
        device_id: "abcdefghijklmnop".into(),
        home: hex::encode([5; 32]),
        channel: hex::encode([channel; 32]),
        from_index,
        epoch: 1,
        at: t(0),
    })
}

fn values(power_w: i64) -> ReadingValues {
    ReadingValues {
        from: t(1),
        until: t(1),
        samples: 1,
        power_import_w: Some(power_w),
        power_export_w: None,
        energy_import_wh: None,
        energy_export_wh: None,
        gas_dm3: None,
        phases: None,
    }
}

fn store(index: u64) -> PolicyReadingsCommand {
    PolicyReadingsCommand::Store { index, epoch: 1, values: values(100), at: t(2) }
}

/// The events of `commands` applied in turn, each decided on the state the ones before it made.
fn run(
    commands: Vec<PolicyReadingsCommand>,
) -> (PolicyReadingsState, Vec<Result<Vec<PolicyReadingsEvent>, HomeError>>) {
    let mut state = PolicyReadingsState::default();
    let mut results = vec![];
    for command in commands {
        let result = PolicyReadings::decide(&state, command);
        if let Ok(events) = &result {
            state = events.iter().fold(state, PolicyReadings::evolve);
        }
        results.push(result);
    }
    (state, results)
}

#[test]
fn readings_come_in_channel_order_once_each() {
    let (state, results) = run(vec![open(1, 4), store(4), store(4), store(3), store(6)]);
    assert!(results[1].is_ok());
    assert_eq!(results[2], Err(HomeError::AlreadyStored { index: 4 }), "a repeat after a restart");
    assert_eq!(results[3], Err(HomeError::AlreadyStored { index: 3 }), "before the grant's start");
    assert!(results[4].is_ok(), "a rotation between readings takes an index");
    assert_eq!(state.next_index, 7);
}

#[test]
fn a_rotation_that_leaves_the_provider_out_closes_the_channel() {
    let close = PolicyReadingsCommand::Close { index: 5, because: ClosedBecause::RotatedOut, at: t(3) };
    let (state, results) = run(vec![store(0), open(1, 0), store(0), close, store(6)]);
    assert!(matches!(results[0], Err(HomeError::BadRequest(_))), "nothing to store before a channel is open");
    assert!(state.closed);
    assert_eq!(results[4], Err(HomeError::PolicyEnded { policy_id: policy(), status: "rotated_out" }));
}

#[test]
fn a_channel_opens_once_and_a_new_channel_starts_over() {
    let (state, results) = run(vec![open(1, 0), store(0), open(1, 0), open(2, 9), store(9)]);
    assert_eq!(results[2], Err(HomeError::HandedOver(policy())));
    assert!(results[4].is_ok());
    assert_eq!((state.channel, state.next_index), (Some(hex::encode([2; 32])), 10));
}

#[test]
fn odd_values_are_refused() {
    let mut backwards = values(1);
    backwards.until = t(0);
    let mut big = values(1);
    big.phases = Some(serde_json::json!({ "l1": "x".repeat(3000) }));
    for values in [backwards, big] {
        let given = vec![PolicyReadingsEvent::ChannelOpened {
            policy_id: policy(),
            device_id: "d".into(),
            home: String::new(),
            channel: "c".into(),
            from_index: 0,
            epoch: 0,
            at: t(0),
        }];
        let store = PolicyReadingsCommand::Store { index: 0, epoch: 0, values, at: t(1) };
        let refused = given_when::<PolicyReadings>(&given, store);
        assert!(matches!(refused, Err(HomeError::BadRequest(_))), "{refused:?}");
    }
}
