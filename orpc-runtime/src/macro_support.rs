//! What the code `#[procedure]` generates calls into. Not a public API: the crate re-exports
//! this module as `__private`, hidden from the docs, and its items may change in any release.

pub use crate::errors::{data_schema, defined};
pub use crate::procedure::{event_iterator_route, plain_route};
pub use crate::stream::yielder::{SlotCell, SlotKey, Yield, YieldWithMeta, Yielder};
use crate::ORPCError;
use actix_web::dev::Payload;
use actix_web::FromRequest;
pub use actix_web::HttpRequest;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Whether a handler parameter can be taken from the request: any actix-web extractor. The
/// generated code names it first, so that a parameter that is not one is reported in these words.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not something a procedure can take from the request",
    label = "not the input, and not an extractor",
    note = "the procedure's input parameter must be named `input`; every other parameter is an \
            actix-web extractor (`FromRequest`): `Option<LastEventId>`, `web::Data<T>`, \
            `web::ReqData<T>`, `web::Query<T>`, `HttpRequest`, a third-party extractor such as \
            `BearerAuth`, or a type of yours that implements `FromRequest`"
)]
pub trait Extract: FromRequest {}

impl<T: FromRequest> Extract for T {}

/// Checks that `T` is an extractor, with [`Extract`]'s message when it is not.
#[inline(always)]
pub fn extractor<T: Extract>() {}

/// Starts extracting a handler parameter from `req`; the future owns what it needs. The body of
/// the request is the procedure's input, so extractors see an empty payload.
///
/// The return type names the extractor's future through a projection, so that a parameter type
/// that is not an extractor is reported at the parameter, not again at each use of the future.
#[inline]
pub fn extract<T: FromRequest>(req: &HttpRequest) -> Extracting<T::Future> {
    Extracting {
        extracting: T::from_request(req, &mut Payload::None),
        extractor: std::any::type_name::<T>(),
    }
}

pin_project_lite::pin_project! {
    /// An extractor's future, with its error turned into the call's error response.
    pub struct Extracting<F> {
        #[pin]
        extracting: F,
        extractor: &'static str,
    }
}

impl<F, T, E> Future for Extracting<F>
where
    F: Future<Output = Result<T, E>>,
    E: Into<actix_web::Error>,
{
    type Output = Result<T, ORPCError>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let extractor = *this.extractor;
        this.extracting
            .poll(cx)
            .map(|result| result.map_err(|error| extraction_failed(extractor, error.into())))
    }
}

/// An extractor's error as the call's error response. A server error's text goes to the log,
/// not to the client.
#[cold]
fn extraction_failed(extractor: &str, error: actix_web::Error) -> ORPCError {
    if error.as_response_error().status_code().is_server_error() {
        tracing::error!(%error, extractor, "a handler parameter could not be extracted");
    }
    ORPCError::from_actix(&error)
}

/// Fixes the type of a body's value, so that `return` and `?` infer against it.
#[inline(always)]
pub fn body<O, F: Future<Output = O>>(body: F) -> F {
    body
}

/// Whether a procedure's body returns the type its attribute declares.
#[diagnostic::on_unimplemented(
    message = "this procedure returns `{Self}`, but its attribute declares `event_iterator(_, {R})`",
    label = "expected `{R}` here",
    note = "return the type named in `event_iterator(Event, Return)`, or change that declaration"
)]
pub trait Returns<R> {}

impl<R> Returns<R> for R {}

#[inline(always)]
pub fn returns<T: Returns<R>, R>() {}

#[inline(always)]
pub fn infallible<R>(value: R) -> Result<R, ORPCError> {
    Ok(value)
}

#[inline(always)]
pub fn fallible<R, E: Into<ORPCError>>(value: Result<R, E>) -> Result<R, ORPCError> {
    value.map_err(Into::into)
}

/// The errors `T` declares, checked to be [`DefinedError`](crate::DefinedError)s.
#[inline(always)]
pub fn declared<T: crate::DefinedError>() -> &'static [crate::DeclaredError] {
    T::ERRORS
}
