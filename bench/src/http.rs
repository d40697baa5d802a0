//! The one HTTP client, and the small helpers the setup phase needs.
//!
//! hyper-util's legacy client is used directly rather than reqwest: reqwest
//! wraps the same client and adds URL parsing, redirect and header handling per
//! request, CPU the generator would steal from the server on a shared 2-core box.

use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// HTTP/1.1 keep-alive client whose pool can hold `max_idle` connections, so
/// every in-flight request keeps its connection between requests.
pub fn client(max_idle: usize) -> HttpClient {
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    conn.set_connect_timeout(Some(Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(max_idle)
        .pool_idle_timeout(Duration::from_secs(120))
        .build(conn)
}

pub fn uri(url: &str) -> Result<Uri> {
    url.parse().with_context(|| format!("invalid URL {url}"))
}

/// POSTs an optional JSON body and returns the status and the whole response body.
pub async fn post_json(
    client: &HttpClient,
    uri: &Uri,
    bearer: Option<&HeaderValue>,
    body: Option<&serde_json::Value>,
) -> Result<(StatusCode, Bytes)> {
    let bytes = match body {
        Some(b) => Bytes::from(serde_json::to_vec(b)?),
        None => Bytes::new(),
    };
    let mut req = Request::new(Full::new(bytes));
    *req.method_mut() = Method::POST;
    *req.uri_mut() = uri.clone();
    if body.is_some() {
        req.headers_mut().insert(CONTENT_TYPE, JSON);
    }
    if let Some(b) = bearer {
        req.headers_mut().insert(AUTHORIZATION, b.clone());
    }
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| anyhow!("POST {uri}: timed out"))?
        .with_context(|| format!("POST {uri}"))?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

/// GETs a path and drains the body; used to open pooled connections ahead of the run.
pub async fn get(client: &HttpClient, uri: &Uri) -> Result<StatusCode> {
    Ok(get_as(client, uri, None).await?.0)
}

/// GETs a path, as a player if `bearer` is given; the status and the body.
pub async fn get_as(
    client: &HttpClient,
    uri: &Uri,
    bearer: Option<&HeaderValue>,
) -> Result<(StatusCode, Bytes)> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = uri.clone();
    if let Some(b) = bearer {
        req.headers_mut().insert(AUTHORIZATION, b.clone());
    }
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req))
        .await
        .map_err(|_| anyhow!("GET {uri}: timed out"))?
        .with_context(|| format!("GET {uri}"))?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

pub fn bearer(token: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(&format!("Bearer {token}")).context("token is not a valid header value")
}
