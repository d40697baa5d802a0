//! A JSON body extractor whose rejections are problem details naming the field.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use bytes_ext::collect_limited;
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but every rejection is a problem+json naming the field:
/// 400 for malformed JSON, 422 for a wrong type, a missing or an unknown field,
/// 413 for a body over the limit, 415 for a non-JSON content type.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(unsupported_media_type());
        }
        let bytes = collect_limited(req).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// The raw body of a JSON request, for handlers that also need its bytes
/// (idempotency fingerprints) or accept an empty body. A non-empty body must
/// be declared JSON (415 otherwise); over the limit is 413.
pub struct JsonBytes(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(&req);
        let bytes = collect_limited(req).await?;
        if !bytes.is_empty() && !json {
            return Err(unsupported_media_type());
        }
        Ok(JsonBytes(bytes))
    }
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            let mime = ct.split(';').next().unwrap_or("").trim();
            mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

fn unsupported_media_type() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Expected Content-Type: application/json",
    )
}

/// Deserializes `bytes`, turning serde's error into a problem naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_json",
                "Malformed JSON body",
            )
            .detail(msg),
            Category::Data => {
                // serde names unknown and missing fields in backticks. The path
                // already ends at an unknown field, but stops at a missing
                // field's parent object.
                let named = backticked(&msg);
                let (code, field) = if msg.starts_with("unknown field") {
                    ("unknown_field", path_or_body(&path))
                } else if msg.starts_with("missing field") {
                    ("missing_field", join(&path, named))
                } else {
                    ("invalid_field", path_or_body(&path))
                };
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code,
                    "Invalid request body",
                )
                .field(field)
                .detail(json_terms(&strip_position(&msg)))
            }
        }
    })?;
    // Like `serde_json::from_slice`: nothing but whitespace may follow the value.
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            "Malformed JSON body",
        )
        .detail(e.to_string())
    })?;
    Ok(value)
}

fn backticked(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

fn join(path: &str, name: Option<&str>) -> String {
    match (path, name) {
        (".", Some(n)) | ("", Some(n)) => n.to_owned(),
        (p, Some(n)) => format!("{p}.{n}"),
        (p, None) => path_or_body(p),
    }
}

fn path_or_body(path: &str) -> String {
    if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    }
}

/// serde names what it expected in Rust's terms (`u8`, `struct
/// RotateRequest`, `a sequence`); a client should read JSON's.
fn json_terms(msg: &str) -> String {
    let Some(at) = msg.rfind(", expected ") else {
        return msg.to_owned();
    };
    let (head, expected) = msg.split_at(at + ", expected ".len());
    let plain = match expected {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a non-negative integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        "a sequence" | "a tuple" => "an array",
        "a map" => "an object",
        "a boolean" | "a string" | "a character" => expected,
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        e if e.starts_with("enum ") => "one of the documented values",
        e if e.starts_with("one of ") || e.starts_with('`') => expected,
        // `u8`-like words inside longer phrases, e.g. "a valid u64 value".
        e if e
            .split(|c: char| !c.is_ascii_alphanumeric())
            .any(is_rust_type) =>
        {
            "a valid value"
        }
        e => e,
    };
    format!("{head}{plain}")
}

fn is_rust_type(word: &str) -> bool {
    matches!(
        word,
        "u8" | "u16"
            | "u32"
            | "u64"
            | "u128"
            | "usize"
            | "i8"
            | "i16"
            | "i32"
            | "i64"
            | "i128"
            | "isize"
            | "f32"
            | "f64"
            | "struct"
            | "enum"
            | "Option"
            | "Vec"
    )
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_owned(),
        None => msg.to_owned(),
    }
}

pub(crate) mod bytes_ext {
    use crate::error::ApiError;
    use axum::body::Bytes;
    use axum::extract::{FromRequest, Request};
    use axum::http::StatusCode;

    /// Reads the whole body; the router's `DefaultBodyLimit` caps it, and
    /// exceeding the cap is a 413 problem.
    pub async fn collect_limited(req: Request) -> Result<Bytes, ApiError> {
        match Bytes::from_request(req, &()).await {
            Ok(b) => Ok(b),
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
            Err(rej) => Err(
                ApiError::new(rej.status(), "bad_body", "Cannot read request body")
                    .detail(rej.body_text()),
            ),
        }
    }

    pub fn too_large() -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "Request body is too large",
        )
    }
}

/// A page size from the query string: `default` when absent, else 1–`max`
/// (422 `invalid_limit` otherwise).
pub fn page_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None => Ok(default),
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|l| (1..=max).contains(l))
            .ok_or_else(|| {
                ApiError::invalid("limit", "invalid_limit", format!("limit must be 1-{max}"))
            }),
    }
}

/// Like `axum::extract::Query`, with a problem+json rejection.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    "Malformed query string",
                )
                .detail(e.body_text())
            })
    }
}

/// Like `axum::extract::Path`, with a problem+json rejection (e.g. a segment
/// that is not valid UTF-8 once percent-decoded).
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|e| {
                ApiError::new(e.status(), "invalid_path", "Malformed path parameter")
                    .detail(e.body_text())
            })
    }
}

/// The client's IP for per-client limits: the last `X-Forwarded-For` address
/// when `http.trust_forwarded_for` is set (only behind a trusted proxy), else
/// the TCP peer; `unknown` without either. The last, not the first: proxies
/// (HAProxy `option forwardfor`, nginx, cloud load balancers) append the
/// peer they saw to whatever the client sent, so only the last address is
/// not the client's own say.
pub fn client_ip(
    trust_forwarded_for: bool,
    headers: &axum::http::HeaderMap,
    peer: Option<std::net::SocketAddr>,
) -> String {
    if trust_forwarded_for {
        if let Some(ip) = headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<std::net::IpAddr>().ok())
        {
            return ip.to_string();
        }
    }
    peer.map(|p| p.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The TCP peer in a request's extensions (see [`PeerAddr`]).
pub fn peer_addr(extensions: &axum::http::Extensions) -> Option<std::net::SocketAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0)
}

/// The TCP peer, when the server was started with connect info.
pub struct PeerAddr(pub Option<std::net::SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PeerAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(PeerAddr(peer_addr(&parts.extensions)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn the_client_ip_is_the_address_the_trusted_proxy_appended() {
        let peer: Option<std::net::SocketAddr> = Some("10.9.9.9:5000".parse().unwrap());
        let headers = |values: &[&str]| {
            let mut h = axum::http::HeaderMap::new();
            for v in values {
                h.append("x-forwarded-for", v.parse().unwrap());
            }
            h
        };
        // What the client sent comes first; the proxy appends what it saw.
        let forged = headers(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_ip(true, &forged, peer), "203.0.113.7");
        let two_lines = headers(&["6.6.6.6", "203.0.113.8"]);
        assert_eq!(client_ip(true, &two_lines, peer), "203.0.113.8");
        assert_eq!(
            client_ip(true, &headers(&["2001:db8::1"]), peer),
            "2001:db8::1"
        );
        // Not trusted, missing or junk: the TCP peer.
        assert_eq!(client_ip(false, &forged, peer), "10.9.9.9");
        assert_eq!(client_ip(true, &headers(&[]), peer), "10.9.9.9");
        assert_eq!(
            client_ip(true, &headers(&["1.2.3.4, junk"]), peer),
            "10.9.9.9"
        );
        assert_eq!(client_ip(true, &headers(&[]), None), "unknown");
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        amount: i64,
    }

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        inner: Inner,
    }

    fn err(json: &str) -> (u16, String, Option<String>) {
        let e = parse_json::<Body>(json.as_bytes()).unwrap_err();
        (e.status.as_u16(), e.problem.code, e.problem.field)
    }

    #[test]
    fn details_speak_json_not_rust() {
        let detail = |json: &str| {
            let e = parse_json::<Body>(json.as_bytes()).unwrap_err();
            e.problem.detail.unwrap_or_default()
        };
        let wrong_amount = detail(r#"{"name":"a","inner":{"amount":"x"}}"#);
        assert!(
            wrong_amount.ends_with("expected an integer"),
            "{wrong_amount}"
        );
        let not_object = detail("[]");
        assert!(not_object.ends_with("expected an object"), "{not_object}");
        for d in [wrong_amount, not_object] {
            assert!(!d.contains("struct") && !d.contains("i64"), "{d}");
        }
    }

    #[test]
    fn problems_name_the_field() {
        assert_eq!(err("{"), (400, "malformed_json".into(), None));
        assert_eq!(
            err(r#"{"inner":{"amount":1}}"#),
            (422, "missing_field".into(), Some("name".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":{"amount":1},"balance":5}"#),
            (422, "unknown_field".into(), Some("balance".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":{"amount":"x"}}"#),
            (422, "invalid_field".into(), Some("inner.amount".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":{"amount":1,"x":1}}"#),
            (422, "unknown_field".into(), Some("inner.x".into()))
        );
        assert_eq!(
            err("[]"),
            (422, "invalid_field".into(), Some("body".into()))
        );
    }
}
