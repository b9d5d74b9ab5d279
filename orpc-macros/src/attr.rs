//! Parsing `#[procedure(...)]`'s arguments into plain structs; no checks beyond syntax.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitBool, LitStr, Token, Type};

/// The arguments as written.
#[derive(Default)]
pub struct Args {
    pub output: Option<Output>,
    pub name: Option<LitStr>,
    pub method: Option<Method>,
    pub path: Option<LitStr>,
    pub validate: Option<LitBool>,
    pub tags: Option<Vec<LitStr>>,
    pub errors: Option<Type>,
}

/// `method = GET`, or `method = "GET"`: the method as written, and where.
pub struct Method {
    pub text: String,
    pub span: Span,
}

/// `output = event_iterator(Event)` or `output = event_iterator(Event, Return)`.
pub struct Output {
    pub event: Type,
    pub ret: Option<Type>,
}

const KNOWN: &str = "`output = event_iterator(..)`, `name = \"..\"`, `method = GET|POST|..`, \
                     `path = \"/..\"`, `tags = [\"..\"]`, `errors = MyErrors` and \
                     `validate = true|false`";

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Args::default();
        let mut errors: Option<syn::Error> = None;
        let mut push = |e: syn::Error| match &mut errors {
            Some(all) => all.combine(e),
            None => errors = Some(e),
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            let duplicate = || syn::Error::new(key.span(), format!("`{key}` is given twice"));
            match key.to_string().as_str() {
                "output" => {
                    let output = input.parse::<Output>()?;
                    if args.output.replace(output).is_some() {
                        push(duplicate());
                    }
                }
                "name" => {
                    if args.name.replace(input.parse()?).is_some() {
                        push(duplicate());
                    }
                }
                "method" => {
                    if args.method.replace(input.parse()?).is_some() {
                        push(duplicate());
                    }
                }
                "path" => {
                    if args.path.replace(input.parse()?).is_some() {
                        push(duplicate());
                    }
                }
                "tags" => {
                    let content;
                    syn::bracketed!(content in input);
                    let tags = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
                    if args.tags.replace(tags.into_iter().collect()).is_some() {
                        push(duplicate());
                    }
                }
                "validate" => {
                    if args.validate.replace(input.parse()?).is_some() {
                        push(duplicate());
                    }
                }
                "errors" => {
                    if args.errors.replace(input.parse()?).is_some() {
                        push(duplicate());
                    }
                }
                _ => {
                    push(syn::Error::new(
                        key.span(),
                        format!("unknown argument `{key}`; #[procedure] accepts {KNOWN}"),
                    ));
                    // Skip the value so that later arguments are still checked.
                    input.parse::<syn::Expr>()?;
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        match errors {
            Some(e) => Err(e),
            None => Ok(args),
        }
    }
}

impl Parse for Method {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            return Ok(Method {
                text: lit.value(),
                span: lit.span(),
            });
        }
        let ident = input.call(Ident::parse_any).map_err(|e| {
            syn::Error::new(e.span(), "expected an HTTP method, e.g. `method = GET`")
        })?;
        Ok(Method {
            text: ident.unraw().to_string(),
            span: ident.span(),
        })
    }
}

impl Parse for Output {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let usage =
            "expected `event_iterator(EventType)` or `event_iterator(EventType, ReturnType)`; \
                     a plain procedure leaves `output` out and declares its return type on the fn";
        let kind: Ident = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), usage))?;
        if kind != "event_iterator" {
            return Err(syn::Error::new(kind.span(), usage));
        }
        let content;
        syn::parenthesized!(content in input);
        let types = Punctuated::<Type, Token![,]>::parse_terminated(&content)
            .map_err(|e| syn::Error::new(e.span(), usage))?;
        let mut types = types.into_iter();
        match (types.next(), types.next(), types.next()) {
            (Some(event), ret, None) => Ok(Output { event, ret }),
            (None, ..) => Err(syn::Error::new(
                kind.span(),
                format!("missing event type: {usage}"),
            )),
            (.., Some(extra)) => Err(syn::Error::new_spanned(
                extra,
                format!("too many types: {usage}"),
            )),
        }
    }
}
