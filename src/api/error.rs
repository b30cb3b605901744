//! API errors: one type, one JSON shape (`{"error": "...", "detail": "..."}`).
//!
//! Bad input is a 400 and names the parameter; no or a bad token is a 401, a role too low a
//! 403; a missing thing is a 404; a database, or a node holding the file, that cannot be
//! reached is a 503; a node holding the file that answers wrongly (refuses us, or sends a
//! segment whose SHA-256 is not the log's) is a 502. A 500 means a fault of ours, never of the
//! request.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::peer::PeerError;
use crate::store::StoreError;

/// An error answer.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing or malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No token, or one that is unknown, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller's role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// No such passage, clip, camera or junction.
    #[error("{0}")]
    NotFound(String),
    /// The database, or the node holding a file, cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The node holding a file answered wrongly (refused this node, or sent a file that is
    /// not the one the log holds).
    #[error("{0}")]
    BadGateway(String),
    /// Our fault; logged.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// 400 about parameter `param`.
    pub fn bad(param: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::BadRequest(format!("{param}: {why}"))
    }

    /// 404.
    pub fn not_found(what: impl std::fmt::Display) -> ApiError {
        ApiError::NotFound(what.to_string())
    }

    /// 500.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        ApiError::Internal(e.to_string())
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Pool(_) | StoreError::NoPrimary(_) | StoreError::WriterClosed => {
                ApiError::Unavailable(e.to_string())
            }
            StoreError::Postgres(ref pg) if pg.is_closed() || pg.as_db_error().is_none() => {
                ApiError::Unavailable(e.to_string())
            }
            // The server turned read-only under an open connection (a fenced old primary).
            StoreError::Postgres(ref pg)
                if pg.code()
                    == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) =>
            {
                ApiError::Unavailable(e.to_string())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<PeerError> for ApiError {
    fn from(e: PeerError) -> Self {
        match e {
            PeerError::Store(s) => ApiError::from(s),
            PeerError::UnknownNode { .. } | PeerError::NotAnswering { .. } => {
                ApiError::Unavailable(e.to_string())
            }
            PeerError::Refused { status: 404, .. } => ApiError::NotFound(e.to_string()),
            PeerError::Refused { .. } | PeerError::Mismatch { .. } => {
                ApiError::BadGateway(e.to_string())
            }
            PeerError::Token(_) => ApiError::Unauthorized(e.to_string()),
            PeerError::Io { .. } | PeerError::Client(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = match &self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::BadGateway(_) => "bad_gateway",
            ApiError::Internal(_) => "internal",
        };
        if status.is_server_error() {
            tracing::error!("{status}: {self}");
        }
        let mut response = (
            status,
            Json(json!({ "error": error, "detail": self.to_string() })),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer realm=\"matthan\""),
            );
        }
        response
    }
}
