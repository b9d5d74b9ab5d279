//! A stream of events as an actix-web response: [`EventStream`], the responder that plain
//! handlers return to stream events exactly as procedures do. It adapts the stream to the core
//! (its place under the router's limit, its counters and lifecycle) and hands it to the SSE body
//! (`http/response.rs`).

use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::{web, HttpRequest, HttpResponse, Responder};
use futures_core::Stream;
use serde::Serialize;

use super::reply::error_response;
use super::response::{sse_response, SseBody, SseSettings};
use super::Router;
use crate::serving::{OpenStream, Transport};
use crate::sse::frames::{self, FrameSource};
use crate::sse::{Envelope, KeepAlive};
use crate::{Event, Frame};

/// A stream of events as a response: what a plain actix-web handler returns to stream events
/// exactly as procedures do.
///
/// It is the whole story of a stream's response:
/// - **Encoding**: oRPC's exact bytes (`sse/frames.rs`, with `orpc-protocol`'s encoder), with
///   `content-type: text/event-stream` and `cache-control: no-cache`; payloads plain (for
///   `EventSource` and `OpenAPILink`) or in oRPC's RPC envelope.
/// - **Keep-alive**: the router's initial comment, and a comment whenever the stream has been
///   quiet for the router's interval.
/// - **Disconnects**: on a connection that [`watch_disconnects`](super::watch_disconnects)
///   watches, a client that leaves ends the stream within a second, even while it is idle; the
///   stream is dropped then, which runs its cleanup guards.
/// - **Shutdown**: [`Router::shutdown`] (and so [`run_until_signal`](super::run_until_signal))
///   ends the stream without a `done` event, so that the client reconnects elsewhere.
/// - **Limits**: past the router's [`max_streams`](Router::max_streams), the answer is 503
///   `SERVICE_UNAVAILABLE` and the stream is dropped unopened; the router's
///   [`stats`](Router::stats) count the stream like a procedure's.
///
/// The router whose settings apply is, in this order: the one given with
/// [`EventStream::router`]; a `web::Data<Router>` or a `Router` in the app's data; none. Without
/// a router, the stream has the default keep-alive and disconnect detection, but nothing shuts
/// it down and nothing limits or counts it.
///
/// ```
/// use actix_web::{get, test, web, App};
/// use futures_util::stream;
/// use orpc_runtime::http::{EventStream, Router};
///
/// #[get("/events")]
/// async fn events() -> EventStream {
///     EventStream::new(stream::iter([1, 2, 3]))
/// }
///
/// // The router in the app's data lends the stream its keep-alive, shutdown and stream limit;
/// // serve the app with `.serve_router(&router)` (`ServeRouter`) for disconnects and signals.
/// let router = Router::new();
/// let app = App::new().app_data(web::Data::new(router.clone())).service(events);
///
/// # actix_web::rt::System::new().block_on(async {
/// let app = test::init_service(app).await;
/// let body = test::call_and_read_body(&app, test::TestRequest::get().uri("/events").to_request()).await;
/// assert_eq!(
///     body,
///     ": \n\nevent: message\ndata: 1\n\nevent: message\ndata: 2\n\n\
///      event: message\ndata: 3\n\nevent: done\ndata: null\n\n"
/// );
/// # });
/// ```
///
/// A procedure's own stream, with its ids, retry delays, return value and errors:
///
/// ```
/// use actix_web::{get, web};
/// use orpc_runtime::http::EventStream;
/// use orpc_runtime::{procedure, yield_, ORPCError};
///
/// #[procedure(output = event_iterator(u32, String))]
/// async fn count(input: u32) -> String {
///     for i in 0..input {
///         yield_!(i, id = i);
///     }
///     "done!".to_owned()
/// }
///
/// #[get("/count/{n}")]
/// async fn count_to(n: web::Path<u32>, req: actix_web::HttpRequest) -> Result<EventStream, ORPCError> {
///     Ok(EventStream::from_frames(count.call(n.into_inner(), &req).await?))
/// }
/// ```
pub struct EventStream {
    source: Pin<Box<dyn FrameSource>>,
    envelope: Envelope,
    router: Option<Router>,
}

impl EventStream {
    /// Each value as a `message` event, then, when the stream ends, a `done` event with no
    /// value (`data: null`, or `data: {}` in the RPC envelope).
    pub fn new<S>(values: S) -> Self
    where
        S: Stream + 'static,
        S::Item: Serialize + 'static,
    {
        Self::from_frames(Finished::new(values, Event::new))
    }

    /// Events with their metadata (id, retry, comments), then, when the stream ends, a `done`
    /// event with no value. An event whose id or comment holds CR, LF or NUL is not sent: the
    /// stream ends with an `INTERNAL_SERVER_ERROR` error event instead.
    pub fn from_events<S, T>(events: S) -> Self
    where
        S: Stream<Item = Event<T>> + 'static,
        T: Serialize + 'static,
    {
        Self::from_frames(Finished::new(events, std::convert::identity::<Event<T>>))
    }

    /// A stream of frames, such as a procedure's `call` returns: its events, then its `done`
    /// value or its error, which ends it. Its events are not checked against their schema, as
    /// the router checks a procedure's; the rest is as the router serves it.
    pub fn from_frames<S, T, R>(frames: S) -> Self
    where
        S: Stream<Item = Frame<T, R>> + 'static,
        T: Serialize + 'static,
        R: Serialize + 'static,
    {
        EventStream {
            source: frames::erase_unchecked(frames),
            envelope: Envelope::Plain,
            router: None,
        }
    }

    /// Wraps each payload in this envelope: [`Envelope::Plain`] (the default, for `EventSource`
    /// and `OpenAPILink`) or [`Envelope::Rpc`] (for `RPCLink`).
    pub fn envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    /// Serves the stream with this router's keep-alive, shutdown, stream limit and counters,
    /// rather than those of the router found in the app's data.
    pub fn router(mut self, router: &Router) -> Self {
        self.router = Some(router.clone());
        self
    }
}

impl Responder for EventStream {
    type Body = EitherBody<SseBody>;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse<Self::Body> {
        let router = self.router.or_else(|| {
            req.app_data::<web::Data<Router>>()
                .map(|data| Router::clone(data))
                .or_else(|| req.app_data::<Router>().cloned())
        });
        let Some(router) = router else {
            tracing::debug!("an EventStream served without a Router in the app data");
            let settings = Arc::new(SseSettings::new(&KeepAlive::default()));
            let stream = OpenStream::new(self.source, None);
            return sse_response(stream, req, settings, "event_stream", self.envelope)
                .map_into_left_body();
        };
        let served = router.served();
        let streams = &served.core.streams;
        let trace = streams.telemetry.call("event_stream", Transport::Sse, req);
        match streams.reserve("event_stream", Transport::Sse, trace) {
            Ok(reserved) => {
                let stream = OpenStream::new(self.source, Some(reserved));
                let settings = served.sse.clone();
                sse_response(stream, req, settings, "event_stream", self.envelope)
                    .map_into_left_body()
            }
            Err(error) => error_response(&error, self.envelope).map_into_right_body(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream of events that ends with a `done` frame with no value when the stream does.
    struct Finished<S, F> {
        #[pin]
        events: S,
        to_event: F,
        ended: bool,
    }
}

impl<S, F> Finished<S, F> {
    fn new(events: S, to_event: F) -> Self {
        Finished {
            events,
            to_event,
            ended: false,
        }
    }
}

impl<S, F, T> Stream for Finished<S, F>
where
    S: Stream,
    F: FnMut(S::Item) -> Event<T>,
{
    type Item = Frame<T, ()>;

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.ended {
            return std::task::Poll::Ready(None);
        }
        match this.events.poll_next(cx) {
            std::task::Poll::Ready(Some(item)) => {
                std::task::Poll::Ready(Some(Frame::Event((this.to_event)(item))))
            }
            std::task::Poll::Ready(None) => {
                *this.ended = true;
                std::task::Poll::Ready(Some(Frame::Done(())))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}
