//! The conformance server as a library: one procedure per behaviour of
//! `shared/spec/conformance.md`, served under both protocols.
//!
//! `examples/conformance.rs` runs it as its own process ([`serve`]), for checks written in other
//! languages against that spec:
//!
//! ```text
//! cargo run --release --example conformance -- --addr 127.0.0.1:8787
//! ```
//!
//! Tests serve it in-process with [`Conformance`], with its stream counters at hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::web;
use orpc_runtime::http::{self, Router};
use orpc_runtime::{
    finally, procedure, yield_, BigInt, Date, DefinedError, File, LastEventId, ORPCError,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::server::{client, eventually, Frames, Options, TestServer};
/// How many streams started and how many ran their cleanup, as the handlers' own drop guards
/// count them. The `stats` procedure answers from the router's counters instead; the tests check
/// that the two agree.
#[derive(Default)]
pub struct Streams {
    pub started: AtomicU64,
    pub cleaned: AtomicU64,
}

pub type Stats = web::Data<Streams>;

impl Streams {
    /// Counts a stream as started and returns the guard that counts its cleanup.
    fn track(streams: Stats) -> orpc_runtime::CleanupGuard<impl FnOnce()> {
        streams.started.fetch_add(1, Ordering::SeqCst);
        finally(move || {
            streams.cleaned.fetch_add(1, Ordering::SeqCst);
        })
    }
}

#[derive(Deserialize, JsonSchema)]
struct CountInput {
    n: u32,
    delay_ms: Option<u64>,
}

#[derive(Serialize, JsonSchema)]
struct Tick {
    i: u32,
}

/// Counts from 0 (or after the `Last-Event-ID`) to `n - 1`.
///
/// Each event carries its number as id and asks clients to wait 1 s before reconnecting.
#[procedure(output = event_iterator(Tick, String), method = GET, path = "/count", tags = ["streams"])]
async fn count(input: CountInput, last_event_id: Option<LastEventId>, streams: Stats) -> String {
    let _cleanup = Streams::track(streams);
    let start = last_event_id
        .and_then(|id| id.parse::<u32>())
        .map_or(0, |i| i.saturating_add(1));
    let delay = Duration::from_millis(input.delay_ms.unwrap_or(0));
    for i in start..input.n {
        yield_!(Tick { i }, id = i, retry = Duration::from_millis(1000));
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    "done!".to_owned()
}

#[derive(Serialize, JsonSchema)]
struct A {
    a: u32,
}

/// Yields one event, then fails with `BAD_REQUEST`.
#[procedure(output = event_iterator(A), tags = ["streams"])]
async fn fail(streams: Stats) -> Result<(), ORPCError> {
    let _cleanup = Streams::track(streams);
    yield_!(A { a: 1 });
    Err(ORPCError::bad_request("nope").with_data(json!({ "x": 1 })))
}

#[derive(Deserialize, JsonSchema)]
struct ForeverInput {
    interval_ms: u64,
}

#[derive(Serialize, JsonSchema)]
struct TickK {
    tick: u64,
}

/// Ticks every `interval_ms`, until the client leaves.
#[procedure(output = event_iterator(TickK), method = GET, path = "/forever", tags = ["streams"])]
async fn forever(input: ForeverInput, streams: Stats) {
    let _cleanup = Streams::track(streams);
    let mut ticks = tokio::time::interval(Duration::from_millis(input.interval_ms.max(1)));
    for tick in 0.. {
        ticks.tick().await;
        yield_!(TickK { tick });
    }
}

#[derive(Deserialize, JsonSchema)]
struct ValidatedInput {
    values: Vec<i64>,
}

/// The schema, not the handler, keeps `value` within 0..=100.
#[derive(Serialize, JsonSchema)]
struct Value {
    #[schemars(range(min = 0, max = 100))]
    value: i64,
}

/// Yields each value; the event schema allows 0 to 100 only.
#[procedure(output = event_iterator(Value), tags = ["streams"])]
async fn validated(input: ValidatedInput, streams: Stats) {
    let _cleanup = Streams::track(streams);
    for value in input.values {
        yield_!(Value { value });
    }
}

#[derive(Deserialize, JsonSchema)]
struct TextInput {
    items: Vec<String>,
}

/// Yields each string unchanged.
#[procedure(output = event_iterator(String), tags = ["streams"])]
async fn text(input: TextInput, streams: Stats) {
    let _cleanup = Streams::track(streams);
    for item in input.items {
        yield_!(item);
    }
}

/// Yields one event, then panics.
#[procedure(output = event_iterator(A), tags = ["streams"])]
async fn panic(streams: Stats) {
    let _cleanup = Streams::track(streams);
    yield_!(A { a: 1 });
    panic!("the conformance server's panic procedure panics on purpose");
}

#[derive(Serialize, JsonSchema)]
struct N {
    n: u32,
}

/// Three events with metadata; the third has an id that would forge a field.
#[procedure(output = event_iterator(N), tags = ["streams"])]
async fn meta(streams: Stats) {
    let _cleanup = Streams::track(streams);
    yield_!(N { n: 1 }, id = "α-1", comments = ["hello", "world"]);
    yield_!(N { n: 2 }, retry = Duration::from_millis(2500));
    yield_!(N { n: 3 }, id = "bad\nid");
}

#[derive(Deserialize, JsonSchema)]
struct EchoInput {
    #[schemars(length(min = 1))]
    name: String,
}

#[derive(Serialize, JsonSchema)]
struct Greeting {
    greeting: String,
}

/// Greets `name`.
#[procedure]
async fn echo(input: EchoInput) -> Greeting {
    Greeting {
        greeting: format!("hello {}", input.name),
    }
}

#[derive(Debug, Serialize, JsonSchema)]
struct RetryAfter {
    retry_after: u32,
}

/// The errors `limited` declares.
#[derive(Debug, DefinedError)]
enum LimitedError {
    /// Too many calls; try again after `retry_after` seconds.
    #[error(status = 429, message = "slow down")]
    RateLimited(RetryAfter),
}

#[derive(Serialize, JsonSchema)]
struct LimitedOutput {
    ok: bool,
}

/// Always fails with its declared error, `RATE_LIMITED`.
#[procedure(errors = LimitedError)]
async fn limited() -> Result<LimitedOutput, LimitedError> {
    Err(LimitedError::RateLimited(RetryAfter { retry_after: 10 }))
}

/// What JSON alone cannot carry: a 64-bit integer a JavaScript number would round, and a
/// timestamp. oRPC's RPC serializer sends them as a `bigint` and a `Date`.
#[derive(Serialize, Deserialize, JsonSchema)]
struct Types {
    big: BigInt<i64>,
    at: Date<chrono::DateTime<chrono::Utc>>,
}

/// Yields `big + 1` and `at` a day later, then returns the same value as its `done` value.
#[procedure(output = event_iterator(Types, Types), tags = ["streams"])]
async fn types(input: Types) -> Result<Types, ORPCError> {
    let next = || {
        Some(Types {
            big: BigInt(input.big.0.checked_add(1)?),
            at: Date(input.at.0.checked_add_signed(chrono::TimeDelta::days(1))?),
        })
    };
    let out = next().ok_or_else(|| ORPCError::bad_request("big + 1 or at + 1 day overflows"))?;
    yield_!(Types {
        big: BigInt(out.big.0),
        at: Date(out.at.0),
    });
    Ok(out)
}

#[derive(Deserialize, JsonSchema)]
struct UploadInput {
    name: String,
    file: File,
}

#[derive(Serialize, JsonSchema)]
struct Uploaded {
    name: String,
    file_name: String,
    size: u64,
    #[serde(rename = "type")]
    content_type: String,
    sha256: String,
}

/// Describes an uploaded file: its name, size, media type and SHA-256, read a piece at a time.
#[procedure(tags = ["files"])]
async fn upload(input: UploadInput) -> Result<Uploaded, ORPCError> {
    use futures_util::TryStreamExt;
    use sha2::Digest;

    let mut hash = sha2::Sha256::new();
    let mut pieces = input.file.chunks();
    while let Some(piece) = pieces.try_next().await.map_err(|error| {
        ORPCError::internal().with_message(format!("reading the upload: {error}"))
    })? {
        hash.update(&piece);
    }
    let sha256 = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Uploaded {
        name: input.name,
        file_name: input.file.name().to_owned(),
        size: input.file.len(),
        content_type: input.file.content_type().to_owned(),
        sha256,
    })
}

#[derive(Deserialize, JsonSchema)]
struct DownloadInput {
    #[schemars(range(max = 10_000_000))]
    size: u32,
}

/// A file of `size` bytes, byte `i` being `i % 251`.
#[procedure(method = GET, path = "/download", tags = ["files"])]
async fn download(input: DownloadInput) -> File {
    let bytes: Vec<u8> = (0..input.size).map(|i| (i % 251) as u8).collect();
    File::new("download.bin", "application/octet-stream", bytes)
}

#[derive(Serialize, JsonSchema)]
struct StatsOutput {
    started: u64,
    cleaned: u64,
}

/// How many streams started, and how many ran their cleanup.
#[procedure]
async fn stats(router: web::Data<Router>) -> StatsOutput {
    let counters = router.stats();
    StatsOutput {
        started: counters.started(),
        cleaned: counters.finished(),
    }
}

/// Every conformance procedure, recording its metrics for `/metrics`.
pub fn router() -> Router {
    let router = Router::new()
        .procedure(count)
        .procedure(fail)
        .procedure(forever)
        .procedure(validated)
        .procedure(text)
        .procedure(panic)
        .procedure(meta)
        .procedure(echo)
        .procedure(limited)
        .procedure(types)
        .procedure(upload)
        .procedure(download)
        .procedure(stats);
    #[cfg(feature = "otel")]
    let router = router.prometheus();
    router
}

/// `/metrics`, with the `otel` feature.
#[cfg_attr(not(feature = "otel"), allow(unused_variables))]
fn metrics(router: &Router) -> impl FnOnce(&mut web::ServiceConfig) {
    #[cfg(feature = "otel")]
    let route = router.metrics();
    move |cfg| {
        #[cfg(feature = "otel")]
        cfg.route("/metrics", route);
        #[cfg(not(feature = "otel"))]
        let _ = cfg;
    }
}

/// Mounts the conformance procedures as the example does: RPC under `/rpc`, oRPC 2's RPC under
/// `/v2/rpc`, OpenAPI under `/api`, oRPC's WebSocket transport at `/ws`, with the handlers'
/// counters (`streams`) and the router (for `stats`) as app data.
pub fn configure(router: &Router, streams: Stats) -> impl Fn(&mut web::ServiceConfig) + Clone {
    let shared = web::Data::new(router.clone());
    let router = router.clone();
    move |cfg| {
        cfg.app_data(streams.clone())
            .app_data(shared.clone())
            .service(web::scope("/rpc").configure(router.rpc()))
            .service(web::scope("/v2/rpc").configure(router.rpc_v2()))
            .service(router.openapi_scope("/api"))
            .configure(metrics(&router))
            .route("/ws", router.websocket());
    }
}

/// Serves the conformance procedures on `addr` with the library's default settings until
/// Ctrl-C, as `examples/conformance.rs` does: over HTTPS (HTTP/1.1 and HTTP/2) when `tls` names
/// a PEM certificate and key.
pub async fn serve(addr: String, tls: Option<Tls>) -> std::io::Result<()> {
    let router = router();
    let streams = web::Data::new(Streams::default());
    let shared = web::Data::new(router.clone());
    let v2 = router.clone();
    // `serve` mounts `/rpc`, `/api` and `/ws`; oRPC 2's RPC is added beside them.
    let configure = move |cfg: &mut web::ServiceConfig| {
        cfg.app_data(streams.clone())
            .app_data(shared.clone())
            .service(web::scope("/v2/rpc").configure(v2.rpc_v2()));
    };
    match tls {
        None => http::serve_with(router, addr, configure).await,
        Some(tls) => {
            let config = http::tls_config(&tls.cert, &tls.key)?;
            http::serve_tls_with(router, addr, config, configure).await
        }
    }
}

/// The PEM files of `--tls-cert` and `--tls-key`.
#[derive(Debug, PartialEq, Eq)]
pub struct Tls {
    pub cert: String,
    pub key: String,
}

/// What the command line asks of the conformance server.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve on this address (`--addr HOST:PORT`, by default `127.0.0.1:8787`), over HTTPS with
    /// `--tls-cert CERT.pem --tls-key KEY.pem`.
    Serve(String, Option<Tls>),
    /// Write the TypeScript contract to this path and exit (`--emit-typescript PATH`).
    EmitTypeScript(String),
    /// Write the contract for oRPC 2 to this path and exit (`--emit-typescript-v2 PATH`).
    EmitTypeScriptV2(String),
}

/// Reads the command line: `[--addr HOST:PORT] [--tls-cert CERT.pem --tls-key KEY.pem]
/// [--emit-typescript PATH | --emit-typescript-v2 PATH]`.
pub fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut args = args.into_iter();
    let mut addr = "127.0.0.1:8787".to_owned();
    let mut emit = None;
    let (mut cert, mut key) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .ok_or("--addr needs a value, e.g. --addr 127.0.0.1:8787")?
            }
            "--emit-typescript" => {
                emit = Some(Command::EmitTypeScript(args.next().ok_or(
                    "--emit-typescript needs a path, e.g. --emit-typescript contract.ts",
                )?))
            }
            "--emit-typescript-v2" => {
                emit = Some(Command::EmitTypeScriptV2(args.next().ok_or(
                    "--emit-typescript-v2 needs a path, e.g. --emit-typescript-v2 contract.ts",
                )?))
            }
            "--tls-cert" => cert = Some(args.next().ok_or("--tls-cert needs a PEM file")?),
            "--tls-key" => key = Some(args.next().ok_or("--tls-key needs a PEM file")?),
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: conformance [--addr HOST:PORT] \
                     [--tls-cert CERT.pem --tls-key KEY.pem] \
                     [--emit-typescript PATH | --emit-typescript-v2 PATH]"
                ))
            }
        }
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some(Tls { cert, key }),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".to_owned()),
    };
    Ok(emit.unwrap_or(Command::Serve(addr, tls)))
}

/// The initial comment every stream opens with (the library's default).
pub const INITIAL: &str = ": ";

/// The conformance server in-process on a free loopback port, with its stream counters at hand;
/// stopped when dropped.
pub struct Conformance {
    pub addr: std::net::SocketAddr,
    pub server: TestServer,
    streams: Stats,
    router: Router,
}

impl Conformance {
    /// With the default router and server options.
    pub fn start() -> Self {
        Self::with(router(), Options::default())
    }

    /// With `router` (the conformance router with other settings, say) and `options`.
    pub fn with(router: Router, options: Options) -> Self {
        let streams = web::Data::new(Streams::default());
        let server = TestServer::with(configure(&router, streams.clone()), options);
        Conformance {
            addr: server.addr,
            server,
            streams,
            router,
        }
    }

    /// `http://` + the address + `path`.
    pub fn url(&self, path: &str) -> String {
        self.server.url(path)
    }

    /// The RPC base URL.
    pub fn rpc_url(&self) -> String {
        self.url("/rpc")
    }

    /// The WebSocket transport's URL, `ws://` + the address + `/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The router it serves, for its counters.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// How many streams the handlers started, as their drop guards count.
    pub fn started(&self) -> u64 {
        self.streams.started.load(Ordering::SeqCst)
    }

    /// How many of them ran their cleanup.
    pub fn cleaned(&self) -> u64 {
        self.streams.cleaned.load(Ordering::SeqCst)
    }

    /// Calls `name` over RPC with `input`.
    pub async fn rpc(&self, name: &str, input: Json) -> reqwest::Response {
        client()
            .post(self.url(&format!("/rpc/{name}")))
            .json(&json!({ "json": input }))
            .send()
            .await
            .unwrap()
    }

    /// Opens `forever` with an hour between ticks and reads up to its first tick: a stream that
    /// is open and idle.
    pub async fn idle_stream(&self) -> Frames {
        self.idle_stream_on(&client()).await
    }

    /// Like [`idle_stream`](Self::idle_stream), over `client` (an HTTP/2 one, say).
    pub async fn idle_stream_on(&self, client: &reqwest::Client) -> Frames {
        let response = client
            .get(self.url("/api/forever?interval_ms=3600000"))
            .send()
            .await
            .unwrap();
        let mut frames = Frames::new(response);
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some(INITIAL)
        );
        assert_eq!(
            frames.next_within(Duration::from_secs(5)).await.as_deref(),
            Some("event: message\ndata: {\"tick\":0}")
        );
        frames
    }

    /// Whether every stream started so far has run its cleanup, within `within`: as the
    /// handlers' drop guards count, and as the router's counters (what `stats` answers) say.
    pub async fn all_cleaned_within(&self, within: Duration) -> bool {
        eventually(within, async || {
            let router = self.router.stats();
            self.started() > 0
                && self.started() == self.cleaned()
                && (router.started(), router.finished()) == (self.started(), self.cleaned())
        })
        .await
    }
}
