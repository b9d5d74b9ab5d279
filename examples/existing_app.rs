//! Adding orpc-rs to an actix-web app you already have: its own REST routes, `Logger`, CORS, an
//! auth middleware that puts the signed-in user in the request (`ReqData<User>`), and shared
//! state (`Data<Rooms>`). The procedures are mounted beside the app's routes, take the app's own
//! extractors (one of them `BearerAuth`), and one reads a path parameter. One call,
//! `serve_router`, gives the server what the router needs.
//!
//!     cargo run --example existing_app -- --addr 127.0.0.1:8090
//!     curl http://127.0.0.1:8090/rooms                                        # the app's own route
//!     curl -N -H 'authorization: Bearer ada-token' \
//!         'http://127.0.0.1:8090/api/rooms/lobby/ticks?n=3'                    # a procedure
//!     curl -N -H 'authorization: Bearer ada-token' -X POST http://127.0.0.1:8090/api/whoami
//!     curl -N http://127.0.0.1:8090/clock                                     # a plain handler's stream
//!
//! Tokens: `ada-token` (Ada) and `grace-token` (Grace); without one you are `anonymous`, and
//! `whoami`, which takes `BearerAuth`, answers 401 with oRPC's `UNAUTHORIZED`, in the envelope
//! of the protocol called.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Logger, Next};
use actix_web::{get, web, App, HttpMessage, HttpResponse, HttpServer};
use actix_web_httpauth::extractors::bearer::BearerAuth;
use futures_util::stream;
use orpc_runtime::http::{EventStream, Router, ServeRouter};
use orpc_runtime::{procedure, yield_, ORPCError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The signed-in user, as the app's auth middleware finds it.
#[derive(Clone)]
struct User {
    name: &'static str,
}

/// The app's auth middleware: a known bearer token signs its user in; anyone else is
/// `anonymous`. Handlers read the user with `ReqData<User>`.
async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let token = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let user = match token {
        Some("ada-token") => Some(User { name: "Ada" }),
        Some("grace-token") => Some(User { name: "Grace" }),
        _ => None,
    };
    let user = user.unwrap_or(User { name: "anonymous" });
    req.extensions_mut().insert(user);
    next.call(req).await
}

/// Shared state: the rooms and their topics.
struct Rooms(BTreeMap<&'static str, &'static str>);

/// The app's own REST route, untouched by orpc-rs.
#[get("/rooms")]
async fn list_rooms(rooms: web::Data<Rooms>) -> HttpResponse {
    HttpResponse::Ok().json(&rooms.0)
}

/// A plain actix handler that streams, with the same encoding, keep-alive, disconnect
/// detection and shutdown as procedures.
#[get("/clock")]
async fn clock() -> EventStream {
    let seconds = stream::unfold(0u64, |i| async move {
        if i > 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Some((i, i + 1))
    });
    EventStream::new(seconds)
}

#[derive(Deserialize, JsonSchema)]
struct TicksInput {
    /// Filled from the path.
    room: String,
    /// How many ticks, from the query string.
    n: u32,
}

#[derive(Serialize, JsonSchema)]
struct Tick {
    room: String,
    topic: String,
    for_user: String,
    i: u32,
}

/// Ticks in a room, for the signed-in user.
#[procedure(output = event_iterator(Tick), method = GET, path = "/rooms/{room}/ticks")]
async fn ticks(
    input: TicksInput,
    user: web::ReqData<User>,
    rooms: web::Data<Rooms>,
) -> Result<(), ORPCError> {
    let Some(topic) = rooms.0.get(input.room.as_str()) else {
        return Err(ORPCError::not_found(format!("no room {:?}", input.room)));
    };
    for i in 0..input.n {
        yield_!(Tick {
            room: input.room.clone(),
            topic: (*topic).to_owned(),
            for_user: user.name.to_owned(),
            i,
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[derive(Serialize, JsonSchema)]
struct Me {
    token: String,
}

/// The bearer token itself, taken with actix-web-httpauth's `BearerAuth`.
#[procedure]
async fn whoami(auth: BearerAuth) -> Me {
    Me {
        token: auth.token().to_owned(),
    }
}

fn parse_addr() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8090".to_owned();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}; usage: existing_app [--addr HOST:PORT]"
                ))
            }
        }
    }
    Ok(addr)
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr =
        parse_addr().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;

    // The router is built once, before `HttpServer::new`, and cloned into the app factory.
    let router = Router::new().procedure(ticks).procedure(whoami);
    let rooms = web::Data::new(Rooms(BTreeMap::from([
        ("lobby", "general chat"),
        ("rust", "borrowing, mostly"),
    ])));
    let mounted = router.clone();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(authenticate))
            .wrap(
                Cors::default()
                    .allowed_origin("http://localhost:5173")
                    .allow_any_method()
                    .allow_any_header(),
            )
            .wrap(Logger::default())
            .app_data(rooms.clone())
            .app_data(web::Data::new(mounted.clone()))
            .service(list_rooms)
            .service(clock)
            .service(web::scope("/rpc").configure(mounted.rpc()))
            .service(mounted.openapi_scope("/api"))
    })
    .serve_router(&router)
    .shutdown_timeout(5)
    .bind(&addr)?;
    for bound in server.addrs() {
        println!("listening on http://{bound}");
    }
    server.run().await?;
    router.wait_for_cleanups(Duration::from_secs(2)).await;
    Ok(())
}
