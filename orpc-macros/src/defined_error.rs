//! `#[derive(DefinedError)]`: an enum of the errors a procedure declares.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitInt, LitStr};

pub fn derive(input: TokenStream) -> TokenStream {
    match expand(input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

/// One variant's `#[error(..)]`.
#[derive(Default)]
struct Declared {
    code: Option<LitStr>,
    status: Option<LitInt>,
    message: Option<LitStr>,
}

fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "`DefinedError` is derived for an enum whose variants are the errors",
        ));
    };
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new(
            input.generics.span(),
            "`DefinedError` is not derived for generic enums",
        ));
    }
    let ident = &input.ident;
    let rt = quote!(::orpc_runtime);
    let mut declared = Vec::new();
    let mut arms = Vec::new();
    for variant in &data.variants {
        let attrs = parse_attrs(&variant.attrs)?;
        let code = attrs.code.as_ref().map_or_else(
            || screaming_snake(&variant.ident.to_string()),
            LitStr::value,
        );
        let status = match &attrs.status {
            Some(status) => {
                let value: u16 = status.base10_parse()?;
                if !(400..600).contains(&value) {
                    return Err(syn::Error::new(
                        status.span(),
                        "an error's status is an HTTP error status, from 400 to 599",
                    ));
                }
                quote!(::core::option::Option::Some(#value))
            }
            None => quote!(::core::option::Option::None),
        };
        let message = match &attrs.message {
            Some(message) => quote!(::core::option::Option::Some(#message)),
            None => quote!(::core::option::Option::None),
        };
        let name = &variant.ident;
        let (data, arm) = match &variant.fields {
            Fields::Unit => (
                quote!(::core::option::Option::None),
                quote! {
                    #ident::#name => #rt::__private::defined::<()>(
                        #code, #status, #message, ::core::option::Option::None,
                    ),
                },
            ),
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                let ty = &fields.unnamed[0].ty;
                (
                    quote!(::core::option::Option::Some(#rt::__private::data_schema::<#ty>)),
                    quote! {
                        #ident::#name(data) => #rt::__private::defined(
                            #code, #status, #message, ::core::option::Option::Some(&data),
                        ),
                    },
                )
            }
            other => {
                return Err(syn::Error::new(
                    other.span(),
                    "a declared error is a unit variant, or holds one value, its data: \
                     `RateLimited(RetryAfter)` with `struct RetryAfter { .. }`",
                ))
            }
        };
        declared.push(quote! {
            #rt::DeclaredError { code: #code, status: #status, message: #message, data: #data },
        });
        arms.push(arm);
    }
    Ok(quote! {
        impl #rt::DefinedError for #ident {
            const ERRORS: &'static [#rt::DeclaredError] = &[#(#declared)*];
        }

        impl ::core::convert::From<#ident> for #rt::ORPCError {
            fn from(error: #ident) -> Self {
                match error {
                    #(#arms)*
                }
            }
        }
    })
}

fn parse_attrs(attrs: &[syn::Attribute]) -> syn::Result<Declared> {
    let mut declared = Declared::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("error")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("code") {
                declared.code = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("status") {
                declared.status = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("message") {
                declared.message = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown argument; `#[error(..)]` takes `code = \"..\"`, `status = 4xx|5xx` \
                     and `message = \"..\"`",
                ));
            }
            Ok(())
        })?;
    }
    Ok(declared)
}

/// `RateLimited` as `RATE_LIMITED`.
fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_uppercase());
    }
    out
}
