//! The `#[procedure]` macro and the event iterator, through the public API only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use orpc_runtime::{finally, finally_async, procedure, yield_, Frame, LastEventId, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A request with nothing in it, as a direct call in a test passes.
fn req() -> actix_web::HttpRequest {
    actix_web::test::TestRequest::default().to_http_request()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct Tick {
    i: u32,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
struct CountInput {
    n: u32,
    #[serde(default)]
    stop_at: Option<u32>,
    #[serde(default)]
    fail_at: Option<u32>,
    #[serde(default)]
    panic_at: Option<u32>,
}

static COUNT_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

fn input(n: u32) -> CountInput {
    CountInput {
        n,
        stop_at: None,
        fail_at: None,
        panic_at: None,
    }
}

fn check(i: u32, fail_at: Option<u32>) -> Result<(), std::fmt::Error> {
    if Some(i) == fail_at {
        Err(std::fmt::Error)
    } else {
        Ok(())
    }
}

struct Failure;

impl From<std::fmt::Error> for Failure {
    fn from(_: std::fmt::Error) -> Self {
        Failure
    }
}

impl From<Failure> for ORPCError {
    fn from(_: Failure) -> Self {
        ORPCError::new("CONFLICT").with_message("failed on purpose")
    }
}

/// Every way out of a body, each with its own cleanup count.
#[procedure(output = event_iterator(Tick, String))]
async fn count(input: CountInput, last_event_id: Option<LastEventId>) -> Result<String, Failure> {
    let _cleanup = finally(|| {
        COUNT_CLEANUPS.fetch_add(1, Ordering::SeqCst);
    });
    let start = last_event_id
        .and_then(|id| id.parse::<u32>())
        .map_or(0, |i| i + 1);
    for i in start..input.n {
        if Some(i) == input.stop_at {
            return Ok("stopped early".into());
        }
        if Some(i) == input.panic_at {
            panic!("panicking on purpose at {i}");
        }
        check(i, input.fail_at)?;
        yield_!(Tick { i }, id = i, retry = Duration::from_secs(10));
    }
    Ok("done!".into())
}

async fn collect(
    stream: impl futures_util::Stream<Item = Frame<Tick, String>>,
) -> Vec<Frame<Tick, String>> {
    stream.collect().await
}

fn ids(frames: &[Frame<Tick, String>]) -> Vec<u32> {
    frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event(e) => Some(e.data.i),
            _ => None,
        })
        .collect()
}

/// Runs `f` and returns how many `count` cleanups it caused. Tests touching the shared counter
/// run under one lock.
async fn cleanups_during<F: std::future::Future<Output = ()>>(f: F) -> usize {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _serial = LOCK.lock().await;
    let before = COUNT_CLEANUPS.load(Ordering::SeqCst);
    f.await;
    COUNT_CLEANUPS.load(Ordering::SeqCst) - before
}

#[tokio::test]
async fn completes_with_done_and_metadata() {
    let cleaned = cleanups_during(async {
        let frames = collect(count.call(input(3), &req()).await.unwrap()).await;
        assert_eq!(ids(&frames), [0, 1, 2]);
        let Frame::Event(first) = &frames[0] else {
            panic!("{frames:?}")
        };
        assert_eq!(first.meta.id.as_ref().map(|id| id.as_str()), Some("0"));
        assert_eq!(first.meta.retry, Some(Duration::from_secs(10)));
        assert_eq!(frames.last(), Some(&Frame::Done("done!".into())));
    })
    .await;
    assert_eq!(cleaned, 1);
}

#[tokio::test]
async fn resumes_after_the_last_event_id() {
    let cleaned = cleanups_during(async {
        let req = actix_web::test::TestRequest::default()
            .insert_header(("last-event-id", "1"))
            .to_http_request();
        let frames = collect(count.call(input(4), &req).await.unwrap()).await;
        assert_eq!(ids(&frames), [2, 3]);
    })
    .await;
    assert_eq!(cleaned, 1);
}

#[tokio::test]
async fn early_return_ends_with_its_value() {
    let cleaned = cleanups_during(async {
        let frames = collect(
            count
                .call(
                    CountInput {
                        stop_at: Some(2),
                        ..input(5)
                    },
                    &req(),
                )
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(ids(&frames), [0, 1]);
        assert_eq!(frames.last(), Some(&Frame::Done("stopped early".into())));
    })
    .await;
    assert_eq!(cleaned, 1);
}

#[tokio::test]
async fn question_mark_converts_the_error() {
    let cleaned = cleanups_during(async {
        let frames = collect(
            count
                .call(
                    CountInput {
                        fail_at: Some(1),
                        ..input(5)
                    },
                    &req(),
                )
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(ids(&frames), [0]);
        let Some(Frame::Error(error)) = frames.last() else {
            panic!("{frames:?}")
        };
        assert_eq!(
            (error.code.as_ref(), error.status, error.message.as_str()),
            ("CONFLICT", 409, "failed on purpose")
        );
    })
    .await;
    assert_eq!(cleaned, 1);
}

#[tokio::test]
async fn a_panic_becomes_an_internal_error() {
    let cleaned = cleanups_during(async {
        let frames = collect(
            count
                .call(
                    CountInput {
                        panic_at: Some(1),
                        ..input(5)
                    },
                    &req(),
                )
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(ids(&frames), [0]);
        assert_eq!(frames.last(), Some(&Frame::Error(ORPCError::internal())));
        // The thread survived; the procedure still works.
        assert_eq!(
            ids(&collect(count.call(input(1), &req()).await.unwrap()).await),
            [0]
        );
    })
    .await;
    assert_eq!(cleaned, 2);
}

/// An error whose conversion into `ORPCError` panics: the conversion runs after the body has
/// finished, and must be caught like a panic in the body.
#[derive(Debug)]
struct Unconvertible;

impl From<Unconvertible> for ORPCError {
    fn from(_: Unconvertible) -> Self {
        panic!("this error refuses to convert")
    }
}

#[procedure(output = event_iterator(Tick, String))]
async fn fails_to_convert() -> Result<String, Unconvertible> {
    yield_!(Tick { i: 0 });
    Err(Unconvertible)
}

#[tokio::test]
async fn a_panic_while_converting_the_error_becomes_an_internal_error() {
    let frames = collect(fails_to_convert.call((), &req()).await.unwrap()).await;
    assert_eq!(ids(&frames), [0]);
    assert_eq!(frames.last(), Some(&Frame::Error(ORPCError::internal())));
    assert_eq!(frames.len(), 2);
}

#[tokio::test]
async fn dropping_mid_stream_runs_cleanup_once() {
    let cleaned = cleanups_during(async {
        let mut stream = Box::pin(count.call(input(1000), &req()).await.unwrap());
        assert!(matches!(stream.next().await, Some(Frame::Event(_))));
        drop(stream);
    })
    .await;
    assert_eq!(cleaned, 1);
}

static IDLE_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

#[procedure(output = event_iterator(Tick))]
async fn idle() {
    let _cleanup = finally(|| {
        IDLE_CLEANUPS.fetch_add(1, Ordering::SeqCst);
    });
    yield_!(Tick { i: 0 });
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn dropping_while_suspended_in_an_await_runs_cleanup() {
    let mut stream = Box::pin(idle.call((), &req()).await.unwrap());
    assert!(matches!(stream.next().await, Some(Frame::Event(_))));
    assert!(
        stream.next().now_or_never().is_none(),
        "the body is parked in an await"
    );
    assert_eq!(IDLE_CLEANUPS.load(Ordering::SeqCst), 0);
    drop(stream);
    assert_eq!(IDLE_CLEANUPS.load(Ordering::SeqCst), 1);
}

#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct N {
    n: u32,
}

static META_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

#[procedure(output = event_iterator(N))]
async fn meta() {
    let _cleanup = finally(|| {
        META_CLEANUPS.fetch_add(1, Ordering::SeqCst);
    });
    yield_!(N { n: 1 }, id = "α-1", comment = "hello", comment = "world");
    yield_!(N { n: 2 }, retry = Duration::from_millis(2500));
    yield_!(N { n: 3 }, id = "bad\nid");
    unreachable!("the refused event ends the stream");
}

#[tokio::test]
async fn refused_metadata_ends_the_stream_without_sending_it() {
    let frames: Vec<_> = meta.call((), &req()).await.unwrap().collect().await;
    assert_eq!(frames.len(), 3, "{frames:?}");
    let Frame::Event(first) = &frames[0] else {
        panic!()
    };
    assert_eq!(first.meta.comments, ["hello", "world"]);
    assert_eq!(first.meta.id.as_ref().unwrap().as_str(), "α-1");
    let Frame::Event(second) = &frames[1] else {
        panic!()
    };
    assert_eq!(
        (second.data.n, second.meta.retry),
        (2, Some(Duration::from_millis(2500)))
    );
    assert_eq!(frames[2], Frame::Error(ORPCError::internal()));
    assert_eq!(META_CLEANUPS.load(Ordering::SeqCst), 1);
}

#[procedure(output = event_iterator(u32, usize))]
async fn shapes(input: Vec<u32>) -> usize {
    // Expression position: the value of `yield_!` is `()`.
    let () = yield_!(input[0]);
    let mut sent = 1;
    for v in &input[1..] {
        match v {
            0 => yield_!(0),
            v => {
                yield_!(*v * 10);
            }
        }
        sent += 1;
    }
    // Inside another macro's tokens.
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(1)) => { yield_!(99); sent += 1; }
    }
    sent
}

#[tokio::test]
async fn yield_in_statement_expression_and_macro_position() {
    let frames: Vec<_> = shapes
        .call(vec![7, 0, 2], &req())
        .await
        .unwrap()
        .collect()
        .await;
    let values: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event(e) => Some(e.data),
            _ => None,
        })
        .collect();
    assert_eq!(values, [7, 0, 20, 99]);
    assert_eq!(frames.last(), Some(&Frame::Done(4)));
}

#[procedure(output = event_iterator(u32))]
async fn racing() {
    // Two yields become ready in the same poll: neither may be lost.
    let a = async { 1 };
    let b = async { 2 };
    let (a, b) = tokio::join!(a, b);
    yield_!(a);
    yield_!(b);
}

#[procedure(output = event_iterator(u32))]
async fn nested(input: u32) {
    // A body that drives another stream of its own procedure. Starting it is a future whose
    // output holds this very body, so recursion boxes both, as any recursive `async fn` does.
    if input > 0 {
        let starting = Box::pin(nested.call(input - 1, &req()).map(|s| s.map(Box::pin)));
        let mut inner = starting.await.unwrap();
        while let Some(frame) = inner.next().await {
            if let Frame::Event(e) = frame {
                yield_!(e.data);
            }
        }
    }
    yield_!(input);
}

#[tokio::test]
async fn recursion_and_joins_keep_every_event() {
    let frames: Vec<_> = racing.call((), &req()).await.unwrap().collect().await;
    assert_eq!(frames.len(), 3);
    let frames: Vec<_> = nested.call(3, &req()).await.unwrap().collect().await;
    let values: Vec<_> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Event(e) => Some(e.data),
            _ => None,
        })
        .collect();
    assert_eq!(values, [0, 1, 2, 3]);
}

static ASYNC_CLEANUPS: AtomicUsize = AtomicUsize::new(0);

#[procedure(output = event_iterator(u32))]
async fn with_async_cleanup() {
    let _release = finally_async(|| async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ASYNC_CLEANUPS.fetch_add(1, Ordering::SeqCst);
    });
    yield_!(1);
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn async_cleanup_runs_to_completion_after_the_stream_ends() {
    let mut stream = Box::pin(with_async_cleanup.call((), &req()).await.unwrap());
    assert!(stream.next().await.is_some());
    drop(stream);
    assert_eq!(
        ASYNC_CLEANUPS.load(Ordering::SeqCst),
        0,
        "it runs after the drop, not in it"
    );
    // Called outside a router, the cleanup belongs to none: it runs on the runtime all the same.
    let ran = async {
        while ASYNC_CLEANUPS.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), ran)
        .await
        .expect("the cleanup ran to completion");
    assert_eq!(ASYNC_CLEANUPS.load(Ordering::SeqCst), 1);
}

#[derive(Debug, Deserialize, JsonSchema)]
struct Name {
    name: String,
}

#[derive(Debug, PartialEq, Serialize, JsonSchema)]
struct Greeting {
    greeting: String,
}

#[procedure]
async fn echo(input: Name) -> Result<Greeting, ORPCError> {
    if input.name.is_empty() {
        return Err(ORPCError::bad_request("empty"));
    }
    Ok(Greeting {
        greeting: format!("hello {}", input.name),
    })
}

struct Hits(Arc<AtomicUsize>);

impl actix_web::FromRequest for Hits {
    type Error = ORPCError;
    type Future = std::future::Ready<Result<Self, ORPCError>>;

    fn from_request(_: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        static HITS: std::sync::OnceLock<Arc<AtomicUsize>> = std::sync::OnceLock::new();
        std::future::ready(Ok(Hits(HITS.get_or_init(Default::default).clone())))
    }
}

/// An extractor that has to wait, as one asking a session store would, and then refuses.
struct SignedIn;

impl actix_web::FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let token = req.headers().get("authorization").cloned();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            match token {
                Some(token) if token == "Bearer ada" => Ok(SignedIn),
                _ => Err(actix_web::error::ErrorUnauthorized("sign in first")),
            }
        })
    }
}

/// Counts how often its body starts.
static GUARDED_STARTS: AtomicUsize = AtomicUsize::new(0);

#[procedure(output = event_iterator(u32))]
async fn guarded(_user: SignedIn) {
    GUARDED_STARTS.fetch_add(1, Ordering::SeqCst);
    yield_!(1);
}

#[procedure]
async fn counter(hits: Hits) -> usize {
    hits.0.fetch_add(1, Ordering::SeqCst) + 1
}

#[tokio::test]
async fn plain_procedures_return_values_and_errors() {
    let ok = echo.call(Name { name: "ada".into() }, &req()).await;
    assert_eq!(
        ok,
        Ok(Greeting {
            greeting: "hello ada".into()
        })
    );
    let err = echo
        .call(
            Name {
                name: String::new(),
            },
            &req(),
        )
        .await
        .unwrap_err();
    assert_eq!((err.code.as_ref(), err.status), ("BAD_REQUEST", 400));
    assert_eq!(counter.call((), &req()).await, Ok(1));
    assert_eq!(counter.call((), &req()).await, Ok(2));
}

struct NotRegistered;

#[procedure(output = event_iterator(u32))]
async fn needs_app_data(_data: actix_web::web::Data<NotRegistered>) {
    yield_!(1);
}

#[tokio::test]
async fn a_failed_extraction_is_the_error_and_the_body_never_starts() {
    // Missing app data is the server's mistake: 500, with oRPC's message, not actix-web's.
    let Err(err) = needs_app_data.call((), &req()).await else {
        panic!("no app data to extract");
    };
    assert_eq!(
        (err.code.as_str(), err.status, err.message.as_str()),
        ("INTERNAL_SERVER_ERROR", 500, "Internal Server Error")
    );

    // An async extractor's refusal keeps its status and message, with the common code.
    let Err(err) = guarded.call((), &req()).await else {
        panic!("not signed in");
    };
    assert_eq!(
        (err.code.as_str(), err.status, err.message.as_str()),
        ("UNAUTHORIZED", 401, "sign in first")
    );
    assert_eq!(GUARDED_STARTS.load(Ordering::SeqCst), 0);

    let signed_in = actix_web::test::TestRequest::default()
        .insert_header(("authorization", "Bearer ada"))
        .to_http_request();
    let frames: Vec<_> = guarded.call((), &signed_in).await.unwrap().collect().await;
    assert!(
        matches!(&frames[..], [Frame::Event(e), Frame::Done(())] if e.data == 1),
        "{frames:?}"
    );
    assert_eq!(GUARDED_STARTS.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn streams_are_send_when_their_body_is() {
    fn assert_send<T: Send>(_: &T) {}
    let stream = count.call(input(1), &req()).await.unwrap();
    assert_send(&stream);
    let plain = echo.call(Name { name: "x".into() }, &req());
    assert_send(&plain);
}
