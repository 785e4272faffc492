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
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into() }
    }
}

/// How every context answers a command the log could not take.
impl From<LogError> for ApiError {
    fn from(err: LogError) -> ApiError {
        let (status, code) = match &err {
            LogError::Contended { .. } => (StatusCode::CONFLICT, "contended"),
            LogError::TooLong { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "stream_too_long"),
            LogError::Append(AppendError::Invalid { .. }) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
            LogError::Corrupt { .. } | LogError::Append(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            LogError::Views(projections::ViewError::Corrupt { .. }) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            LogError::Store(_) | LogError::Views(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        let transient = matches!(err, LogError::Append(AppendError::Unavailable(_)));
        if transient {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", err.to_string());
        }
        if status.is_server_error() {
            tracing::warn!("a command failed in the log: {err}");
        }
        ApiError::new(status, code, err.to_string())
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
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    } else if let Some(err) = rejection.find::<warp::reject::InvalidQuery>() {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_query", err.to_string())
    } else if rejection.find::<warp::reject::MethodNotAllowed>().is_some() {
        ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this resource")
    } else if rejection.find::<warp::reject::PayloadTooLarge>().is_some() {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {} bytes", super::MAX_BODY_BYTES),
        )
    } else if let Some(err) = rejection.find::<warp::reject::UnsupportedMediaType>() {
        ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", err.to_string())
    } else if let Some(err) = rejection.find::<warp::reject::LengthRequired>() {
        ApiError::new(StatusCode::LENGTH_REQUIRED, "length_required", err.to_string())
    } else {
        tracing::warn!("unhandled rejection: {rejection:?}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    };
    Ok(error.into_response())
}
