//! JSON errors with stable codes, for handlers and for warp's own rejections.

use std::convert::Infallible;

use events::AppendError;
use serde_json::json;
use warp::http::StatusCode;
use warp::reply::{Reply, Response};

use crate::command::LogError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// An answer with `code`; its status is the code's one status ([`super::codes`]).
    pub fn new(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status: super::codes::status_of(code), code, message: message.into() }
    }

    /// The database could not be reached: `unavailable`, worth trying again.
    pub fn unavailable(err: impl std::fmt::Display) -> ApiError {
        ApiError::new("unavailable", format!("the log is unavailable: {err}"))
    }
}

/// How every context answers a command the log could not take.
impl From<LogError> for ApiError {
    fn from(err: LogError) -> ApiError {
        let code = match &err {
            LogError::Contended { .. } => "contended",
            LogError::TooLong { .. } => "stream_too_long",
            LogError::Append(AppendError::Invalid { .. }) => "invalid_event",
            LogError::Corrupt { .. } | LogError::Append(_) => "internal",
            LogError::Views(projections::ViewError::Corrupt { .. }) => "internal",
            LogError::Store(_) | LogError::Views(_) => "unavailable",
        };
        let transient = matches!(err, LogError::Append(AppendError::Unavailable(_)));
        if transient {
            return ApiError::new("unavailable", err.to_string());
        }
        let answer = ApiError::new(code, err.to_string());
        if answer.status.is_server_error() {
            tracing::warn!("a command failed in the log: {err}");
        }
        answer
    }
}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let body = warp::reply::json(&json!({ "code": self.code, "message": self.message }));
        warp::reply::with_status(body, self.status).into_response()
    }
}

/// Maps warp's rejections (no route, bad query, wrong method, body too large) to JSON errors.
pub async fn recover(rejection: warp::Rejection) -> Result<Response, Infallible> {
    let error = if rejection.is_not_found() {
        ApiError::new("not_found", "no such resource")
    } else if let Some(err) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::new("bad_query", err.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new("method_not_allowed", "method not allowed on this resource")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new("payload_too_large", format!("the body exceeds {} bytes", super::MAX_BODY_BYTES))
    } else if let Some(err) = rejection.find::<warp::reject::UnsupportedMediaType>() {
        ApiError::new("unsupported_media_type", err.to_string())
    } else if let Some(err) = rejection.find::<warp::reject::LengthRequired>() {
        ApiError::new("length_required", err.to_string())
    } else {
        tracing::warn!("unhandled rejection: {rejection:?}");
        ApiError::new("internal", "internal error")
    };
    Ok(error.into_response())
}
