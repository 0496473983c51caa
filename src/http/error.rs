//! The one HTTP error type of the service, and its JSON shape:
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`.
//!
//! Every handler and extractor returns [`ApiError`]. Client mistakes become a
//! 4xx that says what was wrong and where (`fields` maps a JSON path such as
//! `items[3].essay` to what is wrong with it). Server failures are logged with
//! their cause and shown to the client only as a generic message, so internals
//! (SQL, file paths) never leak.

use std::collections::BTreeMap;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be parsed at all (malformed JSON, invalid UTF-8).
    #[error("{message}")]
    BadRequest {
        /// Machine-readable reason, e.g. `malformed_json`.
        code: &'static str,
        /// What was wrong, for people.
        message: String,
    },
    /// 422: the request parses but some fields are invalid.
    #[error("{message}")]
    Validation {
        /// What was wrong overall.
        message: String,
        /// Each offending field (JSON path) and what is wrong with it.
        fields: BTreeMap<String, String>,
    },
    /// 404: the id names nothing.
    #[error("no {what} with id {id:?}")]
    NotFound {
        /// The kind of thing, e.g. `prompt`.
        what: &'static str,
        /// The id that was asked for.
        id: String,
    },
    /// 404: no route at this path.
    #[error("no route for {method} {path}")]
    NoRoute {
        /// The request method.
        method: String,
        /// The request path.
        path: String,
    },
    /// 409: the request conflicts with the current state (e.g. a duplicate id).
    #[error("{message}")]
    Conflict {
        /// What conflicts.
        message: String,
    },
    /// 401: missing or wrong credentials.
    #[error("{message}")]
    Unauthorized {
        /// Which credentials were expected.
        message: String,
    },
    /// 403: the credentials are valid but may not be used this way (a
    /// session cookie on a write from another site).
    #[error("{message}")]
    Forbidden {
        /// What was refused and how to do it instead.
        message: String,
    },
    /// 413: the body is larger than the limit for this route.
    #[error("the request body is larger than the limit of {limit} bytes for this route")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: the body is not declared as JSON.
    #[error("{message}")]
    UnsupportedMediaType {
        /// What content type was expected.
        message: String,
    },
    /// 429: too many requests of this client, or of this kind (queued
    /// jobs, event streams); `Retry-After` says when to try again.
    #[error("{message}")]
    TooManyRequests {
        /// Machine-readable reason, e.g. `rate_limited`.
        code: &'static str,
        /// What was over which limit, for people.
        message: String,
        /// How long to wait; sent as `Retry-After` in whole seconds (at least 1).
        retry_after: std::time::Duration,
    },
    /// 503: the service cannot serve this yet (e.g. no model loaded).
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
    },
    /// 503: every grading CPU slot is busy and the waiting room is full; the
    /// request was shed before any work. Carries `Retry-After`.
    #[error(
        "the server is grading at capacity and sheds this request; retry after {retry_after_secs} s"
    )]
    Overloaded {
        /// Seconds the client should wait before retrying.
        retry_after_secs: u64,
    },
    /// 503: the database answers but refuses writes (read-only, full, failing
    /// storage); nothing was changed. Grading and reads go on.
    #[error(
        "the database cannot be written right now (it is {}); nothing was changed. \
         Grading and reading still work; retry later",
        .kind.describe()
    )]
    DatabaseNotWritable {
        /// Why it refuses writes.
        kind: crate::store::writability::NotWritable,
    },
    /// 500: our fault. The cause is logged, never sent.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl ApiError {
    /// A 422 about one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let (field, message) = (field.into(), message.into());
        Self::Validation {
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field, message)]),
        }
    }

    /// A 422 about several fields at once (never empty).
    pub fn fields(fields: BTreeMap<String, String>) -> Self {
        let message = fields
            .iter()
            .map(|(f, m)| format!("{f}: {m}"))
            .collect::<Vec<_>>()
            .join("; ");
        Self::Validation { message, fields }
    }

    /// The HTTP status of this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound { .. } | Self::NoRoute { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. }
            | Self::DatabaseNotWritable { .. }
            | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::TooManyRequests { code, .. } => code,
            Self::Validation { .. } => "invalid_request",
            Self::NotFound { .. } => "not_found",
            Self::NoRoute { .. } => "no_route",
            Self::Conflict { .. } => "conflict",
            Self::Unauthorized { .. } => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Unavailable { .. } => "unavailable",
            Self::Overloaded { .. } => "overloaded",
            Self::DatabaseNotWritable { .. } => "database_not_writable",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        let message = match self {
            // The cause goes to the log (see into_response), not to the client.
            Self::Internal(_) => {
                "the server failed to handle this request; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let fields = match self {
            Self::Validation { fields, .. } => fields.clone(),
            _ => BTreeMap::new(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                fields,
            },
        }
    }
}

/// The JSON shape of every error response.
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The inside of [`ErrorBody`].
#[derive(Debug, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `invalid_request`, `not_found`.
    pub code: String,
    /// What went wrong, in plain words.
    pub message: String,
    /// For 422: each offending field (JSON path) and what is wrong with it.
    pub fields: BTreeMap<String, String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        if let Self::Internal(cause) = &self {
            tracing::error!(error = format!("{cause:#}"), "request failed");
        }
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after_seconds(*retry_after));
        }
        if let Self::DatabaseNotWritable { kind } = &self {
            tracing::warn!(
                reason = kind.describe(),
                "a write was refused by the database"
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(DATABASE_RETRY_AFTER_SECONDS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::Overloaded { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response
    }
}

/// `Retry-After` in whole seconds, rounded up, at least 1 (0 would invite
/// an immediate retry that fails again).
pub fn retry_after_seconds(wait: std::time::Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}
/// The `Retry-After` of a refused write: about two probes of the database
/// (see `store::writability`), by when a cleared fault shows.
const DATABASE_RETRY_AFTER_SECONDS: &str = "5";

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match crate::store::writability::not_writable(&err) {
            Some(kind) => Self::DatabaseNotWritable { kind },
            None => Self::Internal(anyhow::Error::new(err).context("database query failed")),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        match crate::store::writability::not_writable_in_chain(&err) {
            Some(kind) => Self::DatabaseNotWritable { kind },
            None => Self::Internal(err),
        }
    }
}

/// Gives error responses produced outside our handlers the same JSON shape
/// as ours: bare ones (axum's 405, tower-http's 408 timeout) and plain-text
/// ones (the rejections of axum's own extractors, should a handler use one).
/// A plain-text 4xx keeps its text as the message; a 5xx never shows its
/// text, which may name internals. JSON and other typed bodies are left alone.
pub async fn shape_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let plain_text = match response.headers().get(header::CONTENT_TYPE) {
        None => false,
        Some(value) => value
            .to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().starts_with("text/plain")),
    };
    if response.headers().contains_key(header::CONTENT_TYPE) && !plain_text {
        return response;
    }
    let (code, generic) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was stopped"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "the body's content type is not accepted here",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("invalid_request", "the request is invalid"),
        s if s.is_client_error() => ("bad_request", "the request was refused"),
        _ => ("internal", "the server failed to handle this request"),
    };
    let (mut parts, body) = response.into_parts();
    let mut message = generic.to_owned();
    if plain_text && status.is_client_error() {
        // Extractor rejections are a sentence or two; a longer text is cut.
        if let Ok(bytes) = axum::body::to_bytes(body, 4096).await {
            let text = String::from_utf8_lossy(&bytes).trim().to_owned();
            if !text.is_empty() {
                message = text;
            }
        }
    }
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message,
            fields: BTreeMap::new(),
        },
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::CONTENT_TYPE);
    let mut shaped = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        shaped
            .headers_mut()
            .entry(name.clone())
            .or_insert(value.clone());
    }
    shaped
}

/// The answer to a handler that panicked (the catch-panic layer calls it): a
/// 500 in the JSON shape, the panic's message in the log and never in the
/// response. The connection stays open for the client's next request.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "a panic without a message".to_owned()
    };
    ApiError::Internal(anyhow::anyhow!("the handler panicked: {what}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_the_client() {
        let err = ApiError::Internal(anyhow::anyhow!("secret path /etc/x"));
        let body = serde_json::to_string(&err.body()).unwrap();
        assert!(!body.contains("secret"));
        assert_eq!(err.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_shed_request_is_a_503_with_retry_after_and_the_json_shape() {
        let response = ApiError::Overloaded {
            retry_after_secs: 1,
        }
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn too_many_requests_carries_retry_after_in_whole_seconds_rounded_up() {
        let err = ApiError::TooManyRequests {
            code: "rate_limited",
            message: "slow down".to_owned(),
            retry_after: std::time::Duration::from_millis(1200),
        };

        let response = err.into_response();

        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(retry_after_seconds(std::time::Duration::ZERO), "1");
    }

    #[test]
    fn validation_errors_list_every_field() {
        let err = ApiError::fields(BTreeMap::from([
            ("essay".to_owned(), "is empty".to_owned()),
            ("prompt_id".to_owned(), "is unknown".to_owned()),
        ]));
        let body = err.body();
        assert_eq!(body.error.code, "invalid_request");
        assert_eq!(body.error.fields.len(), 2);
        assert!(body.error.message.contains("essay: is empty"));
    }
}
