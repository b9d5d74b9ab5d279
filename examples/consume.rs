//! Consumes a streaming procedure with `orpc-client` and prints its events as JSON lines.
//!
//!     cargo run --example consume -- --url http://127.0.0.1:8787/rpc --procedure count \
//!         --input '{"n": 3}' [--retry N] [--last-event-id ID]
//!
//! Prints one JSON object per line:
//! - `{"event":"message","data":<value>,"id":<string or null>}` for each event;
//! - then `{"event":"done","data":<value>}` (the return value; `null` for none),
//! - or `{"event":"error","data":<error object>}`, with the fields of oRPC's error object in
//!   oRPC's order: `defined`, `code`, `status`, `message`, `data`.
//!
//! Errors that are not the server's have no oRPC error object of their own, so they are printed
//! as one with status 0 (no HTTP status, as a browser reports a failed fetch) and a code that
//! names the kind: `NETWORK_ERROR` (the connection failed, or was cut and could not be resumed),
//! `ERROR_EVENT` (an `event: error` without an error object; its data is the event's data) or
//! `CLIENT_ERROR` (a response this client could not read).
//!
//! `--retry N` allows N reconnect attempts in a row (default 0, as oRPC's `ClientRetryPlugin`),
//! resuming with `Last-Event-ID`; `--last-event-id ID` starts as if the event ID had been seen.
//!
//! Exit status: 0 after `done`; 1 after an error, including when reconnect attempts run out;
//! 2 for bad arguments.

use std::io::Write;
use std::process::ExitCode;

use futures_util::StreamExt;
use orpc_client::{Client, Error, Frame, ORPCError, ReconnectPolicy};
use serde::Serialize;
use serde_json::Value;

const USAGE: &str =
    "usage: consume --url URL --procedure NAME [--input JSON] [--retry N] [--last-event-id ID]";

/// The command line.
#[derive(Debug, PartialEq)]
struct Args {
    url: String,
    procedure: String,
    input: Option<Value>,
    retry: u32,
    last_event_id: Option<String>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = args.into_iter();
    let (mut url, mut procedure, mut input, mut retry, mut last_event_id) =
        (None, None, None, 0, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--url" => url = Some(value()?),
            "--procedure" => procedure = Some(value()?),
            "--input" => {
                let text = value()?;
                let json = serde_json::from_str(&text)
                    .map_err(|e| format!("--input is not JSON ({e}): {text}"))?;
                input = Some(json);
            }
            "--retry" => {
                let text = value()?;
                retry = text.parse().map_err(|_| {
                    format!("--retry takes a whole number of attempts, not {text:?}")
                })?;
            }
            "--last-event-id" => last_event_id = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Args {
        url: url.ok_or("--url is required")?,
        procedure: procedure.ok_or("--procedure is required")?,
        input,
        retry,
        last_event_id,
    })
}

/// One line of output.
#[derive(Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Line<'a> {
    Message {
        data: &'a Value,
        id: Option<&'a str>,
    },
    Done {
        data: &'a Value,
    },
    Error {
        data: &'a ORPCError,
    },
}

/// The error as an oRPC error object; see the module docs for errors that are not the server's.
fn error_object(error: Error) -> ORPCError {
    let message = error.to_string();
    let (code, data) = match error {
        Error::Orpc(error) => return error,
        Error::ErrorEvent(data) => ("ERROR_EVENT", Some(data)),
        ref e if e.is_connection_error() => ("NETWORK_ERROR", None),
        _ => ("CLIENT_ERROR", None),
    };
    ORPCError {
        defined: false,
        code: code.to_owned(),
        status: 0,
        message,
        data,
    }
}

async fn consume(args: Args, out: &mut impl Write) -> std::io::Result<bool> {
    let mut print = |line: Line| -> std::io::Result<()> {
        serde_json::to_writer(&mut *out, &line)?;
        writeln!(out)
    };
    let client = match Client::new(&args.url) {
        Ok(client) => client,
        Err(error) => {
            print(Line::Error {
                data: &error_object(error),
            })?;
            return Ok(false);
        }
    };
    let policy = ReconnectPolicy::builder().max_attempts(args.retry).build();
    let input = args.input.unwrap_or(Value::Null);
    let mut request = client
        .stream::<Value, Value>(&args.procedure, &input)
        .reconnect(policy);
    if let Some(id) = args.last_event_id {
        request = request.last_event_id(id);
    }
    let mut stream = match request.await {
        Ok(stream) => stream,
        Err(error) => {
            print(Line::Error {
                data: &error_object(error),
            })?;
            return Ok(false);
        }
    };
    while let Some(frame) = stream.next().await {
        match frame {
            Ok(Frame::Event(event)) => print(Line::Message {
                data: &event.data,
                id: event.id(),
            })?,
            Ok(Frame::Done(value)) => {
                print(Line::Done { data: &value })?;
                return Ok(true);
            }
            Err(error) => {
                print(Line::Error {
                    data: &error_object(error),
                })?;
                return Ok(false);
            }
        }
    }
    Ok(false)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            if !problem.is_empty() {
                eprintln!("consume: {problem}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut stdout = std::io::stdout().lock();
    match consume(args, &mut stdout).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("consume: cannot write to stdout: {error}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn every_flag_is_read() {
        let args = parse(&[
            "--url",
            "http://h/rpc",
            "--procedure",
            "count",
            "--input",
            r#"{"n":3}"#,
            "--retry",
            "4",
            "--last-event-id",
            "7",
        ])
        .unwrap();
        assert_eq!(
            args,
            Args {
                url: "http://h/rpc".into(),
                procedure: "count".into(),
                input: Some(serde_json::json!({"n": 3})),
                retry: 4,
                last_event_id: Some("7".into()),
            }
        );
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            parse(&["--procedure", "x"]).unwrap_err(),
            "--url is required"
        );
        assert_eq!(
            parse(&["--url", "u"]).unwrap_err(),
            "--procedure is required"
        );
        assert_eq!(parse(&["--url"]).unwrap_err(), "--url needs a value");
        assert!(parse(&["--url", "u", "--procedure", "p", "--input", "{"])
            .unwrap_err()
            .starts_with("--input is not JSON"));
        assert!(parse(&["--url", "u", "--procedure", "p", "--retry", "-1"])
            .unwrap_err()
            .contains("whole number"));
        assert_eq!(
            parse(&["--verbose"]).unwrap_err(),
            "unknown argument \"--verbose\""
        );
    }

    #[test]
    fn lines_keep_orpcs_field_order() {
        let error = ORPCError {
            defined: false,
            code: "BAD_REQUEST".into(),
            status: 400,
            message: "nope".into(),
            data: Some(serde_json::json!({"x": 1})),
        };
        assert_eq!(
            serde_json::to_string(&Line::Error { data: &error }).unwrap(),
            r#"{"event":"error","data":{"defined":false,"code":"BAD_REQUEST","status":400,"message":"nope","data":{"x":1}}}"#
        );
        assert_eq!(
            serde_json::to_string(&Line::Message {
                data: &serde_json::json!({"i": 0}),
                id: None
            })
            .unwrap(),
            r#"{"event":"message","data":{"i":0},"id":null}"#
        );
    }

    #[test]
    fn errors_that_are_not_the_servers_get_status_0() {
        let error = error_object(Error::StreamEnded { mid_event: true });
        assert_eq!((error.code.as_str(), error.status), ("NETWORK_ERROR", 0));
        let error = error_object(Error::ErrorEvent(serde_json::json!({"why": 1})));
        assert_eq!(
            (error.code.as_str(), error.data),
            ("ERROR_EVENT", Some(serde_json::json!({"why": 1})))
        );
    }
}
