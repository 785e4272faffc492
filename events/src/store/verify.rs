//! The verification stage of the append path: limits, pinned signer, and ed25519 signatures checked in batches
//! across all cores, so the writer only ever sees events that may be stored.

use ed25519_dalek::{Signature, VerifyingKey};

use super::error::AppendError;
use super::AppendRequest;
use crate::envelope::validate;
use crate::one_key_batch;

/// Verifies a batch of requests on the rayon pool; returns the requests that passed and, for each that failed,
/// the request with its error. Called off the async threads.
pub fn verify_requests(
    requests: Vec<AppendRequest>,
    pinned: &VerifyingKey,
) -> (Vec<AppendRequest>, Vec<(AppendRequest, AppendError)>) {
    use rayon::prelude::*;

    let mut passed = Vec::with_capacity(requests.len());
    let mut failed = Vec::new();
    let mut candidates = Vec::with_capacity(requests.len());
    for mut request in requests {
        match check_fields(&mut request, pinned) {
            Ok(()) => candidates.push(request),
            Err(err) => failed.push((request, err)),
        }
    }
    // One rayon task per chunk of requests; each chunk is verified as one ed25519 batch, and only a failing
    // chunk pays for event-by-event verification to find the culprit.
    let chunk = candidates.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
    let verdicts: Vec<Vec<Result<(), AppendError>>> =
        candidates.par_chunks_mut(chunk).map(|requests| verify_chunk(requests, pinned)).collect();
    for (request, verdict) in candidates.into_iter().zip(verdicts.into_iter().flatten()) {
        match verdict {
            Ok(()) => passed.push(request),
            Err(err) => failed.push((request, err)),
        }
    }
    (passed, failed)
}

/// Checks each event's stream, names, payload and signer, and fills in the payloads' canonical JSON.
fn check_fields(request: &mut AppendRequest, pinned: &VerifyingKey) -> Result<(), AppendError> {
    let mut canonical = Vec::with_capacity(request.events.len());
    for (part, events) in request.parts() {
        if let Some(event) = request.events[events].iter().find(|e| e.stream_id != part.stream_id) {
            return Err(AppendError::StreamMismatch {
                event_id: event.event_id,
                stream_id: part.stream_id.clone(),
                found: event.stream_id.clone(),
            });
        }
    }
    for event in &request.events {
        canonical.push(
            validate(&event.stream_id, &event.event_type, &event.payload)
                .map_err(|reason| AppendError::Invalid { event_id: event.event_id, reason })?,
        );
        if event.signer != *pinned {
            return Err(AppendError::UntrustedSigner {
                event_id: event.event_id,
                signer: hex::encode(event.signer.as_bytes()),
            });
        }
    }
    request.canonical = canonical;
    Ok(())
}

fn verify_chunk(requests: &mut [AppendRequest], pinned: &VerifyingKey) -> Vec<Result<(), AppendError>> {
    debug_assert!(requests.iter().all(|r| r.canonical.len() == r.events.len()), "check_fields filled them in");
    let messages: Vec<Vec<u8>> = requests
        .iter()
        .flat_map(|r| r.events.iter().zip(&r.canonical))
        .map(|(event, canonical)| event.signed_message_canonical(canonical))
        .collect();
    let message_refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let signatures: Vec<Signature> = requests.iter().flat_map(|r| r.events.iter()).map(|e| e.signature).collect();
    // check_fields let only the pinned signer through: one key, so the cheaper one-key batch.
    if one_key_batch::verify(pinned, &message_refs, &signatures) {
        return vec![Ok(()); requests.len()];
    }
    let mut offset = 0;
    requests
        .iter()
        .map(|request| {
            let verdict = request.events.iter().enumerate().try_for_each(|(i, event)| {
                event
                    .signer
                    .verify_strict(&messages[offset + i], &event.signature)
                    .map_err(|_| AppendError::BadSignature { event_id: event.event_id })
            });
            offset += request.events.len();
            verdict
        })
        .collect()
}
