//! What the two anchor servers share: their command line and the query strings of `count` and
//! `forever`, with the same names and meanings as `examples/conformance.rs`.

use serde::Deserialize;

/// `GET /api/count?n=N&delay_ms=D`.
#[derive(Debug, Deserialize)]
pub struct CountQuery {
    pub n: u32,
    pub delay_ms: Option<u64>,
}

/// `GET /api/forever?interval_ms=T`.
#[derive(Debug, Deserialize)]
pub struct ForeverQuery {
    pub interval_ms: u64,
}

/// The one event that ends `count`, as the conformance server writes it.
pub const DONE: &[u8] = b"event: done\ndata: \"done!\"\n\n";

/// Reads `--addr HOST:PORT` (default `127.0.0.1:8787`); exits with usage on anything else.
pub fn addr_from_args(program: &str) -> String {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8787".to_owned();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: {program} [--addr HOST:PORT]; unexpected {arg:?}");
                std::process::exit(2);
            }
        }
    }
    addr
}
