//! What the showcase examples share: their command line, their logs, and serving their page.

use actix_web::{web, HttpResponse};
use orpc_runtime::http::{self, Router};

/// The command line every showcase example takes: `--addr HOST:PORT` (or `default`), and
/// `--tls-cert CERT.pem --tls-key KEY.pem` for HTTPS with HTTP/2.
pub struct Args {
    pub addr: String,
    tls: Option<(String, String)>,
}

/// Reads the command line; see [`Args`].
#[allow(dead_code)] // each example compiles this module; ai_chat takes more flags
pub fn args(example: &str, default: &str) -> std::io::Result<Args> {
    Ok(args_with(example, default, &[])?.0)
}

/// [`args`], with the flags `extra` (each `--flag VALUE`, shown in the usage as written) too:
/// their values by flag.
pub fn args_with(
    example: &str,
    default: &str,
    extra: &[&str],
) -> std::io::Result<(Args, std::collections::HashMap<String, String>)> {
    let mut usage =
        format!("usage: {example} [--addr HOST:PORT] [--tls-cert CERT.pem --tls-key KEY.pem]");
    for flag in extra {
        usage.push_str(&format!(" [{flag}]"));
    }
    let invalid = |message: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, message);
    let mut args = std::env::args().skip(1);
    let mut addr = default.to_owned();
    let (mut cert, mut key) = (None, None);
    let mut values = std::collections::HashMap::new();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| invalid(format!("{flag} needs a value; {usage}")))
        };
        match arg.as_str() {
            "--addr" => addr = value("--addr")?,
            "--tls-cert" => cert = Some(value("--tls-cert")?),
            "--tls-key" => key = Some(value("--tls-key")?),
            flag if extra.iter().any(|e| e.split(' ').next() == Some(flag)) => {
                let given = value(flag)?;
                values.insert(flag.to_owned(), given);
            }
            other => return Err(invalid(format!("unknown argument {other:?}; {usage}"))),
        }
    }
    let tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => {
            return Err(invalid(format!(
                "--tls-cert and --tls-key go together; {usage}"
            )))
        }
    };
    Ok((Args { addr, tls }, values))
}

/// Serves `router` as the command line says: plain HTTP, or HTTPS (HTTP/1.1 and HTTP/2).
pub async fn serve<F>(router: Router, args: Args, configure: F) -> std::io::Result<()>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    // Its metrics at `/metrics`, for Prometheus to scrape.
    #[cfg(feature = "otel")]
    let router = router.prometheus();
    match args.tls {
        None => http::serve_with(router, args.addr, configure).await,
        Some((cert, key)) => {
            let tls = http::tls_config(cert, key)?;
            http::serve_tls_with(router, args.addr, tls, configure).await
        }
    }
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
