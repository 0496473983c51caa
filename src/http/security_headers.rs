//! The response headers that tell browsers how to treat what we send, added
//! to every response in one layer (handlers that need a looser policy set
//! their own first, as the pages do):
//!
//! - `X-Content-Type-Options: nosniff`: a JSON body or an uploaded CSV echoed
//!   in an error is never reinterpreted as HTML or script;
//! - `Referrer-Policy: no-referrer`: links out of the admin pages do not carry
//!   our URLs (which hold run and job ids) to other sites;
//! - `Content-Security-Policy` with `frame-ancestors 'none'` (and the older
//!   `X-Frame-Options: DENY`): no other site can frame us to trick a click.
//!   API responses get a policy that allows nothing, as they are data and
//!   never a document; the Swagger UI under `/docs` gets [`DOCS_CSP`], which
//!   allows this origin's scripts and styles and no inline code.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy of responses that are data (JSON, CSV, SVG, event streams): a
/// browser that opens one as a document may run and load nothing from it.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The one `<style>` element the Swagger UI bundle writes into the page: the
/// colours of its inline SVG logo. The policy allows exactly this text by its
/// hash ([`DOCS_LOGO_STYLE_HASH`]), not inline styles in general.
pub const DOCS_LOGO_STYLE: &str =
    ".logo_small_svg__cls-2{fill:#fff}.logo_small_svg__cls-3{fill:#85ea2d}";

/// Base64 of the SHA-256 of [`DOCS_LOGO_STYLE`] (a unit test recomputes it).
pub const DOCS_LOGO_STYLE_HASH: &str = "sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w=";

/// The policy of the Swagger UI (`/docs`): its bundle, its initialiser and its
/// styles are files from this origin, and it fetches the OpenAPI document and
/// tries requests against this origin only. `data:` images are the icons its
/// style sheet embeds. No inline script; no inline style but the logo's,
/// allowed by its hash.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the headers above to every response that does not set its own.
pub async fn add_security_headers(request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let csp = if path == "/docs" || path.starts_with("/docs/") {
        DOCS_CSP
    } else {
        API_CSP
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_policy_allows_inline_code_or_framing() {
        for csp in [API_CSP, DOCS_CSP, super::super::pages::PAGE_CSP] {
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            assert!(!csp.contains("unsafe-eval"), "{csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        }
    }

    #[test]
    fn the_docs_policy_allows_the_logo_style_by_its_hash() {
        use base64::Engine;
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(DOCS_LOGO_STYLE.as_bytes());
        let hash = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(format!("sha256-{hash}"), DOCS_LOGO_STYLE_HASH);
        assert!(DOCS_CSP.contains(&format!("'{DOCS_LOGO_STYLE_HASH}'")));
    }
}
