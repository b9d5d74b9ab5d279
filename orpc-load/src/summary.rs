//! The summary: rates, latency percentiles and the server's CPU and memory, as a table for people
//! or one JSON object for scripts (`--json`).
//!
//! Rates divide by the run's wall time, from the first connect to the last stream's end.
//! Percentiles are nearest-rank over every stream that got that far, so a p99 over fewer than
//! 100 streams is simply the largest value.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::run::Report;
use crate::stream::End;

/// Percentiles of one latency, in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// `None` for no samples.
    pub fn of(mut samples: Vec<Duration>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let rank = |q: f64| {
            let k = (q * samples.len() as f64).ceil() as usize;
            ms(samples[k.clamp(1, samples.len()) - 1])
        };
        let mean = samples.iter().map(|d| ms(*d)).sum::<f64>() / samples.len() as f64;
        Some(Self {
            count: samples.len(),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            p999: rank(0.999),
            max: ms(samples[samples.len() - 1]),
            mean,
        })
    }
}

/// Hold mode: the server's memory with every stream open.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Held {
    pub streams_open: u64,
    pub server_rss_open_kib: u64,
    /// (RSS with the streams open − RSS before) / streams open.
    pub rss_per_stream_bytes: f64,
}

/// Everything the run measured, as printed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    pub method: String,
    pub url: String,
    /// `http/1.1`, `http/1.1+tls` (one connection per stream) or `h2` (one connection in all).
    pub transport: &'static str,
    pub connections: usize,
    pub streams_started: u64,
    /// Ended with `done` or the end of the body (in hold mode: held until the end).
    pub streams_complete: u64,
    /// Cut off by the deadline.
    pub streams_cut: u64,
    pub streams_failed: u64,
    /// How the failed streams ended, and how many.
    pub failures: BTreeMap<String, u64>,
    pub elapsed_s: f64,
    pub events: u64,
    pub events_per_s: f64,
    pub streams_per_s: f64,
    pub bytes: u64,
    pub bytes_per_s: f64,
    pub server_pid: Option<u32>,
    /// Server CPU time (user + system) spent during the run.
    pub server_cpu_s: Option<f64>,
    /// This client's CPU time (user + system) during the run.
    pub client_cpu_s: Option<f64>,
    /// Busy time of all the machine's CPUs during the run.
    pub machine_cpu_s: Option<f64>,
    /// What neither the server nor the client used of it: other work on the machine (only with
    /// `--server-pid`).
    pub other_cpu_s: Option<f64>,
    pub server_rss_before_kib: Option<u64>,
    pub server_rss_after_kib: Option<u64>,
    pub held: Option<Held>,
    pub time_to_headers_ms: Option<Percentiles>,
    pub time_to_first_event_ms: Option<Percentiles>,
}

impl Summary {
    pub fn new(
        method: &str,
        url: &str,
        transport: &'static str,
        connections: usize,
        server_pid: Option<u32>,
        holding: bool,
        report: Report,
    ) -> Self {
        let secs = report.elapsed.as_secs_f64().max(1e-9);
        let (mut complete, mut cut) = (0, 0);
        let mut failures = BTreeMap::new();
        for outcome in &report.outcomes {
            match &outcome.end {
                end if end.is_complete() => complete += 1,
                End::Cut if holding && outcome.headers.is_some() => complete += 1,
                End::Cut if !holding => cut += 1,
                end => *failures.entry(end.to_string()).or_insert(0) += 1,
            }
        }
        let failed = failures.values().sum();
        let server_cpu_s = report
            .server_before
            .zip(report.server_after)
            .map(|(before, after)| after.cpu_seconds - before.cpu_seconds);
        let cpu = report.cpu_before.zip(report.cpu_after);
        let client_cpu_s = cpu.map(|(before, after)| after.own_seconds - before.own_seconds);
        let machine_cpu_s =
            cpu.map(|(before, after)| after.machine_busy_seconds - before.machine_busy_seconds);
        let other_cpu_s = match (machine_cpu_s, client_cpu_s, server_cpu_s) {
            (Some(machine), Some(client), Some(server)) => {
                Some((machine - client - server).max(0.0))
            }
            _ => None,
        };
        let held = match (holding, report.server_before, report.server_open) {
            (true, Some(before), Some(open)) => Some(Held {
                streams_open: report.open_when_sampled,
                server_rss_open_kib: open.rss_kib,
                rss_per_stream_bytes: (open.rss_kib as f64 - before.rss_kib as f64) * 1024.0
                    / report.open_when_sampled.max(1) as f64,
            }),
            _ => None,
        };
        Self {
            method: method.to_owned(),
            url: url.to_owned(),
            transport,
            connections,
            streams_started: report.outcomes.len() as u64,
            streams_complete: complete,
            streams_cut: cut,
            streams_failed: failed,
            failures,
            elapsed_s: secs,
            events: report.events,
            events_per_s: report.events as f64 / secs,
            streams_per_s: complete as f64 / secs,
            bytes: report.bytes,
            bytes_per_s: report.bytes as f64 / secs,
            server_pid,
            server_cpu_s,
            client_cpu_s,
            machine_cpu_s,
            other_cpu_s,
            server_rss_before_kib: report.server_before.map(|s| s.rss_kib),
            server_rss_after_kib: report.server_after.map(|s| s.rss_kib),
            held,
            time_to_headers_ms: Percentiles::of(
                report.outcomes.iter().filter_map(|o| o.headers).collect(),
            ),
            time_to_first_event_ms: Percentiles::of(
                report
                    .outcomes
                    .iter()
                    .filter_map(|o| o.first_event)
                    .collect(),
            ),
        }
    }

    /// The table for people; `detailed` adds p90, p99.9 and the mean to the latencies.
    pub fn table(&self, detailed: bool) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "orpc-load: {} {} ({})",
            self.method, self.url, self.transport
        );
        let _ = writeln!(
            out,
            "  {} {}, {} streams started: {} complete, {} cut off, {} failed, in {:.3} s",
            self.connections,
            if self.transport == "h2" {
                "concurrent streams on one connection"
            } else {
                "connections"
            },
            self.streams_started,
            self.streams_complete,
            self.streams_cut,
            self.streams_failed,
            self.elapsed_s
        );
        for (why, count) in &self.failures {
            let _ = writeln!(out, "    {count} failed: {why}");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "  {:<22}{:>16}{:>18}", "", "total", "per second");
        let _ = writeln!(
            out,
            "  {:<22}{:>16}{:>18}",
            "events",
            grouped(self.events),
            grouped(self.events_per_s.round() as u64)
        );
        let _ = writeln!(
            out,
            "  {:<22}{:>16}{:>18.1}",
            "streams",
            grouped(self.streams_complete),
            self.streams_per_s
        );
        let _ = writeln!(
            out,
            "  {:<22}{:>16}{:>18}",
            "bytes",
            grouped(self.bytes),
            format!("{:.1} MB", self.bytes_per_s / 1e6)
        );
        if let Some(pid) = self.server_pid {
            match self.server_cpu_s {
                Some(cpu) => {
                    let _ = writeln!(
                        out,
                        "  {:<22}{:>16}{:>18}",
                        format!("server CPU (pid {pid})"),
                        format!("{cpu:.2} s"),
                        format!("{:.0}%", cpu / self.elapsed_s * 100.0)
                    );
                    if cpu > 0.0 {
                        let _ = writeln!(
                            out,
                            "  {:<22}{:>16}",
                            "events / server CPU-s",
                            grouped((self.events as f64 / cpu).round() as u64)
                        );
                    }
                }
                None => {
                    let _ = writeln!(out, "  server CPU: /proc/{pid} could not be read");
                }
            }
            if let (Some(before), Some(after)) =
                (self.server_rss_before_kib, self.server_rss_after_kib)
            {
                let _ = writeln!(
                    out,
                    "  {:<22}{:>16}{:>18}",
                    "server RSS",
                    format!("{} KiB", grouped(before)),
                    format!("→ {} KiB", grouped(after))
                );
            }
        }
        if let Some(client) = self.client_cpu_s {
            let _ = writeln!(
                out,
                "  {:<22}{:>16}{:>18}",
                "client CPU",
                format!("{client:.2} s"),
                format!("{:.0}%", client / self.elapsed_s * 100.0)
            );
        }
        if let Some(other) = self.other_cpu_s {
            let _ = writeln!(
                out,
                "  {:<22}{:>16}{:>18}",
                "other work on the CPUs",
                format!("{other:.2} s"),
                format!("{:.0}%", other / self.elapsed_s * 100.0)
            );
        }
        if let Some(held) = &self.held {
            let _ = writeln!(
                out,
                "  {:<22}{:>16}{:>18}",
                "server RSS, all open",
                format!("{} KiB", grouped(held.server_rss_open_kib)),
                format!("{} streams", grouped(held.streams_open))
            );
            let _ = writeln!(
                out,
                "  {:<22}{:>16}",
                "RSS per open stream",
                format!("{:.1} KiB", held.rss_per_stream_bytes / 1024.0)
            );
        }
        let _ = writeln!(out);
        let columns: &[Column] = if detailed {
            &[
                ("p50", |p| p.p50),
                ("p90", |p| p.p90),
                ("p99", |p| p.p99),
                ("p99.9", |p| p.p999),
                ("max", |p| p.max),
                ("mean", |p| p.mean),
            ]
        } else {
            &[("p50", |p| p.p50), ("p99", |p| p.p99), ("max", |p| p.max)]
        };
        let _ = write!(out, "  {:<22}", "latency (ms)");
        for (name, _) in columns {
            let _ = write!(out, "{name:>10}");
        }
        let _ = writeln!(out);
        for (name, percentiles) in [
            ("time to headers", &self.time_to_headers_ms),
            ("time to first event", &self.time_to_first_event_ms),
        ] {
            let _ = write!(out, "  {name:<22}");
            match percentiles {
                Some(p) => {
                    for (_, get) in columns {
                        let _ = write!(out, "{:>10.3}", get(p));
                    }
                }
                None => {
                    let _ = write!(out, "{:>10}", "n/a");
                }
            }
            let _ = writeln!(out);
        }
        out
    }
}

/// A latency column of the table: its title and how to read it.
type Column = (&'static str, fn(&Percentiles) -> f64);

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = (1..=1000).map(Duration::from_micros).collect();
        let p = Percentiles::of(samples).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(
            close(p.p50, 0.5) && close(p.p99, 0.99) && close(p.max, 1.0),
            "{p:?}"
        );
        let one = Percentiles::of(vec![Duration::from_millis(3)]).unwrap();
        assert!(close(one.p50, 3.0) && close(one.p99, 3.0));
        assert!(Percentiles::of(Vec::new()).is_none());
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(12_345_678), "12,345,678");
    }
}
