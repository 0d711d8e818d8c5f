//! Server-rendered HTML: the shared layout, security headers, and the static assets.
//!
//! Pages are built with `maud`, which escapes every interpolated value, so text from the data
//! or from users is only ever inserted as text. Scripts are separate files under `/static/`
//! (the Content-Security-Policy allows no inline script).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

use crate::error::AppError;

/// Who may frame a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Nobody (admin).
    Deny,
    /// Only this site (pages opened from the map).
    SameOrigin,
    /// Any site (`/embed`, made to be framed).
    Anyone,
}

const CSP_BASE: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// An HTML response with the security headers every page carries.
#[must_use]
pub fn html_response(status: StatusCode, markup: Markup, framing: Framing) -> Response {
    // X-Frame-Options has no "anyone": for the embed it is left out.
    let (ancestors, xfo) = match framing {
        Framing::Deny => ("'none'", Some("DENY")),
        Framing::SameOrigin => ("'self'", Some("SAMEORIGIN")),
        Framing::Anyone => ("*", None),
    };
    let csp = format!("{CSP_BASE}; frame-ancestors {ancestors}");
    let mut res = (status, markup.into_string()).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    if let Some(xfo) = xfo {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static(xfo));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// What every page's `<head>` starts with: charset, viewport, title and an empty favicon
/// (so browsers make no request that would 404).
#[must_use]
pub fn head_basics(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        title { (title) }
        link rel="icon" href="data:,";
    }
}

/// The page skeleton.
#[must_use]
pub fn layout(title: &str, scripts: &[&str], body: &Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en-GB" {
            head {
                (head_basics(&format!("{title} · partnership-map")))
                link rel="stylesheet" href="/static/site.css";
                @for s in scripts {
                    script type="module" src=(format!("/static/{s}")) {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site { a href="/" { "partnership-map" } " · area-based education partnerships in England" }
                main #main { (body) }
                footer.site {
                    p { "Boundaries: Source: Office for National Statistics licensed under the Open Government Licence v.3.0; Contains OS data © Crown copyright and database right 2023. Rural/urban: mySociety (CC BY 4.0)." }
                }
            }
        }
    }
}

/// Static files shipped inside the binary.
const ASSETS: &[EmbeddedFile] = &[
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/api.js"),
    ),
    (
        "api.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/api.css"),
    ),
    (
        "site.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/site.css"),
    ),
    (
        "contribute.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/contribute.js"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/admin.js"),
    ),
    (
        "editor.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/editor.js"),
    ),
    (
        "verification.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/verification.js"),
    ),
    (
        "map.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/map.js"),
    ),
    (
        "map.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/map.css"),
    ),
    (
        "share.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/static/share.js"),
    ),
    (
        "compare.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/compare.css"),
    ),
    (
        "print.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/static/print.css"),
    ),
];

/// A file compiled into the binary: name, MIME type, bytes.
pub type EmbeddedFile = (&'static str, &'static str, &'static [u8]);

/// Answer with one of `files` by name, or 404.
///
/// # Errors
/// [`AppError::NotFound`] for a name not in `files`.
pub fn embedded(
    files: &[EmbeddedFile],
    name: &str,
    cache_control: &'static str,
) -> Result<Response, AppError> {
    let (_, mime, body) = files
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| AppError::NotFound(format!("no file {name:?} here")))?;
    Ok((
        [
            (header::CONTENT_TYPE, *mime),
            (header::CACHE_CONTROL, cache_control),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        *body,
    )
        .into_response())
}

/// Names of the files under `/static/`.
pub fn asset_names() -> impl Iterator<Item = &'static str> {
    ASSETS.iter().map(|(n, _, _)| *n)
}

/// `GET /static/{file}`.
///
/// # Errors
/// 404 for an unknown file.
#[utoipa::path(get, path = "/static/{file}", tag = "pages", summary = "The pages' scripts and stylesheet", params(("file" = String, Path, description = "File name")), responses((status = 200, description = "The file", content((String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8"))), (status = 404, description = "No such file", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    embedded(ASSETS, &file, "public, max-age=300")
}
