//! The target: an `http://` or `https://` URL on loopback, and the request sent to it (HTTP/1.1
//! bytes, or an HTTP/2 request head).
//!
//! Only `127.0.0.1`, `::1` (written `[::1]`) and `localhost` are accepted, and `localhost` is
//! connected to as `127.0.0.1` without asking a resolver, so no name lookup can turn a load run
//! into traffic to another machine. The request is built once and the same bytes are written on
//! every connection.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A parsed target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header: the URL's authority as written.
    pub authority: String,
    /// The host as written, without brackets: the name the server's certificate must carry.
    pub host: String,
    /// `https://`: TLS on every connection.
    pub tls: bool,
    /// Path and query, starting with `/`.
    pub path: String,
}

/// Why a URL was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError(String);

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TargetError {}

impl Target {
    /// Parses `http[s]://HOST[:PORT][/PATH][?QUERY]`, refusing every host but loopback.
    pub fn parse(url: &str) -> Result<Self, TargetError> {
        let err = |why: &str| TargetError(format!("{why}: {url:?}"));
        let (rest, tls) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
            (Some(rest), _) => (rest, false),
            (None, Some(rest)) => (rest, true),
            (None, None) => return Err(err("only http:// and https:// URLs are supported")),
        };
        let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(split);
        let tail = tail.split('#').next().unwrap_or("");
        let path = match tail.strip_prefix('?') {
            Some(_) => format!("/{tail}"),
            None if tail.is_empty() => "/".to_owned(),
            None => tail.to_owned(),
        };
        if authority.contains('@') {
            return Err(err("credentials in the URL are not supported"));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (host, after) = v6.split_once(']').ok_or_else(|| err("unclosed '['"))?;
                (host, after.strip_prefix(':'))
            }
            None => match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            },
        };
        let port = match port {
            None if tls => 443,
            None => 80,
            Some(port) => port.parse::<u16>().map_err(|_| err("bad port"))?,
        };
        let ip = match host.to_ascii_lowercase().as_str() {
            "127.0.0.1" | "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
            "::1" => IpAddr::V6(Ipv6Addr::LOCALHOST),
            _ => {
                return Err(err(
                    "refusing a host that is not loopback (127.0.0.1, [::1] or localhost)",
                ))
            }
        };
        Ok(Self {
            addr: SocketAddr::new(ip, port),
            authority: authority.to_owned(),
            host: host.to_owned(),
            tls,
            path,
        })
    }

    /// The HTTP/2 request head: the same method, path and headers as [`Target::request`], less
    /// `Connection`, which HTTP/2 forbids. A body goes in a DATA frame of its own.
    pub fn h2_request(
        &self,
        method: &str,
        body: Option<&str>,
        headers: &[String],
    ) -> Result<http::Request<()>, String> {
        let scheme = if self.tls { "https" } else { "http" };
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{scheme}://{}{}", self.authority, self.path))
            .header("accept", "text/event-stream")
            .header("user-agent", "orpc-load");
        for header in headers {
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            request = request.header(name.trim(), value.trim());
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .header("content-length", body.len());
        }
        request.body(()).map_err(|error| error.to_string())
    }

    /// The request head and body. `body` is sent as JSON with its length.
    pub fn request(&self, method: &str, body: Option<&str>, headers: &[String]) -> Vec<u8> {
        let mut out = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\
             User-Agent: orpc-load\r\nConnection: close\r\n",
            self.path, self.authority
        );
        for header in headers {
            out.push_str(header.trim());
            out.push_str("\r\n");
        }
        if let Some(body) = body {
            out.push_str("Content-Type: application/json\r\n");
            out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            out.push_str(body);
        } else {
            out.push_str("\r\n");
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_parse() {
        let t = Target::parse("http://127.0.0.1:8787/api/count?n=3&delay_ms=0").unwrap();
        assert_eq!(t.addr, "127.0.0.1:8787".parse().unwrap());
        assert_eq!(t.path, "/api/count?n=3&delay_ms=0");
        let t = Target::parse("http://[::1]:9/rpc/count#x").unwrap();
        assert_eq!(
            (t.addr, t.path.as_str()),
            ("[::1]:9".parse().unwrap(), "/rpc/count")
        );
        let t = Target::parse("http://LocalHost?x=1").unwrap();
        assert_eq!((t.addr.port(), t.path.as_str()), (80, "/?x=1"));
        assert_eq!(t.addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
        let t = Target::parse("https://127.0.0.1/api").unwrap();
        assert_eq!(
            (t.tls, t.addr.port(), t.host.as_str()),
            (true, 443, "127.0.0.1")
        );
        let t = Target::parse("https://[::1]:8443/").unwrap();
        assert_eq!((t.tls, t.host.as_str()), (true, "::1"));
    }

    #[test]
    fn other_hosts_and_schemes_are_refused() {
        for url in [
            "http://10.0.0.1:80/",
            "http://127.0.0.2/",
            "http://example.com/",
            "http://localhost.example.com/",
            "http://[::2]:80/",
            "http://::1/",
            "ftp://127.0.0.1/",
            "https://10.0.0.1/",
            "http://user@127.0.0.1/",
            "http://127.0.0.1:99999/",
        ] {
            assert!(Target::parse(url).is_err(), "{url}");
        }
    }

    #[test]
    fn requests_carry_host_and_body_length() {
        let t = Target::parse("http://localhost:1/rpc/count").unwrap();
        let req = t.request("POST", Some(r#"{"json":{"n":1}}"#), &["X-A: 1".into()]);
        let req = String::from_utf8(req).unwrap();
        assert!(req.starts_with("POST /rpc/count HTTP/1.1\r\nHost: localhost:1\r\n"));
        assert!(req.contains("X-A: 1\r\n"));
        assert!(req.ends_with("Content-Length: 16\r\n\r\n{\"json\":{\"n\":1}}"));
    }

    #[test]
    fn h2_requests_have_no_connection_header() {
        let t = Target::parse("https://127.0.0.1:9/api/count?n=1").unwrap();
        let req = t.h2_request("GET", None, &["X-A: 1".into()]).unwrap();
        assert_eq!(req.uri(), "https://127.0.0.1:9/api/count?n=1");
        assert_eq!(req.headers()["x-a"], "1");
        assert!(req.headers().get("connection").is_none());
    }
}
