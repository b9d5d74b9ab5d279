//! Validated events: the event type's schema, not the handler, says what may be sent.
//!
//!     cargo run --example validated
//!     curl -N 'http://127.0.0.1:8081/api/prices?symbol=ACME&ticks=5'
//!     curl -N 'http://127.0.0.1:8081/api/prices?symbol=ACME&ticks=5&crash=true'
//!     curl -N 'http://127.0.0.1:8081/api/prices?symbol=acme'   # input rejected: 400
//!
//! Inputs are checked against their schema before the handler runs, and every event against
//! its schema as it is sent. An event that breaks its schema is never sent: the stream ends with
//! an `EVENT_ITERATOR_VALIDATION_FAILED` error event, and the details go to the server's log.

use std::time::Duration;

use orpc_runtime::http::{serve, Router};
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
struct PricesInput {
    /// A ticker symbol: one to five capital letters.
    #[schemars(regex(pattern = r"^[A-Z]{1,5}$"))]
    symbol: String,
    #[schemars(range(min = 1, max = 1000))]
    ticks: Option<u32>,
    /// Sends a negative price on the third tick, to show what validation does.
    #[serde(default)]
    crash: bool,
}

#[derive(Serialize, JsonSchema)]
struct Price {
    symbol: String,
    /// Prices are positive; the schema says so, and every event is checked against it.
    #[schemars(range(min = 0.01))]
    price: f64,
}

#[procedure(output = event_iterator(Price), method = GET)]
async fn prices(input: PricesInput) {
    let mut price = 100.0;
    for tick in 0..input.ticks.unwrap_or(10) {
        price += if tick % 2 == 0 { 1.25 } else { -0.5 };
        if input.crash && tick == 2 {
            price = -1.0;
        }
        yield_!(Price {
            symbol: input.symbol.clone(),
            price
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_env_filter("warn").init();
    serve(Router::new().procedure(prices), "127.0.0.1:8081").await
}
