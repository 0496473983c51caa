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
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable { .. } | Self::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } => code,
            Self::Validation { .. } => "invalid_request",
            Self::NotFound { .. } => "not_found",
            Self::NoRoute { .. } => "no_route",
            Self::Conflict { .. } => "conflict",
            Self::Unauthorized { .. } => "unauthorized",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType { .. } => "unsupported_media_type",
            Self::Unavailable { .. } => "unavailable",
            Self::Overloaded { .. } => "overloaded",
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
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::Overloaded { retry_after_secs } = self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database query failed"))
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        // The text names the parameter and the problem
        // ("Failed to deserialize query string: limit: invalid digit found in string").
        let text = rejection.body_text();
        let detail = text
            .strip_prefix("Failed to deserialize query string: ")
            .unwrap_or(&text);
        Self::field("query", detail)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(err)
    }
}

/// Gives bare error responses produced outside our handlers (axum's 405,
/// tower-http's 408 timeout) the same JSON shape as ours. Responses that
/// already carry a content type are left alone.
pub async fn shape_bare_errors(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.headers().contains_key(header::CONTENT_TYPE)
    {
        return response;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this route does not accept that method",
        ),
        StatusCode::REQUEST_TIMEOUT => ("timeout", "the request took too long and was stopped"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        s if s.is_client_error() => ("bad_request", "the request was refused"),
        _ => ("internal", "the server failed to handle this request"),
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.to_owned(),
            fields: BTreeMap::new(),
        },
    };
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let mut shaped = (status, axum::Json(body)).into_response();
    for (name, value) in parts.headers.iter() {
        shaped
            .headers_mut()
            .entry(name.clone())
            .or_insert(value.clone());
    }
    shaped
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
