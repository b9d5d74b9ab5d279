//! The progress bar on stderr: streams finished (or opened, when holding), events and events/s.
//!
//! It reads the shared counters ten times a second from a task of its own, so the streams never
//! touch it. It draws nothing when stderr is not a terminal or `--quiet` is given, and it is
//! cleared before the summary is printed.

use std::io::IsTerminal;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::task::JoinHandle;

use crate::stream::Counters;

/// A running progress bar; [`Progress::finish`] clears it.
pub struct Progress {
    bar: ProgressBar,
    ticker: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts a bar over `total` streams (a spinner when `total` is unknown). `holding` counts
    /// opened streams instead of finished ones.
    pub fn start(counters: Arc<Counters>, total: Option<u64>, holding: bool, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self {
                bar: ProgressBar::hidden(),
                ticker: None,
            };
        }
        let what = if holding { "open" } else { "streams" };
        let (bar, template) = match total {
            Some(total) => (
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
                format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {what}  {{msg}}"),
            ),
            None => (
                ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                format!("{{elapsed_precise}} {{spinner}} {{pos}} {what}  {{msg}}"),
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        let shown = bar.clone();
        let ticker = tokio::spawn(async move {
            let start = Instant::now();
            let mut ticks = tokio::time::interval(Duration::from_millis(100));
            loop {
                ticks.tick().await;
                let events = counters.events.load(Relaxed);
                let position = if holding {
                    counters.opened.load(Relaxed)
                } else {
                    counters.finished.load(Relaxed)
                };
                let rate = events as f64 / start.elapsed().as_secs_f64().max(1e-3);
                shown.set_position(position);
                shown.set_message(format!("{events} events  {rate:.0} events/s"));
            }
        });
        Self {
            bar,
            ticker: Some(ticker),
        }
    }

    /// Stops updating and clears the bar.
    pub fn finish(self) {
        if let Some(ticker) = self.ticker {
            ticker.abort();
        }
        self.bar.finish_and_clear();
    }
}
