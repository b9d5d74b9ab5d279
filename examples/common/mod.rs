//! What the showcase examples share: their command line, their logs, and serving their page.

use actix_web::{web, HttpResponse};

/// The `--addr HOST:PORT` flag, or `default`.
pub fn addr(example: &str, default: &str) -> std::io::Result<String> {
    let usage = format!("usage: {example} [--addr HOST:PORT]");
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let mut args = std::env::args().skip(1);
    let mut addr = default.to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                addr = args
                    .next()
                    .ok_or_else(|| invalid(format!("--addr needs a value; {usage}")))?
            }
            other => return Err(invalid(format!("unknown argument {other:?}; {usage}"))),
        }
    }
    Ok(addr)
}

/// Logs warnings and up, or what `RUST_LOG` asks for.
pub fn init_logs() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
}

/// Serves the page at `/`: its HTML, its script and the shared style sheet, embedded in the
/// binary.
pub fn page(
    cfg: &mut web::ServiceConfig,
    html: &'static str,
    script_path: &'static str,
    script: &'static str,
) {
    fn asset(content_type: &'static str, body: &'static str) -> actix_web::Route {
        web::get().to(move || async move {
            HttpResponse::Ok()
                .content_type(content_type)
                .insert_header(("cache-control", "no-cache"))
                .body(body)
        })
    }
    cfg.route("/", asset("text/html; charset=utf-8", html))
        .route(script_path, asset("text/javascript", script))
        .route(
            "/style.css",
            asset("text/css", include_str!("../web/style.css")),
        );
}
