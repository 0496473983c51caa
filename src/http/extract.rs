//! Request parsing at the edge: the JSON, path and query extractors every
//! handler uses, and the per-route body-size limit. After these, handlers get
//! typed values and never see raw bytes.
//!
//! Why our own extractors: axum's `Json`, `Path` and `Query` answer mistakes
//! in plain text, with messages that do not always say which field was wrong.
//! These answer every mistake with the [`ApiError`] JSON shape, and name the
//! offending value: its JSON path (`items[2].essay`) in a body, its name
//! (`limit`, `id`) in a query or a path.

use std::collections::BTreeMap;
use std::error::Error as StdError;

use axum::body::Body;
use axum::extract::path::ErrorKind as PathErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::{LengthLimitError, Limited};
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;

/// A JSON body deserialized into `T`, or an [`ApiError`] saying what was wrong:
/// 415 without a JSON content type, 413 over the route's size limit, 400 for
/// invalid UTF-8 or malformed JSON, 422 for wrong types, missing or unknown
/// fields (with the field's path).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !has_json_content_type(&req) {
            return Err(ApiError::UnsupportedMediaType {
                message: "the body must be JSON: send the header `Content-Type: application/json`"
                    .to_owned(),
            });
        }
        let limit = req.extensions().get::<BodyLimit>().copied();
        let bytes = read_body(req.into_body(), limit).await?;
        parse_json(&bytes).map(Json)
    }
}

/// Room reserved for a response body before serialising: an explained grade
/// is about 9 KB, and growing the buffer from a few bytes would copy it
/// several times.
const RESPONSE_CAPACITY: usize = 16 * 1024;

impl<T: serde::Serialize> IntoResponse for Json<T> {
    /// Serialises into one contiguous buffer. axum's `Json` writes through a
    /// `BytesMut` writer, which on a 9 KB explained grade cost about a quarter
    /// of the serialisation's instructions (docs/benchmarks.md).
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(RESPONSE_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(err) => {
                ApiError::Internal(anyhow::Error::new(err).context("serialising a response"))
                    .into_response()
            }
        }
    }
}

/// Path parameters deserialized into `T`, or an [`ApiError`]: 400 when a
/// parameter is not valid UTF-8 once percent-decoded, 422 naming the
/// parameter when it does not parse as its type.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(path_rejection_to_api)
    }
}

fn path_rejection_to_api(rejection: PathRejection) -> ApiError {
    let PathRejection::FailedToDeserializePathParams(failed) = rejection else {
        // The route declares no parameters but the handler asks for some:
        // a bug of ours, not of the request.
        return ApiError::Internal(anyhow::anyhow!(
            "path parameters: {}",
            rejection.body_text()
        ));
    };
    match failed.into_kind() {
        PathErrorKind::InvalidUtf8InPathParam { key } => ApiError::BadRequest {
            code: "invalid_path",
            message: format!("the path parameter `{key}` is not valid UTF-8 once percent-decoded"),
        },
        PathErrorKind::ParseErrorAtKey {
            key,
            value,
            expected_type,
        } => ApiError::field(key, format!("{value:?} is not a valid {expected_type}")),
        PathErrorKind::DeserializeError {
            key,
            value,
            message,
        } => ApiError::field(key, format!("{value:?}: {message}")),
        other => ApiError::BadRequest {
            code: "invalid_path",
            message: format!("the path parameters could not be read: {other}"),
        },
    }
}

/// The query string deserialized into `T`, or a 422 [`ApiError`] naming the
/// offending parameter (`limit`: invalid digit found in string).
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(Query)
    }
}

/// Parses a query string (without the `?`) into `T`, naming the parameter
/// that was wrong. Percent-encoded bytes that are not UTF-8 decode to U+FFFD,
/// as browsers do.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(pairs).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        match field_path(&path, &message).as_str() {
            "body" => ApiError::field("query", message),
            field => ApiError::field(field, message),
        }
    })
}

fn has_json_content_type(req: &Request) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body-size limit [`limit_body`] set for this request, kept in the
/// request's extensions so that extractors can say which limit was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimit(pub usize);

/// Reads the whole body, turning the limit set by [`limit_body`] into a 413.
pub async fn read_body(
    body: Body,
    limit: Option<BodyLimit>,
) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|err| {
        if is_body_limit_error(&err) {
            return ApiError::PayloadTooLarge {
                limit: limit.map_or(0, |l| l.0),
            };
        }
        ApiError::BadRequest {
            code: "unreadable_body",
            message: format!("the request body could not be read: {err}"),
        }
    })
}

/// Whether an error (or one of its causes) is the body-size limit set by
/// [`limit_body`] being passed. Extractors other than [`Json`] (multipart
/// uploads) use this to answer 413.
pub fn is_body_limit_error(err: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = cause {
        if e.downcast_ref::<LengthLimitError>().is_some() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// What an array where an object belongs is told.
const NOT_AN_OBJECT: &str = "must be a JSON object, not an array";

/// Parses JSON text into `T`, reporting where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|err| ApiError::BadRequest {
        code: "invalid_utf8",
        message: format!(
            "the body is not valid UTF-8: the byte at offset {} starts an invalid sequence",
            err.valid_up_to()
        ),
    })?;
    // Every body of this API is an object; serde's derived structs would
    // also take an array of their fields in order, which the schema refuses.
    if text.trim_start().starts_with('[') {
        return Err(ApiError::field("body", NOT_AN_OBJECT));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(path_error_to_api)?;
    de.end().map_err(|err| ApiError::BadRequest {
        code: "malformed_json",
        message: format!("the body is not valid JSON: {err}"),
    })?;
    Ok(value)
}

/// Deserializes one part of a larger body (a batch item) whose JSON path is
/// `prefix`, naming fields by their full path (`items[3].essay`).
pub fn from_value<T: DeserializeOwned>(
    value: serde_json::Value,
    prefix: &str,
) -> Result<T, ApiError> {
    if value.is_array() {
        return Err(ApiError::field(prefix, NOT_AN_OBJECT));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        // Errors from a Value carry no line and column, so the text is clean.
        let message = err.into_inner().to_string();
        let field = match field_path(&path, &message).as_str() {
            "body" => prefix.to_owned(),
            inner => format!("{prefix}.{inner}"),
        };
        ApiError::Validation {
            message: format!("{field}: {message}"),
            fields: BTreeMap::from([(field, message)]),
        }
    })
}

fn path_error_to_api(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.into_inner();
    match inner.classify() {
        serde_json::error::Category::Data => {
            let full = inner.to_string();
            let suffix = format!(" at line {} column {}", inner.line(), inner.column());
            let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
            let field = field_path(&path, &message);
            ApiError::Validation {
                message: format!("{field}: {message}"),
                fields: BTreeMap::from([(field, message)]),
            }
        }
        _ => ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the body is not valid JSON: {inner}"),
        },
    }
}

/// The path of the offending value. serde reports a missing field at its
/// parent's path ("missing field `essay`" at "."), so the name is appended.
fn field_path(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match named {
        // serde_path_to_error already includes an unknown field in the path.
        Some(name) if !parent.ends_with(name) => {
            if parent.is_empty() {
                name.to_owned()
            } else {
                format!("{parent}.{name}")
            }
        }
        _ if parent.is_empty() => "body".to_owned(),
        _ => parent.to_owned(),
    }
}

/// The body-size limit of a request, by route: the batch endpoint, a
/// prompt's examples and dataset uploads legitimately carry megabytes; everything else is one essay at most.
pub fn body_limit_for(settings: &crate::config::Settings, method: &Method, path: &str) -> usize {
    if path == "/api/v1/grade/batch"
        || (method == Method::POST
            && path.starts_with("/api/v1/prompts/")
            && path.ends_with("/examples"))
    {
        // Up to 1,000 essays, like a batch.
        settings.batch_body_limit
    } else if method == Method::POST && path.starts_with("/api/v1/datasets") {
        settings.upload_body_limit
    } else {
        settings.grade_body_limit
    }
}

/// Middleware: refuses a body over its route's limit with 413 before reading
/// it when `Content-Length` already says so, and otherwise caps the body so
/// that reading stops (and answers 413) as soon as the limit is passed.
pub async fn limit_body(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = body_limit_for(&state.settings, req.method(), req.uri().path());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return ApiError::PayloadTooLarge { limit }.into_response();
    }
    let mut req = req.map(|body| Body::new(Limited::new(body, limit)));
    req.extensions_mut().insert(BodyLimit(limit));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        essay: String,
        n: Option<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Batch {
        items: Vec<Item>,
    }

    fn fields_of(err: ApiError) -> BTreeMap<String, String> {
        match err {
            ApiError::Validation { fields, .. } => fields,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn an_array_in_place_of_an_object_is_refused_at_the_top_and_in_a_batch_item() {
        // serde would read `["a", 1]` as `Item { essay: "a", n: 1 }`.
        let top = fields_of(parse_json::<Item>(br#" ["a", 1]"#).unwrap_err());
        assert_eq!(top["body"], NOT_AN_OBJECT);
        let item =
            fields_of(from_value::<Item>(serde_json::json!(["a", 1]), "items[2]").unwrap_err());
        assert_eq!(item["items[2]"], NOT_AN_OBJECT);
        assert!(parse_json::<Batch>(br#"{"items": [{"essay": "a"}]}"#).is_ok());
    }

    #[test]
    fn a_missing_field_is_named_with_its_path() {
        let err = parse_json::<Batch>(br#"{"items": [{"essay": "a"}, {}]}"#).unwrap_err();
        let fields = fields_of(err);
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["items[1].essay"]);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_path() {
        let err = parse_json::<Item>(br#"{"essay": "a", "colour": 1}"#).unwrap_err();
        let fields = fields_of(err);
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["colour"]);
    }

    #[test]
    fn a_wrong_type_is_named_with_its_path() {
        let err = parse_json::<Item>(br#"{"essay": "a", "n": "three"}"#).unwrap_err();
        let fields = fields_of(err);
        assert!(fields["n"].contains("invalid type"), "{fields:?}");
    }

    #[test]
    fn a_batch_item_error_is_named_with_its_full_path() {
        let err = from_value::<Item>(serde_json::json!({"essay": 3}), "items[7]").unwrap_err();
        assert_eq!(
            fields_of(err).keys().collect::<Vec<_>>(),
            ["items[7].essay"]
        );
        let err = from_value::<Item>(serde_json::json!("just text"), "items[2]").unwrap_err();
        assert_eq!(fields_of(err).keys().collect::<Vec<_>>(), ["items[2]"]);
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Page {
        limit: Option<i64>,
        cursor: String,
    }

    #[test]
    fn a_query_parameter_of_the_wrong_type_is_named() {
        let err = parse_query::<Page>("cursor=a&limit=ten").unwrap_err();
        let fields = fields_of(err);
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["limit"]);
        assert!(fields["limit"].contains("invalid digit"), "{fields:?}");
    }

    #[test]
    fn a_missing_query_parameter_is_named() {
        let err = parse_query::<Page>("limit=3").unwrap_err();
        assert_eq!(fields_of(err).keys().collect::<Vec<_>>(), ["cursor"]);
    }

    #[test]
    fn a_query_string_decodes_percent_escapes() {
        let page = parse_query::<Page>("cursor=a%20b&limit=7").unwrap();
        assert_eq!((page.cursor.as_str(), page.limit), ("a b", Some(7)));
    }

    #[test]
    fn malformed_json_and_invalid_utf8_are_400s() {
        let err = parse_json::<Item>(br#"{"essay": "#).unwrap_err();
        assert_eq!(err.code(), "malformed_json");
        let err = parse_json::<Item>(b"{\"essay\": \"\xff\"}").unwrap_err();
        assert_eq!(err.code(), "invalid_utf8");
        let err = parse_json::<Item>(br#"{"essay": "a"} trailing"#).unwrap_err();
        assert_eq!(err.code(), "malformed_json");
    }
}
