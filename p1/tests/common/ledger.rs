//! Stands in for the ledger's MAM endpoint in tests until the real one exists.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use mam::{Envelope, SealedMessage};
use warp::Filter;

/// Stands in for the ledger's MAM endpoint until the real one exists: stores each message once
/// by index, answers 201 for new, 200 for a repeat, 409 for a different message at a taken index.
#[derive(Default)]
pub struct FakeLedger {
    pub by_index: BTreeMap<u64, SealedMessage>,
    pub arrivals: Vec<u64>,
    pub repeats: u64,
    /// Swallow the answer to the first store, as a dropped connection would.
    pub lose_first_answer: bool,
}

pub async fn start_ledger(addr: SocketAddr, ledger: Arc<Mutex<FakeLedger>>) -> tokio::task::JoinHandle<()> {
    let route =
        warp::post().and(warp::path!("mam" / "messages")).and(warp::body::json()).map(move |envelope: Envelope| {
            let message = match envelope.open().and_then(|m| m.verify_signature().map(|_| m)) {
                Ok(m) => m,
                Err(_) => return warp::http::StatusCode::BAD_REQUEST,
            };
            let mut l = ledger.lock().unwrap();
            if let Some(existing) = l.by_index.get(&message.index) {
                if *existing == message {
                    l.repeats += 1;
                    return warp::http::StatusCode::OK;
                }
                return warp::http::StatusCode::CONFLICT;
            }
            l.arrivals.push(message.index);
            l.by_index.insert(message.index, message);
            if std::mem::take(&mut l.lose_first_answer) {
                return warp::http::StatusCode::SERVICE_UNAVAILABLE;
            }
            warp::http::StatusCode::CREATED
        });
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(warp::serve(route).incoming(listener).run())
}
