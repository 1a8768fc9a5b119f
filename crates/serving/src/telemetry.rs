//! Prometheus metrics of the model server, at `GET /metrics`: requests and errors by protocol,
//! deployment (the endpoint's name), model and version, and a latency histogram. Recorded with the `metrics` facade, rendered by its Prometheus
//! exporter in text format (no listener of its own: the server's router serves it).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::Served;
use crate::traffic::VersionStats;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder once per process (a second install, e.g. in tests, keeps the first).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ];
            PrometheusBuilder::new()
                .set_buckets(&buckets)
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// The exposition text.
pub fn render() -> String {
    install().map(|h| h.render()).unwrap_or_default()
}

/// Records one inference request when dropped: its protocol, model, version, HTTP status and latency.
pub struct Timer {
    protocol: &'static str,
    deployment: String,
    model: String,
    version: String,
    started: Instant,
    /// The deployment version's live counters, when it serves a deployment.
    counters: Option<Arc<VersionStats>>,
}

impl Timer {
    pub fn start(protocol: &'static str, endpoint: &str, served: &Served) -> Self {
        Timer {
            protocol,
            deployment: endpoint.to_owned(),
            model: served.model_name.clone(),
            version: served.version.clone().unwrap_or_default(),
            started: Instant::now(),
            counters: None,
        }
    }

    /// Also counts the request on the deployment version's live counters.
    pub fn counting(mut self, counters: Option<Arc<VersionStats>>) -> Self {
        self.counters = counters;
        self
    }

    pub fn finish(self, status: u16) {
        let labels = [
            ("protocol", self.protocol.to_owned()),
            ("deployment", self.deployment.clone()),
            ("model", self.model.clone()),
            ("version", self.version.clone()),
        ];
        let status_class = match status {
            200..=299 => "2xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let mut with_status = labels.to_vec();
        with_status.push(("status", status_class.to_owned()));
        metrics::counter!("cairn_inference_requests_total", &with_status).increment(1);
        if status >= 400 {
            metrics::counter!("cairn_inference_errors_total", &with_status).increment(1);
        }
        let elapsed = self.started.elapsed();
        if let Some(c) = &self.counters {
            c.record(status, elapsed);
        }
        metrics::histogram!("cairn_inference_duration_seconds", &labels)
            .record(elapsed.as_secs_f64());
    }
}
