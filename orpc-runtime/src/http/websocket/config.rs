//! The settings of a router's WebSocket transport: which pages may open a socket, how large a
//! message may be, how often a quiet peer is pinged.

use std::sync::Arc;
use std::time::Duration;

/// The largest message accepted by default: 1 MiB, the router's default body limit.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1024 * 1024;

/// How often a socket is pinged by default.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(15);

/// The settings of [`Router::websocket`](crate::http::Router::websocket), set with
/// [`Router::websocket_config`](crate::http::Router::websocket_config).
///
/// - **Origins**: a browser sends the page's `Origin` with the upgrade, and sends the site's
///   cookies whatever page opens the socket; so a socket whose calls are authorised by a cookie
///   must refuse other sites' pages (cross-site WebSocket hijacking). By default only the same
///   origin is allowed: the `Origin`'s host and port must be the request's `Host` (or its
///   `X-Forwarded-Host`/`Forwarded` host behind a proxy). An upgrade without `Origin`, as
///   non-browser clients send it, is allowed: it cannot carry a victim's cookies. Others get 403
///   `FORBIDDEN`.
/// - **Message size**: a message (a frame, or continuation frames together) larger than this
///   closes the socket with code 1009, before it is read whole.
/// - **Keep-alive**: the server pings every interval; a peer that has sent nothing, not even the
///   pong, for two intervals is closed (code 1001), and its streams end as on a disconnect.
///
/// ```
/// use std::time::Duration;
/// use orpc_runtime::http::{Router, WebSocketConfig};
///
/// let router = Router::new().websocket_config(
///     WebSocketConfig::default()
///         .allow_origin("https://app.example.com")
///         .max_message_size(64 * 1024)
///         .ping_interval(Some(Duration::from_secs(30))),
/// );
/// let app = actix_web::App::new().route("/ws", router.websocket());
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct WebSocketConfig {
    pub(crate) origins: Origins,
    pub(crate) max_message_size: usize,
    pub(crate) ping_interval: Option<Duration>,
}

/// Which pages may open a socket, beside the same origin.
#[derive(Debug, Clone)]
pub(crate) enum Origins {
    /// These origins (`scheme://host[:port]`), compared without regard to case.
    List(Arc<[String]>),
    /// Any page: for APIs that authorise calls with tokens rather than cookies.
    Any,
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            origins: Origins::List(Arc::new([])),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            ping_interval: Some(DEFAULT_PING_INTERVAL),
        }
    }
}

impl WebSocketConfig {
    /// Also allows pages of `origin`, written as browsers send it: `https://app.example.com`,
    /// `http://localhost:5173`.
    pub fn allow_origin(mut self, origin: impl Into<String>) -> Self {
        if let Origins::List(list) = &self.origins {
            let mut origins = list.to_vec();
            origins.push(origin.into());
            self.origins = Origins::List(origins.into());
        }
        self
    }

    /// Allows pages of any origin. Only for APIs whose calls are not authorised by cookies (or
    /// by anything else a browser adds by itself, such as a client certificate).
    pub fn allow_any_origin(mut self) -> Self {
        self.origins = Origins::Any;
        self
    }

    /// Sets the largest message accepted, in bytes; a larger one closes the socket with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Sets how often the server pings, or `None` for never (a dead peer is then noticed only
    /// when the operating system gives up on its connection).
    pub fn ping_interval(mut self, every: Option<Duration>) -> Self {
        self.ping_interval = every.filter(|every| !every.is_zero());
        self
    }
}
