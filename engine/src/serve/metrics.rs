//! `/metrics`: what an operator needs to run the webhook, in the Prometheus text format.
//!
//! One registry per server, built with the maintained `prometheus-client` crate (no
//! hand-formatted exposition): requests by endpoint and outcome, a latency histogram,
//! findings by rule, policy and certificate reloads (accepted and rejected), and the
//! evaluations in flight. The handlers and the reload loop update it; nothing reads it
//! but the `/metrics` endpoint and tests.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// Labels of `policy_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `validate`, `evaluate`, `healthz`, `readyz`, `metrics`, `other`.
    pub endpoint: String,
    /// `allowed`, `warned`, `denied`, `error`, `bad_request`, `overloaded`, `timeout`, `ok`.
    pub outcome: String,
    /// `true` for AdmissionReviews with `dryRun` set.
    pub dry_run: String,
}

/// Labels of the latency histogram.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// As in [`RequestLabels::endpoint`].
    pub endpoint: String,
}

/// Labels of `policy_findings_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    /// The rule ID.
    pub rule: String,
    /// The effective severity.
    pub severity: String,
}

/// Labels of the reload counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadLabels {
    /// `policies` or `certificate`.
    pub what: String,
}

type HistogramFamily = Family<EndpointLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 100 µs … ~3.3 s, doubling.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// Every metric of the server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Requests by endpoint and outcome.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency in seconds, by endpoint.
    pub latency: HistogramFamily,
    /// Findings reported to the API server (dry-run requests included), by rule.
    pub findings: Family<FindingLabels, Counter>,
    /// Reloads that were accepted.
    pub reloads: Family<ReloadLabels, Counter>,
    /// Reloads that were rejected (the last good policies or certificate stay).
    pub reloads_rejected: Family<ReloadLabels, Counter>,
    /// Evaluations running on the worker pool now.
    pub in_flight: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("policy");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let findings = Family::<FindingLabels, Counter>::default();
        let reloads = Family::<ReloadLabels, Counter>::default();
        let reloads_rejected = Family::<ReloadLabels, Counter>::default();
        let in_flight = Gauge::default();
        registry.register(
            "requests",
            "HTTP requests by endpoint and outcome",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from the request's arrival to its answer",
            latency.clone(),
        );
        registry.register(
            "findings",
            "Findings in admission and evaluate answers, by rule",
            findings.clone(),
        );
        registry.register(
            "reloads",
            "Accepted reloads of the policies or the TLS certificate",
            reloads.clone(),
        );
        registry.register(
            "reloads_rejected",
            "Rejected reloads (the last good policies or certificate stay in use)",
            reloads_rejected.clone(),
        );
        registry.register(
            "evaluations_in_flight",
            "Evaluations running on the worker pool",
            in_flight.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            findings,
            reloads,
            reloads_rejected,
            in_flight,
        }
    }

    /// Counts one answered request.
    pub fn request(&self, endpoint: &str, outcome: &str, dry_run: bool, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: endpoint.to_owned(),
                outcome: outcome.to_owned(),
                dry_run: dry_run.to_string(),
            })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels {
                endpoint: endpoint.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a reload of `what` (`policies`, `certificate`).
    pub fn reload(&self, what: &str, accepted: bool) {
        let family = if accepted {
            &self.reloads
        } else {
            &self.reloads_rejected
        };
        family
            .get_or_create(&ReloadLabels {
                what: what.to_owned(),
            })
            .inc();
    }

    /// The exposition text (OpenMetrics, which Prometheus reads).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_show_up_in_the_text() {
        let m = Metrics::new();
        m.request("validate", "denied", false, 0.002);
        m.reload("policies", false);
        m.findings
            .get_or_create(&FindingLabels {
                rule: "K8S001".into(),
                severity: "high".into(),
            })
            .inc();
        let text = m.encode();
        assert!(
            text.contains(
                r#"policy_requests_total{endpoint="validate",outcome="denied",dry_run="false"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"policy_reloads_rejected_total{what="policies"} 1"#),
            "{text}"
        );
        assert!(
            text.contains(r#"policy_findings_total{rule="K8S001",severity="high"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("policy_request_duration_seconds_bucket"),
            "{text}"
        );
        assert!(text.contains("policy_evaluations_in_flight 0"), "{text}");
    }
}
