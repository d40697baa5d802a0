//! The web clients, embedded in the binary: the player lobby at `/` and the
//! operator console at `/console/`, built from `web/` into `web/dist` (which
//! is committed, so building the server needs no Node.js).
//!
//! What a CDN in front expects: content-hashed assets under `/assets/` are
//! cached for a year (`immutable`), the HTML shells are `no-cache`; every
//! file has an `ETag` (its SHA-256) and answers `If-None-Match` with 304;
//! precompressed `.br` / `.gz` siblings are sent to clients that accept them.
//! Shells carry a strict Content-Security-Policy (no inline script, no
//! frames). A missing file is a 404; any other path without an extension
//! is a client route and gets its shell.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
struct Dist;

/// No script but our own files; sockets and fetches to this origin only
/// (CSP 3's `'self'` covers `ws:`/`wss:` to the same host); no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const LOBBY_SHELL: &str = "index.html";
const CONSOLE_SHELL: &str = "console/index.html";

/// The answer to `method path` if it is the web client's, else `None` (the
/// API's routes, and methods other than GET and HEAD).
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
    if !(method == Method::GET || method == Method::HEAD) || is_server_route(path) {
        return None;
    }
    if path == "/console" {
        return Some(redirect("/console/"));
    }
    let file = match resolve(path) {
        Some(f) => f,
        None => return Some(not_found()),
    };
    let mut resp = respond(&file, headers)?;
    if method == Method::HEAD {
        *resp.body_mut() = Body::empty();
    }
    Some(resp)
}

/// Paths the HTTP API owns.
fn is_server_route(path: &str) -> bool {
    path == "/v1"
        || path.starts_with("/v1/")
        || matches!(path, "/livez" | "/readyz" | "/metrics" | "/openapi.json")
}

/// The embedded file for a path: a file by its name, a client route by its
/// shell; `None` when a file was asked for and there is none.
fn resolve(path: &str) -> Option<String> {
    let rel = path.trim_start_matches('/');
    let last = rel.rsplit('/').next().unwrap_or("");
    if last.contains('.') {
        return Dist::get(rel).is_some().then(|| rel.to_owned());
    }
    if rel.starts_with("assets/") {
        return None;
    }
    if rel == "console" || rel.starts_with("console/") {
        Some(CONSOLE_SHELL.to_owned())
    } else {
        Some(LOBBY_SHELL.to_owned())
    }
}

fn respond(name: &str, headers: &HeaderMap) -> Option<Response> {
    let file = Dist::get(name)?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let shell = name.ends_with(".html");
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::VARY, "Accept-Encoding")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "no-referrer")
        .header(header::CACHE_CONTROL, cache_control(name));
    if shell {
        builder = builder
            .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
            .header(header::X_FRAME_OPTIONS, "DENY");
    }
    if matches(headers.get(header::IF_NONE_MATCH), &etag) {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .ok();
    }
    let (body, encoding) = encoded(name, headers).unwrap_or((file.data, None));
    if let Some(e) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, e);
    }
    builder
        .header(header::CONTENT_TYPE, content_type(file.metadata.mimetype()))
        .body(Body::from(body.into_owned()))
        .ok()
}

/// Our text is UTF-8: say so, so no browser sniffs another charset.
fn content_type(mime: &str) -> String {
    let textual =
        mime.starts_with("text/") || mime.ends_with("javascript") || mime.ends_with("json");
    if textual && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    }
}

/// Content-hashed assets never change under their name; everything else
/// (the shells above all) is revalidated on every use.
fn cache_control(name: &str) -> &'static str {
    if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// A precompressed sibling the client accepts: brotli first, then gzip.
fn encoded(
    name: &str,
    headers: &HeaderMap,
) -> Option<(std::borrow::Cow<'static, [u8]>, Option<&'static str>)> {
    let accepted = headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|c| {
            let mut parts = c.split(';').map(str::trim);
            let coding = parts.next()?;
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            (!refused).then(|| coding.to_ascii_lowercase())
        })
        .collect::<Vec<_>>();
    for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepted.iter().any(|a| a == coding) {
            if let Some(f) = Dist::get(&format!("{name}.{ext}")) {
                return Some((f.data, Some(coding)));
            }
        }
    }
    None
}

fn matches(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

fn redirect(to: &'static str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    r.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(to));
    r
}

/// A missing file, as the API words its own 404s.
fn not_found() -> Response {
    let body = serde_json::json!({
        "type": "urn:croupier:problem:not_found",
        "title": "No such file",
        "status": 404,
        "code": "not_found",
    });
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    r
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The embedded file names, for tests and diagnostics.
pub fn files() -> impl Iterator<Item = String> {
    Dist::iter().map(|f| f.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &[(&str, &str)]) -> Option<Response> {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        serve(&Method::GET, path, &h)
    }

    fn hashed_asset() -> String {
        files()
            .find(|f| f.starts_with("assets/") && f.ends_with(".js"))
            .expect("web/dist has a built script")
    }

    #[test]
    fn shells_are_no_cache_with_a_strict_policy_and_client_routes_get_them() {
        for (path, shell) in [
            ("/", LOBBY_SHELL),
            ("/wallet", LOBBY_SHELL),
            ("/console/", CONSOLE_SHELL),
            ("/console/players/abc", CONSOLE_SHELL),
        ] {
            let r = get(path, &[]).expect("served");
            assert_eq!(r.status(), StatusCode::OK, "{path}");
            assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
            assert_eq!(
                r.headers()[header::CONTENT_SECURITY_POLICY],
                CONTENT_SECURITY_POLICY
            );
            assert!(r.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"));
            let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
            let direct = get(&format!("/{shell}"), &[]).unwrap();
            assert_eq!(
                direct.headers()[header::ETAG],
                etag.as_str(),
                "{path} is {shell}"
            );
        }
        assert!(CONTENT_SECURITY_POLICY.contains("frame-ancestors 'none'"));
        assert!(!CONTENT_SECURITY_POLICY.contains("unsafe-inline"));
    }

    #[test]
    fn hashed_assets_are_immutable_revalidate_to_304_and_come_compressed() {
        let asset = format!("/{}", hashed_asset());
        let r = get(&asset, &[]).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CACHE_CONTROL],
            "public, max-age=31536000, immutable"
        );
        assert!(r.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript"));
        assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
        let etag = r.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = get(&asset, &[("if-none-match", &etag)]).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let br = get(&asset, &[("accept-encoding", "gzip, deflate, br")]).unwrap();
        assert_eq!(br.headers()[header::CONTENT_ENCODING], "br");
        let gz = get(&asset, &[("accept-encoding", "gzip")]).unwrap();
        assert_eq!(gz.headers()[header::CONTENT_ENCODING], "gzip");
        let refused = get(&asset, &[("accept-encoding", "br;q=0, gzip;q=0")]).unwrap();
        assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn missing_files_are_404_and_the_api_is_not_ours() {
        for path in ["/assets/nope-123.js", "/nope.png", "/console/nope.css"] {
            let r = get(path, &[]).unwrap();
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        }
        for path in ["/v1/me", "/v1", "/livez", "/openapi.json"] {
            assert!(get(path, &[]).is_none(), "{path}");
        }
        assert!(serve(&Method::POST, "/", &HeaderMap::new()).is_none());
        let r = get("/console", &[]).unwrap();
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
    }
}
