//! The web pages: `GET /` serves static/index.html, compiled into the binary
//! so the service needs no files beside it. Hand-written HTML, CSS and
//! JavaScript; no CDN, no build step.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

/// The grading form.
const INDEX_HTML: &str = include_str!("../../static/index.html");

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
}

/// The first page: a form to grade one essay.
pub async fn index() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // The page loads nothing from elsewhere; say so to the browser.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
            ),
        ],
        INDEX_HTML,
    )
}
