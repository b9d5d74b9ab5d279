//! A router's own Prometheus exporter ([`Router::prometheus`](crate::http::Router::prometheus)):
//! an OpenTelemetry meter provider whose metrics are read, at each scrape, into Prometheus' text
//! exposition format.

use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Registry, TextEncoder};

/// Prometheus' media type for the text exposition format.
pub(crate) const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// A meter provider read by Prometheus. Cheap to clone: clones share the metrics.
#[derive(Clone)]
pub(crate) struct Prometheus {
    registry: Registry,
    provider: SdkMeterProvider,
}

impl Prometheus {
    /// A new exporter with its own registry; `None` if the exporter cannot be set up, which
    /// only an OpenTelemetry bug could cause on a fresh registry.
    pub(crate) fn new() -> Option<Self> {
        let registry = Registry::new();
        let exporter = opentelemetry_prometheus::exporter()
            .with_registry(registry.clone())
            .without_target_info()
            .build()
            .map_err(|error| tracing::error!(%error, "the Prometheus exporter failed to start"))
            .ok()?;
        let provider = SdkMeterProvider::builder().with_reader(exporter).build();
        Some(Prometheus { registry, provider })
    }

    /// The provider to record into.
    pub(crate) fn provider(&self) -> &SdkMeterProvider {
        &self.provider
    }

    /// Every metric, in the text exposition format.
    pub(crate) fn encode(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| {
                tracing::error!(%error, "the metrics could not be encoded");
                String::new()
            })
    }
}
