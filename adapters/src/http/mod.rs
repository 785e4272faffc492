//! The HTTP API on warp. Every error is JSON `{"code": "...", "message": "..."}` with a stable code.

pub mod charging;
pub mod codes;
mod error;
mod home;
mod log;
mod mam;
pub mod site;
mod stream_waiters;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use events::Store;

use crate::charging::ChargingService;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::Filter;

pub use error::ApiError;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Becomes true when the server starts to drain: a long-polled read answers at once instead of holding the drain
/// up for its whole wait.
pub type Draining = tokio::sync::watch::Receiver<bool>;

/// The log's, the site's and the home context's routes.
fn api(store: Store, draining: Draining) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone {
    log::routes(store.clone(), draining)
        .or(site::routes(store.clone()))
        .unify()
        .or(mam::routes(store.clone()))
        .unify()
        .or(home::routes(crate::home::HomeService::new(store)))
        .unify()
}

/// All routes of a node without the charging roles.
pub fn routes(store: Store, draining: Draining) -> BoxedFilter<(Response,)> {
    api(store, draining).recover(error::recover).unify().boxed()
}

/// All routes of a node with the charging roles: the app's endpoints and the OCPP websocket besides.
pub fn routes_with_charging(store: Store, charging: ChargingService, draining: Draining) -> BoxedFilter<(Response,)> {
    api(store, draining)
        .or(charging::routes(charging.clone()))
        .unify()
        .or(crate::ocpp::endpoint::routes(charging))
        .unify()
        .recover(error::recover)
        .unify()
        .boxed()
}

/// Binds `listen` (a clear error if it cannot) and serves [`routes`] until `shutdown` completes, finishing open
/// requests.
pub async fn serve(
    listen: SocketAddr,
    store: Store,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let (drain, draining) = tokio::sync::watch::channel(false);
    serve_routes(listen, routes(store, draining), drain, shutdown).await
}

/// Like [`serve`], with [`routes_with_charging`]: what `notch serve` runs.
pub async fn serve_with_charging(
    listen: SocketAddr,
    store: Store,
    charging: ChargingService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let (drain, draining) = tokio::sync::watch::channel(false);
    serve_routes(listen, routes_with_charging(store, charging, draining), drain, shutdown).await
}

async fn serve_routes(
    listen: SocketAddr,
    routes: BoxedFilter<(Response,)>,
    drain: tokio::sync::watch::Sender<bool>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<(SocketAddr, impl Future<Output = ()>)> {
    let shutdown = async move {
        shutdown.await;
        let _ = drain.send(true);
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|err| anyhow::anyhow!("cannot listen on {listen}: {err}"))?;
    let bound = listener.local_addr()?;
    let server = warp::serve(routes).incoming(listener).graceful(shutdown).run();
    Ok((bound, server))
}

/// Parses a request body as a `what`, without ever putting its content into the error message (serde quotes
/// offending values, and a body may hold a secret).
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let place = format!("line {}, column {}, {:?} error", e.line(), e.column(), e.classify());
        ApiError::new("malformed_json", format!("the body is not a valid {what} ({place})"))
    })
}

pub(crate) fn with<T: Clone + Send + Sync + 'static>(
    value: T,
) -> impl Filter<Extract = (T,), Error = Infallible> + Clone {
    warp::any().map(move || value.clone())
}
