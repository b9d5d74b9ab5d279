//! The one pass that rewrites `yield_!` in a procedure body.
//!
//! `yield_!(value)` becomes `yielder.value(value).await`, and
//! `yield_!(value, id = .., retry = .., comment = .., comments = ..)` becomes
//! `yielder.value_with_meta(value, EventMeta::new().id(..)...).await`. The generated tokens carry
//! the span of the user's `yield_!`, and the value keeps its own, so a wrong type is reported at the
//! call site rather than in generated code.
//!
//! A `yield_!` inside a closure or a nested `async` block is refused: that code can run on another
//! task or after the body moved on, where its event would belong to no stream. Inside other macro
//! calls (`tokio::select!`, `vec!`, ...) the tokens are rewritten in place, unless the call
//! contains an `async` block. Nested `fn` items are left alone; their `yield_!` expands to the
//! error of the `yield_!` macro itself.

use proc_macro2::{Delimiter, Group, Ident, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, Macro, Stmt, Token};

use crate::valid::Errors;

/// Where `yield_!` is allowed, and what it becomes.
pub struct YieldRewriter {
    /// The yielder local, or `None` in a plain procedure.
    yielder: Option<Ident>,
    /// Inside a closure or an `async` block: the span of its start.
    nested: Option<(Span, &'static str)>,
    pub errors: Errors,
    /// Rewrites every `yield_!` into `()` and reports nothing: for the fallback output next to
    /// an error, so that one mistake is not followed by a cascade of `yield_!` errors.
    silent: bool,
}

impl YieldRewriter {
    pub fn new(yielder: Option<Ident>) -> Self {
        YieldRewriter {
            yielder,
            nested: None,
            errors: Errors::default(),
            silent: false,
        }
    }

    pub fn silent() -> Self {
        YieldRewriter {
            silent: true,
            ..YieldRewriter::new(None)
        }
    }

    fn rewrite(&mut self, mac: &Macro) -> TokenStream {
        let span = mac.path.span();
        // Handing tokens back through the user's own `yield_!` path keeps their import in use;
        // the macro passes tokens marked `@rewritten` through unchanged.
        let path = &mac.path;
        let silenced = quote_spanned!(span=> #path!(@rewritten { () }));
        if self.silent {
            return silenced;
        }
        let Some(yielder) = &self.yielder else {
            self.errors.push(
                span,
                "`yield_!` needs a streaming procedure: declare \
                 `#[procedure(output = event_iterator(EventType))]`",
            );
            return silenced;
        };
        // Mixed-site hygiene, so it resolves to the macro's local; located at the `yield_!`, so
        // that diagnostics about it point there.
        let yielder = Ident::new(&yielder.to_string(), yielder.span().located_at(span));
        if let Some((_, what)) = self.nested {
            let why = match what {
                "closure" => "a closure can run anywhere, at any time, so its events would belong to no stream",
                _ => "a nested `async` block can be run on another task, away from this procedure's stream",
            };
            let article = if what.starts_with('a') { "an" } else { "a" };
            self.errors.push(
                span,
                format!(
                    "`yield_!` can't be used inside {article} {what}: {why}; \
                     yield from the procedure body itself, for example with the {what}'s result"
                ),
            );
            return silenced;
        }
        if mac.tokens.is_empty() {
            self.errors
                .push(span, "`yield_!` needs a value to send: `yield_!(value)`");
            return silenced;
        }
        let args = match mac.parse_body::<YieldArgs>() {
            Ok(args) => args,
            Err(e) => {
                self.errors.push(e.span(), e);
                return silenced;
            }
        };
        let value = args.value;
        let send = if args.meta.is_empty() {
            quote_spanned!(span=> #yielder.value(#value).await)
        } else {
            let setters = args
                .meta
                .iter()
                .map(|(key, expr)| quote_spanned!(key.span()=> .#key(#expr)));
            quote_spanned! {span=>
                #yielder.value_with_meta(#value, ::orpc_runtime::EventMeta::new() #(#setters)*).await
            }
        };
        quote_spanned!(span=> #path!(@rewritten { #send }))
    }

    /// Rewrites `yield_ ! (..)` sequences inside another macro's tokens.
    fn rewrite_tokens(&mut self, tokens: TokenStream, has_async: bool) -> TokenStream {
        let mut out = Vec::new();
        let mut iter = tokens.into_iter().peekable();
        while let Some(tree) = iter.next() {
            match tree {
                TokenTree::Ident(ident) if ident == "yield_" => {
                    let bang =
                        matches!(iter.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                    if !bang {
                        out.push(TokenTree::Ident(ident));
                        continue;
                    }
                    let bang = iter.next().expect("peeked");
                    let Some(TokenTree::Group(group)) = iter.next() else {
                        self.errors.push(ident.span(), "expected `yield_!(value)`");
                        continue;
                    };
                    if has_async && !self.silent {
                        self.errors.push(
                            ident.span(),
                            "`yield_!` can't be used inside a macro call that contains an `async` \
                             block: that block can run away from this procedure's stream; \
                             yield from the procedure body itself",
                        );
                        continue;
                    }
                    let mac = Macro {
                        path: ident.into(),
                        bang_token: Token![!](bang.span()),
                        delimiter: match group.delimiter() {
                            Delimiter::Brace => syn::MacroDelimiter::Brace(Default::default()),
                            Delimiter::Bracket => syn::MacroDelimiter::Bracket(Default::default()),
                            _ => syn::MacroDelimiter::Paren(Default::default()),
                        },
                        tokens: group.stream(),
                    };
                    out.extend(self.rewrite(&mac));
                }
                TokenTree::Group(group) => {
                    let mut inner = Group::new(
                        group.delimiter(),
                        self.rewrite_tokens(group.stream(), has_async),
                    );
                    inner.set_span(group.span());
                    out.push(TokenTree::Group(inner));
                }
                other => out.push(other),
            }
        }
        out.into_iter().collect()
    }

    fn nested<R>(&mut self, span: Span, what: &'static str, f: impl FnOnce(&mut Self) -> R) -> R {
        let outer = self.nested.replace((span, what));
        let result = f(self);
        self.nested = outer;
        result
    }
}

/// The tokens of a `yield_!(@rewritten { .. })` that this visitor produced.
pub fn rewritten(input: &TokenStream) -> Option<TokenStream> {
    let mut iter = input.clone().into_iter();
    match (iter.next(), iter.next(), iter.next(), iter.next()) {
        (
            Some(TokenTree::Punct(at)),
            Some(TokenTree::Ident(marker)),
            Some(TokenTree::Group(body)),
            None,
        ) if at.as_char() == '@'
            && marker == "rewritten"
            && body.delimiter() == Delimiter::Brace =>
        {
            Some(TokenTree::Group(body).into())
        }
        _ => None,
    }
}

fn is_yield(mac: &Macro) -> bool {
    mac.path
        .segments
        .last()
        .is_some_and(|s| s.ident == "yield_")
}

fn mentions_yield(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "yield_",
        TokenTree::Group(group) => mentions_yield(&group.stream()),
        _ => false,
    })
}

fn mentions_async(tokens: &TokenStream) -> bool {
    tokens.clone().into_iter().any(|tree| match tree {
        TokenTree::Ident(ident) => ident == "async",
        TokenTree::Group(group) => mentions_async(&group.stream()),
        _ => false,
    })
}

impl VisitMut for YieldRewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Macro(m) if is_yield(&m.mac) => {
                let tokens = self.rewrite(&m.mac);
                *expr = syn::parse_quote!(#tokens);
            }
            Expr::Closure(c) => {
                let span = c.or1_token.span();
                self.nested(span, "closure", |v| visit_mut::visit_expr_closure_mut(v, c));
            }
            Expr::Async(a) => {
                let span = a.async_token.span();
                self.nested(span, "async block", |v| {
                    visit_mut::visit_expr_async_mut(v, a)
                });
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(m) = stmt {
            if is_yield(&m.mac) {
                let tokens = self.rewrite(&m.mac);
                let semi = m.semi_token;
                *stmt = Stmt::Expr(syn::parse_quote!(#tokens), semi);
                return;
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        if !is_yield(mac) && mentions_yield(&mac.tokens) {
            let has_async = mentions_async(&mac.tokens);
            let tokens = std::mem::take(&mut mac.tokens);
            mac.tokens = self.rewrite_tokens(tokens, has_async);
        }
    }

    fn visit_item_mut(&mut self, _item: &mut syn::Item) {
        // A nested item is not part of the body; its `yield_!` reports itself.
    }
}

/// `value` followed by `key = expr` pairs.
struct YieldArgs {
    value: Expr,
    meta: Vec<(Ident, Expr)>,
}

impl Parse for YieldArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.is_empty() {
            return Err(input.error("`yield_!` needs a value: `yield_!(value)`"));
        }
        let value: Expr = input.parse()?;
        let mut meta = Vec::new();
        while !input.is_empty() {
            input.parse::<Token![,]>()?;
            if input.is_empty() {
                break;
            }
            let key: Ident = input.parse()?;
            if !["id", "retry", "comment", "comments"].contains(&key.to_string().as_str()) {
                return Err(syn::Error::new(
                    key.span(),
                    format!(
                        "unknown event field `{key}`; `yield_!` accepts `id = ..`, `retry = ..` \
                         (a Duration), `comment = ..` and `comments = [..]`"
                    ),
                ));
            }
            input.parse::<Token![=]>()?;
            meta.push((key, input.parse()?));
        }
        Ok(YieldArgs { value, meta })
    }
}
