//! Checking the parsed arguments against the function, and building the model `expand` uses.
//!
//! All problems found are reported together, each at the token the user has to change.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{
    Attribute, Block, FnArg, Ident, ItemFn, LitStr, Pat, PathArguments, ReturnType, Type,
    Visibility,
};

use crate::attr::Args;

/// A procedure as `expand` needs it.
pub struct Procedure {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub name: String,
    pub input: Option<(Pat, Type)>,
    pub context: Vec<(Pat, Type)>,
    /// The fn's declared return type, `()` when it declares none.
    pub ret: Type,
    /// Whether `ret` is a `Result<_, E>`, whose error converts into `ORPCError`.
    pub fallible: bool,
    /// What the body produces: `ret`, or its `Ok` type when it is fallible.
    pub output: Type,
    pub kind: Kind,
    /// One of [`METHODS`], when given.
    pub method: Option<String>,
    pub path: Option<String>,
    /// The Rust fields the path's parameters fill, each with the path's span.
    pub path_fields: Vec<(Ident, Span)>,
    pub validate: bool,
    pub tags: Vec<String>,
    /// The type that declares the procedure's errors, `errors = MyErrors`.
    pub errors: Option<Type>,
    /// The doc comment's first paragraph, and the rest.
    pub summary: Option<String>,
    pub description: Option<String>,
    pub body: Block,
}

// One value per macro call: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Kind {
    /// A request/response procedure.
    Plain,
    /// An event iterator of `event`s that finishes with a `done` value of type `done`, which
    /// must be the fn's `output`.
    Stream { event: Type, done: Type },
}

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

pub fn check(args: Args, item: ItemFn) -> syn::Result<Procedure> {
    let mut errors = Errors::default();
    let sig = &item.sig;

    if sig.asyncness.is_none() {
        errors.push(
            sig.fn_token.span(),
            "#[procedure] needs an `async fn`; add `async` before `fn`",
        );
    }
    if let Some(c) = &sig.constness {
        errors.push(c.span(), "a procedure can't be `const fn`; remove `const`");
    }
    if let Some(u) = &sig.unsafety {
        errors.push(
            u.span(),
            "a procedure can't be `unsafe fn`; remove `unsafe`",
        );
    }
    if let Some(abi) = &sig.abi {
        errors.push(abi.span(), "a procedure can't declare an ABI; remove it");
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let first = sig
            .generics
            .params
            .first()
            .map_or_else(|| sig.generics.span(), |p| p.span());
        errors.push(
            first,
            "generic procedures are not supported: a procedure is served with one concrete input \
             and output type; write a non-generic fn that calls your generic code",
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(variadic.span(), "a procedure can't be variadic");
    }

    let mut input = None;
    let mut context = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(receiver) => errors.push(
                receiver.self_token.span(),
                "a procedure can't take `self`; write a free `async fn` and take shared state as a \
                 `Data<T>` parameter",
            ),
            FnArg::Typed(typed) => {
                let is_input = matches!(&*typed.pat, Pat::Ident(p) if p.ident == "input" || p.ident == "_input");
                let param = ((*typed.pat).clone(), (*typed.ty).clone());
                if !is_input {
                    if let Some(reader) = body_reader(&typed.ty) {
                        errors.push(
                            typed.ty.span(),
                            format!(
                                "`{reader}` would read the request body, but the body is the \
                                 procedure's input: name this parameter `input` to receive it, \
                                 deserialized and checked against its schema"
                            ),
                        );
                    }
                    context.push(param);
                } else if input.replace(param).is_some() {
                    errors.push(typed.pat.span(), "only one parameter can be the `input`");
                }
            }
        }
    }

    let (ret, declared) = match &sig.output {
        ReturnType::Default => (syn::parse_quote!(()), None),
        ReturnType::Type(_, ty) => ((**ty).clone(), Some(ty.span())),
    };
    let ok_type = result_ok_type(&ret);
    let fallible = ok_type.is_some();
    let produced = ok_type.unwrap_or(&ret).clone();

    let kind = match args.output {
        None => Kind::Plain,
        Some(output) => {
            match (&output.ret, declared) {
                (Some(done), None) => errors.push(
                    sig.paren_token.span.close(),
                    format!(
                        "`event_iterator(_, {})` declares a return value, so the fn must return it: \
                         add `-> {0}` or `-> Result<{0}, ORPCError>`",
                        quote::ToTokens::to_token_stream(done)
                    ),
                ),
                (None, Some(span)) if !is_unit(&produced) => errors.push(
                    span,
                    "this fn returns a value, but `event_iterator(T)` declares none: declare its \
                     type as `event_iterator(T, ReturnType)`, or return `()`",
                ),
                _ => {}
            }
            let done = output.ret.unwrap_or_else(|| syn::parse_quote!(()));
            Kind::Stream {
                event: output.event,
                done,
            }
        }
    };

    // The router serves exactly these; anything else would be a route no request reaches.
    let method = args.method.and_then(|method| {
        if METHODS.contains(&method.text.as_str()) {
            return Some(method.text);
        }
        let upper = method.text.to_ascii_uppercase();
        let message = if METHODS.contains(&upper.as_str()) {
            format!("methods are written in capitals: `method = {upper}`")
        } else {
            format!(
                "unknown method `{}`; use one of {}",
                method.text,
                METHODS.join(", ")
            )
        };
        errors.push(method.span, message);
        None
    });
    let mut path_fields = Vec::new();
    let path = args.path.map(|p| {
        let value = p.value();
        if !value.starts_with('/') {
            errors.push(
                p.span(),
                "an OpenAPI path starts with `/`, e.g. `path = \"/count\"`",
            );
        }
        for param in path_params(&value) {
            if input.is_none() {
                errors.push(
                    p.span(),
                    format!(
                        "the path parameter `{{{param}}}` fills the input's field `{param}`, but \
                         this procedure takes no input: add an `input` parameter whose type has \
                         that field"
                    ),
                );
            } else if let Some(field) = field_of(param) {
                path_fields.push((Ident::new(&field, p.span()), p.span()));
            }
        }
        value
    });
    let name = match args.name {
        Some(name) => {
            let value = name.value();
            let valid = !value.is_empty()
                && value.split('/').all(|segment| {
                    !segment.is_empty()
                        && segment
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            if !valid {
                errors.push(name.span(), "a procedure name is one or more `/`-separated segments of letters, digits, `_` or `-`");
            }
            value
        }
        None => sig.ident.to_string().trim_start_matches("r#").to_owned(),
    };

    let (summary, description) = split_docs(&item.attrs);
    errors.finish()?;
    Ok(Procedure {
        attrs: item.attrs,
        vis: item.vis,
        ident: item.sig.ident,
        name,
        input,
        context,
        ret,
        fallible,
        output: produced,
        kind,
        method,
        path,
        path_fields,
        validate: args.validate.is_none_or(|b| b.value),
        errors: args.errors,
        tags: args
            .tags
            .unwrap_or_default()
            .iter()
            .map(LitStr::value)
            .collect(),
        summary,
        description,
        body: *item.block,
    })
}

/// The doc comment's first paragraph (as one line) and the paragraphs after it.
fn split_docs(attrs: &[Attribute]) -> (Option<String>, Option<String>) {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .flat_map(|doc| {
            doc.split('\n')
                .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    let text = lines.join("\n");
    let text = text.trim();
    if text.is_empty() {
        return (None, None);
    }
    let (first, rest) = text.split_once("\n\n").unwrap_or((text, ""));
    let summary = first.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = rest.trim();
    (Some(summary), (!rest.is_empty()).then(|| rest.to_owned()))
}

/// `T` when `ty` is written as `Result<T, ..>` (any path ending in `Result`).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    // `Result<T, E>`, or an alias such as `io::Result<T>`.
    types.next()
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, span: Span, message: impl std::fmt::Display) {
        let error = syn::Error::new(span, message);
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// The actix-web extractors that read the request body, by the last segment of their path: as
/// a procedure's non-input parameter they would see an empty body, since the input took it.
fn body_reader(ty: &Type) -> Option<String> {
    let Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?.ident.to_string();
    ["String", "Bytes", "Json", "Form", "Payload"]
        .contains(&last.as_str())
        .then_some(last)
}

/// The names of the parameters in an actix-web path pattern: `{room}`, or `{room:regex}`, whose
/// regex may hold braces of its own. (orpc-runtime's `path.rs` reads patterns the same way at
/// run time; a proc-macro crate cannot share its code.)
fn path_params(path: &str) -> Vec<&str> {
    let mut params = Vec::new();
    let mut from = 0;
    while let Some(open) = path[from..].find('{').map(|i| from + i) {
        let mut depth = 0usize;
        let close = path[open..].char_indices().find_map(|(i, c)| {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            (depth == 0).then_some(open + i)
        });
        let Some(close) = close else { break };
        let inside = &path[open + 1..close];
        params.push(inside.split(':').next().unwrap_or(inside).trim());
        from = close + 1;
    }
    params
}

/// The Rust field a path parameter fills: its own name, or its snake_case form for a camelCase
/// name (a struct with `#[serde(rename_all = "camelCase")]`). `None` when no Rust field can have
/// that name (`room-id`): the schema check at run time still covers it.
fn field_of(param: &str) -> Option<String> {
    let mut field = String::new();
    for c in param.chars() {
        if c.is_ascii_uppercase() {
            if !field.is_empty() {
                field.push('_');
            }
            field.push(c.to_ascii_lowercase());
        } else {
            field.push(c);
        }
    }
    syn::parse_str::<Ident>(&field).ok().map(|_| field)
}
