//! Writing the procedure: a unit struct named after the fn, its `call` method, and its
//! `Procedure` impl.
//!
//! For `async fn count(input: In, last: Option<LastEventId>) -> Result<String, E>` declared as
//! `event_iterator(Tick, String)`, the output is, in outline:
//!
//! ```text
//! pub struct count;
//! impl count {
//!     pub fn call(&self, input: In, req: &HttpRequest)
//!         -> impl Future<Output = Result<
//!             EventIterator<Tick, String, impl Future<..>, impl SlotKey<..>>, ORPCError>>
//!     {
//!         let last = extract::<Option<LastEventId>>(req); // FromRequest, not yet awaited
//!         async move {
//!             let last = last.await?;
//!             thread_local! { static SLOT: SlotCell<Tick> = .. }
//!             struct Slot; // impl SlotKey for Slot: the thread-local above, and `fallible`
//!             let yielder = Yielder::<Slot>::new();
//!             Ok(EventIterator::<_, _, _, Slot>::new(async move body))
//!         }
//!     }
//! }
//! impl Procedure for count { .. }
//! ```
//!
//! Locals the macro introduces use mixed-site hygiene, so they can't clash with the user's names.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::ItemFn;

use crate::attr::Args;
use crate::valid::{self, Kind, Procedure};
use crate::visitor::YieldRewriter;

pub fn procedure(args: TokenStream, item: TokenStream) -> TokenStream {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(e) => {
            let error = e.to_compile_error();
            return quote!(#error #item);
        }
    };
    let args: Args = match syn::parse2(args) {
        Ok(args) => args,
        Err(e) => return fallback(item, e),
    };
    let original = item.clone();
    let mut model = match valid::check(args, item) {
        Ok(model) => model,
        Err(e) => return fallback(original, e),
    };
    let yielder = Ident::new("__orpc_yielder", Span::mixed_site());
    let streaming = matches!(model.kind, Kind::Stream { .. });
    let mut rewriter = YieldRewriter::new(streaming.then(|| yielder.clone()));
    rewriter.visit_block_mut(&mut model.body);
    if let Err(e) = rewriter.errors.finish() {
        return fallback(original, e);
    }
    expand(&model, &yielder)
}

/// The user's fn next to the errors, so that the IDE and the rest of the crate keep working. Its
/// `yield_!`s become `()`, so that one mistake is reported once instead of as a cascade.
fn fallback(mut original: ItemFn, error: syn::Error) -> TokenStream {
    YieldRewriter::silent().visit_block_mut(&mut original.block);
    let error = error.to_compile_error();
    quote! {
        #error
        #[allow(unused, clippy::all)]
        #original
    }
}

fn expand(p: &Procedure, yielder: &Ident) -> TokenStream {
    let rt = quote!(::orpc_runtime);
    let req = Ident::new("__orpc_req", Span::mixed_site());
    let out = Ident::new("__orpc_out", Span::mixed_site());
    let Procedure {
        vis,
        ident,
        name,
        ret,
        output,
        body,
        ..
    } = p;

    let (docs, attrs): (Vec<_>, Vec<_>) = p.attrs.iter().partition(|a| a.path().is_ident("doc"));
    let (input_pat, input_ty) = match &p.input {
        Some((pat, ty)) => (pat.to_token_stream(), ty.to_token_stream()),
        None => (quote!(_), quote!(())),
    };
    // Each extractor starts while `call` still has the request; the futures are awaited in order
    // before the body runs. An extractor's diagnostic points at its parameter's type.
    let extracting: Vec<_> = (0..p.context.len())
        .map(|i| Ident::new(&format!("__orpc_extracting_{i}"), Span::mixed_site()))
        .collect();
    let start_extracting = p.context.iter().zip(&extracting).map(|((_, ty), var)| {
        let ty_span = ty.span();
        quote_spanned! {ty_span=>
            ::orpc_runtime::__private::extractor::<#ty>();
            let #var = ::orpc_runtime::__private::extract::<#ty>(#req);
        }
    });
    let start_extracting = quote!(#(#start_extracting)*);
    let context_pats: Vec<_> = p.context.iter().map(|(pat, _)| pat).collect();
    let extracted = quote!(#(let #context_pats = #extracting.await?;)*);

    // Converts the body's value into `Result<_, ORPCError>`, blaming the declared return type.
    // The path is written out, not spliced, so that it carries that span too.
    let ret_span = ret.span();
    let finish = if p.fallible {
        quote_spanned!(ret_span=> ::orpc_runtime::__private::fallible(#out))
    } else {
        quote_spanned!(ret_span=> ::orpc_runtime::__private::infallible(#out))
    };
    let run_body = quote! {
        let #out = #rt::__private::body::<#ret, _>(async move #body).await;
        #finish
    };

    let mut route = match &p.kind {
        Kind::Plain => quote!(#rt::__private::plain_route(self, Self::call)),
        Kind::Stream { .. } => quote!(#rt::__private::event_iterator_route(self, Self::call)),
    };
    if let Some(method) = &p.method {
        route = quote!(#route.with_method(#method));
    }
    if let Some(path) = &p.path {
        route = quote!(#route.with_path(#path));
    }
    if !p.validate {
        route = quote!(#route.without_event_validation());
    }
    if let Some(errors) = &p.errors {
        let declared = quote_spanned!(errors.span()=>
            ::orpc_runtime::__private::declared::<#errors>()
        );
        route = quote!(#route.with_errors(#declared));
    }
    if p.summary.is_some() {
        let summary = &p.summary;
        let description = match &p.description {
            Some(d) => quote!(::core::option::Option::Some(#d)),
            None => quote!(::core::option::Option::None),
        };
        route = quote!(#route.with_docs(::core::option::Option::Some(#summary), #description));
    }
    if !p.tags.is_empty() {
        let tags = &p.tags;
        route = quote!(#route.with_tags(&[#(#tags),*]));
    }

    let call = match &p.kind {
        Kind::Plain => quote! {
            /// Runs the procedure. Its other parameters are extracted from `req` first, as
            /// actix-web extractors; a failure there is the call's error, before the body runs.
            #(#attrs)*
            #vis fn call(
                &self,
                #input_pat: #input_ty,
                #req: &#rt::__private::HttpRequest,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<#output, #rt::ORPCError>,
            > + use<> {
                #start_extracting
                async move {
                    #extracted
                    #run_body
                }
            }
        },
        Kind::Stream { event, done } => {
            let check_return = quote_spanned! {output.span()=>
                ::orpc_runtime::__private::returns::<#output, #done>();
            };
            quote! {
            /// Starts the procedure's event iterator. Its other parameters are extracted from
            /// `req` first, as actix-web extractors; a failure there is an error before any event.
            #(#attrs)*
            #vis fn call(
                &self,
                #input_pat: #input_ty,
                #req: &#rt::__private::HttpRequest,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<
                    #rt::EventIterator<
                        #event,
                        #output,
                        impl ::core::future::Future<Output = #ret> + use<>,
                        impl #rt::__private::SlotKey<Event = #event, Output = #ret, Done = #output>
                            + use<>,
                    >,
                    #rt::ORPCError,
                >,
            > + use<> {
                #check_return
                #start_extracting
                async move {
                #extracted
                ::std::thread_local! {
                    static __ORPC_SLOT: #rt::__private::SlotCell<#event> =
                        const { #rt::__private::SlotCell::new() };
                }
                struct __OrpcSlot;
                impl #rt::__private::SlotKey for __OrpcSlot {
                    type Event = #event;
                    type Output = #ret;
                    type Done = #output;
                    #[inline(always)]
                    fn with<__R>(
                        f: impl ::core::ops::FnOnce(&#rt::__private::SlotCell<#event>) -> __R,
                    ) -> __R {
                        __ORPC_SLOT.with(f)
                    }
                    #[inline(always)]
                    fn finish(#out: #ret) -> ::core::result::Result<#output, #rt::ORPCError> {
                        #finish
                    }
                }
                #[allow(unused_variables)]
                let #yielder = #rt::__private::Yielder::<__OrpcSlot>::new();
                ::core::result::Result::Ok(#rt::EventIterator::<_, _, _, __OrpcSlot>::new(
                    #rt::__private::body::<#ret, _>(async move #body),
                ))
                }
            }
            }
        }
    };

    // Each path parameter must name a field of the input: a field access that does not compile
    // otherwise, pointing at the path.
    let path_check = match &p.input {
        Some((_, ty)) if !p.path_fields.is_empty() => {
            let reads = p
                .path_fields
                .iter()
                .map(|(field, span)| quote_spanned!(*span=> let _ = &__orpc_input.#field;));
            quote! {
                const _: () = {
                    #[allow(dead_code)]
                    fn __orpc_path_parameters(__orpc_input: &#ty) {
                        #(#reads)*
                    }
                };
            }
        }
        _ => quote!(),
    };

    quote! {
        #path_check
        #(#docs)*
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, Default)]
        #vis struct #ident;

        impl #ident {
            #call
        }

        impl #rt::Procedure for #ident {
            const NAME: &'static str = #name;
            type Input = #input_ty;

            fn into_route(self) -> #rt::Route {
                #route
            }
        }
    }
}
