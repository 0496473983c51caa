//! Who may call what: the admin token (and the session cookie it buys), and
//! the optional API keys that protect grading.
//!
//! Secrets are never compared directly: both sides are hashed with SHA-256 and
//! the digests compared in constant time (`subtle`), so response timing says
//! nothing about how much of a guess was right. Only digests are stored.
//!
//! - [`AdminAuth`]: an extractor for admin routes; accepts
//!   `Authorization: Bearer <admin token>` or a live session cookie.
//! - [`GradingAccess`]: an extractor for grading and prompts; open unless API
//!   keys are configured, then needs a key (or admin credentials).
//! - [`PromptWriteAccess`]: an extractor for registering prompts; always
//!   needs a key or admin credentials (only the admin when there are no keys).
//! - [`CredentialedAccess`]: an extractor for a prompt's examples; always
//!   needs a key or admin credentials (only the admin when there are no keys).
//! - `POST /api/v1/session` / `DELETE /api/v1/session`: exchange the admin token
//!   for an HttpOnly, SameSite=Strict cookie (browsers' EventSource cannot send
//!   an Authorization header), and end it; `GET /api/v1/session` says
//!   whether the caller is admin (the admin page asks it on load).

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AppState;
use super::client::ClientIp;
use super::error::ApiError;
use super::extract::Json;
use crate::store;

/// The cookie that carries an admin session.
pub const SESSION_COOKIE: &str = "essay_grader_session";

/// SHA-256 of a secret.
pub fn digest(secret: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(&Sha256::digest(secret.as_bytes()));
    out
}

/// A fresh random secret: 32 bytes from the thread's CSPRNG, as hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The digests the service checks credentials against.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// SHA-256 of the admin token.
    pub admin: [u8; 32],
    /// SHA-256 of each API key; empty means grading is open.
    pub api_keys: Vec<[u8; 32]>,
}

impl Credentials {
    /// Whether `secret` is the admin token (constant time).
    pub fn is_admin_token(&self, secret: &str) -> bool {
        digest(secret).ct_eq(&self.admin).into()
    }

    /// Whether `secret` is one of the API keys. Every key is compared, so the
    /// time taken does not reveal which one matched.
    pub fn is_api_key(&self, secret: &str) -> bool {
        let d = digest(secret);
        self.api_keys
            .iter()
            .fold(subtle::Choice::from(0), |acc, k| acc | d.ct_eq(k))
            .into()
    }

    /// Whether `secret` is any credential we know (the admin token or an API
    /// key); one that is not counts as a guess for the throttle.
    pub fn knows(&self, secret: &str) -> bool {
        self.is_admin_token(secret) | self.is_api_key(secret)
    }
}

/// Settles the admin token at start-up: the configured one if given;
/// otherwise the stored digest; otherwise a new token, stored as a digest and
/// returned in clear (the only time it exists in clear) to be printed once.
pub async fn resolve_admin_token(
    pool: &crate::store::Db,
    configured: Option<&str>,
) -> Result<([u8; 32], Option<String>), sqlx::Error> {
    // A blank token (e.g. `ESSAY_GRADER_ADMIN_TOKEN=` from a compose file)
    // counts as unset: accepting it would open the admin API to anyone.
    if let Some(token) = configured.map(str::trim).filter(|t| !t.is_empty()) {
        return Ok((digest(token), None));
    }
    if let Some(stored) = stored_digest(pool).await? {
        return Ok((stored, None));
    }
    let token = random_secret();
    let d = digest(&token);
    if store::admin::store_admin_token_digest(pool, &hex::encode(d)).await? {
        return Ok((d, Some(token)));
    }
    // Another process initialised the same database first: use its token.
    let stored = stored_digest(pool).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok((stored, None))
}

async fn stored_digest(pool: &crate::store::Db) -> Result<Option<[u8; 32]>, sqlx::Error> {
    let Some(hex_digest) = store::admin::admin_token_digest(pool).await? else {
        return Ok(None);
    };
    let mut out = [0u8; 32];
    hex::decode_to_slice(&hex_digest, &mut out)
        .map_err(|e| sqlx::Error::Decode(format!("stored admin token digest: {e}").into()))?;
    Ok(Some(out))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The secret a request presents: its bearer token, else its `X-Api-Key`.
pub fn presented_secret(headers: &HeaderMap) -> Option<&str> {
    bearer(headers).or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}

/// The session cookie's value, if the request carries one.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value)
}

/// Proof that the request carries admin credentials: the admin token as a
/// bearer token, or a live session cookie. Put it first among a handler's
/// arguments to protect the route.
#[derive(Debug, Clone, Copy)]
pub struct AdminAuth;

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (client, presented) = (
            ClientIp::of(&parts.extensions),
            presented_secret(&parts.headers),
        );
        state.throttle.before_secret(client, presented)?;
        if is_admin(&parts.headers, state).await? {
            Ok(AdminAuth)
        } else {
            let refusal = ApiError::Unauthorized {
                message: "this route needs the admin token (`Authorization: Bearer <token>`) \
                          or an admin session cookie"
                    .to_owned(),
            };
            Err(state
                .throttle
                .after_refusal(client, presented, &state.credentials, refusal))
        }
    }
}

async fn is_admin(headers: &HeaderMap, state: &AppState) -> Result<bool, ApiError> {
    if let Some(token) = bearer(headers)
        && state.credentials.is_admin_token(token)
    {
        return Ok(true);
    }
    if let Some(cookie) = session_cookie(headers) {
        return Ok(store::admin::session_is_live(&state.db, &hex::encode(digest(cookie))).await?);
    }
    Ok(false)
}

/// Permission to grade and to manage prompts: always granted when no API
/// keys are configured; otherwise the request must carry one
/// (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) or admin credentials.
#[derive(Debug, Clone, Copy)]
pub struct GradingAccess;

impl FromRequestParts<AppState> for GradingAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if state.credentials.api_keys.is_empty() {
            return Ok(GradingAccess);
        }
        let (client, presented) = (
            ClientIp::of(&parts.extensions),
            presented_secret(&parts.headers),
        );
        state.throttle.before_secret(client, presented)?;
        if presented.is_some_and(|key| state.credentials.is_api_key(key))
            || is_admin(&parts.headers, state).await?
        {
            return Ok(GradingAccess);
        }
        let refusal = ApiError::Unauthorized {
            message:
                "grading needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`"
                    .to_owned(),
        };
        Err(state
            .throttle
            .after_refusal(client, presented, &state.credentials, refusal))
    }
}

/// Permission to change the grades everyone gets for a prompt (posting and
/// deleting its examples, reading the essays graded as examples): the admin
/// token or session, or one of the API keys. On a server without API keys
/// only the admin may, even though grading there is open.
#[derive(Debug, Clone, Copy)]
pub struct CredentialedAccess;

impl FromRequestParts<AppState> for CredentialedAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (client, presented) = (
            ClientIp::of(&parts.extensions),
            presented_secret(&parts.headers),
        );
        state.throttle.before_secret(client, presented)?;
        if presented.is_some_and(|key| state.credentials.is_api_key(key))
            || is_admin(&parts.headers, state).await?
        {
            return Ok(CredentialedAccess);
        }
        let how = if state.credentials.api_keys.is_empty() {
            "the admin token (`Authorization: Bearer <token>`) or an admin session"
        } else {
            "an API key (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) or the admin token"
        };
        let refusal = ApiError::Unauthorized {
            message: format!(
                "changing a prompt's examples changes everyone's grades for it, so it needs {how}"
            ),
        };
        Err(state
            .throttle
            .after_refusal(client, presented, &state.credentials, refusal))
    }
}

/// Permission to register, change or delete prompts: the admin token or
/// session, or one of the API keys, even where grading is open. A prompt
/// costs a row and prepared memory, so anonymous clients may not add them.
#[derive(Debug, Clone, Copy)]
pub struct PromptWriteAccess;

impl FromRequestParts<AppState> for PromptWriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (client, presented) = (
            ClientIp::of(&parts.extensions),
            presented_secret(&parts.headers),
        );
        state.throttle.before_secret(client, presented)?;
        if presented.is_some_and(|key| state.credentials.is_api_key(key))
            || is_admin(&parts.headers, state).await?
        {
            return Ok(PromptWriteAccess);
        }
        let how = if state.credentials.api_keys.is_empty() {
            "the admin token (`Authorization: Bearer <token>`) or an admin session"
        } else {
            "an API key (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) or the admin token"
        };
        let refusal = ApiError::Unauthorized {
            message: format!("registering a prompt needs {how}"),
        };
        Err(state
            .throttle
            .after_refusal(client, presented, &state.credentials, refusal))
    }
}

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/v1/session",
        get(session_status)
            .post(create_session)
            .delete(delete_session),
    )
}

/// Answer of `GET /api/v1/session`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SessionStatus {
    /// Whether the request carries admin credentials (a live session cookie
    /// or the admin token).
    pub admin: bool,
}

/// Whether the caller is signed in as admin. Always 200, so that a page can
/// ask without an error showing up in the browser's console.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "admin",
    responses((status = 200, description = "Whether the caller is admin", body = SessionStatus))
)]
pub async fn session_status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<SessionStatus>, ApiError> {
    Ok(Json(SessionStatus {
        admin: is_admin(&headers, &state).await?,
    }))
}

/// Body of `POST /api/v1/session`.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    /// The admin token.
    pub token: String,
}

/// Answer of `POST /api/v1/session`.
#[derive(Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct SessionResponse {
    /// When the session cookie stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// Exchanges the admin token for a session cookie.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "admin",
    request_body = SessionRequest,
    responses(
        (status = 200, description = "Session created; the cookie is set", body = SessionResponse),
        (status = 401, description = "Wrong token", body = super::error::ErrorBody),
        (status = 429, description = "Too many failed sign-ins from this address, or over the rate limit; see Retry-After", body = super::error::ErrorBody),
    )
)]
pub async fn create_session(
    State(state): State<AppState>,
    client: ClientIp,
    Json(request): Json<SessionRequest>,
) -> Result<Response, ApiError> {
    state.throttle.sign_ins.refuse_if_blocked(client)?;
    if !state.credentials.is_admin_token(&request.token) {
        let refusal = ApiError::Unauthorized {
            message: "token: this is not the admin token".to_owned(),
        };
        return Err(state.throttle.sign_ins.record_failure(client, refusal));
    }
    store::admin::delete_expired_sessions(&state.db).await?;
    let secret = random_secret();
    let lifetime = state.settings.session_lifetime();
    let expires_at = store::format_time(time::OffsetDateTime::now_utc() + lifetime);
    store::admin::insert_session(&state.db, &hex::encode(digest(&secret)), &expires_at).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        lifetime.as_secs()
    );
    let mut response = axum::Json(SessionResponse { expires_at }).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(|e| ApiError::Internal(e.into()))?,
    );
    Ok(response)
}

/// Ends the caller's session (idempotent) and clears the cookie.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "admin",
    responses((status = 204, description = "Session ended"))
)]
pub async fn delete_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(cookie) = session_cookie(&headers) {
        store::admin::delete_session(&state.db, &hex::encode(digest(cookie))).await?;
    }
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&clear).map_err(|e| ApiError::Internal(e.into()))?,
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_accept_only_the_right_secrets() {
        let creds = Credentials {
            admin: digest("admin-secret"),
            api_keys: vec![digest("k1"), digest("k2")],
        };
        assert!(creds.is_admin_token("admin-secret"));
        assert!(!creds.is_admin_token("admin-secreT"));
        assert!(creds.is_api_key("k2"));
        assert!(!creds.is_api_key("k3"));
        assert!(!creds.is_api_key("admin-secret"));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; essay_grader_session=abc; b=2"),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        assert_eq!(bearer(&headers), Some("tok"));
    }

    #[tokio::test]
    async fn a_blank_configured_admin_token_counts_as_unset() {
        let (pool, _dir) = crate::store::test_db::fresh().await;
        let (d, printed) = resolve_admin_token(&pool, Some("  ")).await.unwrap();
        assert_ne!(d, digest("  "));
        assert_ne!(d, digest(""));
        assert!(printed.is_some());
    }

    #[tokio::test]
    async fn a_generated_admin_token_is_stored_hashed_and_kept_across_starts() {
        let (pool, _dir) = crate::store::test_db::fresh().await;
        let (first, printed) = resolve_admin_token(&pool, None).await.unwrap();
        let token = printed.expect("a new token is returned once");
        assert_eq!(first, digest(&token));
        let (again, printed_again) = resolve_admin_token(&pool, None).await.unwrap();
        assert_eq!((again, printed_again), (first, None));
        let stored = crate::store::admin::admin_token_digest(&pool)
            .await
            .unwrap()
            .unwrap();
        assert!(!stored.contains(&token));
    }
}
