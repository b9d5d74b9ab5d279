//! `orpc-load`: a load generator for server-sent event streams, on loopback only.
//!
//! It opens `--connections` concurrent HTTP/1.1 connections to one URL and reads `--streams`
//! streams in all, each to its end (a `done` event, the end of the body, or the connection
//! closing), counting `message` events. It reports events/s, streams/s, bytes/s, the time to the
//! response head and to the first event (p50/p99), and, given `--server-pid`, the server's CPU
//! time and memory read from `/proc`. `--hold` opens the streams and keeps them idle instead, to
//! weigh the memory an open stream costs the server.
//!
//!     cargo run --release -p orpc-load -- --url 'http://127.0.0.1:8787/api/count?n=1000' \
//!         --connections 100 --streams 10000 --server-pid "$(pgrep -n conformance)"
//!
//! An `https://` URL runs the same streams over TLS, trusting only the certificate given with
//! `--tls-ca`; `--http2` puts all of them on one HTTP/2 connection instead (`http2.rs`), so that
//! one run can weigh TLS and another multiplexing, with everything else alike.
//! `--self-signed DIR` writes a fresh certificate and key for the server under test.
//!
//!     orpc-load --self-signed /tmp/pair
//!     orpc-load --url 'https://127.0.0.1:8443/api/count?n=10000' --tls-ca /tmp/pair/cert.pem \
//!         --http2 -c 100
//!
//! The client is a small hand-written HTTP/1.1 reader on tokio (`stream.rs`), with a chunked
//! decoder (`chunked.rs`) and an SSE frame counter (`sse.rs`) that look at each byte at most
//! once, so that it costs less CPU than the servers it measures. Every run is bounded: by the
//! number of streams, by `--duration` (600 s when not given), and by `--timeout` on each connect
//! and read.

mod chunked;
mod http2;
mod machine;
mod progress;
mod run;
mod self_signed;
mod server_process;
mod sse;
mod stream;
mod summary;
mod target;
mod tls;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use crate::http2::Http2Request;
use crate::run::Plan;
use crate::stream::Settings;
use crate::summary::Summary;
use crate::target::Target;
use crate::tls::{Alpn, Tls};

/// The run's deadline when `--duration` is not given: a safety bound, not a target.
const SAFETY_BOUND_SECS: f64 = 600.0;

/// Drives server-sent event streams on loopback and reports events/s, latency and server cost.
#[derive(Debug, Parser)]
#[command(name = "orpc-load", version)]
struct Cli {
    /// The stream's URL: http:// or https:// on 127.0.0.1, [::1] or localhost; any other host
    /// is refused.
    #[arg(long, required_unless_present = "self_signed")]
    url: Option<String>,
    /// For https://: the PEM certificate(s) to trust, e.g. the server's self-signed one; nothing
    /// else is trusted.
    #[arg(long, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
    /// Multiplex every stream on one HTTP/2 connection (https:// only; ALPN h2) instead of
    /// giving each its own HTTP/1.1 connection.
    #[arg(long)]
    http2: bool,
    /// Write a fresh self-signed certificate and key for localhost and 127.0.0.1 to
    /// DIR/cert.pem and DIR/key.pem, print their paths, and exit.
    #[arg(long, value_name = "DIR", exclusive = true)]
    self_signed: Option<PathBuf>,
    /// The request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// A JSON request body (sent with content-type application/json), e.g. for
    /// `--method POST --url http://127.0.0.1:8787/rpc/count --body '{"json":{"n":1000}}'`.
    #[arg(long)]
    body: Option<String>,
    /// An extra request header, `'Name: value'`; repeatable.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Concurrent streams, each on its own connection (with --http2: all on one connection).
    #[arg(long, short = 'c', default_value_t = 1)]
    connections: usize,
    /// Streams to read in all [default: as many as --connections, or unlimited with --duration].
    #[arg(long, short = 's')]
    streams: Option<u64>,
    /// Stop after this many seconds, cutting open streams [default: a 600 s safety bound].
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Hold mode: open --connections streams, keep them open SECS after all have answered,
    /// then report the server's memory per open stream (needs --server-pid) and close them.
    #[arg(long, value_name = "SECS")]
    hold: Option<f64>,
    /// Show more latency percentiles (p90, p99.9, mean) in the table.
    #[arg(long)]
    latency: bool,
    /// The server's process id: report its CPU time and memory from /proc.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// Bound on each connect and each read, in seconds (in hold mode, on the connect and the
    /// response head only).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    timeout: f64,
    /// The client's runtime threads; 1 runs everything on one thread, leaving the other cores
    /// to the server.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Each stream's read buffer, in bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    buffer: usize,
    /// Print the summary as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// No progress bar (it is also off when stderr is not a terminal).
    #[arg(long, short = 'q')]
    quiet: bool,
}

fn seconds(value: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{what} must be a positive number of seconds, got {value}"))
}

fn plan(cli: &Cli) -> Result<(Settings, Plan), String> {
    let url = cli.url.as_deref().ok_or("--url is needed")?;
    let target = Target::parse(url).map_err(|e| e.to_string())?;
    if cli.method.is_empty() || !cli.method.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "--method must be an uppercase HTTP method, got {:?}",
            cli.method
        ));
    }
    for header in &cli.headers {
        if !header.contains(':') || header.contains(['\r', '\n']) {
            return Err(format!(
                "--header must be one 'Name: value' line, got {header:?}"
            ));
        }
    }
    if cli.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if cli.streams == Some(0) {
        return Err("--streams must be at least 1".into());
    }
    if cli.hold.is_some() && cli.streams.is_some() {
        return Err("--hold opens exactly --connections streams; leave out --streams".into());
    }
    let deadline = seconds(cli.duration.unwrap_or(SAFETY_BOUND_SECS), "--duration")?;
    let hold = cli.hold.map(|h| seconds(h, "--hold")).transpose()?;
    let timeout = seconds(cli.timeout, "--timeout")?;
    let streams = match (cli.streams, cli.duration) {
        (Some(streams), _) => Some(streams),
        (None, Some(_)) => None,
        (None, None) => Some(cli.connections as u64),
    };
    if cli.http2 && !target.tls {
        return Err("--http2 needs an https:// URL (HTTP/2 is negotiated by ALPN)".into());
    }
    let tls = match (target.tls, &cli.tls_ca) {
        (true, Some(ca)) => {
            let alpn = if cli.http2 { Alpn::H2 } else { Alpn::Http1 };
            Some(Tls::new(ca, &target.host, alpn)?)
        }
        (true, None) => {
            return Err("an https:// URL needs --tls-ca PEM, the certificate to trust".into())
        }
        (false, Some(_)) => return Err("--tls-ca is for https:// URLs".into()),
        (false, None) => None,
    };
    let http2 = match cli.http2 {
        true => Some(Http2Request {
            head: target.h2_request(&cli.method, cli.body.as_deref(), &cli.headers)?,
            body: cli.body.clone().map(bytes::Bytes::from),
        }),
        false => None,
    };
    let settings = Settings {
        addr: target.addr,
        request: target.request(&cli.method, cli.body.as_deref(), &cli.headers),
        http2,
        tls,
        // An idle stream may be silent for long: in hold mode only the deadline bounds reads
        // once the head has arrived. The connect and head reads are bounded the same way.
        read_timeout: if hold.is_some() { deadline } else { timeout },
        buffer: cli.buffer,
    };
    let plan = Plan {
        connections: cli.connections,
        streams,
        deadline,
        hold,
        http2: cli.http2,
        server_pid: cli.server_pid,
        quiet: cli.quiet,
    };
    Ok((settings, plan))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(dir) = &cli.self_signed {
        return match self_signed::write(dir) {
            Ok((cert, key)) => {
                println!("{}\n{}", cert.display(), key.display());
                ExitCode::SUCCESS
            }
            Err(why) => {
                eprintln!("orpc-load: {why}");
                ExitCode::FAILURE
            }
        };
    }
    let (settings, plan) = match plan(&cli) {
        Ok(planned) => planned,
        Err(why) => {
            eprintln!("orpc-load: {why}");
            return ExitCode::from(2);
        }
    };
    if let Some(pid) = cli.server_pid {
        if let Err(error) = server_process::sample(pid) {
            eprintln!("orpc-load: cannot read /proc/{pid}: {error}");
            return ExitCode::from(2);
        }
    }
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("orpc-load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let over_tls = settings.tls.is_some();
    let report = runtime.block_on(run::run(settings, &plan));
    let summary = Summary::new(
        &cli.method,
        cli.url.as_deref().unwrap_or_default(),
        match (cli.http2, over_tls) {
            (true, _) => "h2",
            (false, true) => "http/1.1+tls",
            (false, false) => "http/1.1",
        },
        cli.connections,
        cli.server_pid,
        plan.hold.is_some(),
        report,
    );
    if cli.json {
        match serde_json::to_string(&summary) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("orpc-load: {error}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", summary.table(cli.latency));
    }
    if summary.streams_failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(args: &[&str]) -> Result<(Settings, Plan), String> {
        let cli =
            Cli::try_parse_from(["orpc-load"].iter().chain(args)).map_err(|e| e.to_string())?;
        plan(&cli)
    }

    #[test]
    fn streams_default_to_connections_or_to_the_duration() {
        let (_, p) = planned(&["--url", "http://127.0.0.1:1/", "-c", "8"]).unwrap();
        assert_eq!((p.streams, p.deadline.as_secs()), (Some(8), 600));
        let (_, p) = planned(&["--url", "http://127.0.0.1:1/", "--duration", "2"]).unwrap();
        assert_eq!((p.streams, p.deadline.as_secs()), (None, 2));
    }

    #[test]
    fn refuses_remote_hosts_and_bad_flags() {
        assert!(planned(&["--url", "http://192.168.1.1:80/"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "-c", "0"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--method", "get"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--header", "X: 1\r\nY: 2"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--duration", "-1"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--hold", "1", "-s", "3"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--http2"]).is_err());
        assert!(planned(&["--url", "https://127.0.0.1:1/"]).is_err());
        assert!(planned(&["--url", "http://127.0.0.1:1/", "--tls-ca", "x.pem"]).is_err());
        assert!(planned(&["--self-signed", "/tmp/x", "--url", "http://127.0.0.1:1/"]).is_err());
    }
}
