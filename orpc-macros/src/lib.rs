//! The `#[procedure]` attribute of orpc-rs.
//!
//! Use it through `orpc_runtime`, which re-exports it; the generated code refers to
//! `::orpc_runtime`. The work is split the way data flows through it:
//!
//! 1. `attr.rs` parses the attribute's arguments into plain structs;
//! 2. `valid.rs` checks them against the function and builds a `Procedure` model;
//! 3. `visitor.rs` rewrites every `yield_!` in the body into an await on the stream's yielder;
//! 4. `expand.rs` writes the procedure type and its `call` method.
//!
//! Every error carries the span of the user's token to change. When the attribute is wrong, the
//! original function is emitted next to the errors so the rest of the crate keeps type-checking.

#![forbid(unsafe_code)]

use proc_macro::TokenStream;

mod attr;
mod defined_error;
mod expand;
mod valid;
mod visitor;

/// Turns an `async fn` into an oRPC procedure. See `orpc_runtime::procedure` for the guide.
#[proc_macro_attribute]
pub fn procedure(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::procedure(args.into(), item.into()).into()
}

/// Derives `orpc_runtime::DefinedError` for an enum of declared errors. See that trait.
#[proc_macro_derive(DefinedError, attributes(error))]
pub fn defined_error(input: TokenStream) -> TokenStream {
    defined_error::derive(input.into()).into()
}

/// Sends one event from a `#[procedure(output = event_iterator(..))]` body.
///
/// `#[procedure]` rewrites every `yield_!` in the body it owns before this macro could expand, so
/// reaching this expansion means the call stands somewhere else.
#[proc_macro]
pub fn yield_(input: TokenStream) -> TokenStream {
    let input = proc_macro2::TokenStream::from(input);
    if let Some(rewritten) = visitor::rewritten(&input) {
        return rewritten.into();
    }
    syn::Error::new(
        proc_macro2::Span::call_site(),
        "`yield_!` can only be used directly in the body of an \
         `#[procedure(output = event_iterator(..))] async fn`; move it into such a procedure's \
         body, or add that attribute to this fn",
    )
    .to_compile_error()
    .into()
}

// The README's examples run as doctests, so that what crates.io shows stays true to the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
