//! The documents a router publishes about its procedures, read from its procedure table: the
//! OpenAPI document, the TypeScript contract for oRPC's client, and the API reference page.
//! The serving core does not know them; they only read the routes.

mod openapi;
mod typescript;

pub(crate) use openapi::{document, ApiInfo};
pub(crate) use typescript::{contract, Flavour};

/// The API reference page: one self-contained HTML file that reads `openapi.json` beside it.
pub(crate) const REFERENCE_PAGE: &str = include_str!("reference.html");
