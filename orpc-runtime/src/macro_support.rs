//! What the code `#[procedure]` generates calls into. Not a public API: the crate re-exports
//! this module as `__private`, hidden from the docs, and its items may change in any release.

pub use crate::stream::yielder::{SlotCell, SlotKey, Yielder};
use crate::ORPCError;
use std::future::Future;

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
