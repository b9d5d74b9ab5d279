//! What a handler can ask for besides its input: the request context.
//!
//! Every parameter of a `#[procedure]` handler other than `input` is taken from a [`Context`]
//! through [`FromContext`], the way actix-web extractors are taken from a request. The HTTP
//! transport builds the context from the request it serves; tests and direct callers build one
//! with [`Context::new`]. Extraction runs before the handler's body starts, so a failure is an
//! ordinary error response, never a half-open stream.

use actix_web::http::header::HeaderMap;
use actix_web::{web, HttpRequest};

use crate::{LastEventId, ORPCError};

/// The request a procedure is serving.
#[derive(Clone, Default)]
pub struct Context {
    last_event_id: Option<LastEventId>,
    request: Option<HttpRequest>,
}

impl Context {
    /// A context with no request behind it, for tests and direct calls.
    pub fn new() -> Self {
        Context::default()
    }

    /// The context of an actix-web request. `Last-Event-ID` is read from its headers.
    pub fn from_request(request: &HttpRequest) -> Self {
        let last_event_id = request
            .headers()
            .get("last-event-id")
            .and_then(|value| value.to_str().ok())
            .and_then(LastEventId::new);
        Context {
            last_event_id,
            request: Some(request.clone()),
        }
    }

    /// Sets the `Last-Event-ID`, as a reconnecting client would.
    pub fn with_last_event_id(mut self, id: Option<LastEventId>) -> Self {
        self.last_event_id = id;
        self
    }

    /// The `Last-Event-ID` the client sent, if any.
    pub fn last_event_id(&self) -> Option<&LastEventId> {
        self.last_event_id.as_ref()
    }

    /// The actix-web request, when there is one.
    pub fn request(&self) -> Option<&HttpRequest> {
        self.request.as_ref()
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("last_event_id", &self.last_event_id)
            .field("request", &self.request.as_ref().map(|r| r.path()))
            .finish()
    }
}

/// A handler parameter taken from the request context.
///
/// Implement it for your own types to extract them once per call:
///
/// ```
/// use orpc_runtime::{Context, FromContext, ORPCError};
///
/// struct Tenant(String);
///
/// impl FromContext for Tenant {
///     fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
///         let header = ctx.request().and_then(|r| r.headers().get("x-tenant").cloned());
///         let name = header.and_then(|h| h.to_str().ok().map(str::to_owned));
///         name.map(Tenant).ok_or_else(|| ORPCError::bad_request("x-tenant header is required"))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not something a procedure can take from the request context",
    label = "not an input or a context type",
    note = "the procedure's input parameter must be named `input`; every other parameter is taken \
            from the request context: `Option<LastEventId>`, `Data<T>`, `HeaderMap`, `HttpRequest`, \
            `Context`, or a type that implements `FromContext`"
)]
pub trait FromContext: Sized {
    /// Takes the value from `ctx`, or fails the call before it starts.
    fn from_context(ctx: &Context) -> Result<Self, ORPCError>;
}

impl FromContext for Context {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        Ok(ctx.clone())
    }
}

impl FromContext for Option<LastEventId> {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        Ok(ctx.last_event_id.clone())
    }
}

fn needs_request(what: &str) -> ORPCError {
    tracing::error!("a handler asked for {what}, but it is not being served over HTTP");
    ORPCError::internal()
}

impl FromContext for HttpRequest {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        ctx.request
            .clone()
            .ok_or_else(|| needs_request("HttpRequest"))
    }
}

impl FromContext for HeaderMap {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        Ok(ctx
            .request
            .as_ref()
            .map(|r| r.headers().clone())
            .unwrap_or_default())
    }
}

impl<T: ?Sized + 'static> FromContext for web::Data<T> {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        let request = ctx
            .request
            .as_ref()
            .ok_or_else(|| needs_request("Data<T>"))?;
        request.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
            tracing::error!(
                "app data of type {} is not registered on the App",
                std::any::type_name::<T>()
            );
            ORPCError::internal()
        })
    }
}

impl<T: FromContext> FromContext for Result<T, ORPCError> {
    fn from_context(ctx: &Context) -> Result<Self, ORPCError> {
        Ok(T::from_context(ctx))
    }
}
