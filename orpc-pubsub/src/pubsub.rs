//! The front door: publish to a channel, subscribe to one.
//!
//! [`PubSub`] is a cheap handle (an `Arc`) to one backend; clone it into every handler. It
//! checks channel names and last ids, then leaves storage to the [`Backend`] and the resume
//! semantics to [`Subscription`].

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::backend::Backend;
use crate::telemetry::Telemetry;
use crate::{Error, GapPolicy, InMemory, MessageId, Settings, Subscription};
#[cfg(feature = "redis")]
use crate::{Redis, RedisConfig};

/// Publish/subscribe channels whose subscribers can resume after their last message.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), orpc_pubsub::Error> {
/// use futures_util::StreamExt;
/// use orpc_pubsub::{PubSub, Settings};
///
/// let pubsub = PubSub::in_memory(Settings::default());
/// let mut live = pubsub.subscribe("scores", None).await?;
/// let id = pubsub.publish("scores", "1-0").await?;
///
/// let message = live.next().await.unwrap()?;
/// assert_eq!(message.id(), id);
/// # Ok(())
/// # }
/// ```
///
/// Several server instances share channels through Redis ([`PubSub::redis`]).
#[derive(Clone)]
pub struct PubSub {
    backend: Arc<dyn Backend>,
    on_gap: GapPolicy,
    telemetry: Telemetry,
}

impl PubSub {
    /// The longest channel name, in bytes.
    pub const MAX_CHANNEL_LEN: usize = 256;

    /// Channels on `backend`; `on_gap` applies to every subscription.
    pub fn new(backend: impl Backend, on_gap: GapPolicy) -> Self {
        PubSub {
            backend: Arc::new(backend),
            on_gap,
            telemetry: Telemetry::default(),
        }
    }

    /// Records this handle's metrics through `provider` (feature `otel`): messages published
    /// (`orpc.pubsub.publishes`, by `result`), delivered to subscribers
    /// (`orpc.pubsub.deliveries`), subscriptions ended behind (`orpc.pubsub.lagged`) and, on
    /// Redis, the commands Redis failed (`orpc.pubsub.redis.errors`, by `operation`). Every
    /// series starts at 0. The workspace README maps them to their Prometheus names.
    ///
    /// The handle it returns, and its clones, record; clones made before do not. To serve them
    /// with a router's own metrics, give it the router's provider
    /// (`Router::prometheus_meter_provider` of `orpc-runtime`).
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use orpc_pubsub::{PubSub, Settings};
    ///
    /// // With the readers and exporters of your choice: OTLP, Prometheus, ...
    /// let provider = SdkMeterProvider::builder().build();
    /// let pubsub = PubSub::in_memory(Settings::default()).meter_provider(&provider);
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn meter_provider(mut self, provider: &impl opentelemetry::metrics::MeterProvider) -> Self {
        let meter = provider.meter_with_scope(scope());
        self.backend.meter(&meter);
        self.telemetry = std::mem::take(&mut self.telemetry).with_metrics(&meter);
        self
    }

    /// Traces this handle's publishes and deliveries through `provider` (feature `otel`), as
    /// OpenTelemetry's messaging conventions say: a publish is a producer span `publish`, a child
    /// of the current context (inside an `orpc-runtime` handler, its call's span), and the
    /// message carries its context ([`TraceContext`](crate::TraceContext)); each delivery is a
    /// consumer span `deliver`, a child of the subscriber's current context, linked to the
    /// publish, whichever instance published it. Attributes: `messaging.system =
    /// "orpc_pubsub"`, `messaging.operation.name`, `messaging.destination.name` (the channel),
    /// `messaging.message.id`.
    ///
    /// ```
    /// use opentelemetry_sdk::trace::SdkTracerProvider;
    /// use orpc_pubsub::{PubSub, Settings};
    ///
    /// let provider = SdkTracerProvider::builder().build();
    /// let pubsub = PubSub::in_memory(Settings::default()).tracer_provider(&provider);
    /// ```
    #[cfg(feature = "otel")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
    pub fn tracer_provider<P>(mut self, provider: &P) -> Self
    where
        P: opentelemetry::trace::TracerProvider,
        P::Tracer: Send + Sync + 'static,
        <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
    {
        let tracer =
            opentelemetry::global::BoxedTracer::new(Box::new(provider.tracer_with_scope(scope())));
        self.telemetry = std::mem::take(&mut self.telemetry).with_tracer(tracer);
        self
    }

    /// Channels in this process's memory: no set-up, one instance only.
    pub fn in_memory(settings: Settings) -> Self {
        Self::new(InMemory::new(settings), settings.gap_policy())
    }

    /// Channels on Redis Streams at `url`, shared by every instance pointed at it. Fails when
    /// Redis cannot be reached now.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), orpc_pubsub::Error> {
    /// use orpc_pubsub::{PubSub, Settings};
    ///
    /// let pubsub = PubSub::redis("redis://127.0.0.1:6379", Settings::default()).await?;
    /// pubsub.publish("scores", "1-0").await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "redis")]
    #[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
    pub async fn redis(url: &str, settings: Settings) -> Result<Self, Error> {
        let redis = Redis::connect(url, settings, RedisConfig::default()).await?;
        Ok(Self::new(redis, settings.gap_policy()))
    }

    /// Publishes `payload` on `channel` and returns the id it was given.
    ///
    /// It never waits for subscribers: a slow one falls behind and is ended, it does not slow
    /// the publisher. `Err` means the message may not have been stored (see
    /// [`Backend::publish`]).
    pub async fn publish(
        &self,
        channel: &str,
        payload: impl Into<Bytes>,
    ) -> Result<MessageId, Error> {
        check_channel(channel)?;
        let publishing = self.telemetry.publish(channel);
        let result = self
            .backend
            .publish(channel, payload.into(), publishing.trace_context())
            .await;
        publishing.done(&result);
        result
    }

    /// Subscribes to `channel`. With `last_id` (a client's `Last-Event-ID`), first replays the
    /// retained messages after it; without, starts with the next message published.
    ///
    /// The live feed is joined before this returns: every message published after it is
    /// delivered. Fails when the channel name or the last id is invalid, or when the backend is
    /// unreachable.
    pub async fn subscribe(
        &self,
        channel: &str,
        last_id: Option<&str>,
    ) -> Result<Subscription, Error> {
        check_channel(channel)?;
        let after = match last_id {
            Some(text) => Some(
                self.backend
                    .parse_id(text)
                    .ok_or_else(|| Error::invalid_last_id(text))?,
            ),
            None => None,
        };
        let live = self.backend.join(channel).await?;
        Ok(Subscription::new(
            self.backend.clone(),
            channel,
            live,
            after,
            self.on_gap,
            self.telemetry.clone(),
        ))
    }

    /// Subscribes to `channel` from its oldest retained message: replays all that retention
    /// kept, then goes on live. For a channel that holds one whole story (a chat reply, say) that
    /// a client without a last id wants from its beginning.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), orpc_pubsub::Error> {
    /// use futures_util::StreamExt;
    /// use orpc_pubsub::{PubSub, Settings};
    ///
    /// let pubsub = PubSub::in_memory(Settings::default());
    /// pubsub.publish("reply-7", "Hello").await?;
    /// let mut all = pubsub.subscribe_from_oldest("reply-7").await?;
    /// pubsub.publish("reply-7", ", world").await?;
    /// assert_eq!(all.next().await.unwrap()?.payload().as_ref(), b"Hello");
    /// assert_eq!(all.next().await.unwrap()?.payload().as_ref(), b", world");
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe_from_oldest(&self, channel: &str) -> Result<Subscription, Error> {
        check_channel(channel)?;
        let live = self.backend.join(channel).await?;
        Ok(Subscription::from_oldest(
            self.backend.clone(),
            channel,
            live,
            self.on_gap,
            self.telemetry.clone(),
        ))
    }

    /// How many subscriptions to `channel` this process has.
    pub fn subscribers(&self, channel: &str) -> usize {
        self.backend.subscribers(channel)
    }

    /// The gap policy of this handle's subscriptions.
    pub fn gap_policy(&self) -> GapPolicy {
        self.on_gap
    }
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("on_gap", &self.on_gap)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "otel")]
fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder("orpc-pubsub")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

fn check_channel(channel: &str) -> Result<(), Error> {
    if channel.is_empty() || channel.len() > PubSub::MAX_CHANNEL_LEN {
        return Err(Error::InvalidChannel);
    }
    Ok(())
}
