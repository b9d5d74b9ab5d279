//! What a [`Router`](super::Router) serves with: the serving core, and the HTTP settings its
//! transports read. The transports (RPC, OpenAPI, WebSocket, the `EventStream` responder) take
//! it from the router when mounted; none of them knows the router or another transport.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::response::SseSettings;
use super::websocket::WebSocketConfig;
use crate::docs::ApiInfo;
use crate::serving::Core;
use crate::sse::KeepAlive;

/// The default request body limit: 1 MiB.
const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// The default limit for the files of one request: 10 MiB.
const DEFAULT_FILE_LIMIT: usize = 10 * 1024 * 1024;

/// How many calls an RPC batch holds at most, by default: `BatchLinkPlugin`'s own default, above
/// which the client splits its batches.
const DEFAULT_BATCH_LIMIT: usize = 10;

/// How long a client may take to send its request head, by default.
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A router's state. Cloned only when a builder method changes a router that is shared.
#[derive(Clone)]
pub(crate) struct Served {
    pub(crate) core: Core,
    /// Keep-alive and initial comments of SSE responses.
    pub(crate) sse: Arc<SseSettings>,
    pub(crate) body_limit: usize,
    /// How many bytes of files one request may carry, beside the body limit.
    pub(crate) file_limit: usize,
    /// How many calls an RPC batch may hold.
    pub(crate) batch_limit: usize,
    pub(crate) request_timeout: Duration,
    pub(crate) websocket: WebSocketConfig,
    pub(crate) info: ApiInfo,
    /// Whether `{scope}/docs` serves the API reference page.
    pub(crate) reference: bool,
    /// Whether a transport of this router was mounted on an app, for `serve_router`'s check.
    pub(crate) mounted: Arc<AtomicBool>,
    /// The router's own Prometheus exporter, if it records into one.
    #[cfg(feature = "otel")]
    pub(crate) prometheus: Option<crate::serving::Prometheus>,
}

impl Default for Served {
    fn default() -> Self {
        Served {
            core: Core::default(),
            sse: Arc::new(SseSettings::new(&KeepAlive::default())),
            body_limit: DEFAULT_BODY_LIMIT,
            file_limit: DEFAULT_FILE_LIMIT,
            batch_limit: DEFAULT_BATCH_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            websocket: WebSocketConfig::default(),
            info: ApiInfo::default(),
            reference: false,
            mounted: Arc::default(),
            #[cfg(feature = "otel")]
            prometheus: None,
        }
    }
}
