//! Prometheus metrics (`GET /metrics`, text exposition format) through `prometheus-client`: checks by
//! kind and outcome, and how long they take. Labels never carry personal data or tenant secrets.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// `signature`, `login` or `mdoc`.
    pub kind: &'static str,
    /// `valid` or the failure code.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    checks: Family<CheckLabels, Counter>,
    duration: Histogram,
    batch_checks: Histogram,
    connections_open: Gauge,
    connection_limit_reached: Counter,
    crl_ingestions: Family<OutcomeLabels, Counter>,
    webhook_attempts: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("jpki_platform");
        let checks = Family::<CheckLabels, Counter>::default();
        registry.register("checks", "Signature verifications, logins and record presentations by outcome", checks.clone());
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register("check_duration_seconds", "Time to verify (signature, chain, revocation)", duration.clone());
        let batch_checks = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("record_batch_checks", "Checks committed together in one transaction by the recorder", batch_checks.clone());
        let connections_open = Gauge::default();
        registry.register("http_connections_open", "HTTP connections open now", connections_open.clone());
        let connection_limit_reached = Counter::default();
        registry.register("http_connection_limit_reached", "Times the server stopped accepting connections at its limit", connection_limit_reached.clone());
        let crl_ingestions = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "crl_ingestions",
            "CRL ingestions by outcome (ok, refused, unreachable, busy, error); on any but ok the generation held before stays",
            crl_ingestions.clone(),
        );
        let webhook_attempts = Family::<OutcomeLabels, Counter>::default();
        registry.register("webhook_attempts", "Webhook delivery attempts by outcome (delivered, retry, failed)", webhook_attempts.clone());
        Metrics { registry, checks, duration, batch_checks, connections_open, connection_limit_reached, crl_ingestions, webhook_attempts }
    }
}

impl Metrics {
    pub fn record(&self, kind: &'static str, outcome: &'static str, seconds: f64) {
        self.checks.get_or_create(&CheckLabels { kind, outcome }).inc();
        self.duration.observe(seconds);
    }

    /// Where the recorder observes the size of each batch it commits.
    pub fn batch_checks(&self) -> Histogram {
        self.batch_checks.clone()
    }

    /// Where the server counts its connections: (open now, times the limit was reached).
    pub fn connections(&self) -> (Gauge, Counter) {
        (self.connections_open.clone(), self.connection_limit_reached.clone())
    }

    pub fn crl_ingested(&self, outcome: &'static str) {
        self.crl_ingestions.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn webhook_attempted(&self, outcome: &'static str) {
        self.webhook_attempts.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String");
        out
    }
}
