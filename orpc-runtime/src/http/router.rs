//! The router: procedures by name, mounted on an actix-web `App` under the RPC protocol, the
//! OpenAPI protocol, or both.
//!
//! - RPC (oRPC's `RPCLink`): `POST {scope}/{name}` with `{"json": input}`; answers
//!   `{"json": output}`, `{"json": error}` with the error's status, or an SSE stream whose data
//!   lines carry `{"json": value}`. Any other method answers 405 `METHOD_NOT_SUPPORTED`.
//! - OpenAPI (oRPC's `OpenAPILink`, browsers' `EventSource`): one route per procedure, `POST
//!   /{name}` unless the procedure sets `method` and `path`; plain JSON in and out. `GET` routes
//!   read their input from the query string.
//!
//! The router is cheap to clone; build it once, outside `HttpServer::new`, so that every worker
//! shares its shutdown signal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::event_stream::{reserve, respond, StreamPolicy};
use super::input::{decode_body, read_body};
use super::response::Shared;
use super::route_error::{route_shape, RouteError, METHODS};
use super::shutdown::ShutdownSignal;
use super::stats::{Counters, StreamStats};
use super::websocket::{self, WebSocketConfig};
use crate::input::PathParams;
use crate::procedure::Handler;
use crate::schema::ApiInfo;
use crate::sse::{Envelope, KeepAlive};
use crate::{ORPCError, Procedure, RawInput, Route};

/// The default request body limit: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// How long a client may take to send its request head, by default.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

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
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

#[derive(Clone)]
pub(crate) struct Inner {
    routes: HashMap<&'static str, Arc<Route>>,
    /// What its streams share: the keep-alive comments and the shutdown signal.
    shared: Arc<Shared>,
    body_limit: usize,
    max_streams: Option<u64>,
    request_timeout: Duration,
    info: ApiInfo,
    /// Whether `{scope}/docs` serves the API reference page.
    reference: bool,
    counters: Arc<Counters>,
    websocket: WebSocketConfig,
}

impl Default for Router {
    fn default() -> Self {
        Router::new()
    }
}

impl Router {
    /// A router with no procedures, 5 s keep-alive and a 1 MiB body limit.
    pub fn new() -> Self {
        Router {
            inner: Arc::new(Inner {
                routes: HashMap::new(),
                shared: Arc::new(Shared::new(
                    &KeepAlive::default(),
                    Some(Arc::new(ShutdownSignal::new())),
                )),
                body_limit: DEFAULT_BODY_LIMIT,
                max_streams: None,
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                info: ApiInfo::default(),
                reference: false,
                counters: Arc::default(),
                websocket: WebSocketConfig::default(),
            }),
        }
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
        let method = route.method.unwrap_or("POST");
        if !METHODS.contains(&method) {
            return Err(RouteError::UnknownMethod {
                name: route.name,
                method,
            });
        }
        if self.inner.routes.contains_key(route.name) {
            return Err(RouteError::DuplicateName { name: route.name });
        }
        let path = openapi_path(&route);
        let shape = route_shape(&path);
        let taken = self.inner.routes.values().find(|other| {
            other.method.unwrap_or("POST") == method && route_shape(&openapi_path(other)) == shape
        });
        if let Some(first) = taken {
            return Err(RouteError::DuplicateOpenApiRoute {
                method,
                path,
                first: first.name,
                second: route.name,
            });
        }
        Arc::make_mut(&mut self.inner)
            .routes
            .insert(route.name, Arc::new(route));
        Ok(self)
    }

    /// Sets the keep-alive and initial comments of event-iterator responses.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        let inner = Arc::make_mut(&mut self.inner);
        // The same shutdown signal: clones of this router still end these streams.
        inner.shared = Arc::new(Shared::new(&keep_alive, inner.shared.shutdown.clone()));
        self
    }

    /// Sets how [`Router::websocket`] serves sockets: allowed origins, the largest message, the
    /// keep-alive pings (see [`WebSocketConfig`]).
    pub fn websocket_config(mut self, config: WebSocketConfig) -> Self {
        Arc::make_mut(&mut self.inner).websocket = config;
        self
    }

    /// Sets the largest request body accepted; larger ones get 413 `PAYLOAD_TOO_LARGE`.
    pub fn body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).body_limit = bytes;
        self
    }

    /// Caps how many streams may be open at once; further calls get 503 `SERVICE_UNAVAILABLE`
    /// while open streams carry on. Unlimited by default.
    pub fn max_streams(mut self, limit: u64) -> Self {
        Arc::make_mut(&mut self.inner).max_streams = Some(limit);
        self
    }

    /// How long a client may take to send its request head before it is cut off (408), which
    /// defeats slowloris clients. [`serve`](super::serve) applies it; on your own `HttpServer`,
    /// pass [`Router::request_timeout_value`] to `client_request_timeout`. Default: 5 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).request_timeout = timeout;
        self
    }

    /// The request head timeout set with [`Router::request_timeout`].
    pub fn request_timeout_value(&self) -> Duration {
        self.inner.request_timeout
    }

    /// The counters of this router's streams, across every worker.
    pub fn stats(&self) -> StreamStats {
        self.inner.counters.snapshot()
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
        Arc::make_mut(&mut self.inner).reference = on;
        self
    }

    /// Names the API in its OpenAPI document.
    pub fn info(mut self, title: impl Into<String>, version: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).info = ApiInfo {
            title: title.into(),
            version: version.into(),
        };
        self
    }

    /// The OpenAPI 3.1 document of the OpenAPI protocol, for a router mounted at `server_url`
    /// (such as `/api`). [`Router::openapi`] also serves it at `{scope}/openapi.json`.
    pub fn openapi_document(&self, server_url: &str) -> serde_json::Value {
        crate::schema::document(self.routes(), &self.inner.info, server_url)
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
        crate::schema::contract(self.routes())
    }

    /// The registered routes.
    pub fn routes(&self) -> impl Iterator<Item = &Route> {
        self.inner.routes.values().map(|r| &**r)
    }

    /// Ends every open stream of this router, and every one opened later, without a `done`
    /// frame, so that clients reconnect elsewhere. Their cleanup runs as they are dropped.
    pub fn shutdown(&self) {
        if let Some(shutdown) = &self.inner.shared.shutdown {
            shutdown.trigger();
        }
    }

    /// The router's state, whose identity tells routers apart.
    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }

    /// Whether `other` is this router's state.
    pub(crate) fn is(&self, other: &std::sync::Weak<Inner>) -> bool {
        std::ptr::eq(Arc::as_ptr(&self.inner), other.as_ptr())
    }

    /// Its procedures' names, sorted.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.inner.routes.keys().copied().collect();
        names.sort_unstable();
        names
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
        super::server_ext::check_mounted(self);
        let router = self.clone();
        web::get().to(move |req: HttpRequest, payload: web::Payload| {
            let response = websocket::upgrade(&router, &req, payload);
            async move { response }
        })
    }

    /// The settings of [`Router::websocket`].
    pub(crate) fn websocket_settings(&self) -> &WebSocketConfig {
        &self.inner.websocket
    }

    /// The procedure registered under `name`.
    pub(crate) fn route_named(&self, name: &str) -> Option<&Arc<Route>> {
        self.inner.routes.get(name)
    }

    /// The signal [`Router::shutdown`] triggers.
    pub(crate) fn shutdown_signal(&self) -> Option<Arc<ShutdownSignal>> {
        self.inner.shared.shutdown.clone()
    }

    /// Mounts the RPC protocol: `cfg` is usually a scope such as `web::scope("/rpc")`.
    pub fn rpc(&self) -> impl FnOnce(&mut web::ServiceConfig) {
        super::server_ext::check_mounted(self);
        let router = self.clone();
        move |cfg| {
            cfg.route(
                "/{name:.*}",
                web::to(move |req: HttpRequest, payload: web::Payload| {
                    let router = router.clone();
                    async move { router.serve_rpc(req, payload).await }
                }),
            );
        }
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
        super::server_ext::check_mounted(self);
        let router = self.clone();
        move |cfg| {
            let taken = router
                .inner
                .routes
                .values()
                .any(|r| openapi_path(r) == "/openapi.json");
            if !taken {
                let documented = router.clone();
                cfg.route(
                    "/openapi.json",
                    web::get().to(move |req: HttpRequest| {
                        let scope = req
                            .path()
                            .strip_suffix("/openapi.json")
                            .unwrap_or("")
                            .to_owned();
                        let document = documented.openapi_document(&scope);
                        async move { HttpResponse::Ok().json(document) }
                    }),
                );
            }
            let docs_taken = router
                .inner
                .routes
                .values()
                .any(|r| openapi_path(r) == "/docs");
            if router.inner.reference && !docs_taken {
                cfg.route(
                    "/docs",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body(REFERENCE_PAGE)
                    }),
                );
            }
            let mut by_path: HashMap<String, Vec<Arc<Route>>> = HashMap::new();
            for route in router.inner.routes.values() {
                by_path
                    .entry(openapi_path(route))
                    .or_default()
                    .push(route.clone());
            }
            for (path, routes) in by_path {
                let mut resource = web::resource(path);
                for route in routes {
                    // Every method was checked when the route was registered.
                    let Ok(method) = Method::from_bytes(route.method.unwrap_or("POST").as_bytes())
                    else {
                        continue;
                    };
                    let router = router.clone();
                    resource = resource.route(web::method(method).to(
                        move |req: HttpRequest, payload: web::Payload| {
                            let (router, route) = (router.clone(), route.clone());
                            async move { router.serve_openapi(&route, req, payload).await }
                        },
                    ));
                }
                let resource = resource.default_service(web::to(|| async {
                    error_response(&ORPCError::new("METHOD_NOT_SUPPORTED"), Envelope::Plain)
                }));
                cfg.service(resource);
            }
        }
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
            .default_service(web::to(|req: HttpRequest| async move {
                let message = format!("No procedure at {}", req.path());
                error_response(&ORPCError::not_found(message), Envelope::Plain)
            }))
    }

    async fn serve_rpc(&self, req: HttpRequest, payload: web::Payload) -> HttpResponse {
        let name = req.match_info().get("name").unwrap_or("");
        let Some(route) = self.inner.routes.get(name) else {
            return error_response(
                &ORPCError::not_found(format!("No procedure named {name:?}")),
                Envelope::Rpc,
            );
        };
        if req.method() != Method::POST {
            let error = ORPCError::new("METHOD_NOT_SUPPORTED")
                .with_message("RPC procedures are called with POST");
            return error_response(&error, Envelope::Rpc);
        }
        let input = match read_body(&req, payload, self.inner.body_limit).await {
            Ok(body) => decode_body(&body, Envelope::Rpc),
            Err(error) => Err(error),
        };
        match input {
            Ok(input) => {
                self.call(route, input, PathParams::new(), &req, Envelope::Rpc)
                    .await
            }
            Err(error) => error_response(&error, Envelope::Rpc),
        }
    }

    async fn serve_openapi(
        &self,
        route: &Route,
        req: HttpRequest,
        payload: web::Payload,
    ) -> HttpResponse {
        let input = if req.method() == Method::GET {
            Ok(RawInput::Query(req.query_string().to_owned()))
        } else {
            match read_body(&req, payload, self.inner.body_limit).await {
                Ok(body) => decode_body(&body, Envelope::Plain),
                Err(error) => Err(error),
            }
        };
        match input {
            Ok(input) => {
                let info = req.match_info();
                let params = (route.params.iter())
                    .filter_map(|&name| info.get(name).map(|value| (name, value.to_owned())))
                    .collect();
                self.call(route, input, params, &req, Envelope::Plain).await
            }
            Err(error) => error_response(&error, Envelope::Plain),
        }
    }

    async fn call(
        &self,
        route: &Route,
        input: RawInput,
        params: PathParams,
        req: &HttpRequest,
        envelope: Envelope,
    ) -> HttpResponse {
        match &route.handler {
            Handler::Plain(handler) => match handler(input, params, req).await {
                Ok((json, meta)) => HttpResponse::Ok()
                    .content_type("application/json")
                    .body(envelope.wrap_with_meta(json, meta)),
                Err(error) => error_response(&error, envelope),
            },
            Handler::Stream(handler) => {
                let policy = self.policy();
                let ticket = match reserve(&policy) {
                    Ok(ticket) => ticket,
                    Err(error) => return error_response(&error, envelope),
                };
                let source = handler(input, params, req, route.validate_events).await;
                respond(policy, req, route.name, envelope, ticket, source).map_into_boxed_body()
            }
        }
    }

    /// What this router gives each of its streams: keep-alive, shutdown, the stream limit.
    pub(crate) fn policy(&self) -> StreamPolicy<'_> {
        StreamPolicy {
            shared: &self.inner.shared,
            limit: Some((&self.inner.counters, self.inner.max_streams)),
        }
    }
}

/// The API reference page (see [`Router::api_reference`]).
const REFERENCE_PAGE: &str = include_str!("reference.html");

/// The OpenAPI path of a route: its own, or `/{name}`.
pub(crate) fn openapi_path(route: &Route) -> String {
    route
        .path
        .map_or_else(|| format!("/{}", route.name), str::to_owned)
}

/// An error before any stream started: the error's status, and the error object as the body.
pub(crate) fn error_response(error: &ORPCError, envelope: Envelope) -> HttpResponse {
    match envelope {
        // `ORPCError` is an actix-web error whose response is exactly this.
        Envelope::Plain => error.error_response(),
        Envelope::Rpc => {
            // Serialized straight from the struct, to keep oRPC's field order.
            let json = serde_json::to_vec(error).expect("the error object always serializes");
            HttpResponse::build(error.status_code())
                .content_type("application/json")
                .body(envelope.wrap(json))
        }
    }
}
