//! The `Origin` check of an upgrade, against cross-site WebSocket hijacking.
//!
//! A browser lets any page open a WebSocket to any site, and sends that site's cookies with the
//! upgrade; the only sign of the page is the `Origin` header, which page scripts cannot set. So
//! the upgrade is refused unless its `Origin` is absent (not a browser), the same origin as the
//! request, or one the router allows ([`WebSocketConfig`](super::WebSocketConfig)).

use actix_web::http::header;
use actix_web::HttpRequest;

use super::config::Origins;

/// Whether `req`'s `Origin` may open a socket; the refused origin otherwise.
pub(crate) fn check(req: &HttpRequest, allowed: &Origins) -> Result<(), String> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let Ok(origin) = origin.to_str() else {
        return Err(String::from_utf8_lossy(origin.as_bytes()).into_owned());
    };
    let listed = match allowed {
        Origins::Any => true,
        Origins::List(list) => list.iter().any(|o| o.eq_ignore_ascii_case(origin)),
    };
    if listed || same_origin(origin, req.connection_info().host()) {
        Ok(())
    } else {
        Err(origin.to_owned())
    }
}

/// Whether `origin` (`scheme://host[:port]`) names `host` (the request's `host[:port]`). A
/// browser leaves the default port out of `Origin`; a client may still write it in `Host`.
fn same_origin(origin: &str, host: &str) -> bool {
    let Some((scheme, origin_host)) = origin.split_once("://") else {
        // `null`, from sandboxed frames and local files: never the same origin.
        return false;
    };
    if origin_host.eq_ignore_ascii_case(host) {
        return true;
    }
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => return false,
    };
    host.strip_suffix(default_port)
        .is_some_and(|host| origin_host.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use std::sync::Arc;

    fn check_with(origin: Option<&str>, host: &str, allowed: &Origins) -> bool {
        let mut req = TestRequest::default().insert_header(("host", host));
        if let Some(origin) = origin {
            req = req.insert_header(("origin", origin));
        }
        check(&req.to_http_request(), allowed).is_ok()
    }

    #[test]
    fn same_origin_by_default() {
        let none = Origins::List(Arc::new([]));
        assert!(check_with(None, "api.example.com", &none));
        assert!(check_with(
            Some("https://api.example.com"),
            "api.example.com",
            &none
        ));
        assert!(check_with(
            Some("https://API.example.com"),
            "api.example.com:443",
            &none
        ));
        assert!(check_with(
            Some("http://127.0.0.1:8787"),
            "127.0.0.1:8787",
            &none
        ));
        assert!(!check_with(
            Some("http://127.0.0.1:8788"),
            "127.0.0.1:8787",
            &none
        ));
        assert!(!check_with(
            Some("https://evil.example"),
            "api.example.com",
            &none
        ));
        assert!(!check_with(
            Some("https://api.example.com.evil.example"),
            "api.example.com",
            &none
        ));
        assert!(!check_with(
            Some("http://api.example.com"),
            "api.example.com:443",
            &none
        ));
        assert!(!check_with(Some("null"), "api.example.com", &none));
    }

    #[test]
    fn listed_origins_and_any() {
        let listed = Origins::List(Arc::new(["https://app.example.com".to_owned()]));
        assert!(check_with(
            Some("https://app.example.com"),
            "api.example.com",
            &listed
        ));
        assert!(check_with(
            Some("https://api.example.com"),
            "api.example.com",
            &listed
        ));
        assert!(!check_with(
            Some("https://evil.example"),
            "api.example.com",
            &listed
        ));
        assert!(check_with(
            Some("https://evil.example"),
            "api.example.com",
            &Origins::Any
        ));
        assert!(check_with(Some("null"), "api.example.com", &Origins::Any));
    }
}
