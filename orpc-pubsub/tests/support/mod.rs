//! Test support: the Redis these tests need, unique channel names, a TCP proxy that can cut
//! Redis off, and time-bounded reads from subscriptions.
//!
//! Redis is found at `REDIS_URL` (default `redis://127.0.0.1:6379`). Without one, a Redis test
//! follows the workspace's policy for missing tools (`orpc_test_support::tools`): one `SKIPPED:`
//! line straight to the terminal's stderr, then it returns; under `CI=true` it fails instead.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use orpc_pubsub::{Error, GapPolicy, Message, PubSub, Redis, RedisConfig, Retention, Settings};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

/// The Redis URL the tests use.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The Redis URL if Redis answers; otherwise prints the skip notice and returns `None`, or fails
/// under `CI=true`.
pub async fn redis_or_skip(test: &str) -> Option<String> {
    let url = redis_url();
    let answer = async {
        let client = redis::Client::open(url.as_str()).map_err(|e| e.to_string())?;
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| e.to_string())?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(|e| e.to_string())
    };
    let answer = tokio::time::timeout(Duration::from_secs(3), answer)
        .await
        .unwrap_or_else(|_| Err("no answer within 3 s".to_owned()));
    let found = answer
        .map(drop)
        .map_err(|err| format!("no Redis answers at {url} ({err})"));
    let how = "start one (`redis-server`), set REDIS_URL, or run scripts/test, which starts a \
               private one";
    orpc_test_support::tools::available(&format!("Redis test {test}"), found, how).then_some(url)
}

/// A channel name no other run or test uses.
pub fn unique(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("test-{name}-{}-{nanos:x}-{n}", std::process::id())
}

/// Redis settings for tests.
pub fn redis_config() -> RedisConfig {
    RedisConfig::default()
}

pub async fn redis_pubsub(url: &str, settings: Settings) -> (PubSub, Redis) {
    redis_pubsub_with(url, settings, redis_config()).await
}

pub async fn redis_pubsub_with(
    url: &str,
    settings: Settings,
    config: RedisConfig,
) -> (PubSub, Redis) {
    let redis = Redis::connect(url, settings, config)
        .await
        .expect("connect to Redis");
    (PubSub::new(redis.clone(), settings.gap_policy()), redis)
}

pub fn settings(max_len: usize, on_gap: GapPolicy) -> Settings {
    Settings::default()
        .retention(Retention::new(max_len))
        .on_gap(on_gap)
}

/// The next item, failing the test if none comes within `within`.
pub async fn next_within(
    subscription: &mut orpc_pubsub::Subscription,
    within: Duration,
) -> Option<Result<Message, Error>> {
    tokio::time::timeout(within, subscription.next())
        .await
        .expect("an item from the subscription in time")
}

/// The next item, which must be a message; returns its payload as text.
pub async fn next_text(subscription: &mut orpc_pubsub::Subscription) -> (Message, String) {
    let message = next_within(subscription, Duration::from_secs(10))
        .await
        .expect("the subscription goes on")
        .expect("a message, not an error");
    let text = String::from_utf8(message.payload().to_vec()).expect("UTF-8 payload");
    (message, text)
}

/// Whether nothing arrives within `within`.
pub async fn quiet_for(subscription: &mut orpc_pubsub::Subscription, within: Duration) -> bool {
    tokio::time::timeout(within, subscription.next())
        .await
        .is_err()
}

/// A TCP proxy on loopback in front of Redis. Cutting it closes every connection through it
/// and refuses new ones, as a Redis that went away does; restoring it lets connections through
/// again, on the same port. Safer than restarting the machine's Redis under other tests.
pub struct Proxy {
    pub addr: SocketAddr,
    url: String,
    cut: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
}

impl Proxy {
    pub async fn start(redis_url: &str) -> Proxy {
        let target = redis_target(redis_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let url = redis_url.replacen(&target, &addr.to_string(), 1);
        let accept = {
            let (cut, links) = (cut.clone(), links.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if cut.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let target = target.clone();
                    let link = tokio::spawn(async move {
                        if let Ok(mut server) = TcpStream::connect(target).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    });
                    links.lock().unwrap().push(link.abort_handle());
                }
            })
            .abort_handle()
        };
        Proxy {
            addr,
            url,
            cut,
            links,
            accept,
        }
    }

    /// The Redis URL through this proxy (credentials and database kept).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }

    /// How many connections through the proxy are open.
    pub fn connections(&self) -> usize {
        let mut links = self.links.lock().unwrap();
        links.retain(|link| !link.is_finished());
        links.len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// `host:port` of a `redis://` URL, as written in it (the tests' URLs name their port).
fn redis_target(url: &str) -> String {
    let rest = url.strip_prefix("redis://").unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority.rsplit('@').next().unwrap_or(authority).to_owned()
}
