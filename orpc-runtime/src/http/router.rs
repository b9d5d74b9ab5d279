//! The router: it builds a [`Served`] (the core and the HTTP settings) and mounts its
//! transports on an actix-web `App`. It routes nothing itself: each transport (`rpc.rs`,
//! `openapi.rs`, `websocket/`) takes the state when mounted.
//!
//! The router is cheap to clone, and a clone is the same router: build it once, outside
//! `HttpServer::new`, so that every worker shares its procedures, counters and shutdown.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web;

use super::openapi;
use super::response::SseSettings;
use super::rpc;
use super::served::Served;
use super::websocket::{self, WebSocketConfig};
use crate::docs::{contract, document, ApiInfo, Flavour};
use crate::serving::{RouteError, StreamStats};
use crate::sse::{Envelope, KeepAlive};
use crate::{Procedure, Route};

/// The instrumentation scope of this crate's meters and tracers.
#[cfg(feature = "otel")]
fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("orpc-runtime")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Procedures by name, with the settings they are served with.
///
/// ```
/// use orpc_runtime::http::Router;
/// use orpc_runtime::sse::KeepAlive;
///
/// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
/// let router = Router::new()
///     .procedure(echo)
///     .keep_alive(KeepAlive::default().interval(None))
///     .body_limit(64 * 1024);
/// let app = actix_web::App::new().service(actix_web::web::scope("/rpc").configure(router.rpc()));
/// # let _ = app;
/// ```
#[derive(Clone, Default)]
pub struct Router {
    served: Arc<Served>,
}

impl Router {
    /// A router with no procedures, 5 s keep-alive and a 1 MiB body limit.
    pub fn new() -> Self {
        Router::default()
    }

    /// The state the transports serve with.
    pub(crate) fn served(&self) -> &Arc<Served> {
        &self.served
    }

    /// The state, to change it: the router's own, or a copy if the router is shared.
    fn served_mut(&mut self) -> &mut Served {
        Arc::make_mut(&mut self.served)
    }

    /// The state for a transport being mounted.
    fn mount(&self) -> Arc<Served> {
        self.served.mounted.store(true, Ordering::Relaxed);
        self.served.clone()
    }

    /// Registers a procedure under its name.
    ///
    /// # Panics
    ///
    /// When the procedure cannot be reached as registered: another procedure has its name or its
    /// OpenAPI method and path (see [`RouteError`]). That is a mistake in the program, found
    /// when the router is built at startup, as axum's `Router::route` panics on overlapping
    /// routes; [`Router::try_procedure`] returns the error instead.
    ///
    /// ```should_panic
    /// use orpc_runtime::http::Router;
    ///
    /// #[orpc_runtime::procedure(path = "/tick")]
    /// async fn tick() -> u32 { 1 }
    ///
    /// #[orpc_runtime::procedure(path = "/tick")]
    /// async fn tock() -> u32 { 2 }
    ///
    /// // Panics: procedures "tick" and "tock" are both served at OpenAPI route `POST /tick`; ...
    /// let router = Router::new().procedure(tick).procedure(tock);
    /// # let _ = router;
    /// ```
    #[track_caller]
    pub fn procedure(self, procedure: impl Procedure) -> Self {
        self.route(procedure.into_route())
    }

    /// Registers a procedure under its name, or says why it cannot be reached as registered.
    /// On error the router is dropped: refusing a procedure means the program is wrong.
    ///
    /// ```
    /// use orpc_runtime::http::{RouteError, Router};
    ///
    /// #[orpc_runtime::procedure]
    /// async fn status() -> u32 { 1 }
    ///
    /// mod v2 {
    ///     #[orpc_runtime::procedure]
    ///     pub async fn status() -> u32 { 1 }
    /// }
    ///
    /// let refused = Router::new().procedure(status).try_procedure(v2::status);
    /// assert_eq!(refused.err(), Some(RouteError::DuplicateName { name: "status" }));
    /// ```
    pub fn try_procedure(self, procedure: impl Procedure) -> Result<Self, RouteError> {
        self.try_route(procedure.into_route())
    }

    /// Registers an already erased procedure.
    ///
    /// # Panics
    ///
    /// As [`Router::procedure`] does.
    #[track_caller]
    pub fn route(self, route: Route) -> Self {
        match self.try_route(route) {
            Ok(router) => router,
            Err(error) => panic!("{error}"),
        }
    }

    /// Registers an already erased procedure, or says why it cannot be reached as registered.
    pub fn try_route(mut self, route: Route) -> Result<Self, RouteError> {
        let (name, stream) = (route.name, route.is_stream());
        let served = self.served_mut();
        served.core.procedures.add(route)?;
        served.core.streams.telemetry.register(name, stream);
        Ok(self)
    }

    /// Records OpenTelemetry metrics of this router's calls and streams, on every transport,
    /// through `provider` (feature `otel`): streams open, ended by reason, events sent, stream
    /// and call durations, time to first event, cleanup time, calls by result. The provider is
    /// this router's alone: another router counts apart unless given the same one. For the
    /// global provider, pass `&opentelemetry::global::meter_provider()`. The instruments and
    /// their Prometheus names are listed in the repository's README ("Metrics: the names");
    /// every counter series of a procedure starts at 0.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// // With the readers and exporters of your choice: OTLP, Prometheus, ...
    /// let provider = SdkMeterProvider::builder().build();
    /// let router = Router::new().procedure(echo).meter_provider(&provider);
    /// # drop(router);
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn meter_provider(mut self, provider: &impl opentelemetry::metrics::MeterProvider) -> Self {
        let meter = provider.meter_with_scope(scope());
        let streams = &mut self.served_mut().core.streams;
        streams.telemetry = std::mem::take(&mut streams.telemetry).with_metrics(&meter);
        for route in self.routes() {
            self.served
                .core
                .streams
                .telemetry
                .register(route.name, route.is_stream());
        }
        self
    }

    /// Traces this router's calls through `provider` (feature `otel`): a server span per call,
    /// named after its procedure, whose parent is the caller's W3C `traceparent` (and
    /// `tracestate`) header (over a WebSocket, the call's own headers, else the upgrade
    /// request's), with `rpc.system = "orpc"`, `rpc.method` and `orpc.transport`. A stream's span
    /// ends when the stream does, however it ends, with `orpc.stream.events` and
    /// `orpc.stream.ended` (`done`, `error`, `disconnect`, `shutdown`); a plain call's when it
    /// answers, with `orpc.code`. The span is the current OpenTelemetry context while the handler
    /// runs, so spans the handler starts, and a publish through `orpc-pubsub`, join the trace.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// // With the span processors and exporters of your choice: OTLP, ...
    /// let provider = SdkTracerProvider::builder().build();
    /// let router = Router::new().procedure(echo).tracer_provider(&provider);
    /// # drop(router);
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: opentelemetry::trace::TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        let tracer =
            opentelemetry::global::BoxedTracer::new(Box::new(provider.tracer_with_scope(scope())));
        let streams = &mut self.served_mut().core.streams;
        streams.telemetry = std::mem::take(&mut streams.telemetry).with_tracer(tracer);
        self
    }

    /// Records this router's metrics ([`Router::meter_provider`]) into a Prometheus exporter of
    /// its own, which [`Router::metrics`] serves to Prometheus' scrapes, and [`serve`](super::serve)
    /// at `/metrics` (feature `otel`).
    ///
    /// ```
    /// use actix_web::{test, App};
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// # actix_web::rt::System::new().block_on(async {
    /// let router = Router::new().procedure(echo).prometheus();
    /// let app = test::init_service(App::new().route("/metrics", router.metrics())).await;
    /// let text = test::call_and_read_body(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
    /// let text = std::str::from_utf8(&text).unwrap();
    /// assert!(text.contains("# TYPE orpc_calls_total counter"));
    /// assert!(text.contains(r#"orpc_calls_total{code="OK",procedure="echo","#)); // at 0 from the start
    /// # });
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn prometheus(self) -> Self {
        let Some(prometheus) = crate::serving::Prometheus::new() else {
            return self;
        };
        let mut router = self.meter_provider(prometheus.provider());
        router.served_mut().prometheus = Some(prometheus);
        router
    }

    /// The meter provider of this router's [`Router::prometheus`] exporter, `None` without one
    /// (feature `otel`): what else records into it is served at the same `/metrics`, such as an
    /// `orpc-pubsub` handle's metrics (`PubSub::meter_provider`).
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider;
    /// use orpc_runtime::http::Router;
    ///
    /// let router = Router::new().prometheus();
    /// let provider = router.prometheus_meter_provider().unwrap();
    /// provider.meter("my-app").u64_counter("my.app.orders").build().add(1, &[]);
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn prometheus_meter_provider(
        &self,
    ) -> Option<opentelemetry_sdk::metrics::SdkMeterProvider> {
        Some(self.served.prometheus.as_ref()?.provider().clone())
    }

    /// `GET` in Prometheus' text exposition format: the metrics of this router's
    /// [`Router::prometheus`] exporter, or 404 `NOT_FOUND` when it has none (feature `otel`).
    /// Mount it in one line: `.route("/metrics", router.metrics())`.
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn metrics(&self) -> actix_web::Route {
        let prometheus = self.served.prometheus.clone();
        web::get().to(move || {
            let prometheus = prometheus.clone();
            async move {
                match prometheus {
                    Some(prometheus) => actix_web::HttpResponse::Ok()
                        .content_type(crate::serving::PROMETHEUS_CONTENT_TYPE)
                        .body(prometheus.encode()),
                    None => actix_web::ResponseError::error_response(&crate::ORPCError::not_found(
                        "This router has no Prometheus exporter: build it with Router::prometheus()",
                    )),
                }
            }
        })
    }

    /// Sets the keep-alive and initial comments of event-iterator responses.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.served_mut().sse = Arc::new(SseSettings::new(&keep_alive));
        self
    }

    /// Sets how [`Router::websocket`] serves sockets: allowed origins, the largest message, the
    /// keep-alive pings (see [`WebSocketConfig`]).
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        self.served_mut().websocket = config;
        self
    }

    /// Sets the largest request body accepted; larger ones get 413 `PAYLOAD_TOO_LARGE`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.served_mut().body_limit = bytes;
        self
    }

    /// Sets how many bytes of files one request may carry (a multipart form's files together),
    /// beside [`Router::body_limit`] for the rest of it; more gets 413 `PAYLOAD_TOO_LARGE`.
    /// Default: 10 MiB. Uploads beyond 256 KiB wait in a temporary file, not in memory (see
    /// [`File`](crate::File)).
    ///
    /// ```
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// let router = orpc_runtime::http::Router::new().procedure(echo).file_limit(50 << 20);
    /// # let _ = router;
    /// ```
    pub fn file_limit(mut self, bytes: usize) -> Self {
        self.served_mut().file_limit = bytes;
        self
    }

    /// Sets how many calls a batch may hold (oRPC's `BatchLinkPlugin` posts batches to the RPC
    /// protocol); a larger batch gets 413 `PAYLOAD_TOO_LARGE`. The body limit applies to the
    /// whole batch. Default: 10, the client's own default batch size.
    ///
    /// ```
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// let router = orpc_runtime::http::Router::new().procedure(echo).batch_limit(25);
    /// # let _ = router;
    /// ```
    pub fn batch_limit(mut self, calls: usize) -> Self {
        self.served_mut().batch_limit = calls;
        self
    }

    /// Caps how many streams may be open at once; further calls get 503 `SERVICE_UNAVAILABLE`
    /// while open streams carry on. Unlimited by default.
    pub fn max_streams(mut self, limit: u64) -> Self {
        self.served_mut().core.streams.max_streams = Some(limit);
        self
    }

    /// How long a client may take to send its request head before it is cut off (408), which
    /// defeats slowloris clients. [`serve`](super::serve) applies it; on your own `HttpServer`,
    /// pass [`Router::request_timeout_value`] to `client_request_timeout`. Default: 5 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.served_mut().request_timeout = timeout;
        self
    }

    /// The request head timeout set with [`Router::request_timeout`].
    pub fn request_timeout_value(&self) -> Duration {
        self.served.request_timeout
    }

    /// The counters of this router's streams, across every worker.
    pub fn stats(&self) -> StreamStats {
        self.served.core.streams.counters.snapshot()
    }

    /// Serves an API reference page at `{scope}/docs` beside `{scope}/openapi.json`, when `on`
    /// (it is off by default). The page lists every procedure from the OpenAPI document, with its
    /// input and output schemas, and calls it from the browser: a form for the input, the answer
    /// or the stream's events as they arrive, and a button to stop a stream. It is one
    /// self-contained HTML file compiled into the crate (about 8 KiB): it fetches nothing but
    /// the document and the calls you make, so it works offline and under a strict CSP for
    /// connections.
    ///
    /// ```
    /// use actix_web::{test, App};
    /// use orpc_runtime::http::Router;
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let router = Router::new().api_reference(true);
    /// let app = test::init_service(App::new().service(router.openapi_scope("/api"))).await;
    /// let page = test::call_service(&app, test::TestRequest::get().uri("/api/docs").to_request()).await;
    /// assert_eq!(page.status(), 200);
    /// assert_eq!(page.headers().get("content-type").unwrap(), "text/html; charset=utf-8");
    /// # });
    /// ```
    pub fn api_reference(mut self, on: bool) -> Self {
        self.served_mut().reference = on;
        self
    }

    /// Names the API in its OpenAPI document.
    pub fn info(mut self, title: impl Into<String>, version: impl Into<String>) -> Self {
        self.served_mut().info = ApiInfo {
            title: title.into(),
            version: version.into(),
        };
        self
    }

    /// The OpenAPI 3.1 document of the OpenAPI protocol, for a router mounted at `server_url`
    /// (such as `/api`). [`Router::openapi`] also serves it at `{scope}/openapi.json`.
    pub fn openapi_document(&self, server_url: &str) -> serde_json::Value {
        document(self.routes(), &self.served.info, server_url)
    }

    /// The router's oRPC contract as a TypeScript module, from the same schemas that validate:
    /// `export const contract = { .. }`, one entry per procedure (a `/` in a name nests objects),
    /// with its OpenAPI method and path, its input and its output (`eventIterator(event, done)`
    /// for an event iterator), and a named type for each named Rust type. It imports only from
    /// `@orpc/contract`; a TypeScript client is then typed with
    /// `createORPCClient<ContractRouterClient<typeof contract>>(link)`, and `OpenAPILink` can
    /// route with it.
    ///
    /// ```
    /// use orpc_runtime::http::Router;
    /// use orpc_runtime::{procedure, yield_};
    /// use schemars::JsonSchema;
    /// use serde::{Deserialize, Serialize};
    ///
    /// #[derive(Deserialize, JsonSchema)]
    /// struct CountInput { n: u32 }
    ///
    /// #[derive(Serialize, JsonSchema)]
    /// struct Tick { i: u32 }
    ///
    /// #[procedure(output = event_iterator(Tick, String), method = GET)]
    /// async fn count(input: CountInput) -> String {
    ///     for i in 0..input.n {
    ///         yield_!(Tick { i });
    ///     }
    ///     "done!".into()
    /// }
    ///
    /// let module = Router::new().procedure(count).typescript();
    /// assert!(module.contains("export type Tick = {\n  i: number\n}"));
    /// assert!(module.contains(
    ///     "count: oc.route({ method: 'GET', path: '/count' }).input(type<CountInput>())\
    ///      .output(eventIterator(type<Tick>(), type<string>()))"
    /// ));
    /// ```
    pub fn typescript(&self) -> String {
        contract(self.routes(), Flavour::V1)
    }

    /// The router's contract for oRPC 2 (`@orpc/contract` 2.0.0-beta.16, a beta), for clients of
    /// [`Router::rpc_v2`]: the same types as [`Router::typescript`], written with oRPC 2's
    /// builder: no `oc.route` (oRPC 2 keeps HTTP routes out of the contract), declared errors
    /// without `status`, `asyncIteratorObject(event, done)` for an event iterator. A client is
    /// typed with `createORPCClient<RouterContractClient<typeof contract>>(link)`.
    ///
    /// ```
    /// use orpc_runtime::http::Router;
    /// use orpc_runtime::{procedure, yield_};
    ///
    /// #[procedure(output = event_iterator(u32, String))]
    /// async fn count(input: u32) -> String {
    ///     for i in 0..input {
    ///         yield_!(i);
    ///     }
    ///     "done!".into()
    /// }
    ///
    /// let module = Router::new().procedure(count).typescript_v2();
    /// assert!(module.contains("import { asyncIteratorObject, oc, type } from '@orpc/contract'"));
    /// assert!(module.contains(
    ///     "count: oc.input(type<number>()).output(asyncIteratorObject(type<number>(), type<string>()))"
    /// ));
    /// ```
    pub fn typescript_v2(&self) -> String {
        contract(self.routes(), Flavour::V2)
    }

    /// The registered routes.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.served.core.procedures.iter().map(|r| &**r)
    }

    /// Ends every open stream of this router, and every one opened later, without a `done`
    /// frame, so that clients reconnect elsewhere; WebSockets close with 1001, and new ones are
    /// refused. Their cleanup runs as they are dropped. Clones of the router are the same
    /// router; another router in the same process is not touched.
    pub fn shutdown(&self) {
        self.served.core.streams.lifecycle.shut_down();
    }

    /// Waits until every asynchronous cleanup ([`finally_async`](crate::finally_async)) that
    /// this router's handlers started has finished, or `timeout` has passed; whether they all
    /// finished. Cleanups of other routers are not waited for.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// let router = orpc_runtime::http::Router::new();
    /// router.shutdown();
    /// assert!(router.wait_for_cleanups(Duration::from_secs(2)).await);
    /// # }
    /// ```
    pub async fn wait_for_cleanups(&self, timeout: Duration) -> bool {
        self.served
            .core
            .streams
            .lifecycle
            .wait_for_cleanups(timeout)
            .await
    }

    /// oRPC 1.x's WebSocket transport, as a route to mount at a path of your choice: every
    /// procedure, called by `RPCLink` from `@orpc/client/websocket` over one socket, with the
    /// router's stream limit, stats, shutdown and [`WebSocketConfig`] (allowed origins, message
    /// size, keep-alive). A call's extractors read the upgrade request; its `Option<LastEventId>`
    /// reads the call's own `last-event-id`. The module `http::websocket`'s docs tell the rest.
    ///
    /// ```
    /// use actix_web::{test, App};
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// # actix_web::rt::System::new().block_on(async {
    /// let router = Router::new().procedure(echo);
    /// let app = test::init_service(App::new().route("/ws", router.websocket())).await;
    ///
    /// // A page of another site may not open a socket with the user's cookies.
    /// let upgrade = test::TestRequest::get()
    ///     .uri("/ws")
    ///     .insert_header(("host", "api.example.com"))
    ///     .insert_header(("origin", "https://evil.example"))
    ///     .insert_header(("upgrade", "websocket"))
    ///     .insert_header(("connection", "upgrade"))
    ///     .insert_header(("sec-websocket-version", "13"))
    ///     .insert_header(("sec-websocket-key", "x3JJHMbDL1EzLkh9GBhXDw=="));
    /// let refused = test::call_service(&app, upgrade.to_request()).await;
    /// assert_eq!(refused.status(), 403);
    /// # });
    /// ```
    ///
    /// On the client:
    ///
    /// ```js
    /// import { createORPCClient } from '@orpc/client'
    /// import { RPCLink } from '@orpc/client/websocket'
    ///
    /// const client = createORPCClient(new RPCLink({ websocket: new WebSocket('ws://localhost:8787/ws') }))
    /// for await (const tick of await client.count({ n: 3 })) console.log(tick)
    /// ```
    pub fn websocket(&self) -> actix_web::Route {
        websocket::route(self.mount())
    }

    /// Mounts the RPC protocol: `cfg` is usually a scope such as `web::scope("/rpc")`.
    pub fn rpc(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        rpc::mount(self.mount(), Envelope::Rpc)
    }

    /// Mounts oRPC 2's RPC protocol, for `RPCLink` of `@orpc/client` 2 (tested with
    /// 2.0.0-beta.16; oRPC 2 is a beta): the same procedures as [`Router::rpc`], in oRPC 2's
    /// format ([`Envelope::RpcV2`]). Mounted beside `rpc()`, one server serves 1.x and 2.x
    /// clients during a migration, which one oRPC server cannot. oRPC 2's batches and its
    /// WebSocket protocol are not served.
    ///
    /// ```
    /// use actix_web::{test, web, App};
    /// use orpc_runtime::http::Router;
    /// use orpc_runtime::ORPCError;
    ///
    /// #[orpc_runtime::procedure]
    /// async fn tired(_: ()) -> Result<u8, ORPCError> {
    ///     Err(ORPCError::new("TOO_MANY_REQUESTS"))
    /// }
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let router = Router::new().procedure(tired);
    /// let app = App::new()
    ///     .service(web::scope("/rpc").configure(router.rpc()))
    ///     .service(web::scope("/v2/rpc").configure(router.rpc_v2()));
    /// let app = test::init_service(app).await;
    ///
    /// let call = |path| test::TestRequest::post().uri(path).to_request();
    /// let v1: serde_json::Value = test::call_and_read_body_json(&app, call("/rpc/tired")).await;
    /// let v2: serde_json::Value = test::call_and_read_body_json(&app, call("/v2/rpc/tired")).await;
    /// assert_eq!(v1["json"]["status"], 429);
    /// assert_eq!(v2["json"], serde_json::json!({
    ///     "defined": false, "inferable": false,
    ///     "code": "TOO_MANY_REQUESTS", "message": "Too Many Requests",
    /// }));
    /// # });
    /// ```
    pub fn rpc_v2(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        rpc::mount(self.mount(), Envelope::RpcV2)
    }

    /// Mounts the OpenAPI protocol's routes, and the API's OpenAPI document at
    /// `GET {scope}/openapi.json` unless a procedure takes that path, on `cfg`: an app, or a
    /// scope such as `web::scope("/api")`.
    ///
    /// It never sets a default service: a path none of its routes matches gets the default of
    /// the scope or app it is mounted on, so an app keeps its own 404 beside these routes. For
    /// oRPC's JSON `NOT_FOUND` on unknown paths under a prefix, mount
    /// [`Router::openapi_scope`] instead.
    ///
    /// ```
    /// use actix_web::{web, App, HttpResponse};
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// let router = Router::new().procedure(echo);
    /// let app = App::new()
    ///     .configure(router.openapi()) // `POST /echo`
    ///     .route("/health", web::get().to(HttpResponse::Ok))
    ///     .default_service(web::to(HttpResponse::NotFound)); // still the app's own 404
    /// # let _ = app;
    /// ```
    pub fn openapi(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        openapi::mount(self.mount())
    }

    /// The OpenAPI protocol as a scope at `prefix` (such as `/api`): [`Router::openapi`]'s
    /// routes, with oRPC's JSON `NOT_FOUND` for any other path under `prefix`. Paths outside
    /// `prefix` are left to the app and its own default service. Middleware can wrap the
    /// scope as any other.
    ///
    /// ```
    /// use actix_web::{web, App, HttpResponse};
    /// use orpc_runtime::http::Router;
    ///
    /// # #[orpc_runtime::procedure] async fn echo(input: String) -> String { input }
    /// let router = Router::new().procedure(echo);
    /// let app = App::new()
    ///     .service(router.openapi_scope("/api")) // `POST /api/echo`; `/api/nope` is oRPC's 404
    ///     .route("/health", web::get().to(HttpResponse::Ok))
    ///     .default_service(web::to(HttpResponse::NotFound)); // `/nope` is the app's
    /// # let _ = app;
    /// ```
    pub fn openapi_scope(&self, prefix: &str) -> actix_web::Scope {
        web::scope(prefix)
            .configure(self.openapi())
            .default_service(web::to(openapi::not_found))
    }
}
