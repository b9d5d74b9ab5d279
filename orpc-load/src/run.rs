//! The run: `connections` workers, each running streams one after another until `streams` have
//! started, all bounded by one deadline.
//!
//! Guarantees: the run ends by itself. Workers stop taking streams once the total is reached;
//! at the deadline a stop signal cuts every open stream (cancelling its connect or read, which
//! closes its socket), and each cut stream still reports what it had measured. In hold mode each
//! worker opens one stream and keeps it until the hold time has passed after every stream
//! answered (or the deadline), so the server's memory can be read with all of them open.
//!
//! With `http2` the workers are the same, but their streams are requests on one HTTP/2
//! connection that the run opens first (its setup counts in the wall time) and closes last.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::http2::Connection;
use crate::machine::{self, Cpu};
use crate::progress::Progress;
use crate::server_process::{self, Sample};
use crate::stream::{self, Counters, End, Outcome, Settings};

/// How much to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub connections: usize,
    /// Streams to start in all; `None` means until the deadline.
    pub streams: Option<u64>,
    /// When everything stops, open streams included.
    pub deadline: Duration,
    /// Hold mode: how long to keep the streams open once all have answered.
    pub hold: Option<Duration>,
    /// Every stream on one HTTP/2 connection instead of one HTTP/1.1 connection each.
    pub http2: bool,
    pub server_pid: Option<u32>,
    pub quiet: bool,
}

/// What the run measured.
#[derive(Debug)]
pub struct Report {
    pub elapsed: Duration,
    pub outcomes: Vec<Outcome>,
    pub events: u64,
    pub bytes: u64,
    /// Streams that had their response head when the server was sampled in hold mode.
    pub open_when_sampled: u64,
    pub server_before: Option<Sample>,
    /// Hold mode: the server with every stream open.
    pub server_open: Option<Sample>,
    pub server_after: Option<Sample>,
    /// The machine's and the client's CPU counters before and after.
    pub cpu_before: Option<Cpu>,
    pub cpu_after: Option<Cpu>,
}

pub async fn run(settings: Settings, plan: &Plan) -> Report {
    let settings = Arc::new(settings);
    let counters = Arc::new(Counters::default());
    let total = if plan.hold.is_some() {
        plan.connections as u64
    } else {
        plan.streams.unwrap_or(u64::MAX)
    };
    let next = Arc::new(AtomicU64::new(0));
    let (stop, stopped) = watch::channel(false);
    let sample = |pid: Option<u32>| pid.and_then(|pid| server_process::sample(pid).ok());

    let server_before = sample(plan.server_pid);
    let cpu_before = machine::sample();
    let start = Instant::now();
    let deadline = tokio::time::Instant::from_std(start + plan.deadline);
    let progress = Progress::start(
        counters.clone(),
        (total != u64::MAX).then_some(total),
        plan.hold.is_some(),
        plan.quiet,
    );
    let connection = match plan.http2 {
        true => Some(Arc::new(Connection::open(&settings).await)),
        false => None,
    };
    let mut workers = JoinSet::new();
    for _ in 0..plan
        .connections
        .min(usize::try_from(total).unwrap_or(usize::MAX))
    {
        workers.spawn(worker(
            settings.clone(),
            connection.clone(),
            counters.clone(),
            next.clone(),
            total,
            stopped.clone(),
        ));
    }

    let mut server_open = None;
    let mut open_when_sampled = 0;
    if let Some(hold) = plan.hold {
        // Wait, bounded by the deadline, for every stream to answer or fail.
        while counters.opened.load(Relaxed) + counters.finished.load(Relaxed) < total
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + hold)).await;
        let closed = counters.closed.load(Relaxed);
        open_when_sampled = counters.opened.load(Relaxed).saturating_sub(closed);
        server_open = sample(plan.server_pid);
        let _ = stop.send(true);
    }

    let mut outcomes = Vec::new();
    let past_deadline = tokio::time::sleep_until(deadline);
    tokio::pin!(past_deadline);
    let mut signalled = plan.hold.is_some();
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                Some(Ok(done)) => outcomes.extend(done),
                Some(Err(error)) => eprintln!("orpc-load: a worker failed: {error}"),
                None => break,
            },
            _ = &mut past_deadline, if !signalled => {
                signalled = true;
                let _ = stop.send(true);
            }
        }
    }
    drop(connection);
    let elapsed = start.elapsed();
    let cpu_after = machine::sample();
    progress.finish();
    Report {
        elapsed,
        outcomes,
        events: counters.events.load(Relaxed),
        bytes: counters.bytes.load(Relaxed),
        open_when_sampled,
        server_before,
        server_open,
        server_after: sample(plan.server_pid),
        cpu_before,
        cpu_after,
    }
}

/// Runs streams one after another until `total` have been taken or the stop signal comes.
async fn worker(
    settings: Arc<Settings>,
    connection: Option<Arc<Connection>>,
    counters: Arc<Counters>,
    next: Arc<AtomicU64>,
    total: u64,
    mut stop: watch::Receiver<bool>,
) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    while !*stop.borrow() && next.fetch_add(1, Relaxed) < total {
        let mut outcome = Outcome::default();
        let end = {
            let stream = async {
                match &connection {
                    Some(connection) => connection.run(&settings, &counters, &mut outcome).await,
                    None => stream::run(&settings, &counters, &mut outcome).await,
                }
            };
            tokio::pin!(stream);
            tokio::select! {
                end = &mut stream => end,
                _ = stop.changed() => End::Cut,
            }
        };
        outcome.end = end;
        if outcome.headers.is_some() {
            counters.closed.fetch_add(1, Relaxed);
        }
        counters.finished.fetch_add(1, Relaxed);
        outcomes.push(outcome);
    }
    outcomes
}
