//! The conformance server: one procedure per behaviour of `shared/spec/conformance.md`, served
//! under both protocols, for checks written in other languages against that spec.
//!
//!     cargo run --release --example conformance -- --addr 127.0.0.1:8787
//!     cargo run --release --example conformance -- --tls-cert cert.pem --tls-key key.pem   # HTTPS, HTTP/2
//!     cargo run --release --example conformance -- --emit-typescript contract.ts
//!     cargo run --release --example conformance -- --emit-typescript-v2 contract.ts   # oRPC 2
//!
//! RPC is served under `/rpc` (oRPC 1.x) and `/v2/rpc` (oRPC 2, a beta), OpenAPI under `/api`,
//! oRPC's WebSocket transport at `/ws`, its metrics in Prometheus' format at `/metrics`.
//!
//! The procedures live in `orpc-test-support/src/conformance.rs`, a library, so that the tests
//! serve the very same ones in-process.

use orpc_test_support::conformance;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match conformance::parse_args(std::env::args().skip(1))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?
    {
        conformance::Command::Serve(addr, tls) => conformance::serve(addr, tls).await,
        conformance::Command::EmitTypeScript(path) => {
            std::fs::write(path, conformance::router().typescript())
        }
        conformance::Command::EmitTypeScriptV2(path) => {
            std::fs::write(path, conformance::router().typescript_v2())
        }
    }
}
