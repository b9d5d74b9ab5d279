//! One publisher, many subscribers of one or more channels, in one process: deliveries per second
//! and the latency from just before `publish` to the subscriber's receipt of the message from its
//! `Subscription` stream.
//!
//!     cargo bench -p orpc-pubsub --bench fanout -- --backend memory --subscribers 10000 --rate 1 --seconds 30
//!     cargo bench -p orpc-pubsub --bench fanout -- --backend redis --subscribers 10000 --rate 1 --seconds 30
//!     cargo bench -p orpc-pubsub --bench fanout -- --backend redis-cluster --subscribers 10000 --channels 30 --rate 1 --seconds 30
//!
//! `--rate` is events per second on each channel, so each subscriber receives `rate` events per
//! second and the process delivers `subscribers × rate`. `--channels N` (default 1) spreads the
//! subscribers evenly over N channels, each of which gets every event. `--redis URL` (default
//! `REDIS_URL`, then `redis://127.0.0.1:6379`) picks the Redis; `--redis-cluster URL,URL,...` a
//! Redis Cluster, and without it `--backend redis-cluster` starts a private one of 3 masters and 3
//! replicas on loopback ports (`orpc_test_support::redis_cluster`), stopped when the run ends. Not
//! part of `cargo test`: a load run is started by hand, and stops by itself after `--seconds`
//! plus at most 60 s of draining.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use orpc_pubsub::{Error, PubSub, RedisConfig, Settings};
use orpc_test_support::redis_cluster::Cluster;

struct Args {
    backend: String,
    redis: String,
    cluster: Vec<String>,
    channels: usize,
    subscribers: usize,
    rate: u32,
    seconds: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        backend: "memory".into(),
        redis: std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        cluster: Vec::new(),
        channels: 1,
        subscribers: 10_000,
        rate: 1,
        seconds: 30,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--backend" => args.backend = value()?,
            "--redis" => args.redis = value()?,
            "--redis-cluster" => {
                args.cluster = value()?.split(',').map(str::to_owned).collect();
            }
            "--channels" => args.channels = value()?.parse().map_err(|e| format!("{e}"))?,
            "--subscribers" => args.subscribers = value()?.parse().map_err(|e| format!("{e}"))?,
            "--rate" => args.rate = value()?.parse().map_err(|e| format!("{e}"))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| format!("{e}"))?,
            // `cargo bench` passes `--bench` to every bench target.
            "--bench" => {}
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.rate == 0 || args.seconds == 0 || args.subscribers == 0 || args.channels == 0 {
        return Err("--rate, --seconds, --subscribers and --channels must be positive".into());
    }
    Ok(args)
}

/// What one subscriber saw.
#[derive(Default)]
struct Received {
    latencies_us: Vec<u32>,
    last_at: Option<Instant>,
    error: Option<Error>,
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

async fn run(args: Args) -> Result<(), String> {
    let settings = Settings::default();
    let mut _cluster = None;
    let pubsub = match args.backend.as_str() {
        "memory" => PubSub::in_memory(settings),
        "redis" => {
            let redis = orpc_pubsub::Redis::connect(&args.redis, settings, RedisConfig::default())
                .await
                .map_err(|e| format!("Redis at {}: {e}", args.redis))?;
            PubSub::new(redis, settings.gap_policy())
        }
        "redis-cluster" => {
            let mut nodes = args.cluster.clone();
            if nodes.is_empty() {
                let cluster = Cluster::start("fanout")
                    .await
                    .ok_or("redis-server and redis-cli are needed to start a cluster")?;
                nodes = cluster.urls();
                _cluster = Some(cluster);
            }
            let redis =
                orpc_pubsub::Redis::connect_cluster(&nodes, settings, RedisConfig::default())
                    .await
                    .map_err(|e| format!("Redis Cluster at {}: {e}", nodes.join(",")))?;
            PubSub::new(redis, settings.gap_policy())
        }
        other => {
            return Err(format!(
                "unknown backend {other:?}: memory, redis or redis-cluster"
            ))
        }
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let channels: Vec<String> = (0..args.channels)
        .map(|i| format!("bench-fanout-{}-{nanos:x}-{i}", std::process::id()))
        .collect();
    let events = args.rate as usize * args.seconds as usize;

    let rss_before = rss_mib();
    let base = Arc::new(Instant::now());
    let mut tasks = Vec::with_capacity(args.subscribers);
    for i in 0..args.subscribers {
        let mut subscription = pubsub
            .subscribe(&channels[i % channels.len()], None)
            .await
            .map_err(|e| e.to_string())?;
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            let mut received = Received {
                latencies_us: Vec::with_capacity(events),
                ..Received::default()
            };
            while received.latencies_us.len() < events {
                match subscription.next().await {
                    Some(Ok(message)) => {
                        let now = base.elapsed().as_nanos() as u64;
                        let sent = message
                            .payload()
                            .get(..8)
                            .and_then(|b| b.try_into().ok())
                            .map_or(now, u64::from_le_bytes);
                        let micros = now.saturating_sub(sent) / 1000;
                        received
                            .latencies_us
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                        received.last_at = Some(Instant::now());
                    }
                    Some(Err(err)) => {
                        received.error = Some(err);
                        break;
                    }
                    None => break,
                }
            }
            received
        }));
    }
    let rss_subscribed = rss_mib();
    println!(
        "{} backend: {} subscribers of {} channel(s), {} event(s)/s each for {} s ({} events, {} deliveries expected)",
        args.backend,
        args.subscribers,
        channels.len(),
        args.rate,
        args.seconds,
        events,
        events * args.subscribers
    );

    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut publish_us = Vec::with_capacity(events);
    for _ in 0..events {
        ticks.tick().await;
        // Every channel's event at once, each stamped just before its own publish.
        let publishing = channels.iter().map(|channel| {
            let (pubsub, base) = (&pubsub, &base);
            async move {
                let sent = base.elapsed().as_nanos() as u64;
                let mut payload = sent.to_le_bytes().to_vec();
                payload.extend_from_slice(b"{\"home\":1,\"away\":0}");
                let t = Instant::now();
                pubsub
                    .publish(channel, payload)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<u32, String>(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX))
            }
        });
        for took in futures_util::future::join_all(publishing).await {
            publish_us.push(took?);
        }
    }
    let rss_peak = rss_mib();

    let mut latencies = Vec::with_capacity(events * args.subscribers);
    // The slowest delivery of each event (subscribers receive events in order, so the n-th
    // latency of each is event n's).
    let mut worst_by_event = vec![0u32; events];
    let mut errors = 0usize;
    let mut last_receipt = started;
    let deadline = Duration::from_secs(60);
    for task in tasks {
        let received = tokio::time::timeout(deadline, task)
            .await
            .map_err(|_| "a subscriber did not finish within 60 s".to_string())?
            .map_err(|e| e.to_string())?;
        if let Some(err) = received.error {
            errors += 1;
            if errors == 1 {
                println!("first subscriber error: {err}");
            }
        }
        last_receipt = last_receipt.max(received.last_at.unwrap_or(started));
        for (worst, latency) in worst_by_event.iter_mut().zip(&received.latencies_us) {
            *worst = (*worst).max(*latency);
        }
        latencies.extend(received.latencies_us);
    }
    latencies.sort_unstable();
    publish_us.sort_unstable();
    let elapsed = last_receipt.duration_since(started).as_secs_f64();
    println!(
        "delivered {} of {} ({} subscribers ended with an error) in {:.2} s: {:.0} deliveries/s",
        latencies.len(),
        events * args.subscribers,
        errors,
        elapsed,
        latencies.len() as f64 / elapsed.max(f64::EPSILON)
    );
    println!(
        "publish -> receipt latency: p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 99.9),
        percentile(&latencies, 100.0)
    );
    let mut slowest: Vec<(u32, usize)> = worst_by_event
        .iter()
        .enumerate()
        .map(|(event, worst)| (*worst, event))
        .collect();
    slowest.sort_unstable_by(|a, b| b.cmp(a));
    let slowest: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(worst, event)| format!("#{event} {:.1} ms", f64::from(*worst) / 1000.0))
        .collect();
    println!("slowest events (last delivery): {}", slowest.join(", "));
    println!(
        "publish call: p50 {:.3} ms, p99 {:.3} ms",
        percentile(&publish_us, 50.0),
        percentile(&publish_us, 99.0)
    );
    println!(
        "RSS: {rss_before:.1} MiB before, {rss_subscribed:.1} MiB subscribed ({:.2} KiB per subscriber), {rss_peak:.1} MiB at the end",
        (rss_subscribed - rss_before) * 1024.0 / args.subscribers as f64
    );
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}\nusage: fanout [--backend memory|redis|redis-cluster] [--redis URL] [--redis-cluster URL,URL,...] [--subscribers N] [--channels N] [--rate EVENTS_PER_S] [--seconds S]");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    if let Err(err) = runtime.block_on(run(args)) {
        eprintln!("fanout: {err}");
        std::process::exit(1);
    }
}
