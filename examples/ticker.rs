//! A stock ticker: twenty symbols on the page at `/`, each price change one event whose schema
//! says that a price is positive.
//!
//!     cargo run --example ticker                   # then open http://127.0.0.1:8086
//!     curl -N http://127.0.0.1:8086/api/quotes
//!     curl http://127.0.0.1:8086/api/openapi.json  # the page links to it too
//!     open http://127.0.0.1:8086/api/docs          # the API reference page: call `quotes` from it
//!
//! `Quote::price` carries `exclusiveMinimum: 0` in its schema, so every quote is checked as it
//! is sent: a zero or negative price (a bug in a feed, say) never reaches a browser; the stream
//! ends with an `EVENT_ITERATOR_VALIDATION_FAILED` error event instead. The same schema is in
//! the OpenAPI document, for clients.
//!
//! Unlike `live_scores`, a ticker needs no history: only the latest price matters. So the market
//! lives in a `tokio::sync::watch` channel, which keeps one value, and a client that reconnects
//! (or reads slowly) simply gets the current prices, never a backlog.

mod common;

use std::time::Duration;

use actix_web::web;
use orpc_runtime::http::Router;
use orpc_runtime::{procedure, yield_};
use schemars::JsonSchema;
use serde::Serialize;
use tokio::sync::watch;

const SYMBOLS: [(&str, f64); 20] = [
    ("AAPL", 228.40),
    ("MSFT", 441.10),
    ("GOOG", 172.35),
    ("AMZN", 186.90),
    ("NVDA", 121.75),
    ("META", 512.60),
    ("TSLA", 246.20),
    ("NFLX", 678.15),
    ("AMD", 158.30),
    ("INTC", 31.45),
    ("ORCL", 140.80),
    ("IBM", 196.25),
    ("CSCO", 49.70),
    ("ADBE", 551.90),
    ("CRM", 262.40),
    ("SHOP", 74.85),
    ("UBER", 71.20),
    ("SAP", 219.55),
    ("ASML", 903.10),
    ("TSM", 187.65),
];

/// One symbol's latest price.
#[derive(Clone, Serialize, JsonSchema)]
struct Quote {
    symbol: String,
    /// In dollars. The schema, not the handler, keeps it above zero: every event is checked.
    #[schemars(extend("exclusiveMinimum" = 0.0))]
    price: f64,
    /// Change since the open, in percent.
    change_pct: f64,
}

/// Every quote, with the tick at which each last changed, so that a stream can send only what
/// moved since it last looked.
struct Market {
    quotes: Vec<Quote>,
    opens: Vec<f64>,
    changed_at: Vec<u64>,
    tick: u64,
}

impl Market {
    fn open() -> Self {
        Market {
            quotes: SYMBOLS
                .iter()
                .map(|&(symbol, price)| Quote {
                    symbol: symbol.to_owned(),
                    price,
                    change_pct: 0.0,
                })
                .collect(),
            opens: SYMBOLS.iter().map(|&(_, price)| price).collect(),
            changed_at: vec![1; SYMBOLS.len()],
            tick: 1,
        }
    }

    /// Moves `symbol` by up to ±0.5 %, pulled gently back towards its open so that a long-running
    /// demo stays plausible.
    fn trade(&mut self, symbol: usize) {
        let (quote, open) = (&mut self.quotes[symbol], self.opens[symbol]);
        let shock = (random(101) as f64 - 50.0) / 10_000.0;
        let pull = (open - quote.price) / open * 0.02;
        quote.price = (quote.price * (1.0 + shock + pull) * 100.0).round() / 100.0;
        quote.change_pct = ((quote.price / open - 1.0) * 10_000.0).round() / 100.0;
        self.changed_at[symbol] = self.tick;
    }

    /// The quotes that changed after tick `seen`.
    fn since(&self, seen: u64) -> Vec<Quote> {
        let changed = self.quotes.iter().zip(&self.changed_at);
        changed
            .filter(|&(_, &at)| at > seen)
            .map(|(quote, _)| quote.clone())
            .collect()
    }
}

/// Every 200 ms, three random symbols trade.
async fn simulate(market: web::Data<watch::Sender<Market>>) {
    let mut ticks = tokio::time::interval(Duration::from_millis(200));
    loop {
        ticks.tick().await;
        market.send_modify(|market| {
            market.tick += 1;
            for _ in 0..3 {
                market.trade(random(SYMBOLS.len() as u64) as usize);
            }
        });
    }
}

/// A number below `n`. `RandomState` is seeded randomly and differently each time: good enough
/// for a demo, and no `rand` dependency.
fn random(n: u64) -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// Every quote, then each quote as it changes. A slow reader skips intermediate prices rather
/// than falling behind: it always gets the latest.
#[procedure(output = event_iterator(Quote), method = GET)]
async fn quotes(market: web::Data<watch::Sender<Market>>) {
    let mut updates = market.subscribe();
    let mut seen = 0;
    loop {
        // Copy out what changed: the watch's lock must not be held across a yield.
        let changed = {
            let market = updates.borrow_and_update();
            let changed = market.since(seen);
            seen = market.tick;
            changed
        };
        for quote in changed {
            yield_!(quote);
        }
        if updates.changed().await.is_err() {
            return;
        }
    }
}

/// The page, embedded in the binary: nothing to build, nothing fetched.
fn page(cfg: &mut web::ServiceConfig) {
    common::page(
        cfg,
        include_str!("web/ticker.html"),
        "/ticker.js",
        include_str!("web/ticker.js"),
    );
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    common::init_logs();
    let args = common::args("ticker", "127.0.0.1:8086")?;
    let market = web::Data::new(watch::Sender::new(Market::open()));
    tokio::spawn(simulate(market.clone()));
    let router = Router::new()
        .info("ticker", "1.0.0")
        .api_reference(true)
        .procedure(quotes);
    common::serve(router, args, move |cfg| {
        cfg.app_data(market.clone()).configure(page);
    })
    .await
}
