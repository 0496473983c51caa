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
//!
//! The session cookie is guarded three more ways:
//! - behind TLS (`--behind-tls`) it is `__Host-essay_grader_session`, marked
//!   `Secure`: a browser sends it only over HTTPS, and no sibling subdomain can
//!   set or shadow it;
//! - a request with an unsafe method (anything but GET, HEAD, OPTIONS) that
//!   relies on the cookie must show it comes from our own pages
//!   (`Sec-Fetch-Site: same-origin`, or else an `Origin` equal to this host),
//!   or it is refused with 403: SameSite=Strict does not stop a sibling
//!   subdomain, and the check does not depend on it;
//! - a session is stored under the digest of the admin token together with
//!   the cookie, so a new admin token turns every earlier session away.

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
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

/// The cookie that carries an admin session over plain HTTP.
pub const SESSION_COOKIE: &str = "essay_grader_session";

/// The cookie that carries an admin session behind TLS: the `__Host-` prefix
/// makes browsers insist on `Secure`, `Path=/` and no `Domain`.
pub const SECURE_SESSION_COOKIE: &str = "__Host-essay_grader_session";

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
    /// The key a session is stored under: SHA-256 of the admin token's
    /// digest followed by the cookie value, in hex. Sessions bought with an
    /// earlier admin token are stored under keys no cookie reaches any more.
    pub fn session_key(&self, cookie: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(self.admin);
        hasher.update(cookie.as_bytes());
        hex::encode(hasher.finalize())
    }

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
/// The configured token comes from [`crate::config::Settings::secrets`],
/// trimmed, never blank and long enough.
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

/// The name of the session cookie on this server.
pub fn session_cookie_name(behind_tls: bool) -> &'static str {
    if behind_tls {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The value of the session cookie `name`, if the request carries one.
pub(crate) fn session_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that stores `value` for `max_age_secs` (0 clears it).
fn set_session_cookie(behind_tls: bool, value: &str, max_age_secs: u64) -> String {
    let name = session_cookie_name(behind_tls);
    let secure = if behind_tls { "; Secure" } else { "" };
    format!("{name}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}")
}

/// Whether a request shows it was sent by our own pages: the browser's
/// `Sec-Fetch-Site` says `same-origin`, or (older browsers, which send no
/// `Sec-Fetch-Site`, and plain-HTTP origins, which get none) its `Origin` is
/// this host. Browsers set both headers themselves; a page on another site
/// can forge neither.
fn from_our_pages(headers: &HeaderMap, behind_tls: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return site.as_bytes() == b"same-origin";
    }
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let ours = |scheme: &str| {
        origin
            .strip_prefix(scheme)
            .and_then(|o| o.strip_prefix("://"))
            == Some(host)
    };
    ours("https") || (!behind_tls && ours("http"))
}

/// Whether `method` may change something (a write a forged request could
/// trigger).
fn is_unsafe(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The session cookie a request may use: none when it has none; a 403 when
/// the method is unsafe and the request did not come from our own pages.
fn usable_session_cookie<'h>(
    method: &Method,
    headers: &'h HeaderMap,
    behind_tls: bool,
) -> Result<Option<&'h str>, ApiError> {
    let Some(cookie) = session_cookie(headers, session_cookie_name(behind_tls)) else {
        return Ok(None);
    };
    if is_unsafe(method) && !from_our_pages(headers, behind_tls) {
        return Err(ApiError::Forbidden {
            message: format!(
                "a {method} authenticated by the session cookie must come from this service's \
                 own pages (Sec-Fetch-Site: same-origin, or an Origin equal to this host); \
                 other clients send `Authorization: Bearer <token>`"
            ),
        });
    }
    Ok(Some(cookie))
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
        if is_admin(&parts.method, &parts.headers, state).await? {
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

/// Whether the request carries admin credentials: the admin token as a
/// bearer token, or a live session cookie (refused with 403 on a write that
/// did not come from our own pages).
async fn is_admin(
    method: &Method,
    headers: &HeaderMap,
    state: &AppState,
) -> Result<bool, ApiError> {
    if let Some(token) = bearer(headers)
        && state.credentials.is_admin_token(token)
    {
        return Ok(true);
    }
    if let Some(cookie) = usable_session_cookie(method, headers, state.settings.behind_tls)? {
        let key = state.credentials.session_key(cookie);
        return Ok(store::admin::session_is_live(&state.db, &key).await?);
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
        require_credential(parts, state, || {
            "grading needs an API key: send `Authorization: Bearer <key>` or `X-Api-Key: <key>`"
                .to_owned()
        })
        .await
        .map(|()| GradingAccess)
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
        require_credential(parts, state, || {
            needs_credential(
                state,
                "changing a prompt's examples changes everyone's grades for it, so it needs",
            )
        })
        .await
        .map(|()| CredentialedAccess)
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
        require_credential(parts, state, || {
            needs_credential(state, "registering a prompt needs")
        })
        .await
        .map(|()| PromptWriteAccess)
    }
}

/// Passes a request that presents an API key or the admin token (or carries
/// an admin session), through the credential throttle; else 401 with the
/// message `refusal` makes (only made when it is needed).
async fn require_credential(
    parts: &Parts,
    state: &AppState,
    refusal: impl FnOnce() -> String,
) -> Result<(), ApiError> {
    let (client, presented) = (
        ClientIp::of(&parts.extensions),
        presented_secret(&parts.headers),
    );
    state.throttle.before_secret(client, presented)?;
    if presented.is_some_and(|key| state.credentials.is_api_key(key))
        || is_admin(&parts.method, &parts.headers, state).await?
    {
        return Ok(());
    }
    let refusal = ApiError::Unauthorized { message: refusal() };
    Err(state
        .throttle
        .after_refusal(client, presented, &state.credentials, refusal))
}

/// `needs` followed by the credentials this server accepts for its writes.
fn needs_credential(state: &AppState, needs: &str) -> String {
    let how = if state.credentials.api_keys.is_empty() {
        "the admin token (`Authorization: Bearer <token>`) or an admin session"
    } else {
        "an API key (`Authorization: Bearer <key>` or `X-Api-Key: <key>`) or the admin token"
    };
    format!("{needs} {how}")
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
        admin: is_admin(&Method::GET, &headers, &state).await?,
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
    store::admin::insert_session(
        &state.db,
        &state.credentials.session_key(&secret),
        &expires_at,
    )
    .await?;
    let cookie = set_session_cookie(state.settings.behind_tls, &secret, lifetime.as_secs());
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
    responses(
        (status = 204, description = "Session ended"),
        (status = 403, description = "The cookie came with a request from another site", body = super::error::ErrorBody),
    )
)]
pub async fn delete_session(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let behind_tls = state.settings.behind_tls;
    if let Some(cookie) = usable_session_cookie(&Method::DELETE, &headers, behind_tls)? {
        let key = state.credentials.session_key(cookie);
        store::admin::delete_session(&state.db, &key).await?;
    }
    let clear = set_session_cookie(behind_tls, "", 0);
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
        assert_eq!(session_cookie(&headers, SESSION_COOKIE), Some("abc"));
        assert_eq!(session_cookie(&headers, SECURE_SESSION_COOKIE), None);
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer  tok "),
        );
        assert_eq!(bearer(&headers), Some("tok"));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn only_same_origin_fetch_metadata_counts_as_our_own_pages() {
        assert!(from_our_pages(
            &headers(&[("sec-fetch-site", "same-origin")]),
            true
        ));
        for site in ["same-site", "cross-site", "none"] {
            let h = headers(&[
                ("sec-fetch-site", site),
                ("origin", "http://h:1"),
                ("host", "h:1"),
            ]);
            assert!(!from_our_pages(&h, false), "{site}");
        }
    }

    #[test]
    fn without_fetch_metadata_the_origin_must_be_this_host() {
        let ours = headers(&[
            ("origin", "http://grader.example:8080"),
            ("host", "grader.example:8080"),
        ]);
        assert!(from_our_pages(&ours, false));
        // Behind TLS only an https origin is ours.
        assert!(!from_our_pages(&ours, true));
        let tls = headers(&[
            ("origin", "https://grader.example"),
            ("host", "grader.example"),
        ]);
        assert!(from_our_pages(&tls, true));
        for origin in [
            "http://evil.example",
            "null",
            "http://grader.example.evil",
            "http://grader.example:8080.evil",
        ] {
            let mut h = headers(&[("host", "grader.example:8080")]);
            h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
            assert!(!from_our_pages(&h, false), "{origin}");
        }
        assert!(!from_our_pages(
            &headers(&[("host", "grader.example")]),
            false
        ));
    }

    #[test]
    fn a_cross_site_write_with_the_cookie_is_refused_but_a_read_is_not() {
        let h = headers(&[
            ("cookie", "essay_grader_session=abc"),
            ("sec-fetch-site", "cross-site"),
        ]);
        assert_eq!(
            usable_session_cookie(&Method::GET, &h, false).unwrap(),
            Some("abc")
        );
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let err = usable_session_cookie(&method, &h, false).unwrap_err();
            assert_eq!(err.status_code(), StatusCode::FORBIDDEN, "{method}");
        }
        // Without a cookie there is nothing to refuse.
        let h = headers(&[("sec-fetch-site", "cross-site")]);
        assert_eq!(
            usable_session_cookie(&Method::POST, &h, false).unwrap(),
            None
        );
    }

    #[test]
    fn behind_tls_the_cookie_is_host_prefixed_and_secure() {
        let cookie = set_session_cookie(true, "v", 60);
        assert!(
            cookie.starts_with("__Host-essay_grader_session=v;"),
            "{cookie}"
        );
        assert!(
            cookie.contains("; Secure") && cookie.contains("; Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
        let plain = set_session_cookie(false, "v", 60);
        assert!(
            plain.starts_with("essay_grader_session=v;") && !plain.contains("Secure"),
            "{plain}"
        );
        // The plain name is not honoured behind TLS (it could be set over HTTP).
        let h = headers(&[("cookie", "essay_grader_session=abc")]);
        assert_eq!(usable_session_cookie(&Method::GET, &h, true).unwrap(), None);
    }

    #[test]
    fn a_session_key_depends_on_the_admin_token() {
        let old = Credentials {
            admin: digest("admin-token-one-0000"),
            api_keys: vec![],
        };
        let new = Credentials {
            admin: digest("admin-token-two-0000"),
            api_keys: vec![],
        };
        assert_ne!(old.session_key("cookie"), new.session_key("cookie"));
        assert_eq!(old.session_key("cookie"), old.session_key("cookie"));
        assert!(
            !old.session_key("cookie")
                .contains(&hex::encode(digest("cookie")))
        );
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
