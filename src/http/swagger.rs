//! The browsable API reference at `/api` (Swagger UI) and the Swagger UI files it loads,
//! served from this binary.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use maud::{DOCTYPE, html};

use super::pages::{EmbeddedFile, Framing, embedded, head_basics, html_response};
use crate::error::AppError;

/// Swagger UI, copied from `web/node_modules/swagger-ui-dist` into the binary at build time.
pub(super) const SWAGGER_UI: &[EmbeddedFile] = &[
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/swagger-ui.css"),
    ),
    (
        "LICENSE",
        "text/plain; charset=utf-8",
        include_bytes!("../../web/node_modules/swagger-ui-dist/LICENSE"),
    ),
];

/// `GET /vendor/swagger-ui/{file}`.
///
/// # Errors
/// 404 for an unknown file.
#[utoipa::path(get, path = "/vendor/swagger-ui/{file}", tag = "pages",
    summary = "Swagger UI's files (from npm, served by this binary)",
    params(("file" = String, Path, description = "`swagger-ui-bundle.js`, `swagger-ui.css` or `LICENSE`")),
    responses(
        (status = 200, description = "The file", content(
            (String = "text/javascript; charset=utf-8"), (String = "text/css; charset=utf-8"), (String = "text/plain; charset=utf-8"))),
        (status = 404, description = "No such file", body = String, content_type = "text/plain; charset=utf-8")))]
pub async fn vendor(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> Result<Response, AppError> {
    embedded(SWAGGER_UI, &file, "public, max-age=86400")
}

/// `GET /api`: the description, browsable (Swagger UI).
#[utoipa::path(get, path = "/api", tag = "meta",
    summary = "This description, browsable (Swagger UI)",
    responses((status = 200, description = "HTML page", body = String, content_type = "text/html; charset=utf-8")))]
pub async fn api_page() -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (head_basics("partnership-map API"))
                link rel="stylesheet" href="/vendor/swagger-ui/swagger-ui.css";
                link rel="stylesheet" href="/static/api.css";
                script src="/vendor/swagger-ui/swagger-ui-bundle.js" defer {}
                script src="/static/api.js" defer {}
            }
            body {
                // Swagger UI draws its own <main> (the operations); api.js puts the rest in
                // landmarks of their own.
                a.skip href="#operations" { "Skip to the operations" }
                header.site { a href="/" { "partnership-map" } " · API reference" }
                div #swagger-ui {
                    noscript {
                        main {
                            p { "The API reference needs JavaScript; the description itself is "
                                a href="/api/openapi.json" { "/api/openapi.json" } "." }
                        }
                    }
                }
            }
        }
    };
    let mut res = html_response(StatusCode::OK, page, Framing::SameOrigin);
    // Swagger UI sets element styles from script; scripts stay same-origin only.
    if let Some(csp) = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"))
        && let Ok(v) = HeaderValue::from_str(&csp)
    {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    res
}
