//! When and how soon an event stream reconnects after its connection fails: the policy, and the
//! backoff it computes. The rules are documented on [`ReconnectPolicy`], where users read them.

use std::time::Duration;

/// How an event stream reconnects. Build one with [`ReconnectPolicy::builder`]; the default is
/// described on [`ReconnectPolicyBuilder`].
///
/// A stream reconnects, sending the last event id it saw as `Last-Event-ID`, when the connection
/// fails (it cannot connect, or reading fails) and when the response ends before the stream's
/// `done` or `error` event. It never reconnects after `done`. After an `error` event or an error
/// response it reconnects only if [`ReconnectPolicyBuilder::retry_errors`] says so.
///
/// How long it waits:
/// - When the server has sent a `retry:` field, the first reconnect waits exactly that long: the
///   server knows best when it will be back. Further attempts in a row back off from it.
/// - Otherwise the first attempt waits about [`initial_delay`](ReconnectPolicyBuilder::initial_delay).
/// - Each further attempt in a row waits twice as long as the one before, up to
///   [`max_delay`](ReconnectPolicyBuilder::max_delay) (or up to the server's `retry`, if that is
///   longer).
/// - With jitter on (the default), each backed-off wait is drawn at random between half and all
///   of its length, so that many clients cut off at once do not all come back at once.
///
/// A connection that stays up for [`reset_after`](ReconnectPolicyBuilder::reset_after) counts as
/// healthy: when it breaks later, counting starts again from the first attempt, so a long-lived
/// stream never runs out of attempts because of rare drops. Attempts in a row are limited by
/// [`max_attempts`](ReconnectPolicyBuilder::max_attempts); when they run out, the stream ends
/// with the error of its last attempt.
///
/// ```
/// use std::time::Duration;
/// use orpc_client::ReconnectPolicy;
///
/// let policy = ReconnectPolicy::builder()
///     .max_attempts(10)
///     .initial_delay(Duration::from_millis(500))
///     .max_delay(Duration::from_secs(10))
///     .build();
/// // The server's `retry:` is honoured for the first attempt...
/// assert_eq!(policy.delay(0, Some(Duration::from_secs(1))), Duration::from_secs(1));
/// // ...and ours backs off, with jitter, between half and all of 500 ms × 2³.
/// let fourth = policy.delay(3, None);
/// assert!(fourth >= Duration::from_secs(2) && fourth <= Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    max_attempts: Option<u32>,
    initial_delay: Duration,
    max_delay: Duration,
    jitter: bool,
    reset_after: Duration,
    retry_errors: bool,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            max_attempts: Some(5),
            initial_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            jitter: true,
            reset_after: Duration::from_secs(10),
            retry_errors: false,
        }
    }
}

impl ReconnectPolicy {
    /// A builder starting from the default policy.
    pub fn builder() -> ReconnectPolicyBuilder {
        ReconnectPolicyBuilder {
            policy: ReconnectPolicy::default(),
        }
    }

    /// A policy that never reconnects: the first failure ends the stream.
    ///
    /// ```
    /// use orpc_client::ReconnectPolicy;
    ///
    /// assert_eq!(ReconnectPolicy::never().max_attempts(), Some(0));
    /// ```
    pub fn never() -> Self {
        ReconnectPolicy::builder().max_attempts(0).build()
    }

    /// How many attempts in a row are allowed; `None` for no limit.
    pub fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// Whether error events and error responses are retried too.
    pub fn retries_errors(&self) -> bool {
        self.retry_errors
    }

    /// How long a connection must stay up to count as healthy.
    pub fn reset_after(&self) -> Duration {
        self.reset_after
    }

    /// Whether one more attempt is allowed after `failures` attempts in a row.
    pub(crate) fn allows(&self, failures: u32) -> bool {
        self.max_attempts.is_none_or(|max| failures < max)
    }

    /// How long to wait before attempt number `attempt` in a row (counting from 0), given the
    /// server's last `retry:` field. See [`ReconnectPolicy`] for the rules.
    ///
    /// ```
    /// use std::time::Duration;
    /// use orpc_client::ReconnectPolicy;
    ///
    /// let policy = ReconnectPolicy::builder().jitter(false).build();
    /// let secs = |attempt| policy.delay(attempt, None).as_secs();
    /// assert_eq!([secs(0), secs(1), secs(2), secs(5), secs(60)], [1, 2, 4, 30, 30]);
    /// ```
    pub fn delay(&self, attempt: u32, server_retry: Option<Duration>) -> Duration {
        if let (0, Some(retry)) = (attempt, server_retry) {
            return retry;
        }
        let base = server_retry.unwrap_or(self.initial_delay);
        let cap = self.max_delay.max(server_retry.unwrap_or_default());
        let backed_off = base.saturating_mul(1u32 << attempt.min(31)).min(cap);
        if self.jitter {
            let half = backed_off / 2;
            half + half.mul_f64(fastrand::f64())
        } else {
            backed_off
        }
    }
}

/// Builds a [`ReconnectPolicy`]. Each setting starts at its default.
///
/// | setting | default |
/// |---|---|
/// | [`max_attempts`](Self::max_attempts) | 5 attempts in a row |
/// | [`initial_delay`](Self::initial_delay) | 1 s |
/// | [`max_delay`](Self::max_delay) | 30 s |
/// | [`jitter`](Self::jitter) | on |
/// | [`reset_after`](Self::reset_after) | 10 s |
/// | [`retry_errors`](Self::retry_errors) | off |
///
/// ```
/// use std::time::Duration;
/// use orpc_client::ReconnectPolicy;
///
/// let patient = ReconnectPolicy::builder()
///     .unlimited()
///     .max_delay(Duration::from_secs(60))
///     .retry_errors(true)
///     .build();
/// assert_eq!(patient.max_attempts(), None);
/// assert!(patient.retries_errors());
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct ReconnectPolicyBuilder {
    policy: ReconnectPolicy,
}

impl ReconnectPolicyBuilder {
    /// At most `attempts` reconnect attempts in a row; 0 turns reconnecting off.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = Some(attempts);
        self
    }

    /// No limit on attempts in a row, as a browser's `EventSource` does.
    pub fn unlimited(mut self) -> Self {
        self.policy.max_attempts = None;
        self
    }

    /// The wait before the first attempt when the server has sent no `retry:` field, and the
    /// base that later waits double from.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.policy.initial_delay = delay;
        self
    }

    /// The longest wait between attempts (a longer `retry:` from the server still wins). A value
    /// below the initial delay is raised to it.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.policy.max_delay = delay;
        self
    }

    /// Whether waits are drawn at random between half and all of their length.
    pub fn jitter(mut self, jitter: bool) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// How long a connection must stay up to count as healthy, so that the next failure starts
    /// counting attempts (and backing off) from the beginning again.
    pub fn reset_after(mut self, period: Duration) -> Self {
        self.policy.reset_after = period;
        self
    }

    /// Whether to reconnect after an `error` event or an error response too. Off by default:
    /// such an error is the procedure's answer, and asking again usually gets it again.
    pub fn retry_errors(mut self, retry: bool) -> Self {
        self.policy.retry_errors = retry;
        self
    }

    /// The policy.
    pub fn build(self) -> ReconnectPolicy {
        let mut policy = self.policy;
        policy.max_delay = policy.max_delay.max(policy.initial_delay);
        policy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn steady() -> ReconnectPolicyBuilder {
        ReconnectPolicy::builder().jitter(false)
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = steady()
            .initial_delay(100 * MS)
            .max_delay(1000 * MS)
            .build();
        let delays: Vec<_> = (0..7).map(|a| policy.delay(a, None)).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1000, 1000, 1000].map(|ms| ms * MS)
        );
        // No overflow however long it goes on.
        assert_eq!(policy.delay(u32::MAX, None), 1000 * MS);
    }

    #[test]
    fn the_servers_retry_is_honoured_then_backed_off_from() {
        let policy = steady().max_delay(10_000 * MS).build();
        let retry = Some(2500 * MS);
        assert_eq!(policy.delay(0, retry), 2500 * MS);
        assert_eq!(policy.delay(1, retry), 5000 * MS);
        assert_eq!(policy.delay(2, retry), 10_000 * MS);
        // A server asking for more than our cap gets what it asked for.
        let long = Some(60_000 * MS);
        assert_eq!(policy.delay(0, long), 60_000 * MS);
        assert_eq!(policy.delay(3, long), 60_000 * MS);
        // The first wait is the server's exactly, even with jitter on.
        let jittery = ReconnectPolicy::default();
        assert!((0..100).all(|_| jittery.delay(0, Some(1000 * MS)) == 1000 * MS));
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_wait() {
        let policy = ReconnectPolicy::builder().initial_delay(1000 * MS).build();
        let delays: Vec<_> = (0..1000).map(|_| policy.delay(1, None)).collect();
        assert!(delays.iter().all(|d| (1000 * MS..=2000 * MS).contains(d)));
        // It is random: not all alike.
        assert!(delays.iter().any(|d| *d != delays[0]));
    }

    #[test]
    fn attempts_are_limited() {
        let policy = ReconnectPolicy::builder().max_attempts(2).build();
        assert!(policy.allows(0) && policy.allows(1) && !policy.allows(2));
        assert!(!ReconnectPolicy::never().allows(0));
        let unlimited = ReconnectPolicy::builder().unlimited().build();
        assert!(unlimited.allows(u32::MAX));
    }

    #[test]
    fn a_max_delay_below_the_initial_delay_is_raised() {
        let policy = steady()
            .initial_delay(5000 * MS)
            .max_delay(1000 * MS)
            .build();
        assert_eq!(policy.delay(0, None), 5000 * MS);
        assert_eq!(policy.delay(4, None), 5000 * MS);
    }
}
