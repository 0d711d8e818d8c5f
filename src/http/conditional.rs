//! Conditional requests, written once for every handler: the `ETag` header and `If-None-Match`
//! answered with `304 Not Modified` (RFC 9110 §13.1.2, weak comparison). Strong tags name the
//! exact bytes sent (tiles, pictures); weak ones (`W/"…"`) stand for both encodings of a
//! response the router may gzip on the way out.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::cache::weak_etag;

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 §13.1.2 requires).
#[must_use]
pub fn none_match(if_none_match: Option<&str>, etag: &str) -> bool {
    let Some(value) = if_none_match else {
        return false;
    };
    let bare = etag.trim_start_matches("W/");
    value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

/// An ETag as a header value (our tags are hex digits in quotes: always valid).
#[must_use]
pub fn header_value(etag: &str) -> HeaderValue {
    HeaderValue::from_str(etag).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
}

/// Put `ETag: etag` on `h` (the headers a 200 and its 304 share) and say whether the client's
/// copy is current, that is whether to answer [`not_modified`] with `h`.
pub fn tag(h: &mut HeaderMap, request: &HeaderMap, etag: HeaderValue) -> bool {
    let current = none_match(
        request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok()),
        etag.to_str().unwrap_or_default(),
    );
    h.insert(header::ETAG, etag);
    current
}

/// `304 Not Modified` with the headers `h` and no body.
#[must_use]
pub fn not_modified(h: HeaderMap) -> Response {
    (StatusCode::NOT_MODIFIED, h).into_response()
}

/// `body` with a weak ETag, `Cache-Control: no-cache` (cheap 304s after a data change is
/// checked), and a `304` when `If-None-Match` matches.
#[must_use]
pub fn revalidated(request: &HeaderMap, body: String, content_type: &'static str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if tag(&mut h, request, header_value(&weak_etag(body.as_bytes()))) {
        return not_modified(h);
    }
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    (h, body).into_response()
}

/// `body` as JSON, [`revalidated`].
#[must_use]
pub fn json_with_etag(request: &HeaderMap, body: &impl serde::Serialize) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => revalidated(request, text, "application/json"),
        Err(e) => crate::error::AppError::Store(format!("JSON body: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_accepts_lists_weak_tags_and_star() {
        assert!(none_match(Some("\"a\""), "\"a\""));
        assert!(none_match(Some("\"x\", W/\"a\""), "\"a\""));
        assert!(none_match(Some("*"), "\"a\""));
        assert!(!none_match(Some("\"b\""), "\"a\""));
        assert!(!none_match(None, "\"a\""));
    }

    #[test]
    fn a_matching_tag_is_set_and_reported_current() {
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static("W/\"a\""));
        let mut h = HeaderMap::new();
        assert!(tag(&mut h, &request, HeaderValue::from_static("\"a\"")));
        assert_eq!(h[header::ETAG], "\"a\"");
        assert!(!tag(
            &mut h,
            &HeaderMap::new(),
            HeaderValue::from_static("\"b\"")
        ));
        assert_eq!(h[header::ETAG], "\"b\"");
    }
}
