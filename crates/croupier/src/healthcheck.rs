//! `croupier healthcheck`: the container HEALTHCHECK (and exec probe) that
//! needs no shell tools in the image. Exit 0 on a 2xx answer, 1 on anything
//! else — Docker reserves 2, so a bad URL is 1 too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

/// The local `/readyz` of an instance listening on `listen`: a wildcard bind
/// (0.0.0.0, ::) is reached on loopback.
pub fn default_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/readyz", SocketAddr::new(ip, listen.port()))
}

/// GETs `url` once within `timeout`; prints the status (stdout) or the
/// reason (stderr), which Docker keeps in the container's health log.
pub fn run(url: &str, timeout: Duration) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(check(url, timeout)) {
        Ok(status) if status.is_success() => {
            println!("{status} {url}");
            ExitCode::SUCCESS
        }
        Ok(status) => {
            eprintln!("unhealthy: {status} {url}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn check(url: &str, timeout: Duration) -> Result<reqwest::StatusCode, String> {
    if !url.starts_with("http://") {
        // The tree has no TLS client; probes reach the pod or container directly.
        return Err("only http:// URLs are supported".into());
    }
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let response = client.get(url).send().await.map_err(describe)?;
    Ok(response.status())
}

fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "no answer within the timeout".into()
    } else if e.is_builder() {
        format!("invalid URL ({e})")
    } else {
        // The innermost cause names what went wrong (refused, reset, …).
        let mut cause: &dyn std::error::Error = &e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_binds_are_checked_on_loopback() {
        let url = |s: &str| default_url(s.parse().unwrap());
        assert_eq!(url("0.0.0.0:8080"), "http://127.0.0.1:8080/readyz");
        assert_eq!(url("[::]:9000"), "http://[::1]:9000/readyz");
        assert_eq!(url("10.1.2.3:80"), "http://10.1.2.3:80/readyz");
    }
}
