//! CPU time of the whole machine and of this client, so that a run can say how much of the
//! machine went to other work while it measured.
//!
//! On a shared machine a build running beside the benchmark skews every rate. The run reads the
//! machine's busy time (`/proc/stat`, all CPUs, everything but idle and iowait) and its own
//! (`getrusage`) before and after; what is left after the server's and the client's own share is
//! other work, reported rather than guessed at.

use std::fs;

/// One look at the CPU counters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    /// Busy time of all CPUs together since boot, in seconds.
    pub machine_busy_seconds: f64,
    /// User plus system time of this process, in seconds.
    pub own_seconds: f64,
}

/// Reads the counters; `None` where `/proc/stat` cannot be read.
pub fn sample() -> Option<Cpu> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    Some(Cpu {
        machine_busy_seconds: busy_ticks(&stat)? as f64 / crate::server_process::ticks_per_second(),
        own_seconds: own_seconds(),
    })
}

/// Non-idle ticks of the `cpu` line: user, nice, system, irq, softirq and steal (guest time is
/// already inside user).
fn busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let [user, nice, system, _idle, _iowait, irq, softirq, steal] = fields.try_into().ok()?;
    Some(user + nice + system + irq + softirq + steal)
}

fn own_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given and reads nothing else.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_SELF, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_ticks_skip_idle_and_iowait() {
        let stat = "cpu  100 5 50 9000 40 1 2 3 0 0\ncpu0 50 2 25 4500 20 0 1 1 0 0\n";
        assert_eq!(busy_ticks(stat), Some(161));
        assert_eq!(busy_ticks("intr 1 2 3\n"), None);
    }

    #[test]
    fn samples_grow() {
        let before = sample().unwrap();
        let mut x = 0u64;
        for k in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(k);
        }
        std::hint::black_box(x);
        let after = sample().unwrap();
        assert!(after.own_seconds >= before.own_seconds);
        assert!(after.machine_busy_seconds >= before.machine_busy_seconds);
    }
}
