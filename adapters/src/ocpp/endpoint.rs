//! The websocket endpoint `/ocpp/{chargePointId}` with subprotocol `ocpp1.6`.

use futures::{SinkExt, StreamExt};
use warp::filters::ws::{Message, WebSocket, Ws};
use warp::reply::{Reply, Response};
use warp::Filter;

use super::frame::{self, ErrorCode, MAX_FRAME_BYTES};
use super::handler::handle_text;
use crate::charging::ChargingService;
use crate::http::{with, ApiError};

pub const SUBPROTOCOL: &str = "ocpp1.6";
/// The websocket layer closes the connection above this; frames between `MAX_FRAME_BYTES` and this size get a
/// CallError and the connection survives.
const MAX_WS_MESSAGE_BYTES: usize = 4 * MAX_FRAME_BYTES;
/// OCPP 1.6 charge box identities are at most 48 characters (CiString48 in BootNotification's identity).
const MAX_CHARGE_POINT_ID_CHARS: usize = 48;

pub fn routes(service: ChargingService) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    warp::path!("ocpp" / String)
        .and(warp::ws())
        .and(warp::header::optional::<String>("sec-websocket-protocol"))
        .and(with(service))
        .map(upgrade)
}

fn valid_charge_point_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_CHARGE_POINT_ID_CHARS
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

fn upgrade(charge_point_id: String, ws: Ws, protocols: Option<String>, service: ChargingService) -> Response {
    if !valid_charge_point_id(&charge_point_id) {
        return ApiError::new(
            "bad_charge_point_id",
            format!("a charge point id is 1 to {MAX_CHARGE_POINT_ID_CHARS} of A-Z a-z 0-9 - _ ."),
        )
        .into_response();
    }
    let offers_ocpp16 = protocols.as_deref().unwrap_or_default().split(',').any(|p| p.trim() == SUBPROTOCOL);
    if !offers_ocpp16 {
        return ApiError::new("subprotocol_required", format!("connect with the websocket subprotocol {SUBPROTOCOL}"))
            .into_response();
    }
    let reply =
        ws.max_message_size(MAX_WS_MESSAGE_BYTES).on_upgrade(move |socket| serve(socket, charge_point_id, service));
    warp::reply::with_header(reply, "sec-websocket-protocol", SUBPROTOCOL).into_response()
}

async fn serve(socket: WebSocket, charge_point_id: String, service: ChargingService) {
    let (session, mut outgoing) = service.registry().connect(&charge_point_id);
    tracing::info!(charge_point_id, "charge point connected");
    let (mut sink, mut stream) = socket.split();
    loop {
        let reply = tokio::select! {
            message = stream.next() => match message {
                Some(Ok(message)) if message.is_text() => {
                    let text = message.to_str().unwrap_or_default();
                    handle_text(&service, &charge_point_id, text).await
                }
                Some(Ok(message)) if message.is_binary() => {
                    Some(frame::call_error("-1", ErrorCode::FormationViolation, "OCPP-J frames are text"))
                }
                Some(Ok(message)) if message.is_close() => break,
                Some(Ok(_)) => None,
                Some(Err(err)) => {
                    tracing::warn!(charge_point_id, "websocket error: {err}");
                    break;
                }
                None => break,
            },
            call = outgoing.recv() => match call {
                Some(text) => Some(text),
                // A newer connection of the same charge point replaced this one.
                None => break,
            },
        };
        if let Some(text) = reply {
            if sink.send(Message::text(text)).await.is_err() {
                break;
            }
        }
    }
    service.registry().disconnect(&charge_point_id, session);
    tracing::info!(charge_point_id, "charge point disconnected");
}
