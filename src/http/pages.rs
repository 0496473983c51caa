//! The web pages: `/` (grade one essay), `/batch` (grade a class from a CSV)
//! and `/admin` (datasets, jobs, runs, models, prompts), and the scripts,
//! styles and icon they load from `/static/{file}`.
//!
//! Every file under static/ is compiled into the binary (`include_str!`), so
//! the service needs nothing beside it, and served with its content type.
//! The pages are hand-written HTML, CSS and JavaScript modules: no CDN, no
//! build step. Scripts and styles live in their own files, so the pages'
//! Content-Security-Policy allows only this origin and no inline code.
//! `nosniff`, `Referrer-Policy` and the framing ban come from
//! [`super::security_headers`], as for every response.
//! The pages talk to the public API only (the one exception being
//! [`super::scale`], the scale grading shows its scores on).

use axum::Router;
use axum::http::{HeaderName, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiError;
use super::extract::Path;

/// What the pages may load and where they may send data: only this origin,
/// no inline script or style, no plugins, no framing, no `<base>` tricks.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A file served from `/static/`.
struct Asset {
    /// Its name under `/static/`.
    name: &'static str,
    /// Its `Content-Type`.
    content_type: &'static str,
    /// Its bytes, compiled in.
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every file the pages load, by name.
const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: CSS,
        body: include_str!("../../static/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: JS,
        body: include_str!("../../static/app.js"),
    },
    Asset {
        name: "prompt-picker.js",
        content_type: JS,
        body: include_str!("../../static/prompt-picker.js"),
    },
    Asset {
        name: "grade.js",
        content_type: JS,
        body: include_str!("../../static/grade.js"),
    },
    Asset {
        name: "scores.js",
        content_type: JS,
        body: include_str!("../../static/scores.js"),
    },
    Asset {
        name: "explanation.js",
        content_type: JS,
        body: include_str!("../../static/explanation.js"),
    },
    Asset {
        name: "csv.js",
        content_type: JS,
        body: include_str!("../../static/csv.js"),
    },
    Asset {
        name: "batch.js",
        content_type: JS,
        body: include_str!("../../static/batch.js"),
    },
    Asset {
        name: "admin.js",
        content_type: JS,
        body: include_str!("../../static/admin.js"),
    },
    Asset {
        name: "admin-datasets.js",
        content_type: JS,
        body: include_str!("../../static/admin-datasets.js"),
    },
    Asset {
        name: "admin-jobs.js",
        content_type: JS,
        body: include_str!("../../static/admin-jobs.js"),
    },
    Asset {
        name: "admin-runs.js",
        content_type: JS,
        body: include_str!("../../static/admin-runs.js"),
    },
    Asset {
        name: "admin-models.js",
        content_type: JS,
        body: include_str!("../../static/admin-models.js"),
    },
    Asset {
        name: "admin-prompts.js",
        content_type: JS,
        body: include_str!("../../static/admin-prompts.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_str!("../../static/icon.svg"),
    },
];

const INDEX_HTML: &str = include_str!("../../static/index.html");
const BATCH_HTML: &str = include_str!("../../static/batch.html");
const ADMIN_HTML: &str = include_str!("../../static/admin.html");

/// The routes of this module.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/batch", get(batch))
        .route("/admin", get(admin))
        .route("/static/{name}", get(static_file))
}

/// `/`: grade one essay.
pub async fn index() -> Response {
    page(INDEX_HTML)
}

/// `/batch`: grade a class's essays from a CSV.
pub async fn batch() -> Response {
    page(BATCH_HTML)
}

/// `/admin`: datasets, jobs, runs, models and prompts.
pub async fn admin() -> Response {
    page(ADMIN_HTML)
}

/// A script, style sheet or image the pages load.
pub async fn static_file(Path(name): Path<String>) -> Result<Response, ApiError> {
    let asset = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::NotFound {
            what: "static file",
            id: name,
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            // Compiled into the binary: a new version of the service brings
            // new files, so the browser revalidates rather than guessing.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        asset.body,
    )
        .into_response())
}

fn page(html: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_CSP),
            (header::CACHE_CONTROL, "no-cache"),
            (
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ),
        ],
        html,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every local file a page names (`src="/static/…"`, `href="/static/…"`)
    /// and every module a script imports (`from "./x.js"`) is served.
    #[test]
    fn every_file_the_pages_and_scripts_load_is_served() {
        let served: Vec<&str> = ASSETS.iter().map(|a| a.name).collect();
        let mut named = Vec::new();
        for html in [INDEX_HTML, BATCH_HTML, ADMIN_HTML] {
            for quote in html.split("\"/static/").skip(1) {
                named.push(quote.split('"').next().unwrap().to_owned());
            }
        }
        for asset in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            for import in asset.body.split("from \"./").skip(1) {
                named.push(import.split('"').next().unwrap().to_owned());
            }
        }
        assert!(named.len() > 10, "{named:?}");
        for name in named {
            assert!(served.contains(&name.as_str()), "{name} is not served");
        }
    }

    /// Whether the HTML holds an attribute such as ` onclick=`.
    fn has_event_handler_attribute(html: &str) -> bool {
        html.match_indices(" on").any(|(at, _)| {
            let rest = &html[at + 3..];
            let name_len = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            name_len > 0 && rest[name_len..].starts_with('=')
        })
    }

    /// The CSP forbids inline code, so the pages must hold none.
    #[test]
    fn the_pages_hold_no_inline_script_or_style() {
        for html in [INDEX_HTML, BATCH_HTML, ADMIN_HTML] {
            assert!(!html.contains("<style"), "inline <style>");
            assert!(!html.contains(" style="), "a style attribute");
            assert!(
                !has_event_handler_attribute(html),
                "an inline event handler"
            );
            for script in html.split("<script").skip(1) {
                let tag = script.split('>').next().unwrap();
                assert!(tag.contains("src=\"/static/"), "inline <script{tag}>");
            }
        }
    }
}
