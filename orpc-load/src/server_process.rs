//! The measured server's own figures, read from `/proc` when `--server-pid` names its process:
//! CPU time (user + system, all threads) and resident memory.
//!
//! Reading `/proc` costs the server nothing. CPU time has the kernel's clock-tick granularity
//! (10 ms on most systems), so it means something for runs of a second or more.

use std::fs;

/// One look at the server process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// User plus system CPU time, in seconds, over the life of the process.
    pub cpu_seconds: f64,
    /// Resident set size, in KiB.
    pub rss_kib: u64,
}

/// Reads `/proc/PID/stat` and `/proc/PID/status`.
pub fn sample(pid: u32) -> std::io::Result<Sample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let ticks = cpu_ticks(&stat).ok_or_else(|| bad("unexpected /proc/PID/stat"))?;
    let rss_kib = rss_kib(&status).ok_or_else(|| bad("no VmRSS in /proc/PID/status"))?;
    Ok(Sample {
        cpu_seconds: ticks as f64 / ticks_per_second(),
        rss_kib,
    })
}

/// `utime + stime` from a `/proc/PID/stat` line, in clock ticks. The command name may hold
/// spaces and parentheses, so fields are counted from the last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    // Fields 14 and 15 of the line; the state (field 3) is the first after the name.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

fn rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The kernel's clock ticks per second, the unit of `/proc`'s CPU times.
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as f64
    } else {
        100.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_a_strange_command_name() {
        let stat = "4242 (my (odd) server) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 \
                    3 0 12345 1000000 500 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(
            rss_kib("Name:\tx\nVmPeak:\t  9 kB\nVmRSS:\t  12345 kB\n"),
            Some(12345)
        );
    }

    #[test]
    fn samples_this_process() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_kib > 0);
        assert!(sample.cpu_seconds >= 0.0);
    }
}
